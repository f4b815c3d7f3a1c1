"""Test helpers for the correlator on the real broker: feed canonical events, wait, read alerts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from contracts.alert_envelope import AlertEnvelope
from contracts.envelope import CanonicalEvent
from contracts.topics import CANONICAL_EVENTS
from services.correlator.app import CorrelatorService
from services.correlator.progress import caught_up
from services.kafka.headers import cloudevent_headers
from services.kafka.reader import read_all
from tests.kafka_fixture import broker_client_config

__all__ = ["alerts", "publish_canonical", "wait_caught_up"]


async def publish_canonical(
    bootstrap: str, events: Iterable[CanonicalEvent], topic: str = CANONICAL_EVENTS.name
) -> int:
    """Publish events as a normaliser would: keyed by subject, CloudEvents headers."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **broker_client_config()
    )
    await producer.start()
    count = 0
    try:
        batch = []
        for event in events:
            headers = [(k, v.encode()) for k, v in cloudevent_headers(event, None).items()]
            batch.append(
                await producer.send(
                    topic,
                    event.model_dump_json().encode(),
                    key=event.subject.encode(),
                    headers=headers,
                )
            )
            count += 1
        await asyncio.gather(*batch)
    finally:
        await producer.stop()
    return count


async def wait_caught_up(service: CorrelatorService, timeout: float = 120) -> None:
    """Return once every stage has committed past everything published so far."""
    await caught_up(service, timeout)


async def alerts(bootstrap: str, topic: str) -> list[AlertEnvelope]:
    """Every committed alert on ``topic``."""
    return [AlertEnvelope.model_validate_json(r.value) for r in await read_all(bootstrap, topic)]
