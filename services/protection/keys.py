"""Key material: a port (:class:`KeyStore`) and a local-directory adapter.

Two families of keys:
- *token keys*, one per identifier type, for HMAC tokens. Every partner's normaliser must use the
  same token key for a type or joins fail, so these are shared, and never rotated silently (a
  rotation would split every subject in two; it is a re-keying project, not a setting).
- *audience keys*: versioned X25519 key pairs, one current version per audience. A sealed field's
  data key is wrapped to the audience's current *public* key, so a service that seals (every
  normaliser, the correlator) needs no key that opens anything; only a reader holding the
  audience's private key can unwrap. Older versions stay for reading after a rotation.
- *retention keys* (:mod:`services.protection.retention`): per subject and per month, mixed into
  every sealed field's content key, so destroying one shreds what it covers.

Local keys are generated on first use into an ignored directory with owner-only permissions. A KMS
adapter implements the same Protocol.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import time
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from contracts.vocab import Audience, TokenKind
from services.protection.retention import SqliteRetentionKeys

__all__ = ["KeyNotFoundError", "KeyStore", "LocalKeyStore"]

_KEY_BYTES = 32
_QUIET_NS = 1_000_000_000


class KeyNotFoundError(LookupError):
    """No key with that id exists (never created, or destroyed by crypto-shredding)."""


class KeyStore(Protocol):
    """Where services get key material. Implementations must be safe to share across threads."""

    def token_key(self, kind: TokenKind) -> bytes:
        """The HMAC key for one identifier type."""
        ...

    def current_audience_key(self, audience: Audience) -> tuple[str, bytes]:
        """Key id and raw X25519 *public* key that new data keys for ``audience`` are wrapped to."""
        ...

    def audience_key(self, kid: str) -> bytes:
        """The raw X25519 *private* key of one audience key version, for opening."""
        ...

    def current_retention_key(self, scope: str) -> tuple[str, bytes]:
        """Key id and key that new data in a retention scope is bound to."""
        ...

    def retention_key(self, kid: str) -> bytes:
        """A retention key by id; ``KeyNotFoundError`` once it has been destroyed."""
        ...

    def persist_new_keys(self) -> int:
        """Make every key handed out so far durable; call before publishing what it sealed."""
        ...

    def has_new_keys(self) -> bool:
        """Whether a key handed out is not durable yet (``persist_new_keys`` has work)."""
        ...


async def persist_new_keys_off_loop(keys: KeyStore) -> int:
    """``keys.persist_new_keys()`` in a worker thread, so that its sync does not stall the event
    loop (every partition's processing and commits); no thread at all when nothing is new, as
    in most commits."""
    if not keys.has_new_keys():
        return 0
    return await asyncio.to_thread(keys.persist_new_keys)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _public(private: bytes) -> bytes:
    return (
        X25519PrivateKey.from_private_bytes(private)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


class LocalKeyStore:
    """Keys as small JSON files in one directory (default ``var/keys``)."""

    def __init__(self, directory: Path, *, defer_new_retention_keys: bool = False) -> None:
        """``defer_new_retention_keys``: new retention keys are written by
        :meth:`persist_new_keys`, many in one transaction, instead of one fsync each (for a
        normaliser, which persists before each Kafka commit)."""
        self._dir = directory
        self._cache: dict[str, bytes] = {}
        # A subdirectory: its journal files must not touch the key directory's mtime.
        self.retention = SqliteRetentionKeys(
            directory / "retention" / "retention.sqlite", deferred=defer_new_retention_keys
        )
        # audience -> (directory mtime when looked up, kid, public key). Sealing asks for the
        # current key of every audience of every field; listing the directory and deriving the
        # public key each time was a third of a normaliser's CPU. Any key file created, rotated
        # or destroyed (by this or another process) changes the directory's mtime, which is
        # one stat() to check.
        self._current: dict[Audience, tuple[int, str, bytes]] = {}

    @property
    def directory(self) -> Path:
        """Where the key files live."""
        return self._dir

    def token_key(self, kind: TokenKind) -> bytes:
        """The HMAC key for ``kind``, created on first use."""
        return self._get_or_create(f"token-{kind.value}")

    def current_audience_key(self, audience: Audience) -> tuple[str, bytes]:
        """Public key of the newest version for ``audience``, creating version 1 on first use."""
        stamp = self._stamp()  # taken before listing: a change after it is seen next time
        cached = self._current.get(audience)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        versions = self._versions(audience)
        kid = f"aud-{audience.value}-v{versions[-1] if versions else 1}"
        public = _public(self._get_or_create(kid))
        # File times tick coarsely (a few ms): a change within the same tick as ``stamp`` would
        # not move it, so only a directory quiet for a second is trusted.
        if time.time_ns() - stamp > _QUIET_NS:
            self._current[audience] = (stamp, kid, public)
        return kid, public

    def audience_key(self, kid: str) -> bytes:
        """Private key of a named audience key version."""
        key = self._read(kid)
        if key is None:
            raise KeyNotFoundError(kid)
        return key

    def current_retention_key(self, scope: str) -> tuple[str, bytes]:
        """Newest live key of a retention scope (created on first use)."""
        return self.retention.current(scope)

    def persist_new_keys(self) -> int:
        """Write the retention keys made in memory (deferred mode); token and audience keys
        are written when made. Returns how many were written."""
        return self.retention.persist()

    def has_new_keys(self) -> bool:
        """Whether retention keys made in memory wait for :meth:`persist_new_keys`."""
        return self.retention.has_unwritten

    def retention_key(self, kid: str) -> bytes:
        """A live retention key."""
        try:
            return self.retention.get(kid)
        except LookupError as exc:
            raise KeyNotFoundError(kid) from exc

    def destroy(self, kid: str) -> bool:
        """Delete a key for good (crypto-shredding); True if it existed."""
        self._cache.pop(kid, None)
        self._current.clear()
        path = self._path(kid)
        if not path.exists():
            return False
        path.unlink()
        return True

    def rotate_audience_key(self, audience: Audience) -> str:
        """Start a new version for ``audience``; old versions remain readable."""
        versions = self._versions(audience)
        kid = f"aud-{audience.value}-v{(versions[-1] if versions else 0) + 1}"
        self._get_or_create(kid)
        self._current.pop(audience, None)
        return kid

    def _stamp(self) -> int:
        try:
            return os.stat(self._dir).st_mtime_ns
        except FileNotFoundError:
            return -1

    def _versions(self, audience: Audience) -> list[int]:
        prefix = f"aud-{audience.value}-v"
        if not self._dir.exists():
            return []
        found = [
            int(p.stem.removeprefix(prefix))
            for p in self._dir.glob(f"{prefix}*.json")
            if p.stem.removeprefix(prefix).isdigit()
        ]
        return sorted(found)

    def _path(self, kid: str) -> Path:
        return self._dir / f"{kid}.json"

    def _read(self, kid: str) -> bytes | None:
        if kid in self._cache:
            return self._cache[kid]
        path = self._path(kid)
        if not path.exists():
            return None
        doc = json.loads(path.read_text())
        key = base64.urlsafe_b64decode(doc["key"])
        self._cache[kid] = key
        return key

    def _get_or_create(self, kid: str) -> bytes:
        existing = self._read(kid)
        if existing is not None:
            return existing
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        doc = json.dumps(
            {"kid": kid, "alg": "raw-256", "key": _b64(secrets.token_bytes(_KEY_BYTES))}
        )
        # O_EXCL: two services starting together must not each write a different key.
        try:
            fd = os.open(self._path(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(doc)
        key = self._read(kid)
        if key is None:  # pragma: no cover - the file was just created
            raise KeyNotFoundError(kid)
        return key
