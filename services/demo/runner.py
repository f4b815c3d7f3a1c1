"""The main job: broker, topics, services, then the scenario replayed with progress on screen.

Each partner message is followed by its SHA-256: every audit record names the digest of the
message it is about, so the runner reads the audit topic to learn what became of each message
(accepted into N canonical events, facts dropped, rejected and why, or recognised as a
redelivery) without any back channel into the services.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from contracts.alert_envelope import AlertEnvelope
from contracts.audit import AuditAction, AuditRecord
from contracts.topics import AUDIT, CANONICAL_EVENTS, inbound_topic, rejected_topic
from deploy.kafka_client import client_config_from_env
from deploy.security.acls import partner_principal
from deploy.security.apply import ensure_local_acls
from deploy.topics import ensure_topics
from services.correlator.app import build_correlator
from services.correlator.progress import caught_up
from services.correlator.settings import CorrelatorSettings
from services.demo.scenario import ScenarioMessage, bad_examples, scenario
from services.kafka.reader import collect, end_offsets, read_all
from services.normalise.app import NormaliserService, build_normaliser
from services.partners.registry import adapter_for
from services.settings import Settings

__all__ = ["MessageFate", "replay", "run_demo"]

_TERMINAL = {
    AuditAction.INBOUND_ACCEPTED,
    AuditAction.INBOUND_REJECTED,
    AuditAction.INBOUND_DUPLICATE,
}


@dataclass
class MessageFate:
    """What became of one partner message, read back from the audit topic."""

    message: ScenarioMessage
    digest: str
    records: list[AuditRecord] = field(default_factory=list)

    @property
    def verdict(self) -> AuditRecord | None:
        """The accepted / rejected / duplicate record, once it exists."""
        return next((r for r in self.records if r.action in _TERMINAL), None)

    def published_types(self) -> Counter[str]:
        """Canonical event types published for this message."""
        return Counter(
            (r.event_type or "?").removeprefix("uk.asbx.").removesuffix(".v1")
            for r in self.records
            if r.action is AuditAction.CANONICAL_PUBLISHED
        )


async def _publish(bootstrap: str, messages: list[ScenarioMessage], progress: Progress) -> None:
    """Send each message as its partner would: connected as that partner's own principal."""
    producers = {
        partner: AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            max_request_size=32 * 1024 * 1024,
            **client_config_from_env(principal=partner_principal(partner)),
        )
        for partner in {m.partner.value for m in messages}
    }
    for producer in producers.values():
        await producer.start()
    try:
        task = progress.add_task("Replaying partner messages", total=len(messages))
        for message in messages:
            await producers[message.partner.value].send_and_wait(
                inbound_topic(message.partner.value),
                message.value,
                key=message.path.stem.encode(),
                headers=[("content-type", message.content_type.encode())],
            )
            progress.advance(task)
    finally:
        for producer in producers.values():
            await producer.stop()


async def replay(
    bootstrap: str, messages: list[ScenarioMessage], console: Console, timeout: float = 90
) -> list[MessageFate]:
    """Publish ``messages`` to their inbound topics and wait until each has a verdict."""
    fates = {hashlib.sha256(m.value).hexdigest(): MessageFate(m, "") for m in messages}
    for digest, fate in fates.items():
        fate.digest = digest
    start = await end_offsets(bootstrap, AUDIT.name, client_config_from_env())
    with Progress(console=console, transient=False) as progress:
        await _publish(bootstrap, messages, progress)
        task = progress.add_task("Waiting for the normalisers", total=len(messages))

        def settled(records: list[object]) -> bool:
            for fate in fates.values():
                fate.records.clear()
            for raw in records:
                record = AuditRecord.model_validate_json(raw.value)  # type: ignore[attr-defined]
                if record.message_sha256 in fates:
                    fates[record.message_sha256].records.append(record)
            done = sum(1 for f in fates.values() if f.verdict is not None)
            progress.update(task, completed=done)
            return done == len(fates)

        await collect(
            bootstrap,
            AUDIT.name,
            until=settled,
            start=start,
            timeout=timeout,
            client_config=client_config_from_env(),
        )
    return list(fates.values())


def _render(fates: list[MessageFate], console: Console) -> None:
    table = Table(title="What flowed where", show_lines=False)
    for column in ("#", "partner", "message", "outcome", "went to"):
        table.add_column(column)
    for number, fate in enumerate(fates, 1):
        verdict = fate.verdict
        partner = fate.message.partner.value
        if verdict is None:
            table.add_row(str(number), partner, fate.message.label, "[red]no outcome[/]", "")
        elif verdict.action is AuditAction.INBOUND_REJECTED:
            table.add_row(
                str(number),
                partner,
                fate.message.label,
                f"[red]rejected[/]: {verdict.outcome}",
                rejected_topic(partner),
            )
        elif verdict.action is AuditAction.INBOUND_DUPLICATE:
            table.add_row(
                str(number),
                partner,
                fate.message.label,
                "[yellow]redelivery[/]: already normalised, nothing republished",
                AUDIT.name,
            )
        else:
            types = ", ".join(f"{k} x{v}" for k, v in sorted(fate.published_types().items()))
            dropped = [r for r in fate.records if r.action is AuditAction.FACT_DROPPED]
            outcome = f"[green]accepted[/]: {types or 'no shareable facts'}"
            if dropped:
                outcome += f"; dropped {len(dropped)} ({dropped[0].data_classes[0]})"
            table.add_row(str(number), partner, fate.message.label, outcome, CANONICAL_EVENTS.name)
    console.print(table)


