"""Catching a local state file up with its changelog on the real broker: tail only, or wipe."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import KeyKind, TopicSpec
from deploy.topics import ensure_topics
from services.streams.changelog import catch_up
from services.streams.local_store import LocalPartitionStore
from tests.kafka_fixture import Broker, broker_client_config

pytestmark = pytest.mark.kafka


async def _changelog(bootstrap: str) -> str:
    topic = f"asbx.test.changelog.{uuid.uuid4().hex[:8]}"
    spec = TopicSpec(name=topic, purpose="test", key=KeyKind.SUBJECT_TOKEN, partitions=1)
    await ensure_topics(bootstrap, [spec])
    return topic


async def _write(bootstrap: str, topic: str, records: list[tuple[str, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **broker_client_config())
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key.encode(), partition=0)
    finally:
        await producer.stop()


def _store(path: Path, topic: str) -> LocalPartitionStore[bytes]:
    return LocalPartitionStore(
        0, path / "p0.sqlite", topic, encode=lambda _key, v: v, decode=lambda _key, raw: raw
    )


async def test_restart_reads_only_the_changelog_after_the_checkpoint(
    kafka_broker: Broker, tmp_path: Path
) -> None:
    """A second catch-up reads the new records only, and ends with the same state."""
    bootstrap = kafka_broker.bootstrap
    topic = await _changelog(bootstrap)
    await _write(bootstrap, topic, [("a", b"1"), ("b", b"2"), ("a", b"3")])
    store = _store(tmp_path, topic)
    assert await catch_up(bootstrap, topic, store, broker_client_config()) == 3
    store.close()
    await _write(bootstrap, topic, [("c", b"4"), ("b", None)])
    store = _store(tmp_path, topic)
    assert await catch_up(bootstrap, topic, store, broker_client_config()) == 2
    assert dict(store.items()) == {"a": b"3", "c": b"4"}
    assert store.checkpoint.offset == 5


async def test_file_ahead_of_or_foreign_to_the_changelog_is_rebuilt(
    kafka_broker: Broker, tmp_path: Path
) -> None:
    """A checkpoint past the changelog's end, or over another record, means a full restore."""
    bootstrap = kafka_broker.bootstrap
    topic = await _changelog(bootstrap)
    await _write(bootstrap, topic, [("a", b"1"), ("b", b"2")])
    store = _store(tmp_path, topic)
    store.load_encoded([("stale", b"x")])
    store.restored(50, None)  # ahead of a changelog that ends at 2: recreated topic
    assert await catch_up(bootstrap, topic, store, broker_client_config()) == 2
    assert dict(store.items()) == {"a": b"1", "b": b"2"}

    store.load_encoded([("stale", b"x")])
    store.restored(2, 12345)  # at the end, but the record before it is not the one it wrote
    assert await catch_up(bootstrap, topic, store, broker_client_config()) == 2
    assert dict(store.items()) == {"a": b"1", "b": b"2"}
