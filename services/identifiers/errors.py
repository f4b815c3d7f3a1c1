"""The one error identifier normalisation raises."""

from __future__ import annotations

from contracts.vocab import RejectReason

__all__ = ["InvalidIdentifierError"]


class InvalidIdentifierError(ValueError):
    """An identifier is malformed. The message never repeats the value (it may be personal)."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
