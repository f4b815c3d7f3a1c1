"""The partner subscriber: read alerts and events, open only what the agreement permits, audited."""
