"""Where the IG pages get their data: the archived audit log and the alerts topic.

The archive is read leniently (a line that no longer parses is skipped here and named by the
verify page), so a tampered archive can still be reviewed. ``refresh`` first archives what is
new on the audit topic (as ``asbx audit archive`` does), then re-reads the alerts topic for the
alerts' rule and routing metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from contracts.alert_envelope import AlertEnvelope
from contracts.audit import AuditRecord
from services.audit.log import CheckpointSigner, checkpoints_path_for
from services.audit.verify import VerificationReport, verify

if TYPE_CHECKING:
    from services.web.settings import WebSettings

__all__ = ["AuditSource", "RefreshOutcome", "read_archive"]


def read_archive(path: Path) -> list[AuditRecord]:
    """The archived records in order, skipping lines that do not parse."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(AuditRecord.model_validate(json.loads(line)["record"]))
        except (ValueError, KeyError, TypeError, ValidationError):
            continue
    return records


@dataclass(frozen=True)
class RefreshOutcome:
    """What a refresh found."""

    archived: int
    archive_size: int
    alerts: int
    malformed_offsets: tuple[int, ...] = ()


@dataclass
class AuditSource:
    """The archive file, the checkpoint key and the cluster to refresh from."""

    log_path: Path
    keys_dir: Path
    bootstrap: str
    alerts_topic: str
    client_config: dict[str, Any] = field(default_factory=dict)
    _alerts: list[AlertEnvelope] = field(default_factory=list)
    _cache: tuple[tuple[int, int, int], list[AuditRecord]] | None = None

    @classmethod
    def from_settings(cls, settings: WebSettings) -> AuditSource:
        """The source configured by ``settings``, connecting as the web process's principal."""
        from deploy.kafka_client import client_config_from_env  # noqa: PLC0415
        from deploy.security.acls import WEB  # noqa: PLC0415

        return cls(
            log_path=settings.audit_log,
            keys_dir=settings.keys_dir,
            bootstrap=settings.kafka_bootstrap_servers,
            alerts_topic=settings.alerts_topic,
            client_config=client_config_from_env(principal=WEB),
        )

    def records(self) -> list[AuditRecord]:
        """The archived audit records, in archive order (re-read when the file changes)."""
        try:
            st = self.log_path.stat()
        except FileNotFoundError:
            return []
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._cache is None or self._cache[0] != stamp:
            self._cache = (stamp, read_archive(self.log_path))
        return self._cache[1]

    def alerts(self) -> list[AlertEnvelope]:
        """Alerts read at the last refresh."""
        return list(self._alerts)

    def verify(self) -> VerificationReport:
        """Verify the archive against its signed checkpoints (:func:`verify`)."""
        public_key = CheckpointSigner.load_or_create(self.keys_dir).public_key_pem()
        return verify(self.log_path, checkpoints_path_for(self.log_path), public_key)

    async def refresh(self) -> RefreshOutcome:
        """Archive new audit records from the topic, then re-read the alerts."""
        from services.audit.archive import archive_topic  # noqa: PLC0415 - Kafka at the edge
        from services.kafka.reader import read_all  # noqa: PLC0415

        result = await archive_topic(
            self.bootstrap, self.log_path, self.keys_dir, self.client_config
        )
        raw = await read_all(self.bootstrap, self.alerts_topic, self.client_config)
        alerts = []
        for r in raw:
            try:
                alerts.append(AlertEnvelope.model_validate_json(r.value or b""))
            except ValidationError:
                continue
        self._alerts = alerts
        return RefreshOutcome(
            archived=result.added,
            archive_size=result.checkpoint.size if result.checkpoint else 0,
            alerts=len(alerts),
            malformed_offsets=tuple(result.malformed_offsets),
        )
