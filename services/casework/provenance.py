"""Where each event in a case came from, as the tamper-evident audit log records it.

An event's provenance is the audit record of its publication (``canonical_published`` for a
partner's event, ``casework_recorded`` for recorded case work) in the archived log: its index and
its RFC 6962 leaf hash, SHA-256(0x00 || record bytes). The leaf hash is what the log's signed
Merkle roots commit to, so anyone holding the archive and the public key can check with
``asbx audit verify`` that the record named in a case view or evidence bundle is in the log,
unaltered.

Also the disclosure records for showing a case and for exporting its evidence bundle.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from contracts.audit import AuditAction, AuditRecord
from services.audit.log import record_bytes
from services.audit.merkle import leaf_hash
from services.casework.case import CaseFile

__all__ = ["Provenance", "archived_records", "disclosure", "provenance_index"]

_SOURCES = (AuditAction.CANONICAL_PUBLISHED, AuditAction.CASEWORK_RECORDED)


@dataclass(frozen=True)
class Provenance:
    """An event's publication record in the archived audit log."""

    index: int
    record_id: str
    leaf_hash: str
    action: AuditAction
    actor: str
    at: datetime


def archived_records(log_path: Path) -> Iterator[AuditRecord]:
    """The records of an archived log file, in order (read only; no signing key needed)."""
    if not log_path.exists():
        return
    with log_path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield AuditRecord.model_validate(json.loads(line)["record"])


def provenance_index(records: Iterable[AuditRecord]) -> dict[str, Provenance]:
    """Event id -> the first record of its publication, with its leaf hash."""
    found: dict[str, Provenance] = {}
    for index, record in enumerate(records):
        if record.event_id and record.action in _SOURCES and record.event_id not in found:
            found[record.event_id] = Provenance(
                index=index,
                record_id=record.record_id,
                leaf_hash=leaf_hash(record_bytes(record)).hex(),
                action=record.action,
                actor=record.actor,
                at=record.at,
            )
    return found


def disclosure(
    case: CaseFile,
    *,
    actor: str,
    purpose: str,
    justification: str,
    what: str,
    document_sha256: str | None = None,
    alert_ids: tuple[str, ...] = (),
) -> AuditRecord:
    """The audit record of disclosing ``case`` to its audience (a view, or an exported bundle)."""
    return AuditRecord(
        record_id=str(uuid.uuid4()),
        at=datetime.now(UTC),
        actor=actor,
        action=AuditAction.DISCLOSURE,
        subject=case.subject,
        purpose=purpose,
        justification=justification[:500],
        recipient=case.audience.value,
        fields=case.opened_fields,
        message_sha256=document_sha256,
        outcome=f"{what}: {len(case.items)} chronology item(s) from {len(case.entries)} "
        f"event(s) disclosed"[:300],
        related_ids=alert_ids,
    )
