"""Casework fixtures (defined in :mod:`tests.casework.fixtures`)."""

from tests.casework.fixtures import case_keys, cuckooing, lead_case, policy

__all__ = ["case_keys", "cuckooing", "lead_case", "policy"]