def _render_alerts(records: list[Any], console: Console) -> None:
    table = Table(title="Case-review alerts on asbx.alerts.v1 (for police and the lead agency)")
    for column in ("rule", "subject", "why", "incidents counted", "response due"):
        table.add_column(column)
    for record in records:
        alert = AlertEnvelope.model_validate_json(record.value).data
        incidents = "; ".join(
            f"{i.occurred_at.date()} ({'+'.join(a.value for a in i.reporting_agencies)})"
            for i in alert.incidents
        )
        table.add_row(
            alert.rule.value,
            alert.subject[:22] + "...",
            alert.reason,
            incidents or "-",
            str(alert.response_due_on or "-"),
        )
    console.print(table)


async def _sample_event(bootstrap: str, fates: list[MessageFate], console: Console) -> None:
    ids = {
        r.event_id
        for f in fates
        for r in f.records
        if r.event_id and r.event_type == "uk.asbx.asb_incident_reported.v1"
    }
    if not ids:
        return
    records = await collect(
        bootstrap,
        CANONICAL_EVENTS.name,
        until=lambda rs: any(json.loads(r.value)["id"] in ids for r in rs),
        timeout=30,
        client_config=client_config_from_env(),
    )
    sample = next(json.loads(r.value) for r in records if json.loads(r.value)["id"] in ids)
    person = sample["data"].get("people", [{}])[0] if "people" in sample["data"] else {}
    console.print(
        "\n[bold]A canonical event as a subscriber sees it[/] (identity sealed, ids tokenised):"
    )
    console.print_json(
        data={
            "type": sample["type"],
            "subject": sample["subject"],
            "partner": sample["partner"],
            "agreement": sample["agreement"],
            "person.identity": {
                k: (v[:24] + "...") if isinstance(v, str) and len(v) > 24 else v
                for k, v in (person.get("identity") or {}).items()
                if k in {"alg", "path", "data_class", "ciphertext", "audiences"}
            },
        }
    )


async def run_demo(*, keep_broker: bool = True) -> int:
    """Run the whole scenario; 0 if every message had the outcome it should."""
    console = Console()
    settings = Settings()
    local = None
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        from deploy.local_kafka import LocalKafka  # noqa: PLC0415

        local = LocalKafka()
        with console.status("Starting the local Kafka broker (first run fetches its jars)..."):
            bootstrap = await asyncio.to_thread(local.start)
        console.print(
            f"[green]Kafka {local.version()}[/] ready at {bootstrap} (KRaft, single node)"
        )
        settings = Settings(KAFKA_BOOTSTRAP_SERVERS=bootstrap)
    bootstrap = settings.kafka_bootstrap_servers
    created = await ensure_topics(bootstrap, client_config=client_config_from_env())
    await ensure_local_acls(bootstrap, [CorrelatorSettings().correlator_id])
    console.print(f"Topics ready ({len(created)} created now).")

    stop_correlator = asyncio.Event()
    correlator = build_correlator(bootstrap)
    correlator_task = asyncio.create_task(correlator.run(stop_correlator))
    services: list[NormaliserService] = [
        build_normaliser(adapter_for(p), settings) for p in ("housing", "health", "police")
    ]
    for service in services:
        await service.start()
    console.print("Normalisers running: housing, health, police; correlator running.\n")
    try:
        good, bad = scenario(), bad_examples()
        fates = await replay(bootstrap, [*good, *bad], console)
        _render(fates, console)
        await _sample_event(bootstrap, fates, console)
        with console.status("Correlating across agencies..."):
            await caught_up(correlator)
        _render_alerts(
            await read_all(bootstrap, correlator.alerts_topic, client_config_from_env()), console
        )
    finally:
        for service in services:
            await service.stop()
        stop_correlator.set()
        await correlator_task
        if local is not None and not keep_broker:
            await asyncio.to_thread(local.stop)
    bad_ok = all(
        f.verdict is not None and f.verdict.action is AuditAction.INBOUND_REJECTED
        for f in fates[len(good) :]
    )
    good_ok = all(
        f.verdict is not None and f.verdict.action is not AuditAction.INBOUND_REJECTED
        for f in fates[: len(good)]
    )
    counts = Counter(f.verdict.action.value if f.verdict else "missing" for f in fates)
    console.print(f"\nSummary: {dict(counts)}")
    if local is not None and keep_broker:
        console.print(
            "The broker keeps running; stop it with [bold]make stop[/] (asbx broker stop)."
        )
    return 0 if good_ok and bad_ok else 1
