"""The batch handler's failure paths, with a fake consumer and fake transactions (no Kafka)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from contracts.envelope import CanonicalEvent
from services.audit.records import sealed_fields
from services.kafka.fetch_pacing import FetchPacing
from services.normalise import handler as handler_module
from services.normalise.batch import BatchLimits, BatchNormaliser
from services.normalise.emitter import OutcomeEmitter
from services.normalise.handler import BatchHandler
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore, PendingSeen
from services.observability.metrics import NormaliserMeter
from services.protection.keys import LocalKeyStore
from services.sharing.agreements import load
from services.streams.engine import Output
from tests.unit.test_pipeline import TinyAdapter

TOPIC = "asbx.inbound.police.v1"
TP = TopicPartition(TOPIC, 0)


class FakeConsumer:
    """Where the handler seeks, and the group's committed offset."""

    def __init__(self) -> None:
        self.seeks: list[int] = []
        self.committed_offset: int | None = None

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offset


class FakeTransactions:
    """Commits into a list; the first commit can fail before or after taking effect."""

    def __init__(self, consumer: FakeConsumer, fail: str = "") -> None:
        self.consumer = consumer
        self.fail = fail
        self.visible: list[Output] = []
        self.settled = 0

    async def commit(self, tp: TopicPartition, offset: int, outputs: Iterable[Output]) -> None:
        run = list(outputs)
        fail, self.fail = self.fail, ""
        if fail == "before":
            raise ConnectionError("coordinator away")
        self.visible.extend(run)
        self.consumer.committed_offset = offset + 1
        if fail == "after":
            raise TimeoutError("the answer was lost")

    async def settle(self, tp: TopicPartition) -> None:
        self.settled += 1


def records(*ids: str) -> list[ConsumerRecord[Any, Any]]:
    return [
        ConsumerRecord(
            TOPIC, 0, offset, 0, 0, None, json.dumps({"id": i, "victim": "Lee"}).encode(), None,
            0, 0, [],
        )
        for offset, i in enumerate(ids)
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler_module, "RETRY_SECONDS", 0.0)


def handler_for(tmp_path: Path, transactions: FakeTransactions) -> BatchHandler:
    pending = PendingSeen(InMemorySeenStore())
    normaliser = Normaliser(
        TinyAdapter(),
        keys=LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True),
        agreements=load,
        seen=pending,
        max_message_bytes=1 << 20,
    )
    emitter = OutcomeEmitter("normaliser:police", "canonical", "rejected", "audit", "seen")
    batches = BatchNormaliser(normaliser, emitter, pending)
    return BatchHandler(batches, transactions, NormaliserMeter("unit-batch"), BatchLimits(2))


def canonical(transactions: FakeTransactions) -> list[bytes]:
    return [o.value for o in transactions.visible if o.topic == "canonical"]


async def test_a_failed_commit_rewinds_to_the_run_and_the_retry_publishes_once(
    tmp_path: Path,
) -> None:
    """Runs of two: the second run fails, the partition goes back to its first record."""
    consumer = FakeConsumer()
    transactions = FakeTransactions(consumer)
    handler = handler_for(tmp_path, transactions)
    batch = records("A", "B", "C", "D", "E")
    assert await handler.handle(batch[:2], [{}] * 2, consumer)
    transactions.fail = "before"
    assert not await handler.handle(batch[2:], [{}] * 3, consumer)
    assert consumer.seeks == [2]
    assert await handler.handle(batch[2:], [{}] * 3, consumer)
    assert transactions.settled == 1
    assert len(canonical(transactions)) == 5
    assert len(set(canonical(transactions))) == 5


async def test_a_commit_that_took_effect_despite_an_error_is_not_published_again(
    tmp_path: Path,
) -> None:
    """The broker committed but the answer was lost: the re-read skips the committed records."""
    consumer = FakeConsumer()
    transactions = FakeTransactions(consumer, fail="after")
    handler = handler_for(tmp_path, transactions)
    batch = records("A", "B", "C")
    assert not await handler.handle(batch, [{}] * 3, consumer)
    assert consumer.seeks == [0]
    assert await handler.handle(batch, [{}] * 3, consumer)
    assert len(canonical(transactions)) == 3, "a committed run was published twice"


class KeyCheckingTransactions(FakeTransactions):
    """At each commit, another service must be able to read every key the outputs name."""

    def __init__(self, consumer: FakeConsumer, keys_dir: Path) -> None:
        super().__init__(consumer)
        self.keys_dir = keys_dir
        self.checked = 0

    async def commit(self, tp: TopicPartition, offset: int, outputs: Iterable[Output]) -> None:
        run = list(outputs)
        reader = LocalKeyStore(self.keys_dir)
        for out in run:
            if out.topic == "canonical":
                event = CanonicalEvent.model_validate_json(out.value)
                for field in sealed_fields(event):
                    for kid in field.retention_kids:
                        reader.retention_key(kid)  # raises if the key is not on disk yet
                        self.checked += 1
        await super().commit(tp, offset, run)


async def test_new_retention_keys_are_on_disk_before_the_run_is_committed(
    tmp_path: Path,
) -> None:
    """The normaliser writes new keys once per run, but always before the Kafka commit."""
    consumer = FakeConsumer()
    transactions = KeyCheckingTransactions(consumer, tmp_path / "keys")
    handler = handler_for(tmp_path, transactions)
    batch = records("A", "B", "C", "D", "E")
    assert await handler.handle(batch, [{}] * 5, consumer)
    assert len(canonical(transactions)) == 5
    assert transactions.checked > 0


async def test_a_poll_with_records_makes_the_next_fetches_linger(tmp_path: Path) -> None:
    """Fetch pacing: a normaliser that found records lets the broker gather the next ones."""
    consumer = FakeConsumer()
    consumer._fetcher = SimpleNamespace(_fetch_min_bytes=1, _fetch_max_wait_ms=500)  # type: ignore[attr-defined]
    transactions = FakeTransactions(consumer)
    handler = handler_for(tmp_path, transactions)
    handler.pacing = FetchPacing(linger_ms=20, min_bytes=65536, idle_after=60)
    assert await handler.handle(records("A"), [{}], consumer)
    fetcher = consumer._fetcher  # type: ignore[attr-defined]
    assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (65536, 20)
