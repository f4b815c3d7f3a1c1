"""Adaptive fetch batching on the real broker: a busy consumer's next fetch gathers what arrives
while it lingers; an idle consumer's fetch is answered by the first record."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.kafka.fetch_pacing import FetchPacer, FetchPacing
from tests.kafka_fixture import Broker, broker_client_config

pytestmark = pytest.mark.kafka

#: Records sent one by one, this far apart: far longer than a fetch's round trip here.
SPACING = 0.1


async def _topic(bootstrap: str) -> str:
    name = f"test.pacing.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **broker_client_config())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        await admin.close()
    return name


async def _records_of_next_poll_after_five_sent(
    producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, topic: str, pacer: FetchPacer
) -> int:
    """Poll one record, tell the pacer, send five spaced out; how many the next poll has."""
    await producer.send_and_wait(topic, b"first")
    assert sum(map(len, (await consumer.getmany(timeout_ms=10_000)).values())) == 1
    pacer.saw_records()  # as the services do: after the poll, before anything is awaited
    for i in range(5):
        await asyncio.sleep(SPACING)
        await producer.send_and_wait(topic, str(i).encode())
    return sum(map(len, (await consumer.getmany(timeout_ms=10_000)).values()))


async def test_a_busy_consumer_gathers_records_and_an_idle_one_takes_the_first(
    kafka_broker: Broker,
) -> None:
    topic = await _topic(kafka_broker.bootstrap)
    config = broker_client_config()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all", **config)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **config,
    )
    await producer.start()
    await consumer.start()
    try:
        lingering = FetchPacer(consumer, FetchPacing(linger_ms=3000, min_bytes=1 << 20))
        assert (
            await _records_of_next_poll_after_five_sent(producer, consumer, topic, lingering) == 5
        )
        lingering.close()
        await asyncio.sleep(3.5)  # the fetch sent while busy is answered, empty or not

        # Idle (pacing off): the fetch is answered with the first of the five.
        off = FetchPacer(consumer, FetchPacing(linger_ms=0))
        rest = await _records_of_next_poll_after_five_sent(producer, consumer, topic, off)
        assert rest < 5
    finally:
        await consumer.stop()
        await producer.stop()
