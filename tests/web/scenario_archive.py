"""The cuckooing scenario as an audit archive, made in-process (no broker) for page tests.

The partner messages go through the real normalising pipeline; the audit records it writes, an
alert record naming Bethany's contributing events and a lead officer's chronology disclosure are
archived in a signed audit log, as ``asbx audit archive`` would have done.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.audit import AuditAction, AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.topics import inbound_topic
from contracts.vocab import Audience, TokenKind
from services.audit.log import AuditLog, CheckpointSigner
from services.audit.records import audit_records
from services.correlator.chronology import build_chronology, disclosure_record
from services.demo.scenario import scenario
from services.normalise.outcome import Accepted, InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.protection.tokens import Tokeniser
from services.sharing.agreements import load

__all__ = ["ScenarioArchive", "build_scenario_archive", "personal_values"]

_PERSONAL_KEYS = (
    "given",
    "family",
    "name",
    "birth",
    "phone",
    "address",
    "postcode",
    "narrative",
    "detail",
    "description",
    "text",
    "line",
    "note",
)


@dataclass(frozen=True)
class ScenarioArchive:
    """The archive and what a test needs to look things up in it."""

    log_path: Path
    records: list[AuditRecord]
    bethany: str
    alert_id: str


def _walk(value: Any, key: str = "") -> list[str]:
    if isinstance(value, dict):
        return [v for k, item in value.items() for v in _walk(item, k)]
    if isinstance(value, list):
        return [v for item in value for v in _walk(item, key)]
    if isinstance(value, str) and any(p in key.lower() for p in _PERSONAL_KEYS):
        return [value]
    return []


def personal_values() -> set[str]:
    """Names, dates of birth, contacts, addresses and narratives in the scenario's messages."""
    found: set[str] = {"Bethany", "Marsh", "Jordan", "Pike", "Tyler", "Voss", "Larkspur"}
    for message in scenario():
        if message.path.suffix == ".json":
            found.update(_walk(json.loads(message.value)))
    return {v for v in found if len(v) >= 4}


def build_scenario_archive(keys_dir: Path, log_path: Path) -> ScenarioArchive:
    """Normalise the scenario, then archive its audit trail, one alert and one disclosure."""
    keys = LocalKeyStore(keys_dir)
    normalisers = {}
    records: list[AuditRecord] = []
    events: list[CanonicalEvent] = []
    for offset, message in enumerate(scenario()):
        normaliser = normalisers.setdefault(
            message.partner,
            Normaliser(
                adapter_for(message.partner),
                keys=keys,
                agreements=load,
                seen=InMemorySeenStore(),
                max_message_bytes=1024 * 1024,
            ),
        )
        outcome = normaliser.process(
            InboundRecord(
                inbound_topic(message.partner),
                0,
                offset,
                None,
                message.value,
                {"content-type": message.content_type},
            )
        )
        if isinstance(outcome, Accepted):
            events.extend(outcome.events)
        records += audit_records(f"normaliser:{message.partner.value}", _now(), outcome)
    bethany = Tokeniser(keys).token(TokenKind.NAME_DOB, "BETHANY MARSH|1989-04-17")
    hers = [e for e in events if e.subject == bethany or bethany in e.model_dump_json()]
    alert_id = f"alert-{uuid.uuid4().hex[:12]}"
    records.append(
        AuditRecord(
            record_id=str(uuid.uuid4()),
            at=_now(),
            actor="correlator:test",
            action=AuditAction.ALERT_RAISED,
            event_id=alert_id,
            event_type="uk.asbx.trigger_alert_raised.v1",
            subject=bethany,
            purpose="asb_case_review",
            recipient="police,lead_agency",
            outcome=f"threshold_met: {len(hers[:3])} event(s) contributed",
            related_ids=tuple(e.id for e in hers[:3]),
        )
    )
    entries = build_chronology(events, bethany, Audience.LEAD_AGENCY, keys)
    records.append(
        disclosure_record(
            entries,
            bethany,
            Audience.LEAD_AGENCY,
            purpose="asb_case_review",
            justification="Case review requested; chronology for the panel",
            actor="lead.officer",
            alert_ids=(alert_id,),
        )
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = AuditLog(log_path, CheckpointSigner.load_or_create(keys_dir), checkpoint_every=0)
    for record in records:
        log.append(record)
    log.checkpoint()
    return ScenarioArchive(log_path, records, bethany, alert_id)


def _now() -> datetime:
    return datetime.now(UTC)
