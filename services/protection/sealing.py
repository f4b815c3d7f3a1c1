"""Sealing and opening protected fields (AES-256-GCM, data key wrapped per audience).

Each field gets a fresh data key. The value is encrypted once under it, with the event id and
field path as associated data, so a ciphertext moved to another event or field fails to open. The
data key is then wrapped to each permitted audience's current X25519 public key (ephemeral-static
Diffie-Hellman with one ephemeral key per event and audience, HKDF-SHA256, AES-256-GCM: the
ECIES pattern), again bound to event, field and audience. Sealing needs only public keys;
opening needs the private key of an audience the field was wrapped for. Access is enforced by
keys, not by the reader's good behaviour.

The content key is not the data key itself but HKDF(data key, retention keys): the retention
keys of the month the data was recorded in and of the subject it is about
(:mod:`services.protection.retention`). A reader needs its audience key *and* live retention
keys, so destroying a retention key shreds the field for every audience at once.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contracts.protected import SealedField, WrappedKey
from contracts.vocab import Audience
from services.protection.keys import KeyNotFoundError, KeyStore
from services.protection.retention import RetentionScope

__all__ = ["FieldSealer", "NotPermittedError", "Opener", "ShreddedError", "UnreadableError"]

_NONCE = 12


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(event_id: str, path: str, audience: Audience | None = None) -> bytes:
    parts = [event_id, path] if audience is None else [event_id, path, audience.value]
    return "\x1f".join(parts).encode()


def _kek(shared: bytes, aad: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"asbx-wrap\x1f" + aad
    ).derive(shared)


def _content_key(data_key: bytes, retention: list[bytes], aad: bytes) -> bytes:
    if not retention:
        return data_key
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"asbx-content\x1f" + aad
    ).derive(data_key + b"".join(retention))


def _agree(public: bytes) -> tuple[bytes, bytes]:
    """A fresh ephemeral key pair's public half and its shared secret with ``public``."""
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    return ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), shared


def _wrap(agreed: tuple[bytes, bytes], data_key: bytes, aad: bytes) -> bytes:
    """Ephemeral public key (32) + nonce (12) + AES-GCM(data key)."""
    eph_public, shared = agreed
    nonce = secrets.token_bytes(_NONCE)
    return eph_public + nonce + AESGCM(_kek(shared, aad)).encrypt(nonce, data_key, aad)


def _unwrap(private: bytes, blob: bytes, aad: bytes) -> bytes:
    eph_public, nonce, body = blob[:32], blob[32 : 32 + _NONCE], blob[32 + _NONCE :]
    shared = X25519PrivateKey.from_private_bytes(private).exchange(
        X25519PublicKey.from_public_bytes(eph_public)
    )
    return AESGCM(_kek(shared, aad)).decrypt(nonce, body, aad)


class NotPermittedError(PermissionError):
    """The reader's audience is not among the field's audiences."""


class UnreadableError(ValueError):
    """The field cannot be opened: tampered, moved, or its key was destroyed (shredded)."""


class ShreddedError(UnreadableError):
    """A retention key of the field was destroyed: retention ended or the subject was erased."""


class FieldSealer:
    """Seals values for one event id (the id is part of every field's associated data)."""

    def __init__(
        self, keys: KeyStore, event_id: str, retention: RetentionScope | None = None
    ) -> None:
        self._keys = keys
        self._event_id = event_id
        self._retention = retention or RetentionScope()
        # One ephemeral key agreement per recipient key for the whole event, not one per field:
        # X25519 generate + exchange was most of the cost of sealing. Every wrap still gets its
        # own key-encryption key (HKDF info binds event, field and audience) and nonce, so the
        # blobs and what opens them are unchanged; fields of one event merely share the
        # ephemeral public key, which tells a reader only that they belong to one event.
        self._agreed: dict[bytes, tuple[bytes, bytes]] = {}

    def seal(
        self,
        path: str,
        data_class: str,
        value: Any,
        audiences: Iterable[Audience],
        *,
        subject: str | None = None,
    ) -> SealedField:
        """Encrypt ``value`` (JSON-serialisable, or bytes) for exactly ``audiences``.

        ``subject`` overrides the sealer's retention subject for this field (a person's own
        details are bound to that person, whoever the event is about).
        """
        audience_list = tuple(sorted(set(audiences)))
        if not audience_list:
            raise ValueError(f"no audience may read {path}; drop the field instead of sealing it")
        plaintext = value if isinstance(value, bytes) else json.dumps(value, default=str).encode()
        scope = self._retention
        if subject is not None:
            scope = RetentionScope(period=scope.period, subject=subject)
        retention = [self._keys.current_retention_key(s) for s in scope.scopes()]
        data_key = AESGCM.generate_key(bit_length=256)
        iv = secrets.token_bytes(_NONCE)
        aad = _aad(self._event_id, path)
        content_key = _content_key(data_key, [k for _, k in retention], aad)
        ciphertext = AESGCM(content_key).encrypt(iv, plaintext, aad)
        wrapped = []
        for audience in audience_list:
            kid, public = self._keys.current_audience_key(audience)
            agreed = self._agreed.get(public)
            if agreed is None:
                agreed = self._agreed[public] = _agree(public)
            blob = _wrap(agreed, data_key, _aad(self._event_id, path, audience))
            wrapped.append(WrappedKey(audience=audience, kid=kid, wrapped=_b64(blob)))
        return SealedField(
            path=path,
            data_class=data_class,
            iv=_b64(iv),
            ciphertext=_b64(ciphertext),
            audiences=audience_list,
            keys=tuple(wrapped),
            retention_kids=tuple(kid for kid, _ in retention),
        )


class Opener:
    """Opens sealed fields for one audience."""

    def __init__(self, keys: KeyStore, audience: Audience) -> None:
        self._keys = keys
        self._audience = audience

    @property
    def audience(self) -> Audience:
        """Whose key this opener holds."""
        return self._audience

    @property
    def keys(self) -> KeyStore:
        """The key store it opens with."""
        return self._keys

    def can_open(self, field: SealedField) -> bool:
        """Whether this audience is one the field was sealed for."""
        return self._audience in field.audiences

    def open_bytes(self, field: SealedField, event_id: str) -> bytes:
        """The raw plaintext of ``field`` sealed in event ``event_id``."""
        wrapped = next((k for k in field.keys if k.audience == self._audience), None)
        if wrapped is None:
            raise NotPermittedError(f"{self._audience.value} may not read {field.path}")
        try:
            retention = [self._keys.retention_key(kid) for kid in field.retention_kids]
        except KeyNotFoundError as exc:
            raise ShreddedError(f"{field.path} was shredded (retention key {exc})") from exc
        try:
            private = self._keys.audience_key(wrapped.kid)
            aad = _aad(event_id, field.path, self._audience)
            data_key = _unwrap(private, _unb64(wrapped.wrapped), aad)
            content_aad = _aad(event_id, field.path)
            content_key = _content_key(data_key, retention, content_aad)
            return AESGCM(content_key).decrypt(
                _unb64(field.iv), _unb64(field.ciphertext), content_aad
            )
        except (InvalidTag, KeyNotFoundError, ValueError) as exc:
            raise UnreadableError(f"{field.path} cannot be opened: {type(exc).__name__}") from exc

    def open(self, field: SealedField, event_id: str) -> Any:
        """The JSON value of ``field``."""
        return json.loads(self.open_bytes(field, event_id))
