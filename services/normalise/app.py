"""The Kafka edge of a partner normaliser: one FastStream batch subscriber on the inbound topic.

The handler is small on purpose: turn each record of a poll into an :class:`InboundRecord`, let
the pure pipeline decide (:mod:`services.normalise.batch`), let the emitter say which records
that makes. Per partition, a run of records (bounded in records and bytes) has its outputs and
its last input offset committed in one Kafka transaction (``AckPolicy.MANUAL``: FastStream never
commits on its own), so a crash or ``kill -9`` at any point yields each output once or not at
all. If a run's transaction fails, the partition is sought back to the run's first record and
the whole run is read again, never skipped. The partitions of one poll commit side by side.

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
from services.kafka.consumer_failure import coordination_failure
from services.kafka.fetch_pacing import FetchPacing
from services.kafka.headers import lenient_parser, raw_decoder
from services.kafka.seen_store import KafkaSeenStore
from services.kafka.transactions import PartitionTransactions
from services.kafka.waiting import wait_for_kafka
from services.normalise.batch import BatchLimits, BatchNormaliser
from services.normalise.emitter import OutcomeEmitter
from services.normalise.handler import BatchHandler
from services.normalise.pipeline import Normaliser
from services.normalise.port import PartnerAdapter
from services.normalise.seen import PendingSeen
from services.observability.metrics import NormaliserMeter
from services.protection.keys import LocalKeyStore
from services.settings import Settings
from services.sharing.agreements import AgreementFile

__all__ = ["NormaliserService", "build_normaliser", "normaliser_group"]

log = structlog.get_logger(__name__)

#: How long a poll waits for records (FastStream also sleeps this long after an empty poll,
#: so it bounds the wait a record arriving at an idle normaliser can have).
POLL_MS = 20
#: How often a running normaliser checks that its consumer can still consume.
CONSUMER_CHECK_SECONDS = 5.0


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
    handler: BatchHandler
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
        """Stop consuming (the batch in hand is finished first), then the producers."""
        await self.broker.stop()
        await self.transactions.stop()

    def ready(self) -> bool:
        """Connected, seen-messages restored, and partitions of the inbound topic assigned."""
        consumers = self._consumers()
        return (
            bool(consumers)
            and all(c is not None and c.assignment() for c in consumers)
            and self.consumer_failure() is None
        )

    def _consumers(self) -> list[Any]:
        return [getattr(sub, "consumer", None) for sub in self.broker.subscribers]

    def consumer_failure(self) -> BaseException | None:
        """The error that ended the inbound consumer's group coordination, if it has ended."""
        for consumer in self._consumers():
            if consumer is not None and (failure := coordination_failure(consumer)) is not None:
                return failure
        return None

    async def watch_consumer(self, interval: float = CONSUMER_CHECK_SECONDS) -> None:
        """Stop the service once its consumer can no longer consume (see
        :mod:`services.kafka.consumer_failure`): better restarted than up and idle."""
        while True:  # polled: aiokafka gives no callback when its coordinator ends
            failure = self.consumer_failure()
            if failure is not None:
                break
            await asyncio.sleep(interval)
        log.error(
            "normaliser.consumer_failed",
            service=self.name,
            error=repr(failure),
            action="stopping, to be restarted with a new consumer",
            hint="a GroupAuthorizationFailedError means the group's ACL is missing",
        )
        self.app.exit()


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
    pending = PendingSeen(seen)
    transactions = PartitionTransactions(
        settings.kafka_bootstrap_servers,
        group_id,
        client_config,
        max_request_size=MAX_RECORD_BYTES + 1024 * 1024,
    )
    normaliser = Normaliser(
        adapter,
        keys=LocalKeyStore(settings.keys_dir, defer_new_retention_keys=True),
        agreements=AgreementFile(settings.agreements_file),
        seen=pending,
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

    limits = BatchLimits(settings.normaliser_batch_records, settings.normaliser_batch_bytes)
    handler = BatchHandler(
        BatchNormaliser(normaliser, emitter, pending),
        transactions,
        meter,
        limits,
        FetchPacing(linger_ms=settings.fetch_linger_ms),
    )

    @broker.subscriber(
        inbound_topic(partner),
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=limits.max_records,
        batch_timeout_ms=POLL_MS,
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
        records = raw if isinstance(raw, tuple) else (raw,)
        await handler.handle(records, msg.batch_headers or [msg.headers], msg.consumer)

    app = FastStream(broker, logger=None)
    service = NormaliserService(
        app=app,
        broker=broker,
        seen=seen,
        settings=settings,
        transactions=transactions,
        client_config=client_config,
        handler=handler,
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
