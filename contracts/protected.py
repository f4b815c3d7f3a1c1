"""How personal data appears on canonical topics: as keyed tokens or as sealed ciphertext.

A *token* is an HMAC-SHA256 of a normalised identifier under a key for that identifier type. It
lets the correlator join records without ever seeing the identifier. A *sealed field* is
AES-256-GCM ciphertext bound (as associated data) to the event id and the field path, with the
data key wrapped once for each audience the data-sharing agreement names. A reader outside those
audiences holds no key that opens it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.vocab import Audience, TokenKind

__all__ = ["CorrelationKey", "SealedField", "Token", "WrappedKey"]

#: ``<kind>:<43 chars of unpadded base64url HMAC-SHA256>``
Token = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z_]+:[A-Za-z0-9_-]{43}$"),
    Field(description="Keyed token: identifier type, then base64url HMAC-SHA256."),
]

_B64URL = r"^[A-Za-z0-9_-]*$"


class CorrelationKey(BaseModel):
    """One join key for a record: an identifier type and its token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TokenKind
    token: Token


class WrappedKey(BaseModel):
    """The field's data key, encrypted under one audience's key-encryption key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    audience: Audience
    kid: str = Field(description="Id and version of the audience key that wraps the data key.")
    wrapped: Annotated[str, StringConstraints(pattern=_B64URL)]


class SealedField(BaseModel):
    """A protected value: ciphertext plus what a permitted reader needs to open it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alg: str = Field(default="A256GCM", pattern=r"^A256GCM$")
    path: str = Field(description="Field path bound into the associated data, e.g. people[0].name")
    data_class: str = Field(description="What kind of data this is, e.g. contact, narrative.")
    iv: Annotated[str, StringConstraints(pattern=_B64URL, min_length=16, max_length=16)]
    ciphertext: Annotated[str, StringConstraints(pattern=_B64URL)]
    audiences: tuple[Audience, ...] = Field(min_length=1)
    keys: tuple[WrappedKey, ...] = Field(min_length=1)
    retention_kids: tuple[str, ...] = Field(
        default=(),
        description=(
            "Retention keys (the recording month's, the subject's) mixed into the content key: "
            "destroying either one shreds this field everywhere."
        ),
    )
