"""Offline verification of an audit log: needs only the two files and the public key PEM.

What is checked, and how problems are named:

* every checkpoint signature (``bad_signature``; such checkpoints are then ignored);
* every record's leaf hash is recomputed from its content (``altered`` if it differs);
* the stored indices: missing ones are ``removed``, records out of position ``reordered``;
* a signed checkpoint larger than the log means records were ``removed`` from the end;
* the prefix root of the log at each signed checkpoint size must equal the signed root. This
  catches an attacker who edits a record *and* rewrites its stored leaf hash and indices. The
  change is located between the last matching checkpoint and the first failing one: exact
  when a checkpoint was signed after every append (the ``AuditLog`` default), otherwise "one
  of records a..b-1". When exact, a record elsewhere in the log whose content would make the
  signed root match is reported as ``reordered`` instead of ``altered``;
* successive checkpoints must be consistent (``inconsistent``): by the stored RFC 9162
  consistency proof, or, failing that, because a later checkpoint authenticates the log
  prefix that an earlier one disagrees with.

Limits: deleting the newest records *together with* their checkpoints cannot be detected from
the files alone (nothing signed mentions them); compare the newest checkpoint with one recorded
elsewhere (e.g. the size and root IG staff noted at their last review). Once prefix roots stop
matching, later silent (leaf-hash-rewritten) changes are not
located separately; records changed without rewriting the hash are always named.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from contracts.audit import AuditRecord
from services.audit import merkle
from services.audit.log import Checkpoint, record_bytes

__all__ = ["Problem", "ProblemKind", "VerificationReport", "verify"]

ProblemKind = Literal["altered", "removed", "reordered", "bad_signature", "inconsistent"]


@dataclass(frozen=True)
class Problem:
    """One finding; ``index`` is the record index (or checkpoint size for checkpoint problems)."""

    kind: ProblemKind
    index: int | None
    record_id: str | None
    detail: str


@dataclass
class VerificationReport:
    """Outcome of :func:`verify`; ``ok`` only if no problem was found."""

    problems: list[Problem] = field(default_factory=list)
    checked_records: int = 0
    checked_checkpoints: int = 0

    @property
    def ok(self) -> bool:
        """True if the log and its checkpoints are intact."""
        return not self.problems


@dataclass
class _Entry:
    position: int  # line number among non-blank lines
    index: int | None
    record_id: str | None
    leaf: bytes  # hash used for roots: recomputed from content if possible


def _hex(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def _parse_entry(position: int, line: str, problems: list[Problem]) -> _Entry:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        problems.append(
            Problem("altered", position, None, f"line {position + 1} is not a JSON object")
        )
        return _Entry(position, None, None, merkle.leaf_hash(line.encode()))
    raw_index = obj.get("index")
    index = raw_index if isinstance(raw_index, int) and not isinstance(raw_index, bool) else None
    raw_record = obj.get("record")
    record_id = raw_record.get("record_id") if isinstance(raw_record, dict) else None
    record_id = record_id if isinstance(record_id, str) else None
    stored = _hex(obj.get("leaf_hash"))
    where = index if index is not None else position
    if index is None:
        problems.append(Problem("altered", position, record_id, f"line {position + 1}: no index"))
    try:
        leaf = merkle.leaf_hash(record_bytes(AuditRecord.model_validate(raw_record)))
    except ValidationError as exc:
        problems.append(
            Problem("altered", where, record_id, f"record is not a valid AuditRecord: {exc}")
        )
        return _Entry(position, index, record_id, stored or merkle.leaf_hash(line.encode()))
    if stored != leaf:
        problems.append(
            Problem("altered", where, record_id, "record content does not match its leaf_hash")
        )
    return _Entry(position, index, record_id, leaf)


def _index_problems(entries: list[_Entry], max_size: int) -> list[Problem]:
    """Removed (gaps, including a truncated tail) and reordered (index ≠ its rank)."""
    problems: list[Problem] = []
    indexed = [e for e in entries if e.index is not None]
    present = {e.index for e in indexed}
    # A line whose index is unreadable (already reported as altered) stands for its position.
    present |= {e.position for e in entries if e.index is None}
    upper = max([max_size, *(i + 1 for i in present if i is not None)], default=0)
    start: int | None = None
    for i in range(upper + 1):
        if i < upper and i not in present:
            start = i if start is None else start
        elif start is not None:
            span = f"record {start}" if i - 1 == start else f"records {start}..{i - 1}"
            problems.append(Problem("removed", start, None, f"{span} missing from the log"))
            start = None
    # Rank among readable indices vs order among readable lines: a swap names exactly the
    # swapped records, and a gap or an unreadable line shifts nothing.
    ordinal = {id(e): n for n, e in enumerate(indexed)}
    ranked = sorted(indexed, key=lambda e: e.index if e.index is not None else -1)
    for rank, e in enumerate(ranked):
        if ordinal[id(e)] != rank:
            problems.append(
                Problem(
                    "reordered",
                    e.index,
                    e.record_id,
                    f"record with index {e.index} is at line {e.position + 1}",
                )
            )
    seen: set[int] = set()
    for e in indexed:
        assert e.index is not None
        if e.index in seen:
            problems.append(Problem("altered", e.index, e.record_id, "index appears twice"))
        seen.add(e.index)
    return problems


def _load_checkpoints(
    path: Path, public_key: Ed25519PublicKey, report: VerificationReport
) -> list[Checkpoint]:
    trusted: list[Checkpoint] = []
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for n, line in enumerate(ln for ln in lines if ln.strip()):
        report.checked_checkpoints += 1
        try:
            cp = Checkpoint.model_validate_json(line)
        except ValidationError:
            report.problems.append(
                Problem("bad_signature", None, None, f"checkpoint line {n + 1} is malformed")
            )
            continue
        if not cp.verify_signature(public_key) or _hex(cp.root) is None:
            report.problems.append(
                Problem(
                    "bad_signature",
                    cp.size,
                    None,
                    f"checkpoint line {n + 1} (size {cp.size}) has an invalid signature",
                )
            )
            continue
        trusted.append(cp)
    return trusted


def _consistency_problems(trusted: list[Checkpoint]) -> list[Problem]:
    problems: list[Problem] = []
    by_size: dict[int, Checkpoint] = {}
    for prev, cur in itertools.pairwise(trusted):
        if cur.size < prev.size:
            problems.append(
                Problem(
                    "inconsistent",
                    cur.size,
                    None,
                    f"checkpoint size went down from {prev.size} to {cur.size}",
                )
            )
    for cp in trusted:
        same = by_size.get(cp.size)
        if same is not None and same.root != cp.root:
            problems.append(
                Problem("inconsistent", cp.size, None, f"two signed roots for size {cp.size}")
            )
        by_size.setdefault(cp.size, cp)
        if cp.prev_size is None:
            continue
        old = by_size.get(cp.prev_size) if cp.prev_size else None
        if cp.prev_size and old is None:
            continue  # the referenced checkpoint is missing or untrusted; the log check covers it
        old_root = bytes.fromhex(old.root) if old else merkle.EMPTY_ROOT
        proof = [_hex(p) for p in cp.consistency]
        ok = all(p is not None for p in proof) and merkle.verify_consistency(
            cp.prev_size,
            cp.size,
            old_root,
            bytes.fromhex(cp.root),
            [p for p in proof if p is not None],
        )
        if not ok:
            problems.append(
                Problem(
                    "inconsistent",
                    cp.size,
                    None,
                    f"checkpoint of size {cp.size} does not extend checkpoint of size "
                    f"{cp.prev_size}",
                )
            )
    return problems


def _root_problems(
    entries: list[_Entry], trusted: list[Checkpoint], named: set[int]
) -> list[Problem]:
    """Compare prefix roots with signed roots; locate the first silent change."""
    prefix = [merkle.EMPTY_ROOT]
    acc = merkle.MerkleAccumulator()
    for e in entries:
        acc.append(e.leaf)
        prefix.append(acc.root())
    usable = sorted((cp for cp in trusted if cp.size <= len(entries)), key=lambda c: c.size)
    matches = {cp.size: prefix[cp.size].hex() == cp.root for cp in usable}
    last_good = max((s for s, ok in matches.items() if ok), default=0)
    problems: list[Problem] = []
    bad = [s for s, ok in matches.items() if not ok]
    for s in sorted({s for s in bad if s <= last_good}):
        problems.append(
            Problem(
                "inconsistent",
                s,
                None,
                f"signed root for size {s} disagrees with the log prefix that the later "
                f"checkpoint of size {last_good} authenticates",
            )
        )
    later_bad = sorted(s for s in bad if s > last_good)
    if not later_bad:
        return problems
    lo = max((s for s, ok in matches.items() if ok and s < later_bad[0]), default=0)
    hi = later_bad[0]
    if any(lo <= i < hi for i in named):
        return problems  # already explained by a named problem in that span
    if hi - lo == 1:
        base = merkle.MerkleAccumulator()
        for e in entries[:lo]:
            base.append(e.leaf)
        want = next(cp.root for cp in usable if cp.size == hi)
        for other in entries:
            if other.position == lo:
                continue
            trial = base.copy()
            trial.append(other.leaf)
            if trial.root().hex() == want:
                here = entries[lo]
                problems.append(
                    Problem(
                        "reordered",
                        lo,
                        here.record_id,
                        f"record at line {lo + 1} is not the one signed at index {lo}",
                    )
                )
                problems.append(
                    Problem(
                        "reordered",
                        other.position,
                        other.record_id,
                        f"record at line {other.position + 1} was signed at index {lo}",
                    )
                )
                return problems
        e = entries[lo]
        problems.append(
            Problem(
                "altered",
                lo,
                e.record_id,
                f"record {lo} does not match the signed checkpoint of size {hi} "
                "(its stored leaf_hash was rewritten to hide the change)",
            )
        )
    else:
        problems.append(
            Problem(
                "altered",
                lo,
                entries[lo].record_id,
                f"one of records {lo}..{hi - 1} was changed: the log matches the signed "
                f"checkpoint of size {lo} but not the one of size {hi}",
            )
        )
    return problems


def verify(log_path: Path, checkpoints_path: Path, public_key_pem: bytes) -> VerificationReport:
    """Verify an audit log offline against its signed checkpoints and the public key."""
    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError("public key is not Ed25519")
    report = VerificationReport()
    trusted = _load_checkpoints(checkpoints_path, key, report)
    lines = log_path.read_text(encoding="utf-8").splitlines() if log_path.exists() else []
    entries: list[_Entry] = []
    for line in lines:
        if line.strip():
            entries.append(_parse_entry(len(entries), line, report.problems))
    report.checked_records = len(entries)
    max_size = max((cp.size for cp in trusted), default=0)
    report.problems.extend(_index_problems(entries, max_size))
    report.problems.extend(_consistency_problems(trusted))
    record_kinds = ("altered", "removed", "reordered")
    named = {p.index for p in report.problems if p.index is not None and p.kind in record_kinds}
    report.problems.extend(_root_problems(entries, trusted, named))
    return report
