"""The lead officer's use cases, wired to Kafka, keys and the archived audit log.

Every use that shows personal data is a disclosure: the audit record is committed on the audit
topic *before* the page or the bundle is handed over, so nothing is shown that the log does not
record. What is opened is decided by the viewer's audience keys, never by this code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contracts.casework import CaseworkEvent
from contracts.envelope import CanonicalEvent
from contracts.topics import CANONICAL_EVENTS
from contracts.vocab import Audience
from deploy.kafka_client import client_config_from_env
from deploy.security.acls import WEB
from services.casework.bundle import Application, BundleRequest, render_bundle
from services.casework.case import CaseFile, build_case
from services.casework.provenance import (
    Provenance,
    archived_records,
    disclosure,
    provenance_index,
)
from services.casework.store import CaseworkStore
from services.correlator.domain.policy import AreaPolicy
from services.kafka.reader import read_all
from services.protection.keys import KeyStore

__all__ = ["CaseworkService", "Viewer"]


@dataclass(frozen=True)
class Viewer:
    """Who is looking, for which audience, and why (every view names a purpose)."""

    user: str
    audience: Audience
    purpose: str = "asb_case_review"
    justification: str = "lead officer case review"


@dataclass
class CaseworkService:
    """Case views, casework records and evidence bundles for one area."""

    bootstrap: str
    keys: KeyStore
    policy: AreaPolicy
    audit_log: Path
    store: CaseworkStore
    #: aiokafka settings; None means the environment's, as the web process's own principal.
    client_config: dict[str, Any] | None = None
    canonical_topic: str = CANONICAL_EVENTS.name

    def __post_init__(self) -> None:
        if self.client_config is None:
            self.client_config = client_config_from_env(principal=WEB)

    async def canonical_events(self) -> list[CanonicalEvent]:
        """Every committed canonical event (tokens and sealed fields only)."""
        records = await read_all(self.bootstrap, self.canonical_topic, self.client_config)
        events = []
        for record in records:
            try:
                events.append(CanonicalEvent.model_validate_json(record.value or b""))
            except ValidationError:
                continue  # not a canonical event (written by hand?): nothing of a case in it
        return events

    async def open_case(
        self,
        subject: str,
        viewer: Viewer,
        alert_ids: tuple[str, ...] = (),
        *,
        event_ids: frozenset[str] = frozenset(),
    ) -> CaseFile:
        """The case as ``viewer`` may see it; its disclosure is audited before it is returned.
        ``event_ids`` (the alert's) tell namesakes sharing the subject token apart."""
        case = build_case(
            await self.canonical_events(),
            subject,
            viewer.audience,
            self.keys,
            self.policy,
            event_ids=event_ids,
        )
        await self.store.audit(
            disclosure(
                case,
                actor=f"user:{viewer.user}",
                purpose=viewer.purpose,
                justification=viewer.justification,
                what="case view",
                alert_ids=alert_ids,
            )
        )
        return case

    def provenance(self) -> dict[str, Provenance]:
        """Event id -> its publication record in the archived audit log."""
        return provenance_index(archived_records(self.audit_log))

    async def record(self, event: CaseworkEvent) -> None:
        """Publish recorded work with its audit record."""
        await self.store.record(event)

    async def casework(self, case_id: str) -> list[CaseworkEvent]:
        """Every casework event of one case."""
        return await self.store.read(case_id)

    async def evidence_bundle(
        self,
        subject: str,
        viewer: Viewer,
        application: Application,
        area_name: str,
        alert_ids: tuple[str, ...] = (),
        *,
        event_ids: frozenset[str] = frozenset(),
    ) -> tuple[CaseFile, bytes]:
        """The bundle PDF; the export (with the document's SHA-256) is audited first."""
        case = build_case(
            await self.canonical_events(),
            subject,
            viewer.audience,
            self.keys,
            self.policy,
            event_ids=event_ids,
        )
        request = BundleRequest(
            application=application,
            prepared_by=viewer.user,
            prepared_at=datetime.now(UTC),
            area_name=area_name,
        )
        pdf = render_bundle(case, self.provenance(), request)
        await self.store.audit(
            disclosure(
                case,
                actor=f"user:{viewer.user}",
                purpose=viewer.purpose,
                justification=viewer.justification,
                what=f"evidence bundle for {application.value} exported",
                document_sha256=hashlib.sha256(pdf).hexdigest(),
                alert_ids=alert_ids,
            )
        )
        return case, pdf
