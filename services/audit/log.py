"""Append-only, tamper-evident audit log with Ed25519-signed Merkle checkpoints.

Files (both JSON lines, one object per line, only ever appended to):

* the log, ``{"index": i, "record": {...AuditRecord...}, "leaf_hash": hex}``;
* the checkpoints (``<log stem>.checkpoints.jsonl`` beside it),
  ``{"size": n, "root": hex, "signed_at": iso, "key_id": str, "signature": b64,
  "prev_size": m, "consistency": [hex, ...]}``.

Leaf hash = RFC 6962 ``SHA-256(0x00 || record.model_dump_json().encode())``. Pydantic's JSON
output for a given model is deterministic (field order as declared, compact separators), so the
verifier re-validates the stored record and re-serialises it to get the same bytes. A
formatting-only edit of a line (whitespace, key order) therefore does not count as tampering;
any change of value does. A pydantic upgrade that changed the serialisation would need a
migration (re-hashing is not possible without breaking the signed roots), so keep it pinned.

Each checkpoint signs ``asbx-audit-checkpoint\\n{size}\\n{root}\\n{signed_at}\\n`` with
Ed25519. ``prev_size``/``consistency`` carry an RFC 9162 consistency proof from the previous
checkpoint; they are not signed and need not be: a proof can only verify between two signed
roots if the older really is a prefix of the newer.

Single writer only: two processes appending to one file would interleave indices.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import BaseModel, ConfigDict

from contracts.audit import AuditRecord
from services.audit import merkle

__all__ = [
    "AuditLog",
    "Checkpoint",
    "CheckpointSigner",
    "checkpoint_message",
    "checkpoints_path_for",
    "key_id_for",
    "record_bytes",
]

KEY_FILE = "audit-checkpoint-ed25519.pem"


def record_bytes(record: AuditRecord) -> bytes:
    """Canonical bytes of a record for hashing: pydantic's deterministic JSON, UTF-8."""
    return record.model_dump_json().encode()


def checkpoint_message(size: int, root_hex: str, signed_at: str) -> bytes:
    """The exact bytes a checkpoint signature covers (domain-separated, line-based)."""
    return f"asbx-audit-checkpoint\n{size}\n{root_hex}\n{signed_at}\n".encode()


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """Short, stable key id: first 16 hex digits of SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoints_path_for(log_path: Path) -> Path:
    """Checkpoints file beside the log: ``audit.jsonl`` -> ``audit.checkpoints.jsonl``."""
    return log_path.with_name(f"{log_path.stem}.checkpoints.jsonl")


class Checkpoint(BaseModel):
    """A signed statement: "the log had ``size`` records with Merkle root ``root``"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int
    root: str
    signed_at: str
    key_id: str
    signature: str
    prev_size: int | None = None
    consistency: tuple[str, ...] = ()

    def message(self) -> bytes:
        """The signed bytes."""
        return checkpoint_message(self.size, self.root, self.signed_at)

    def verify_signature(self, public_key: Ed25519PublicKey) -> bool:
        """True if signed by ``public_key`` (and labelled with its key id)."""
        if self.key_id != key_id_for(public_key):
            return False
        try:
            public_key.verify(base64.b64decode(self.signature, validate=True), self.message())
        except (InvalidSignature, ValueError):  # binascii.Error is a ValueError
            return False
        return True


class CheckpointSigner:
    """Holds the Ed25519 checkpoint key; verification needs only :meth:`public_key_pem`."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_id_for(private_key.public_key())

    @classmethod
    def generate(cls) -> CheckpointSigner:
        """A fresh in-memory key (tests, or before :meth:`load_or_create`)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, directory: Path) -> CheckpointSigner:
        """Load ``directory/audit-checkpoint-ed25519.pem``, creating it (mode 0600) if absent.

        Refuses a key file that group or others can read: whoever holds it can forge history.
        """
        path = directory / KEY_FILE
        if path.exists():
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                raise PermissionError(f"{path} must not be readable by group or others (chmod 600)")
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise TypeError(f"{path} is not an Ed25519 private key")
            return cls(key)
        directory.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return cls(key)

    def public_key_pem(self) -> bytes:
        """The public key, PEM (SubjectPublicKeyInfo), to hand to IG staff for offline checks."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> str:
        """Base64 Ed25519 signature of ``message``."""
        return base64.b64encode(self._key.sign(message)).decode()


def _append_line(path: Path, obj: object) -> None:
    line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"
    with path.open("a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


class AuditLog:
    """Append-only audit log; signs a checkpoint every ``checkpoint_every`` appends.

    ``checkpoint_every=1`` (default) lets the verifier name a tampered record exactly even if
    the attacker also rewrote its stored leaf hash; with N it is located to within N records.
    ``checkpoint_every=0`` disables automatic checkpoints (call :meth:`checkpoint` yourself).
    """

    def __init__(self, path: Path, signer: CheckpointSigner, checkpoint_every: int = 1) -> None:
        if checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0")
        self.path = path
        self.checkpoints_path = checkpoints_path_for(path)
        self._signer = signer
        self._every = checkpoint_every
        self._leaves: list[bytes] = []
        self._acc = merkle.MerkleAccumulator()
        for i, (record, stored) in enumerate(self._read_entries()):
            leaf = merkle.leaf_hash(record_bytes(record))
            if leaf.hex() != stored:
                raise ValueError(f"{path}: record {i} does not match its leaf hash; run verify")
            self._leaves.append(leaf)
            self._acc.append(leaf)
        last = self.checkpoints()
        self._last_size = last[-1].size if last else 0

    def _read_entries(self) -> Iterator[tuple[AuditRecord, str]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as f:
            for expected, line in enumerate(f):
                obj = json.loads(line)
                if obj["index"] != expected:
                    raise ValueError(f"{self.path}: line {expected} has index {obj['index']}")
                yield AuditRecord.model_validate(obj["record"]), obj["leaf_hash"]

    @property
    def size(self) -> int:
        """Number of records appended."""
        return len(self._leaves)

    def append(self, record: AuditRecord) -> int:
        """Append one record (fsynced); returns its index."""
        index = len(self._leaves)
        leaf = merkle.leaf_hash(record_bytes(record))
        entry = {
            "index": index,
            "record": json.loads(record.model_dump_json()),
            "leaf_hash": leaf.hex(),
        }
        _append_line(self.path, entry)
        self._leaves.append(leaf)
        self._acc.append(leaf)
        if self._every and len(self._leaves) % self._every == 0:
            self.checkpoint()
        return index

    def checkpoint(self) -> Checkpoint:
        """Sign and append a checkpoint of the current size and root."""
        size = len(self._leaves)
        root_hex = self._acc.root().hex()
        signed_at = datetime.now(UTC).isoformat()
        proof = merkle.consistency_proof(self._last_size, self._leaves)
        cp = Checkpoint(
            size=size,
            root=root_hex,
            signed_at=signed_at,
            key_id=self._signer.key_id,
            signature=self._signer.sign(checkpoint_message(size, root_hex, signed_at)),
            prev_size=self._last_size,
            consistency=tuple(p.hex() for p in proof),
        )
        _append_line(self.checkpoints_path, cp.model_dump(mode="json"))
        self._last_size = size
        return cp

    def records(self) -> Iterator[AuditRecord]:
        """The records, in order."""
        for record, _ in self._read_entries():
            yield record

    def checkpoints(self) -> list[Checkpoint]:
        """The checkpoints, in file order."""
        if not self.checkpoints_path.exists():
            return []
        with self.checkpoints_path.open(encoding="utf-8") as f:
            return [Checkpoint.model_validate_json(line) for line in f if line.strip()]
