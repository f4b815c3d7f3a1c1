"""Security at the broker: who connects as which principal, and what each principal may do."""
