"""The Kafka edge of a partner normaliser: one FastStream subscriber on the inbound topic.

The handler is small on purpose: turn the record into an :class:`InboundRecord`, let the pure
pipeline decide, let the emitter publish. Offsets are committed (``AckPolicy.NACK_ON_ERROR``)
only after the handler returns, i.e. after every output was acknowledged; if publishing fails the
record is sought back and retried, never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
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
from services.normalise.emitter import OutcomeEmitter
from services.normalise.outcome import InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.port import PartnerAdapter
from services.protection.keys import LocalKeyStore
from services.settings import Settings
from services.sharing.agreements import AgreementFile

__all__ = ["NormaliserService", "build_normaliser"]

log = structlog.get_logger(__name__)


@dataclass
class NormaliserService:
    """A partner normaliser: its FastStream app, broker and durable seen-message store."""

    app: FastStream
    broker: KafkaBroker
    seen: KafkaSeenStore
    settings: Settings
    client_config: dict[str, Any]

    async def restore(self) -> int:
        """Load the seen-message table; must finish before the first input is consumed."""
        return await self.seen.restore(self.settings.kafka_bootstrap_servers, self.client_config)

    async def start(self) -> None:
        """Start in the current event loop (tests and the demo run several side by side)."""
        await self.restore()
        await self.broker.start()

    async def stop(self) -> None:
        """Stop consuming and flush producers."""
        await self.broker.stop()


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
    if client_config is None:
        client_config = client_config_from_env(principal=normaliser_principal(partner))
    broker = build_broker(
        settings.kafka_bootstrap_servers,
        client_id=f"asbx-{partner}-normaliser",
        client_config=client_config,
    )

    canonical = broker.publisher(
        CANONICAL_EVENTS.name,
        title=f"{partner}:canonical",
        description=CANONICAL_EVENTS.purpose,
        schema=CanonicalEvent,
    )
    rejected = broker.publisher(
        rejected_topic(partner),
        title=f"{partner}:rejected",
        description=f"Refused {partner} messages with reason and sealed original.",
        schema=RejectedMessage,
    )
    audit = broker.publisher(
        AUDIT.name, title=f"{partner}:audit", description=AUDIT.purpose, schema=AuditRecord
    )
    seen_publisher = broker.publisher(seen_topic(partner), include_in_schema=False)
    seen = KafkaSeenStore(seen_publisher, seen_topic(partner))
    normaliser = Normaliser(
        adapter,
        keys=LocalKeyStore(settings.keys_dir),
        agreements=AgreementFile(settings.agreements_file),
        seen=seen,
        max_message_bytes=settings.max_message_bytes,
    )
    emitter = OutcomeEmitter(
        actor=actor, canonical=canonical, rejected=rejected, audit=audit, seen=seen
    )

    @broker.subscriber(
        inbound_topic(partner),
        group_id=f"asbx-{partner}-normaliser",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
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
        outcome = normaliser.process(record)
        await emitter.emit(outcome)

    app = FastStream(broker, logger=None)
    service = NormaliserService(
        app=app, broker=broker, seen=seen, settings=settings, client_config=client_config
    )

    @app.on_startup
    async def restore_seen() -> None:
        count = await service.restore()
        log.info("normaliser.started", partner=partner, seen_messages=count)

    return service
