"""``asbx chronology``: a subject's chronology from the canonical topic, audited as a disclosure."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.table import Table

from contracts.envelope import CanonicalEvent
from contracts.topics import AUDIT, CANONICAL_EVENTS
from contracts.vocab import Audience
from deploy.kafka_client import client_config_from_env
from deploy.security.acls import CHRONOLOGY
from services.correlator.chronology import build_chronology, disclosure_record
from services.kafka.reader import read_all
from services.protection.keys import LocalKeyStore
from services.settings import Settings

__all__ = ["show_chronology"]


async def show_chronology(
    subject: str,
    audience: Audience,
    purpose: str,
    justification: str,
    actor: str,
    *,
    alert_ids: tuple[str, ...] = (),
) -> None:
    """Print the chronology and publish its disclosure record (acks=all) before returning."""
    settings = Settings()
    config = client_config_from_env(principal=CHRONOLOGY)
    records = await read_all(settings.kafka_bootstrap_servers, CANONICAL_EVENTS.name, config)
    events = [CanonicalEvent.model_validate_json(r.value) for r in records]
    entries = build_chronology(events, subject, audience, LocalKeyStore(settings.keys_dir))
    audit = disclosure_record(
        entries,
        subject,
        audience,
        purpose=purpose,
        justification=justification,
        actor=actor,
        alert_ids=alert_ids,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", **config
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            AUDIT.name, audit.model_dump_json().encode(), key=actor.encode()
        )
    finally:
        await producer.stop()
    table = Table(title=f"Chronology as {audience.value} sees it ({len(entries)} events)")
    for column in ("when", "partner", "what", "facts", "opened"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(
            entry.occurred_at.isoformat(timespec="minutes"),
            entry.partner,
            entry.kind,
            json.dumps(entry.summary),
            json.dumps(entry.opened, default=str)[:400],
        )
    Console().print(table)
