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

**Stages that share a task.** An engine may run more stages whose input topics are partitioned
like its first (``also``), as Kafka Streams runs a task per partition number across
co-partitioned topics. The consumer group reads every stage's input with the range assignor,
which gives a member partition *n* of every topic together, so task *n* owns the state of every
stage for partition *n* and commits all of it, and all its input offsets, in one transaction
under one producer. A record a stage sends to a later stage's input is processed at once, inside
the same transaction, when its key belongs to partition *n*: it never makes the round trip
through Kafka (with one partition, no such record does). Records for other partitions are
published to that partition, as before, for its task to read. A later stage that raises on a
record handed over this way makes the record that sent it the poison record: that one is
dead-lettered, and nothing it sent is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.partitioner import DefaultPartitioner

from services.kafka.fetch_pacing import FetchPacer, FetchPacing
from services.kafka.partition_producer import partition_producer
from services.kafka.waiting import backoff_delays
from services.streams.changelog import catch_up, restore_partition
from services.streams.local_store import LocalPartitionStore, record_crc
from services.streams.store import PartitionStore

__all__ = ["EngineConfig", "Output", "Processor", "Stage", "TransactionalEngine"]

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
    #: Set by the engine for a record bound for another task's stage (``None``: by its key).
    partition: int | None = None


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
    #: How long fetches wait at the broker for more records while the engine is busy.
    fetch_pacing: FetchPacing = field(default_factory=FetchPacing)


@dataclass(frozen=True)
class Stage:
    """One processor over one input topic, its state kept in one changelog."""

    name: str
    input_topic: str
    changelog_topic: str
    processor: Processor[Any]
    on_commit: Callable[[PartitionStore[Any], int], None] | None = None
    #: A consumer group whose committed offsets the stage starts from where the engine's own
    #: group has none: the group it ran in before it shared a task (an upgrade resumes, it does
    #: not read its input again from the beginning).
    adopt_offsets_of: str | None = None


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a send's outcome as seen: a failed transaction reports it once, as its own error."""
    if not future.cancelled():
        future.exception()


