"""The subscriber client a partner system runs: alerts and their events, opened as permitted.

A police alert subscriber (or a lead agency's case system) consumes ``asbx.alerts.v1`` in its
own consumer group. For each alert it opens what its audience may read, writes the disclosure
to the audit log (acknowledged by every in-sync replica) *before* handing the data to the
caller, and commits its offset only after the caller has taken the alert, so a crash re-delivers
rather than loses. The events an alert names can be fetched the same way. Records that are not
valid alerts are logged and skipped, never fatal.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel, ValidationError

from contracts.alert_envelope import AlertEnvelope
from contracts.audit import AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.topics import ALERTS, AUDIT, CANONICAL_EVENTS
from deploy.kafka_client import client_config_from_env
from services.kafka.reader import read_all
from services.protection.keys import KeyStore
from services.subscriber.disclosure import Reader, disclosure_record
from services.subscriber.opening import OpenedFields, open_fields

__all__ = ["DisclosedAlert", "DisclosedEvent", "Subscriber"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DisclosedAlert:
    """An alert as the reader's audience sees it."""

    alert: AlertEnvelope
    opened: OpenedFields
    partition: int
    offset: int

    @property
    def event_ids(self) -> tuple[str, ...]:
        """The partner events the alert counted (from its incidents; no decryption needed)."""
        ids = {e for incident in self.alert.data.incidents for e in incident.event_ids}
        details = self.opened.values.get("details")
        if isinstance(details, dict):
            ids |= set(details.get("contributing_event_ids", ()))
        return tuple(sorted(ids))


@dataclass(frozen=True)
class DisclosedEvent:
    """A canonical partner event as the reader's audience sees it."""

    event: CanonicalEvent
    opened: OpenedFields


class Subscriber:
    """Reads alerts and events for one :class:`Reader`; every opening is audited."""

    def __init__(
        self,
        bootstrap: str,
        reader: Reader,
        keys: KeyStore,
        *,
        client_config: dict[str, Any] | None = None,
        group_id: str | None = None,
        alerts_topic: str = ALERTS.name,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._bootstrap = bootstrap
        self._reader = reader
        self._keys = keys
        self._config = client_config if client_config is not None else client_config_from_env()
        self._group = group_id or f"asbx-subscriber-{reader.organisation}-{reader.audience.value}"
        self._alerts_topic = alerts_topic
        self._clock = clock
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> Subscriber:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            **self._config,
        )
        await self._producer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _audit(self, record: AuditRecord) -> None:
        if self._producer is None:
            raise RuntimeError("use the Subscriber as 'async with Subscriber(...) as s'")
        await self._producer.send_and_wait(
            AUDIT.name, record.model_dump_json().encode(), key=record.actor.encode()
        )

    async def alerts(
        self, *, limit: int | None = None, idle_seconds: float = 5.0, from_beginning: bool = True
    ) -> AsyncIterator[DisclosedAlert]:
        """Alerts not yet taken by this reader's group, until ``limit`` or ``idle_seconds``."""
        consumer = AIOKafkaConsumer(
            self._alerts_topic,
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest" if from_beginning else "latest",
            **self._config,
        )
        await consumer.start()
        taken = 0
        try:
            idle_since = self._clock()
            while limit is None or taken < limit:
                batches = await consumer.getmany(timeout_ms=500)
                if not batches:
                    if (self._clock() - idle_since).total_seconds() >= idle_seconds:
                        return
                    continue
                idle_since = self._clock()
                for tp, records in batches.items():
                    for record in records:
                        disclosed = await self._disclose_alert(record.value, tp, record.offset)
                        if disclosed is not None:
                            yield disclosed
                            taken += 1
                        await consumer.commit({tp: record.offset + 1})
                        if limit is not None and taken >= limit:
                            return
        finally:
            await consumer.stop()

    async def _disclose_alert(
        self, value: bytes | None, tp: TopicPartition, offset: int
    ) -> DisclosedAlert | None:
        try:
            alert = AlertEnvelope.model_validate_json(value or b"")
        except ValidationError as exc:
            log.warning(
                "subscriber.not_an_alert",
                partition=tp.partition,
                offset=offset,
                errors=exc.error_count(),
            )
            return None
        opened = await self._open(
            alert.data,
            (alert.id, alert.type, alert.subject),
            value or b"",
            f"alert {alert.data.rule.value}",
            (alert.id,),
        )
        return DisclosedAlert(alert, opened, tp.partition, offset)

    async def _open(
        self,
        data: BaseModel,
        about: tuple[str, str, str],
        raw: bytes,
        what: str,
        alert_ids: tuple[str, ...],
    ) -> OpenedFields:
        """Open ``data`` for the reader; a disclosure is audited before it is returned.

        ``about`` is the record's id (the sealing id), CloudEvents type and subject.
        """
        record_id, record_type, subject = about
        opened = open_fields(data, record_id, self._reader.audience, self._keys)
        if opened.disclosed:
            await self._audit(
                disclosure_record(
                    self._reader,
                    opened,
                    at=self._clock(),
                    event_id=record_id,
                    event_type=record_type,
                    subject=subject,
                    message_sha256=hashlib.sha256(raw).hexdigest(),
                    what=what,
                    alert_ids=alert_ids,
                )
            )
        return opened

    async def events(
        self, event_ids: Iterable[str], *, for_alert: str | None = None
    ) -> list[DisclosedEvent]:
        """The named canonical events, opened as permitted, in time order; each one audited.

        ``for_alert`` names the alert they are read for, so IG staff see the disclosure in that
        alert's provenance.
        """
        wanted = set(event_ids)
        found: dict[str, tuple[CanonicalEvent, bytes]] = {}
        for record in await read_all(self._bootstrap, CANONICAL_EVENTS.name, self._config):
            try:
                event = CanonicalEvent.model_validate_json(record.value or b"")
            except ValidationError:
                continue  # not a canonical event: the normalisers' audit trail explains it
            if event.id in wanted:
                found[event.id] = (event, record.value or b"")
        disclosed = []
        for event, raw in sorted(found.values(), key=lambda f: (f[0].occurred_at, f[0].id)):
            opened = await self._open(
                event.data,
                (event.id, event.type, event.subject),
                raw,
                f"{event.partner.value} {event.data.kind}",
                (for_alert,) if for_alert else (),
            )
            disclosed.append(DisclosedEvent(event, opened))
        missing = wanted - found.keys()
        if missing:
            log.warning("subscriber.events_not_found", count=len(missing))
        return disclosed
