"""The transactional consume-process-produce loop.

For each batch of one input partition, in one Kafka transaction: the processor's output records,
the changed state (to the changelog partition matching the input partition) and the input offset.
Either all become visible to ``read_committed`` readers or none do, so a crash at any point, even
``kill -9``, leaves output, state and position consistent: after restart the state is recovered
from the changelog (with ``EngineConfig.state_dir``, from a local file plus the changelog after
its checkpoint; the file is written only after the commit, see ``local_store``) and processing
resumes at the committed offset, with no alert lost or repeated.

**Claiming a partition happens outside the rebalance callback.** The callback only pauses the
newly assigned partition and starts a claim task: fence the previous owner, restore the state,
then resume the partition. aiokafka sends no heartbeats while a rebalance callback runs, so a
restore inside it that outlasted the session timeout (a cold restore of a large partition takes
longer) got the member expelled and every partition claimed again. Claims of one engine run one
at a time (bounded memory: each holds a changelog consumer and its fetch buffer) while the
partitions already claimed are processed; a partition revoked mid-claim has its claim cancelled
and undone.

Each input partition gets its own transactional producer, ``transactional.id`` derived from the
group, topic and partition. When a partition moves to another instance after a rebalance, the new
owner's producer uses the same id, which fences the old owner (a "zombie" that has not noticed it
lost the partition) and aborts its open transaction. That is what makes scaling out across
consumer-group members safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from services.kafka.partition_producer import partition_producer
from services.kafka.waiting import backoff_delays
from services.streams.changelog import catch_up, restore_partition
from services.streams.local_store import LocalPartitionStore, record_crc
from services.streams.store import PartitionStore

__all__ = ["EngineConfig", "Output", "Processor", "TransactionalEngine"]

#: Longest wait for a partition's transactional producer to start before trying again.
CLAIM_STEP_SECONDS = 30.0

log = structlog.get_logger(__name__)

V = TypeVar("V")


@dataclass(frozen=True)
class Output:
    """A record the processor wants published (in the same transaction as its input)."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class Processor(Protocol[V]):
    """What the engine runs: pure-ish processing of one record against its partition's state."""

    def process(
        self, store: PartitionStore[V], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        """Update ``store`` for ``record`` and return records to publish."""
        ...

    def encode(self, key: str, value: V) -> bytes:
        """State value → changelog bytes (``key`` is the record's: a value may leave out what
        its key already says)."""
        ...

    def decode(self, key: str, raw: bytes) -> V:
        """Changelog bytes of ``key`` → state value."""
        ...

    def encode_key(self, key: str) -> bytes:
        """State key → changelog key (before processors packed keys, every key was UTF-8)."""
        ...

    def decode_key(self, raw: bytes) -> str:
        """Changelog key → state key (any form :meth:`encode_key` ever wrote)."""
        ...


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """Where an engine reads, keeps its state and commits."""

    name: str
    bootstrap: str
    input_topic: str
    changelog_topic: str
    group_id: str
    dead_letter_topic: str
    max_records: int = 500
    client_config: dict[str, Any] = field(default_factory=dict)
    #: Where each partition's state is kept on disk (``None``: in memory, restored in full).
    state_dir: Path | None = None
    #: Decoded values each on-disk partition keeps in memory.
    cache_size: int = 20_000
    #: Static group membership (``group.instance.id``), unique per running instance. A restart
    #: after a crash then takes its partitions back at once instead of waiting for the dead
    #: member's session to expire; ``None``: dynamic membership.
    group_instance_id: str | None = None


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a send's outcome as seen: a failed transaction reports it once, as its own error."""
    if not future.cancelled():
        future.exception()


class _PoisonRecord(Exception):  # noqa: N818 - a control-flow signal, caught in run()
    """A record raised: its batch is rolled back and retried with the record dead-lettered."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, engine: TransactionalEngine[Any]) -> None:
        self._engine = engine

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._engine._release(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._engine._claim(assigned)


class TransactionalEngine(Generic[V]):
    """Runs one processor over one input topic as a member of a consumer group."""

    def __init__(
        self,
        config: EngineConfig,
        processor: Processor[V],
        on_commit: Callable[[PartitionStore[V], int], None] | None = None,
    ) -> None:
        self.config = config
        self.processor = processor
        self._on_commit = on_commit
        self._stores: dict[int, PartitionStore[V]] = {}
        self._producers: dict[int, AIOKafkaProducer] = {}
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        #: Records that raised, by (partition, offset): dead-lettered when the batch is retried.
        self._poison: dict[tuple[int, int], Exception] = {}
        #: Partitions paused after a failed recovery: when to try again, and the backoff.
        self._unrecovered: dict[TopicPartition, tuple[float, Iterator[float]]] = {}
        #: Partitions assigned but not yet claimed (paused meanwhile): their claim tasks.
        self._claims: dict[TopicPartition, asyncio.Task[None]] = {}
        self._claim_slot = asyncio.Semaphore(1)
        self.processed = 0

    @property
    def partitions(self) -> list[int]:
        """Input partitions this instance owns now."""
        return sorted(self._stores)

    def store(self, partition: int) -> PartitionStore[V] | None:
        """The state of an owned partition (for inspection and tests)."""
        return self._stores.get(partition)

    @property
    def claiming(self) -> list[int]:
        """Assigned partitions still being claimed (fenced and restored); paused meanwhile."""
        return sorted(tp.partition for tp in self._claims)

    def _claim(self, assigned: list[TopicPartition]) -> None:
        """Pause the new partitions and claim them in the background (not in the callback).

        Claims run one at a time, in partition order: aiokafka hands the assignment over as a
        set, whose order changes from process to process, and a claim order that varies with
        the hash seed made recovery (and its logs) differ between identical restarts.
        """
        assert self._consumer is not None
        for tp in sorted(assigned, key=lambda tp: (tp.topic, tp.partition)):
            self._consumer.pause(tp)
            task = asyncio.create_task(
                self._claim_in_background(tp), name=f"claim {self.config.name}/{tp.partition}"
            )
            task.add_done_callback(self._claim_ended)
            self._claims[tp] = task

    async def _claim_in_background(self, tp: TopicPartition) -> None:
        async with self._claim_slot:
            producer, store = await self._claim_one(tp)
        try:
            async with self._lock:
                self._producers[tp.partition] = producer
                self._stores[tp.partition] = store
        except BaseException:  # revoked while waiting for the lock: undo the claim
            if isinstance(store, LocalPartitionStore):
                store.close()
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self._claims.pop(tp, None)
        if self._consumer is not None and tp in self._consumer.assignment():
            self._consumer.resume(tp)

    def _claim_ended(self, task: asyncio.Task[None]) -> None:
        """A claim retries every broker error itself; anything else is a bug: say so loudly."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error(
                "stream.claim_failed", engine=self.config.name, task=task.get_name(), exc_info=exc
            )

    async def _claim_one(self, tp: TopicPartition) -> tuple[AIOKafkaProducer, PartitionStore[V]]:
        """Fence the previous owner and restore the state, retrying until the broker answers.

        A broker that goes away mid-claim must not leave the partition assigned without state
        (its records would never be processed): each failed attempt is undone and tried again.
        """
        delays = backoff_delays(first=0.5, ceiling=10.0)
        while True:
            producer: AIOKafkaProducer | None = None
            try:
                producer = await self._started_producer(tp)
                store, restored = await self._restore(tp.partition)
            except BaseException as exc:
                if producer is not None:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                if not isinstance(exc, Exception):
                    raise  # cancelled: the partition was revoked mid-claim
                delay = next(delays)
                log.warning(
                    "stream.claim_retry",
                    engine=self.config.name,
                    partition=tp.partition,
                    error=repr(exc),
                    retry_in_seconds=delay,
                )
                await asyncio.sleep(delay)
                continue
            log.info(
                "stream.partition_claimed",
                engine=self.config.name,
                partition=tp.partition,
                restored_keys=len(store),
                changelog_records=restored,
            )
            return producer, store

    async def _started_producer(self, tp: TopicPartition) -> AIOKafkaProducer:
        """A started transactional producer for ``tp``; starting it fences any earlier one
        under the same transactional id (a previous owner's, or this engine's own failed one)
        and aborts what that left open. On failure nothing is left running."""
        producer = partition_producer(
            self.config.bootstrap, self.config.group_id, tp, self.config.client_config
        )
        try:
            await asyncio.wait_for(producer.start(), CLAIM_STEP_SECONDS)
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        return producer

    async def _restore(self, partition: int) -> tuple[PartitionStore[V], int]:
        """A partition's state as of its changelog's end, and the changelog records read."""
        if self.config.state_dir is None:
            store: PartitionStore[V] = PartitionStore(partition)
            restored = await restore_partition(
                self.config.bootstrap,
                self.config.changelog_topic,
                store,
                self.processor.decode,
                self.config.client_config,
                decode_key=self.processor.decode_key,
            )
            return store, restored
        local = LocalPartitionStore(
            partition,
            self.config.state_dir / f"{self.config.changelog_topic}-{partition}.sqlite",
            self.config.changelog_topic,
            encode=self.processor.encode,
            decode=self.processor.decode,
            cache_size=self.config.cache_size,
        )
        try:
            restored = await catch_up(
                self.config.bootstrap,
                self.config.changelog_topic,
                local,
                self.config.client_config,
                decode_key=self.processor.decode_key,
            )
        except BaseException:
            local.close()
            raise
        return local, restored

    def _drop_store(self, partition: int) -> None:
        store = self._stores.pop(partition, None)
        if isinstance(store, LocalPartitionStore):
            store.close()

    async def _release(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            await self._cancel_claim(tp)
        async with self._lock:
            for tp in revoked:
                self._unrecovered.pop(tp, None)
                self._drop_store(tp.partition)
                producer = self._producers.pop(tp.partition, None)
                if producer is not None:
                    await producer.stop()
                log.info(
                    "stream.partition_released", engine=self.config.name, partition=tp.partition
                )

    async def _cancel_claim(self, tp: TopicPartition) -> None:
        task = self._claims.pop(tp, None)
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # its end, without swallowing a cancellation of our own

    async def _process_batch(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        store, producer = self._stores.get(tp.partition), self._producers.get(tp.partition)
        if store is None or producer is None:
            return  # revoked while the batch was in flight: the new owner will process it
        async with producer.transaction():
            for record in records:
                poison = self._poison.get((tp.partition, record.offset))
                if poison is not None:  # dead-lettered without touching state
                    outputs = [self._dead_letter(record, poison)]
                else:
                    try:
                        outputs = self.processor.process(store, record)
                    except Exception as exc:  # one bad record must not stop the partition
                        log.exception(
                            "stream.record_failed",
                            engine=self.config.name,
                            partition=tp.partition,
                            offset=record.offset,
                        )
                        # It may have changed state before failing: abort the whole batch, so
                        # the retry starts from committed state and skips this record.
                        self._poison[(tp.partition, record.offset)] = exc
                        raise _PoisonRecord from exc
                for out in outputs:
                    sent = await producer.send(
                        out.topic, out.value, key=out.key, headers=list(out.headers)
                    )
                    sent.add_done_callback(_retrieved)
            changes = (
                store.take_encoded()
                if isinstance(store, LocalPartitionStore)
                else [
                    (key, None if value is None else self.processor.encode(key, value))
                    for key, value in store.take_dirty()
                ]
            )
            last: asyncio.Future[Any] | None = None
            records_out = self._changelog_records(changes)
            for key_bytes, encoded in records_out:
                last = await producer.send(
                    self.config.changelog_topic, encoded, key=key_bytes, partition=tp.partition
                )
                last.add_done_callback(_retrieved)
            await producer.send_offsets_to_transaction(
                {tp: records[-1].offset + 1}, self.config.group_id
            )
        if isinstance(store, LocalPartitionStore):
            # Only now, after the commit: the file may lag the changelog, never lead it.
            if last is None:
                store.committed(None, None)
            else:
                key_bytes, encoded = records_out[-1]
                store.committed(last.result().offset + 1, record_crc(key_bytes, encoded))
        for record in records:
            self._poison.pop((tp.partition, record.offset), None)
        self.processed += len(records)
        if self._on_commit is not None:
            self._on_commit(store, records[-1].offset + 1)

    def _changelog_records(
        self, changes: list[tuple[str, bytes | None]]
    ) -> list[tuple[bytes, bytes | None]]:
        """Changelog records (key bytes, value) for a batch's changed keys.

        A deleted key is also tombstoned under its UTF-8 text when its key form differs: a
        changelog written before keys were packed may still hold a record under the text key,
        which compaction would otherwise keep forever and a full restore would bring back.
        """
        records: list[tuple[bytes, bytes | None]] = []
        for key, encoded in changes:
            key_bytes = self.processor.encode_key(key)
            records.append((key_bytes, encoded))
            if encoded is None and key_bytes != (text := key.encode()):
                records.append((text, None))
        return records

    async def _commit(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """One partition's batch in one transaction; on failure, back to the last commit."""
        try:
            await self._process_batch(tp, records)
        except _PoisonRecord:
            await self._try_recover(tp)
        except Exception:
            log.exception(
                "stream.transaction_failed", engine=self.config.name, partition=tp.partition
            )
            await self._try_recover(tp)

    def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> Output:
        headers = (
            ("asbx_error", type(exc).__name__.encode()),
            ("asbx_reason", str(exc)[:300].encode()),
            ("asbx_source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        )
        return Output(
            self.config.dead_letter_topic, record.key or b"", record.value or b"", headers
        )

    async def _recover(self, tp: TopicPartition) -> None:
        """After a failed transaction: state back to the changelog, position back to the commit.

        The partition also gets a new transactional producer: a producer whose transaction
        failed may be in a fatal state (a broker killed mid-commit leaves aiokafka's in
        ``FATAL_ERROR``), and every later transaction on it fails at once, forever. Starting a
        new one under the same transactional id fences the old one and aborts what it left.
        """
        old = self._producers.pop(tp.partition, None)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.stop()
        self._producers[tp.partition] = await self._started_producer(tp)
        self._drop_store(tp.partition)  # its cached values may hold the failed batch's changes
        store, _ = await self._restore(tp.partition)
        self._stores[tp.partition] = store
        assert self._consumer is not None
        committed = await self._consumer.committed(tp)
        if committed is None:
            await self._consumer.seek_to_beginning(tp)
        else:
            self._consumer.seek(tp, committed)

    async def _try_recover(self, tp: TopicPartition) -> None:
        """Recover ``tp``; if that fails too, pause it and retry later with backoff.

        Carrying on unrecovered would be a loss: the consumer's position is already past the
        failed batch, so the next batch's commit would skip it. A paused partition yields no
        records until it is recovered (or revoked: its new owner starts from the commit).
        """
        assert self._consumer is not None
        if tp not in self._consumer.assignment():
            self._unrecovered.pop(tp, None)
            return
        try:
            await self._recover(tp)
        except Exception as exc:
            delays = self._unrecovered.get(tp, (0.0, backoff_delays(first=0.5, ceiling=10.0)))[1]
            delay = next(delays)
            self._unrecovered[tp] = (time.monotonic() + delay, delays)
            self._consumer.pause(tp)
            log.warning(
                "stream.recover_retry",
                engine=self.config.name,
                partition=tp.partition,
                error=type(exc).__name__,
                retry_in=delay,
            )
            return
        if self._unrecovered.pop(tp, None) is not None:
            self._consumer.resume(tp)

    async def _retry_recoveries(self) -> None:
        now = time.monotonic()
        for tp, (due, _delays) in list(self._unrecovered.items()):
            if due <= now:
                await self._try_recover(tp)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; then leave the group cleanly."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap,
            group_id=self.config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=16 * 1024 * 1024,
            group_instance_id=self.config.group_instance_id,
            **self.config.client_config,
        )
        self._consumer = consumer
        consumer.subscribe([self.config.input_topic], listener=_Rebalance(self))
        await consumer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(
                    timeout_ms=200, max_records=self.config.max_records
                )
                async with self._lock:
                    await self._retry_recoveries()
                    # Partitions share nothing (own store, own transactional producer), so their
                    # transactions run side by side: a poll's round trips to the transaction
                    # coordinator overlap instead of adding up partition after partition.
                    await asyncio.gather(
                        *(
                            self._commit(tp, records)
                            for tp, records in batches.items()
                            if records and tp not in self._unrecovered
                        )
                    )
        finally:
            for tp in list(self._claims):
                await self._cancel_claim(tp)
            await consumer.stop()
            for producer in self._producers.values():
                with contextlib.suppress(Exception):
                    await producer.stop()
            self._producers.clear()
            for partition in list(self._stores):
                self._drop_store(partition)