#: A changelog send in a task's transaction: its future, and the record (key, value) it sent.
_Sent = tuple[asyncio.Future[Any], tuple[bytes, bytes | None]]


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
    """Runs one processor (and any stages sharing its tasks) as a member of a consumer group."""

    def __init__(
        self,
        config: EngineConfig,
        processor: Processor[V],
        on_commit: Callable[[PartitionStore[V], int], None] | None = None,
        *,
        also: Sequence[Stage] = (),
        adopt_offsets_of: str | None = None,
        before_commit: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """``also``: later stages co-partitioned with ``config.input_topic`` (see the module
        docstring); ``adopt_offsets_of``: as :attr:`Stage.adopt_offsets_of`, for the first;
        ``before_commit``: awaited in each task's transaction once its records are sent, just
        before it commits (what must be durable before they can be read, such as the keys they
        are sealed under); if it raises, the transaction is aborted."""
        self.config = config
        self._before_commit = before_commit
        self.processor = processor
        first = Stage(
            config.name,
            config.input_topic,
            config.changelog_topic,
            processor,
            on_commit,
            adopt_offsets_of,
        )
        self.stages: tuple[Stage, ...] = (first, *also)
        if len({stage.input_topic for stage in self.stages}) != len(self.stages):
            raise ValueError("two stages of one engine read the same topic")
        #: Each owned task's state: partition → input topic → store.
        self._stores: dict[int, dict[str, PartitionStore[Any]]] = {}
        self._producers: dict[int, AIOKafkaProducer] = {}
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._partitioner = DefaultPartitioner()
        #: Records that raised, by (topic, partition, offset): dead-lettered when retried.
        self._poison: dict[tuple[str, int, int], Exception] = {}
        #: Tasks paused after a failed recovery: when to try again, and the backoff.
        self._unrecovered: dict[int, tuple[float, Iterator[float]]] = {}
        #: Tasks assigned but not yet claimed (paused meanwhile): their claim tasks.
        self._claims: dict[int, asyncio.Task[None]] = {}
        self._claim_slot = asyncio.Semaphore(1)
        self.processed = 0
        #: Records a stage sent to a later stage of the same task, processed without Kafka
        #: (committed batches only; the count of the batch in flight, per task, until then).
        self.delivered_inline = 0
        self._inline_pending: dict[int, int] = {}
        #: Partitions this group has never committed (upgrades: see :meth:`_adopt_offsets`).
        self._first_commit: set[TopicPartition] = set()
        #: Committed offsets of the stages' earlier groups, read once per run.
        self._earlier_offsets: dict[str, dict[TopicPartition, int]] = {}

    @property
    def partitions(self) -> list[int]:
        """Tasks (partition numbers) this instance owns now."""
        return sorted(self._stores)

    def store(self, partition: int, topic: str | None = None) -> PartitionStore[Any] | None:
        """The state of an owned partition of ``topic``'s stage (default: the first stage)."""
        return self._stores.get(partition, {}).get(topic or self.config.input_topic)

    @property
    def claiming(self) -> list[int]:
        """Assigned tasks still being claimed (fenced and restored); paused meanwhile."""
        return sorted(self._claims)

    def _task_partitions(self, partition: int) -> list[TopicPartition]:
        return [TopicPartition(stage.input_topic, partition) for stage in self.stages]

    def _claim(self, assigned: list[TopicPartition]) -> None:
        """Pause the new partitions and claim their tasks in the background (not in the callback).

        Claims run one at a time, in partition order: aiokafka hands the assignment over as a
        set, whose order changes from process to process, and a claim order that varies with
        the hash seed made recovery (and its logs) differ between identical restarts.

        A task is claimed only with every stage's partition of its number: a record delivered
        inline to a stage partition owned elsewhere would fork that partition's state. The
        range assignor never splits a task; if the topics' partition counts disagree it could,
        and such a task stays paused, loudly, until an assignment gives it whole.
        """
        assert self._consumer is not None
        owned = {(tp.topic, tp.partition) for tp in assigned}
        for partition in sorted({tp.partition for tp in assigned}):
            task = self._task_partitions(partition)
            for tp in task:
                if (tp.topic, tp.partition) in owned:
                    self._consumer.pause(tp)
            missing = [tp.topic for tp in task if (tp.topic, tp.partition) not in owned]
            if missing:
                log.error(
                    "stream.task_split",
                    engine=self.config.name,
                    partition=partition,
                    missing=missing,
                    hint="every stage's input must have as many partitions as the first's",
                )
                continue
            claim = asyncio.create_task(
                self._claim_in_background(partition), name=f"claim {self.config.name}/{partition}"
            )
            claim.add_done_callback(self._claim_ended)
            self._claims[partition] = claim

    async def _claim_in_background(self, partition: int) -> None:
        async with self._claim_slot:
            producer, stores = await self._claim_one(partition)
        try:
            async with self._lock:
                self._producers[partition] = producer
                self._stores[partition] = stores
        except BaseException:  # revoked while waiting for the lock: undo the claim
            _close_stores(stores)
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self._claims.pop(partition, None)
        if self._consumer is not None:
            assignment = self._consumer.assignment()
            for tp in self._task_partitions(partition):
                if tp in assignment:
                    self._consumer.resume(tp)

    def _claim_ended(self, task: asyncio.Task[None]) -> None:
        """A claim retries every broker error itself; anything else is a bug: say so loudly."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error(
                "stream.claim_failed", engine=self.config.name, task=task.get_name(), exc_info=exc
            )

    async def _claim_one(
        self, partition: int
    ) -> tuple[AIOKafkaProducer, dict[str, PartitionStore[Any]]]:
        """Fence the previous owner, restore the state and find where to resume, retrying until
        the broker answers.

        A broker that goes away mid-claim must not leave the partition assigned without state
        (its records would never be processed): each failed attempt is undone and tried again.
        """
        delays = backoff_delays(first=0.5, ceiling=10.0)
        while True:
            producer: AIOKafkaProducer | None = None
            stores: dict[str, PartitionStore[Any]] = {}
            try:
                producer = await self._started_producer(partition)
                stores, restored = await self._restore(partition)
                await self._adopt_offsets(partition)
            except BaseException as exc:
                _close_stores(stores)
                if producer is not None:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                if not isinstance(exc, Exception):
                    raise  # cancelled: the partition was revoked mid-claim
                delay = next(delays)
                log.warning(
                    "stream.claim_retry",
                    engine=self.config.name,
                    partition=partition,
                    error=repr(exc),
                    retry_in_seconds=delay,
                )
                await asyncio.sleep(delay)
                continue
            log.info(
                "stream.partition_claimed",
                engine=self.config.name,
                partition=partition,
                restored_keys=sum(len(store) for store in stores.values()),
                changelog_records=restored,
            )
            return producer, stores

    async def _started_producer(self, partition: int) -> AIOKafkaProducer:
        """A started transactional producer for task ``partition``; starting it fences any
        earlier one under the same transactional id (a previous owner's, or this engine's own
        failed one) and aborts what that left open. On failure nothing is left running."""
        producer = partition_producer(
            self.config.bootstrap,
            self.config.group_id,
            TopicPartition(self.config.input_topic, partition),
            self.config.client_config,
        )
        try:
            await asyncio.wait_for(producer.start(), CLAIM_STEP_SECONDS)
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        return producer

    async def _restore(self, partition: int) -> tuple[dict[str, PartitionStore[Any]], int]:
        """Every stage's state of task ``partition`` as of its changelog's end, and the
        changelog records read.

        The stages' changelogs are read side by side (as when each stage had an engine of its
        own): a task's restore takes as long as its largest stage's, not the sum.
        """
        restores = [
            asyncio.ensure_future(self._restore_stage(stage, partition)) for stage in self.stages
        ]
        try:
            await asyncio.gather(*restores)
        except BaseException:
            for restore in restores:
                restore.cancel()
            await asyncio.gather(*restores, return_exceptions=True)
            _close_stores(
                {
                    stage.input_topic: restore.result()[0]
                    for stage, restore in zip(self.stages, restores, strict=True)
                    if restore.done() and not restore.cancelled() and restore.exception() is None
                }
            )
            raise
        done = [restore.result() for restore in restores]
        stores = {
            stage.input_topic: store for stage, (store, _) in zip(self.stages, done, strict=True)
        }
        return stores, sum(read for _, read in done)

    async def _restore_stage(self, stage: Stage, partition: int) -> tuple[PartitionStore[Any], int]:
        processor = stage.processor
        if self.config.state_dir is None:
            store: PartitionStore[Any] = PartitionStore(partition)
            restored = await restore_partition(
                self.config.bootstrap,
                stage.changelog_topic,
                store,
                processor.decode,
                self.config.client_config,
                decode_key=processor.decode_key,
            )
            return store, restored
        local = LocalPartitionStore(
            partition,
            self.config.state_dir / f"{stage.changelog_topic}-{partition}.sqlite",
            stage.changelog_topic,
            encode=processor.encode,
            decode=processor.decode,
            cache_size=self.config.cache_size,
        )
        try:
            restored = await catch_up(
                self.config.bootstrap,
                stage.changelog_topic,
                local,
                self.config.client_config,
                decode_key=processor.decode_key,
            )
        except BaseException:
            local.close()
            raise
        return local, restored

    async def _adopted_offset(self, stage: Stage, tp: TopicPartition) -> int | None:
        """Where the stage's earlier group had committed ``tp``, if it has an earlier group.

        Each earlier group is asked once per run of the engine, for all its partitions.
        """
        group = stage.adopt_offsets_of
        if group is None:
            return None
        if group not in self._earlier_offsets:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.config.bootstrap, **self.config.client_config
            )
            await admin.start()
            try:
                found = await admin.list_consumer_group_offsets(group)
            finally:
                await admin.close()
            self._earlier_offsets[group] = {
                t: meta.offset for t, meta in found.items() if meta.offset >= 0
            }
        return self._earlier_offsets[group].get(tp)

    async def _adopt_offsets(self, partition: int) -> None:
        """Start each stage where its earlier group left off, if this group never committed.

        Such a partition's position is committed with the task's next batch even when the
        batch has no record of it (a mention topic a one-partition task never reads from), so
        later claims find a commit of this group and do not ask the earlier one again.
        """
        assert self._consumer is not None
        for stage in self.stages:
            tp = TopicPartition(stage.input_topic, partition)
            if stage.adopt_offsets_of is None or await self._consumer.committed(tp) is not None:
                continue
            self._first_commit.add(tp)
            adopted = await self._adopted_offset(stage, tp)
            if adopted is not None:
                self._consumer.seek(tp, adopted)
                log.info(
                    "stream.offsets_adopted",
                    engine=self.config.name,
                    topic=tp.topic,
                    partition=partition,
                    group=stage.adopt_offsets_of,
                    offset=adopted,
                )

    async def _offsets_to_commit(
        self, partition: int, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> dict[TopicPartition, int]:
        """The batch's input offsets, and the position of any partition of the task this group
        has never committed (see :meth:`_adopt_offsets`)."""
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        assert self._consumer is not None
        for tp in self._task_partitions(partition):
            if tp in self._first_commit and tp not in offsets:
                offsets[tp] = await self._consumer.position(tp)
        return offsets

    def _drop_stores(self, partition: int) -> None:
        _close_stores(self._stores.pop(partition, {}))

    async def _release(self, revoked: list[TopicPartition]) -> None:
        partitions = sorted({tp.partition for tp in revoked})
        for partition in partitions:
            await self._cancel_claim(partition)
        async with self._lock:
            for partition in partitions:
                self._unrecovered.pop(partition, None)
                self._first_commit.difference_update(self._task_partitions(partition))
                self._drop_stores(partition)
                producer = self._producers.pop(partition, None)
                if producer is not None:
                    await producer.stop()
                log.info("stream.partition_released", engine=self.config.name, partition=partition)

    async def _cancel_claim(self, partition: int) -> None:
        task = self._claims.pop(partition, None)
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # its end, without swallowing a cancellation of our own

    def _partition_of(self, topic: str, key: bytes) -> int | None:
        """The partition the producer would send ``key`` to (None: the topic is not known)."""
        assert self._consumer is not None
        known = self._consumer.partitions_for_topic(topic)
        if not known:
            return None
        partitions = sorted(known)
        chosen: int = self._partitioner(key, partitions, partitions)
        return chosen

    def _process(
        self,
        index: int,
        stores: dict[str, PartitionStore[Any]],
        record: ConsumerRecord[bytes, bytes],
    ) -> list[Output]:
        """Stage ``index`` processes ``record``; what it sends a later stage of this task is
        processed at once. Returns the records to publish."""
        stage = self.stages[index]
        outputs = []
        for out in stage.processor.process(stores[stage.input_topic], record):
            later = next(
                (
                    j
                    for j in range(index + 1, len(self.stages))
                    if self.stages[j].input_topic == out.topic
                ),
                None,
            )
            if later is None:
                outputs.append(out)
                continue
            partition = self._partition_of(out.topic, out.key)
            if partition == record.partition:
                pending = self._inline_pending.get(record.partition, 0)
                self._inline_pending[record.partition] = pending + 1
                outputs += self._process(later, stores, _inline(out, record))
            else:
                outputs.append(replace(out, partition=partition))
        return outputs

    def _outputs(
        self,
        index: int,
        stores: dict[str, PartitionStore[Any]],
        record: ConsumerRecord[bytes, bytes],
    ) -> list[Output]:
        """What processing a record publishes; a record that raised before is dead-lettered."""
        poison = self._poison.get((record.topic, record.partition, record.offset))
        if poison is not None:  # dead-lettered without touching state
            return [self._dead_letter(record, poison)]
        try:
            return self._process(index, stores, record)
        except Exception as exc:  # one bad record must not stop the partition
            log.exception(
                "stream.record_failed",
                engine=self.config.name,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
            # It may have changed state before failing: abort the whole batch, so the retry
            # starts from committed state and skips this record.
            self._poison[(record.topic, record.partition, record.offset)] = exc
            raise _PoisonRecord from exc

    async def _process_batch(
        self, partition: int, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        stores, producer = self._stores.get(partition), self._producers.get(partition)
        if stores is None or producer is None:
            return  # revoked while the batch was in flight: the new owner will process it
        self._inline_pending[partition] = 0
        async with producer.transaction():
            for index, stage in enumerate(self.stages):
                for record in batches.get(TopicPartition(stage.input_topic, partition), ()):
                    outputs = self._outputs(index, stores, record)
                    for out in outputs:
                        sent = await producer.send(
                            out.topic,
                            out.value,
                            key=out.key,
                            headers=list(out.headers),
                            partition=out.partition,
                        )
                        sent.add_done_callback(_retrieved)
            written: dict[str, _Sent | None] = {}
            for stage in self.stages:
                store = stores[stage.input_topic]
                written[stage.input_topic] = await self._send_changes(
                    producer, stage, store, partition
                )
            if self._before_commit is not None:
                await self._before_commit()
            offsets = await self._offsets_to_commit(partition, batches)
            await producer.send_offsets_to_transaction(offsets, self.config.group_id)
        self._first_commit.difference_update(offsets)
        self.delivered_inline += self._inline_pending.pop(partition, 0)
        self._committed(partition, stores, batches, written)

    def _committed(
        self,
        partition: int,
        stores: dict[str, PartitionStore[Any]],
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        written: dict[str, _Sent | None],
    ) -> None:
        """After a task's commit: state files catch up, poison marks go, meters learn."""
        for stage in self.stages:
            store = stores[stage.input_topic]
            if isinstance(store, LocalPartitionStore):
                # Only now, after the commit: the file may lag the changelog, never lead it.
                last = written[stage.input_topic]
                if last is None:
                    store.committed(None, None)
                else:
                    future, (key_bytes, encoded) = last
                    store.committed(future.result().offset + 1, record_crc(key_bytes, encoded))
        for tp, records in batches.items():
            for record in records:
                self._poison.pop((tp.topic, partition, record.offset), None)
            self.processed += len(records)
            stage = next(s for s in self.stages if s.input_topic == tp.topic)
            if stage.on_commit is not None:
                stage.on_commit(stores[stage.input_topic], records[-1].offset + 1)

    async def _send_changes(
        self,
        producer: AIOKafkaProducer,
        stage: Stage,
        store: PartitionStore[Any],
        partition: int,
    ) -> _Sent | None:
        """Send a stage's changed state to its changelog partition; the last send, if any."""
        changes = (
            store.take_encoded()
            if isinstance(store, LocalPartitionStore)
            else [
                (key, None if value is None else stage.processor.encode(key, value))
                for key, value in store.take_dirty()
            ]
        )
        last = None
        for key_bytes, encoded in self._changelog_records(stage.processor, changes):
            future = await producer.send(
                stage.changelog_topic, encoded, key=key_bytes, partition=partition
            )
            future.add_done_callback(_retrieved)
            last = (future, (key_bytes, encoded))
        return last

    @staticmethod
    def _changelog_records(
        processor: Processor[Any], changes: list[tuple[str, bytes | None]]
    ) -> list[tuple[bytes, bytes | None]]:
        """Changelog records (key bytes, value) for a batch's changed keys.

        A deleted key is also tombstoned under its UTF-8 text when its key form differs: a
        changelog written before keys were packed may still hold a record under the text key,
        which compaction would otherwise keep forever and a full restore would bring back.
        """
        records: list[tuple[bytes, bytes | None]] = []
        for key, encoded in changes:
            key_bytes = processor.encode_key(key)
            records.append((key_bytes, encoded))
            if encoded is None and key_bytes != (text := key.encode()):
                records.append((text, None))
        return records

    async def _commit(
        self, partition: int, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """One task's batch in one transaction; on failure, back to the last commit."""
        try:
            await self._process_batch(partition, batches)
        except _PoisonRecord:
            await self._try_recover(partition)
        except Exception:
            log.exception("stream.transaction_failed", engine=self.config.name, partition=partition)
            await self._try_recover(partition)

    def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> Output:
        headers = (
            ("asbx_error", type(exc).__name__.encode()),
            ("asbx_reason", str(exc)[:300].encode()),
            ("asbx_source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        )
        return Output(
            self.config.dead_letter_topic, record.key or b"", record.value or b"", headers
        )

    async def _recover(self, partition: int) -> None:
        """After a failed transaction: state back to the changelogs, positions back to the
        commit.

        The task also gets a new transactional producer: a producer whose transaction failed
        may be in a fatal state (a broker killed mid-commit leaves aiokafka's in
        ``FATAL_ERROR``), and every later transaction on it fails at once, forever. Starting a
        new one under the same transactional id fences the old one and aborts what it left.
        """
        old = self._producers.pop(partition, None)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.stop()
        self._producers[partition] = await self._started_producer(partition)
        self._drop_stores(partition)  # cached values may hold the failed batch's changes
        stores, _ = await self._restore(partition)
        self._stores[partition] = stores
        assert self._consumer is not None
        for stage in self.stages:
            tp = TopicPartition(stage.input_topic, partition)
            committed = await self._consumer.committed(tp)
            if committed is None:
                committed = await self._adopted_offset(stage, tp)
            if committed is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)

    async def _try_recover(self, partition: int) -> None:
        """Recover task ``partition``; if that fails too, pause it and retry later with backoff.

        Carrying on unrecovered would be a loss: the consumer's position is already past the
        failed batch, so the next batch's commit would skip it. A paused task yields no
        records until it is recovered (or revoked: its new owner starts from the commit).
        """
        assert self._consumer is not None
        assignment = self._consumer.assignment()
        task = [tp for tp in self._task_partitions(partition) if tp in assignment]
        if not task:
            self._unrecovered.pop(partition, None)
            return
        try:
            await self._recover(partition)
        except Exception as exc:
            delays = self._unrecovered.get(
                partition, (0.0, backoff_delays(first=0.5, ceiling=10.0))
            )[1]
            delay = next(delays)
            self._unrecovered[partition] = (time.monotonic() + delay, delays)
            for tp in task:
                self._consumer.pause(tp)
            log.warning(
                "stream.recover_retry",
                engine=self.config.name,
                partition=partition,
                error=type(exc).__name__,
                retry_in=delay,
            )
            return
        if self._unrecovered.pop(partition, None) is not None:
            for tp in task:
                self._consumer.resume(tp)

    async def _retry_recoveries(self) -> None:
        now = time.monotonic()
        for partition, (due, _delays) in list(self._unrecovered.items()):
            if due <= now:
                await self._try_recover(partition)

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
            # Partition n of every stage's input to the same member: one task per number.
            partition_assignment_strategy=(RangePartitionAssignor,),
            **self.config.client_config,
        )
        self._consumer = consumer
        consumer.subscribe([stage.input_topic for stage in self.stages], listener=_Rebalance(self))
        await consumer.start()
        pacer = FetchPacer(consumer, self.config.fetch_pacing)
        try:
            while not stop.is_set():
                batches = await consumer.getmany(
                    timeout_ms=200, max_records=self.config.max_records
                )
                if any(batches.values()):
                    pacer.saw_records()  # before the next fetch is sent, i.e. before any await
                tasks: dict[int, dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]] = {}
                for tp, records in batches.items():
                    if records:
                        tasks.setdefault(tp.partition, {})[tp] = records
                async with self._lock:
                    await self._retry_recoveries()
                    # Tasks share nothing (own stores, own transactional producer), so their
                    # transactions run side by side: a poll's round trips to the transaction
                    # coordinator overlap instead of adding up task after task.
                    await asyncio.gather(
                        *(
                            self._commit(partition, task)
                            for partition, task in tasks.items()
                            if partition not in self._unrecovered
                        )
                    )
        finally:
            pacer.close()
            for partition in list(self._claims):
                await self._cancel_claim(partition)
            await consumer.stop()
            for producer in self._producers.values():
                with contextlib.suppress(Exception):
                    await producer.stop()
            self._producers.clear()
            for partition in list(self._stores):
                self._drop_stores(partition)


def _close_stores(stores: dict[str, PartitionStore[Any]]) -> None:
    for store in stores.values():
        if isinstance(store, LocalPartitionStore):
            store.close()


def _inline(out: Output, source: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    """``out`` as the record its stage would have read from Kafka (it has no offset)."""
    return ConsumerRecord(
        topic=out.topic,
        partition=source.partition,
        offset=-1,
        timestamp=source.timestamp,
        timestamp_type=source.timestamp_type,
        key=out.key,
        value=out.value,
        checksum=None,
        serialized_key_size=len(out.key),
        serialized_value_size=len(out.value),
        headers=out.headers,
    )
