"""Information-governance review: who saw what about whom, when and why (metadata only)."""
