"""Offline verification of the audit log names altered, removed and reordered records."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.audit import AuditAction, AuditRecord
from services.audit import merkle
from services.audit.log import (
    AuditLog,
    Checkpoint,
    CheckpointSigner,
    checkpoint_message,
    record_bytes,
)
from services.audit.verify import VerificationReport, verify

N = 25
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _record(i: int, purpose: str = "safeguarding") -> AuditRecord:
    return AuditRecord(
        record_id=f"rec-{i:03d}",
        at=T0 + timedelta(minutes=i),
        actor="normaliser:health",
        action=AuditAction.DISCLOSURE,
        partner="health",
        purpose=purpose,
        recipient="police",
        data_classes=("health",),
        fields=("data.condition",),
    )


@pytest.fixture
def signer() -> CheckpointSigner:
    return CheckpointSigner.generate()


@pytest.fixture
def log(tmp_path: Path, signer: CheckpointSigner) -> AuditLog:
    audit = AuditLog(tmp_path / "audit.jsonl", signer)
    for i in range(N):
        assert audit.append(_record(i)) == i
    return audit


def _verify(audit: AuditLog, signer: CheckpointSigner) -> VerificationReport:
    return verify(audit.path, audit.checkpoints_path, signer.public_key_pem())


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _kinds(report: VerificationReport) -> set[tuple[str, int | None]]:
    return {(p.kind, p.index) for p in report.problems}


def test_untouched_log_verifies(log: AuditLog, signer: CheckpointSigner) -> None:
    report = _verify(log, signer)
    assert report.ok, report.problems
    assert report.checked_records == N
    assert report.checked_checkpoints == N
    assert [r.record_id for r in log.records()] == [f"rec-{i:03d}" for i in range(N)]
    assert [c.size for c in log.checkpoints()] == list(range(1, N + 1))


def test_reopened_log_continues(log: AuditLog, signer: CheckpointSigner) -> None:
    again = AuditLog(log.path, signer)
    assert again.append(_record(N)) == N
    assert _verify(again, signer).ok


def test_sparse_checkpoints_verify(tmp_path: Path, signer: CheckpointSigner) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl", signer, checkpoint_every=5)
    for i in range(N + 2):
        audit.append(_record(i))
    audit.checkpoint()
    report = _verify(audit, signer)
    assert report.ok, report.problems
    assert [c.size for c in audit.checkpoints()] == [5, 10, 15, 20, 25, 27]


def _edit_record(audit: AuditLog, index: int, rehash: bool) -> None:
    lines = _lines(audit.path)
    obj = json.loads(lines[index])
    obj["record"]["recipient"] = "journalist"
    if rehash:
        obj["leaf_hash"] = merkle.leaf_hash(record_bytes(AuditRecord(**obj["record"]))).hex()
    lines[index] = json.dumps(obj)
    _write(audit.path, lines)


def test_edited_record_is_named(log: AuditLog, signer: CheckpointSigner) -> None:
    _edit_record(log, 7, rehash=False)
    report = _verify(log, signer)
    assert not report.ok
    assert _kinds(report) == {("altered", 7)}
    assert report.problems[0].record_id == "rec-007"


def test_edited_and_rehashed_record_is_named_by_signed_roots(
    log: AuditLog, signer: CheckpointSigner
) -> None:
    _edit_record(log, 12, rehash=True)
    report = _verify(log, signer)
    assert not report.ok
    assert _kinds(report) == {("altered", 12)}
    assert report.problems[0].record_id == "rec-012"


def test_rehashed_edit_with_sparse_checkpoints_is_located_to_a_span(
    tmp_path: Path, signer: CheckpointSigner
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl", signer, checkpoint_every=5)
    for i in range(N):
        audit.append(_record(i))
    _edit_record(audit, 12, rehash=True)
    report = _verify(audit, signer)
    assert _kinds(report) == {("altered", 10)}
    assert "10..14" in report.problems[0].detail


def test_deleted_line_is_named_removed(log: AuditLog, signer: CheckpointSigner) -> None:
    lines = _lines(log.path)
    del lines[9]
    _write(log.path, lines)
    report = _verify(log, signer)
    assert _kinds(report) == {("removed", 9)}


def test_truncated_tail_is_named_removed(log: AuditLog, signer: CheckpointSigner) -> None:
    _write(log.path, _lines(log.path)[:-2])
    report = _verify(log, signer)
    assert _kinds(report) == {("removed", N - 2)}
    assert f"{N - 2}..{N - 1}" in report.problems[0].detail


def test_swapped_lines_are_named_reordered(log: AuditLog, signer: CheckpointSigner) -> None:
    lines = _lines(log.path)
    lines[4], lines[15] = lines[15], lines[4]
    _write(log.path, lines)
    report = _verify(log, signer)
    assert _kinds(report) == {("reordered", 4), ("reordered", 15)}
    assert {p.record_id for p in report.problems} == {"rec-004", "rec-015"}


def test_swap_with_rewritten_indices_is_named_reordered(
    log: AuditLog, signer: CheckpointSigner
) -> None:
    lines = _lines(log.path)
    a, b = json.loads(lines[4]), json.loads(lines[15])
    a["index"], b["index"] = 15, 4
    lines[4], lines[15] = json.dumps(b), json.dumps(a)
    _write(log.path, lines)
    report = _verify(log, signer)
    assert {p.kind for p in report.problems} == {"reordered"}
    assert {p.record_id for p in report.problems} == {"rec-004", "rec-015"}


def test_garbled_line_is_named_without_cascade(log: AuditLog, signer: CheckpointSigner) -> None:
    lines = _lines(log.path)
    lines[5] = "not json"
    _write(log.path, lines)
    report = _verify(log, signer)
    assert _kinds(report) == {("altered", 5)}


def test_forged_checkpoint_signature_fails(log: AuditLog, signer: CheckpointSigner) -> None:
    lines = _lines(log.checkpoints_path)
    cp = Checkpoint.model_validate_json(lines[-1])
    forged = CheckpointSigner.generate()
    bad = cp.model_copy(
        update={"signature": forged.sign(checkpoint_message(cp.size, cp.root, cp.signed_at))}
    )
    lines[-1] = bad.model_dump_json()
    _write(log.checkpoints_path, lines)
    report = _verify(log, signer)
    assert not report.ok
    assert {p.kind for p in report.problems} == {"bad_signature"}


def test_checkpoint_not_extending_previous_is_inconsistent(
    tmp_path: Path, log: AuditLog, signer: CheckpointSigner
) -> None:
    fork = AuditLog(tmp_path / "fork.jsonl", signer)
    for i in range(N + 1):
        fork.append(_record(i, purpose="other" if i == 3 else "safeguarding"))
    forked = fork.checkpoints()[-1]
    with log.checkpoints_path.open("a", encoding="utf-8") as f:
        f.write(forked.model_dump_json() + "\n")
    report = _verify(log, signer)
    assert ("inconsistent", N + 1) in _kinds(report)


def test_same_size_different_root_is_inconsistent(log: AuditLog, signer: CheckpointSigner) -> None:
    root = "ab" * 32
    signed_at = datetime.now(UTC).isoformat()
    cp = Checkpoint(
        size=N,
        root=root,
        signed_at=signed_at,
        key_id=signer.key_id,
        signature=signer.sign(checkpoint_message(N, root, signed_at)),
    )
    with log.checkpoints_path.open("a", encoding="utf-8") as f:
        f.write(cp.model_dump_json() + "\n")
    report = _verify(log, signer)
    assert ("inconsistent", N) in _kinds(report)


def test_signer_key_file_is_private_and_reloadable(tmp_path: Path) -> None:
    first = CheckpointSigner.load_or_create(tmp_path / "keys")
    key_file = next((tmp_path / "keys").iterdir())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = CheckpointSigner.load_or_create(tmp_path / "keys")
    assert again.key_id == first.key_id
    assert again.public_key_pem() == first.public_key_pem()
    key_file.chmod(0o644)
    with pytest.raises(PermissionError):
        CheckpointSigner.load_or_create(tmp_path / "keys")


def test_reopening_a_tampered_log_refuses_to_append(
    log: AuditLog, signer: CheckpointSigner
) -> None:
    _edit_record(log, 3, rehash=False)
    with pytest.raises(ValueError, match="record 3"):
        AuditLog(log.path, signer)
