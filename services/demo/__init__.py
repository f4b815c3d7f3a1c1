"""The sample cuckooing scenario, replayed through the inbound topics for the demo and tests."""
