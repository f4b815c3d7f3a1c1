"""The Kafka edge of a partner normaliser: one FastStream subscriber on the inbound topic.

The handler is small on purpose: turn the record into an :class:`InboundRecord`, let the pure
pipeline decide, let the emitter say which records that makes. Those records and the input
offset are committed in one Kafka transaction (``AckPolicy.MANUAL``: FastStream never commits on
its own), so a crash or ``kill -9`` at any point yields each output once or not at all; if the
transaction fails the record is sought back and retried, never skipped.

The FastStream publishers are declared for the AsyncAPI document (they are the service's
published contract); the records themselves go through the partition's transactional producer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from contracts.audit import AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.rejection import RejectedMessage
from contracts.topics import AUDIT, CANONICAL_EVENTS, inbound_topic, rejected_topic, seen_topic
from deploy.kafka_client import client_config_from_env
from deploy.security.acls import normaliser_principal
from services.kafka.connection import MAX_RECORD_BYTES, build_broker
from services.kafka.headers import lenient_parser, raw_decoder
from services.kafka.seen_store import KafkaSeenStore
from services.kafka.transactions import PartitionTransactions
from services.kafka.waiting import wait_for_kafka
from services.normalise.emitter import OutcomeEmitter
from services.normalise.outcome import Accepted, InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.port import PartnerAdapter
from services.observability.metrics import NormaliserMeter
from services.protection.keys import LocalKeyStore
from services.settings import Settings
from services.sharing.agreements import AgreementFile

__all__ = ["NormaliserService", "build_normaliser", "normaliser_group"]

log = structlog.get_logger(__name__)

#: Pause before reading a record again after its transaction failed (e.g. the broker restarts).
RETRY_SECONDS = 1.0


class _ReleaseRevoked(ConsumerRebalanceListener):  # type: ignore[misc]
    """Drops the transactional producers of partitions that moved to another instance."""

    def __init__(self, transactions: PartitionTransactions) -> None:
        self._transactions = transactions

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._transactions.release(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Producers are started on the first record of each partition."""


@dataclass
class NormaliserService:
    """A partner normaliser: its FastStream app, broker and durable seen-message store."""

    app: FastStream
    broker: KafkaBroker
    seen: KafkaSeenStore
    settings: Settings
    transactions: PartitionTransactions
    client_config: dict[str, Any]
    name: str = "normaliser"

    async def restore(self) -> int:
        """Wait for Kafka, then load the seen-message table, before any input is consumed."""
        bootstrap, config = self.settings.kafka_bootstrap_servers, self.client_config
        await wait_for_kafka(bootstrap, config, service=self.name)
        return await self.seen.restore(bootstrap, config)

    async def start(self) -> None:
        """Start in the current event loop (tests and the demo run several side by side)."""
        await self.restore()
        await self.broker.start()

    async def stop(self) -> None:
        """Stop consuming (the record in hand is finished first), then the producers."""
        await self.broker.stop()
        await self.transactions.stop()

    def ready(self) -> bool:
        """Connected, seen-messages restored, and partitions of the inbound topic assigned."""
        consumers = [getattr(sub, "consumer", None) for sub in self.broker.subscribers]
        return bool(consumers) and all(c is not None and c.assignment() for c in consumers)


def normaliser_group(partner: str) -> str:
    """The consumer group of ``partner``'s normaliser."""
    return f"asbx-{partner}-normaliser"


def build_normaliser(
    adapter: PartnerAdapter,
    settings: Settings | None = None,
    client_config: dict[str, Any] | None = None,
) -> NormaliserService:
    """A runnable normaliser service for one partner, connecting as its own principal.

    ``client_config`` replaces the connection settings from the environment (the AsyncAPI
    document is rendered with a fixed one, so it does not depend on the machine).
    """
    settings = settings or Settings()
    partner = adapter.partner.value
    actor = f"normaliser:{partner}"
    group_id = normaliser_group(partner)
    if client_config is None:
        client_config = client_config_from_env(principal=normaliser_principal(partner))
    broker = build_broker(
        settings.kafka_bootstrap_servers, client_id=group_id, client_config=client_config
    )

    broker.publisher(
        CANONICAL_EVENTS.name,
        title=f"{partner}:canonical",
        description=CANONICAL_EVENTS.purpose,
        schema=CanonicalEvent,
    )
    broker.publisher(
        rejected_topic(partner),
        title=f"{partner}:rejected",
        description=f"Refused {partner} messages with reason and sealed original.",
        schema=RejectedMessage,
    )
    broker.publisher(
        AUDIT.name, title=f"{partner}:audit", description=AUDIT.purpose, schema=AuditRecord
    )
    seen = KafkaSeenStore(seen_topic(partner))
    transactions = PartitionTransactions(
        settings.kafka_bootstrap_servers,
        group_id,
        client_config,
        max_request_size=MAX_RECORD_BYTES + 1024 * 1024,
    )
    normaliser = Normaliser(
        adapter,
        keys=LocalKeyStore(settings.keys_dir),
        agreements=AgreementFile(settings.agreements_file),
        seen=seen,
        max_message_bytes=settings.max_message_bytes,
    )
    meter = NormaliserMeter(f"normaliser-{partner}")

    emitter = OutcomeEmitter(
        actor=actor,
        canonical_topic=CANONICAL_EVENTS.name,
        rejected_topic=rejected_topic(partner),
        audit_topic=AUDIT.name,
        seen_topic=seen.topic,
    )

    @broker.subscriber(
        inbound_topic(partner),
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        listener=_ReleaseRevoked(transactions),
        max_partition_fetch_bytes=MAX_RECORD_BYTES,
        fetch_max_bytes=MAX_RECORD_BYTES * 2,
        parser=lenient_parser,
        decoder=raw_decoder,
        title=f"{partner}:inbound",
        description=f"Messages from the {partner} partner, in its own documented format.",
    )
    async def normalise(msg: KafkaMessage) -> None:
        raw = msg.raw_message
        assert not isinstance(raw, tuple)  # single-record subscriber, never a batch
        record = InboundRecord(
            topic=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            key=raw.key,
            value=msg.body,
            headers=dict(msg.headers),
        )
        structlog.contextvars.clear_contextvars()
        with meter.handling(record.topic) as observe:
            outcome = normaliser.process(record)
            try:
                outputs = emitter.outputs(outcome)
            except Exception as exc:  # e.g. an event that cannot be serialised: poison
                outcome = normaliser.failed(record, exc)
                outputs = emitter.outputs(outcome)
            observe(outcome)
            tp = TopicPartition(raw.topic, raw.partition)
            try:
                await transactions.commit(tp, raw.offset, outputs)
            except Exception:
                meter.commit_failed()
                normaliser.not_committed()
                log.exception("normaliser.commit_failed", retry_in=RETRY_SECONDS)
                await msg.nack()  # read this record again: nothing of it became visible
                await asyncio.sleep(RETRY_SECONDS)
                return
            meter.published(outputs)
        if isinstance(outcome, Accepted):
            seen.remember(outcome.message_key, outcome.seen_entry)
        emitter.report(outcome)

    app = FastStream(broker, logger=None)
    service = NormaliserService(
        app=app,
        broker=broker,
        seen=seen,
        settings=settings,
        transactions=transactions,
        client_config=client_config,
        name=actor,
    )

    @app.on_startup
    async def restore_seen() -> None:
        count = await service.restore()
        log.info("normaliser.started", partner=partner, seen_messages=count)

    @app.after_shutdown
    async def stop_transactions() -> None:
        await transactions.stop()
        log.info("normaliser.stopped", partner=partner)

    return service
