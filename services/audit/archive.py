"""Archiving audit records from the audit topic into the tamper-evident log.

Shared by ``asbx audit archive`` and the web UI's refresh. Records already archived (same
``record_id``) are skipped, so archiving again after a redelivery adds nothing; a value that is
not an audit record is reported by offset and never archived as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contracts.audit import AuditRecord
from contracts.topics import AUDIT
from services.audit.log import AuditLog, Checkpoint, CheckpointSigner
from services.kafka.reader import read_all

__all__ = ["ArchiveResult", "archive_topic", "archive_values"]


@dataclass
class ArchiveResult:
    """What an archive run did."""

    added: int = 0
    malformed_offsets: list[int] = field(default_factory=list)
    checkpoint: Checkpoint | None = None


def archive_values(values: Iterable[tuple[int, bytes | None]], log: AuditLog) -> ArchiveResult:
    """Append every new audit record among ``(offset, value)`` pairs, in the order given."""
    known = {r.record_id for r in log.records()}
    result = ArchiveResult()
    for offset, value in values:
        try:
            record = AuditRecord.model_validate_json(value or b"")
        except ValidationError:
            result.malformed_offsets.append(offset)
            continue
        if record.record_id not in known:
            log.append(record)
            known.add(record.record_id)
            result.added += 1
    result.checkpoint = log.checkpoint()
    return result


async def archive_topic(
    bootstrap: str,
    log_path: Path,
    keys_dir: Path,
    client_config: dict[str, Any] | None = None,
    topic: str = AUDIT.name,
) -> ArchiveResult:
    """Read ``topic`` to its end now and archive what is new (one partition: topic order)."""
    records = await read_all(bootstrap, topic, client_config)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = AuditLog(log_path, CheckpointSigner.load_or_create(keys_dir), checkpoint_every=0)
    ordered = sorted(records, key=lambda r: (r.partition, r.offset))
    return archive_values(((r.offset, r.value) for r in ordered), log)
