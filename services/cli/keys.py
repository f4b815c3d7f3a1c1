"""``asbx keys``: rotate audience keys and shred retention keys, each change audited.

Key changes are governance events: IG staff must be able to see when an audience key was rotated
and when (and why) a subject's or a month's data was shredded. Every command here writes a
KEY_CHANGED audit record, acknowledged by the cluster, after the change is made.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from contracts.audit import AuditAction, AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.topics import AUDIT, CANONICAL_EVENTS
from contracts.vocab import Audience
from deploy.kafka_client import client_config_from_env
from services.kafka.reader import read_all
from services.protection.erasure import subjects_to_erase
from services.protection.keys import LocalKeyStore
from services.protection.retention import ShredResult
from services.settings import Settings

__all__ = ["key_change_record", "keys_app"]

keys_app = typer.Typer(help="Audience key rotation and crypto-shredding (audited).")


def key_change_record(
    actor: str, what: str, key_ids: tuple[str, ...], justification: str, subject: str | None = None
) -> AuditRecord:
    """The KEY_CHANGED audit record of one key operation."""
    return AuditRecord(
        record_id=str(uuid.uuid4()),
        at=datetime.now(UTC),
        actor=actor,
        action=AuditAction.KEY_CHANGED,
        subject=subject,
        justification=justification[:500],
        key_ids=key_ids,
        outcome=what[:300],
    )


async def _publish(record: AuditRecord) -> None:
    settings = Settings()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", **client_config_from_env()
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            AUDIT.name, record.model_dump_json().encode(), key=record.actor.encode()
        )
    finally:
        await producer.stop()


def _store() -> LocalKeyStore:
    return LocalKeyStore(Settings().keys_dir)


Actor = Annotated[str, typer.Option(help="who makes the change (audited)")]
Why = Annotated[str, typer.Option(help="why (audited), e.g. the erasure request reference")]


def _destroyed(results: list[ShredResult]) -> tuple[str, ...]:
    return tuple(kid for result in results for kid in result.destroyed)


@keys_app.command("rotate")
def rotate(audience: Audience, actor: Actor, justification: Why) -> None:
    """Start a new key version for an audience; data sealed before stays readable."""
    kid = _store().rotate_audience_key(audience)
    asyncio.run(
        _publish(
            key_change_record(actor, f"rotated {audience.value} to {kid}", (kid,), justification)
        )
    )
    typer.echo(f"new key {kid}; new fields for {audience.value} are wrapped to it")


async def _canonical_events() -> list[CanonicalEvent]:
    settings = Settings()
    records = await read_all(
        settings.kafka_bootstrap_servers, CANONICAL_EVENTS.name, client_config_from_env()
    )
    events = []
    for record in records:
        try:
            events.append(CanonicalEvent.model_validate_json(record.value or b""))
        except ValidationError:
            continue  # not a canonical event; nothing of the subject's can be sealed in it
    return events


@keys_app.command("shred-subject")
def shred_subject(
    subject: Annotated[str, typer.Argument(help="any token of the person to erase")],
    actor: Actor,
    justification: Why,
) -> None:
    """Erase a person: every field sealed about them, in every partner's records, is shredded."""
    subjects = subjects_to_erase(asyncio.run(_canonical_events()), subject)
    store = _store()
    results = [store.retention.shred_subject(s) for s in sorted(subjects)]
    what = (
        f"erased {len(subjects)} subject token(s) linked to the request: "
        f"{len(_destroyed(results))} key(s) destroyed"
    )
    asyncio.run(
        _publish(key_change_record(actor, what, _destroyed(results), justification, subject))
    )
    typer.echo(what)


@keys_app.command("shred-before")
def shred_before(
    month: Annotated[str, typer.Argument(help="YYYY-MM: months before this one are shredded")],
    actor: Actor,
    justification: Why,
) -> None:
    """End retention: fields recorded in every month before MONTH become unreadable."""
    results = _store().retention.shred_periods_before(month)
    what = f"shredded {len(results)} month(s) before {month}"
    asyncio.run(_publish(key_change_record(actor, what, _destroyed(results), justification)))
    typer.echo(what)
