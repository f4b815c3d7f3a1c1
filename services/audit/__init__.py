"""Audit records of every exchange step (the tamper-evident log itself is built on these)."""
