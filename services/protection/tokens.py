"""Keyed tokens: HMAC-SHA256 of a normalised identifier, one key per identifier type.

Normalisation happens *before* tokenising (see ``services.identifiers``) so that ``943 476 5919``
and ``9434765919`` give one token. Separate keys per type mean a token for a housing reference can
never collide with, or be tested against, a token for an NHS number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from contracts.protected import CorrelationKey
from contracts.vocab import TokenKind
from services.protection.keys import KeyStore

__all__ = ["Tokeniser"]


class Tokeniser:
    """Turns normalised identifiers into tokens."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    def token(self, kind: TokenKind, normalised_value: str) -> str:
        """``<kind>:<base64url HMAC>`` for a value already normalised for its type."""
        if not normalised_value:
            raise ValueError(f"empty {kind.value} cannot be tokenised")
        mac = hmac.new(self._keys.token_key(kind), normalised_value.encode(), hashlib.sha256)
        return f"{kind.value}:{base64.urlsafe_b64encode(mac.digest()).decode().rstrip('=')}"

    def key(self, kind: TokenKind, normalised_value: str) -> CorrelationKey:
        """The token wrapped as a correlation key."""
        return CorrelationKey(kind=kind, token=self.token(kind, normalised_value))
