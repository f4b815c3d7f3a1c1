"""What a normaliser does with one poll: per partition, runs of records, one transaction each.

The records of a poll are grouped by partition; each partition's records are cut into runs
bounded in records and bytes, each run is decided record by record by the pure pipeline, and
its outputs are committed with its last offset in one Kafka transaction. Partitions share
nothing (each has its own transactional producer), so their transactions run side by side and
the coordinator round trips overlap, as in :mod:`services.streams.engine`.

If a run's transaction fails, nothing of it is visible: its pending redelivery entries are
forgotten, the partition is sought back to the run's first record and the rest of that
partition's poll is left alone, so the whole run is read again (after a pause), never skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import structlog
from aiokafka import ConsumerRecord, TopicPartition

from services.kafka.fetch_pacing import FetchPacer, FetchPacing
from services.normalise.batch import BatchLimits, BatchNormaliser, Handled, transaction_runs
from services.normalise.outcome import InboundRecord
from services.observability.metrics import NormaliserMeter
from services.streams.engine import Output

__all__ = ["RETRY_SECONDS", "BatchHandler", "Transactions", "by_partition"]

log = structlog.get_logger(__name__)

#: Pause before reading a run again after its transaction failed (e.g. the broker restarts).
RETRY_SECONDS = 1.0


def _size(record: InboundRecord) -> int:
    return len(record.value)


def _rewind(consumer: Any, tp: TopicPartition, offset: int) -> None:
    """Read ``tp`` again from ``offset`` (unless it moved to another instance meanwhile)."""
    assignment = getattr(consumer, "assignment", None)
    if assignment is None or tp in assignment():
        consumer.seek(tp, offset)


async def _committed(consumer: Any, tp: TopicPartition) -> int | None:
    """The group's committed offset of ``tp``, asked of the broker (None if none, or unknown)."""
    committed = getattr(consumer, "committed", None)
    if committed is None:
        return None
    offset = await committed(tp)
    return None if offset is None else int(offset)


def by_partition(
    records: Sequence[ConsumerRecord[Any, Any]], headers: Sequence[Mapping[str, str]]
) -> dict[TopicPartition, list[InboundRecord]]:
    """A poll's records (with their decoded headers) grouped by partition, in offset order."""
    partitions: dict[TopicPartition, list[InboundRecord]] = {}
    for record, record_headers in zip(records, headers, strict=True):
        tp = TopicPartition(record.topic, record.partition)
        partitions.setdefault(tp, []).append(
            InboundRecord(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value or b"",
                headers=dict(record_headers),
            )
        )
    return partitions


class Transactions(Protocol):
    """Where a run's outputs and last offset are committed (``PartitionTransactions``)."""

    async def commit(self, tp: TopicPartition, offset: int, outputs: Iterable[Output]) -> None:
        """Publish ``outputs`` and commit ``offset + 1`` for ``tp``, atomically."""
        ...

    async def settle(self, tp: TopicPartition) -> None:
        """Return once no earlier transaction of ``tp`` is undecided."""
        ...


class BatchHandler:
    """Commits the pure pipeline's outputs for a poll's records, run by run."""

    def __init__(
        self,
        batches: BatchNormaliser,
        transactions: Transactions,
        meter: NormaliserMeter,
        limits: BatchLimits,
        pacing: FetchPacing | None = None,
    ) -> None:
        self.batches = batches
        self.transactions = transactions
        self.meter = meter
        self.limits = limits
        self.pacing = pacing or FetchPacing()
        self._pacer: FetchPacer | None = None
        #: Partitions whose last commit failed: its outcome must be settled before going on.
        self._unsettled: set[TopicPartition] = set()

    async def handle(
        self,
        records: Sequence[ConsumerRecord[Any, Any]],
        headers: Sequence[Mapping[str, str]],
        consumer: Any,
    ) -> bool:
        """Normalise and commit one poll; False if some run must be read again."""
        self._paced(consumer).saw_records()
        partitions = by_partition(records, headers)
        done = await asyncio.gather(
            *(self._partition(tp, part, consumer) for tp, part in partitions.items())
        )
        if not all(done):
            await asyncio.sleep(RETRY_SECONDS)
            return False
        return True

    def _paced(self, consumer: Any) -> FetchPacer:
        """The pacer of ``consumer`` (a new one if the subscriber started a new consumer)."""
        if self._pacer is None or self._pacer.consumer is not consumer:
            if self._pacer is not None:
                self._pacer.close()
            self._pacer = FetchPacer(consumer, self.pacing)
        return self._pacer

    async def _partition(
        self, tp: TopicPartition, records: list[InboundRecord], consumer: Any
    ) -> bool:
        """One partition's records, run by run; on a failure, rewind to the failed run."""
        first_uncommitted = records[0].offset
        try:
            if tp in self._unsettled:
                records = await self._settled(tp, records, consumer)
                if not records:
                    return True
            for run in transaction_runs(records, _size, self.limits):
                first_uncommitted = run[0].offset
                if not await self._run(tp, run):
                    self._unsettled.add(tp)
                    _rewind(consumer, tp, first_uncommitted)
                    return False
        except Exception:  # a bug here must not let a later commit skip these records
            self.meter.handler_failed()
            self._unsettled.add(tp)
            structlog.contextvars.clear_contextvars()
            log.exception("normaliser.batch_failed", partition=tp.partition)
            _rewind(consumer, tp, first_uncommitted)
            return False
        return True

    async def _settled(
        self, tp: TopicPartition, records: list[InboundRecord], consumer: Any
    ) -> list[InboundRecord]:
        """The records still to do after a failed commit whose fate was not known.

        A commit can fail on the client after the broker committed it (the answer was lost).
        Once the transaction is settled, the group's committed offset says where to resume:
        records before it are done and must not be published again.
        """
        await self.transactions.settle(tp)
        committed = await _committed(consumer, tp)
        self._unsettled.discard(tp)
        if committed is None:
            return records
        if committed < records[0].offset:  # never skip what was not committed
            _rewind(consumer, tp, committed)
            return []
        done = [r for r in records if r.offset < committed]
        if done:
            log.warning(
                "normaliser.commit_had_succeeded", partition=tp.partition, records=len(done)
            )
        return [r for r in records if r.offset >= committed]

    async def _run(self, tp: TopicPartition, run: list[InboundRecord]) -> bool:
        """One transaction for ``run``; False (and nothing visible) if it did not commit."""
        handled: list[Handled] = []
        for record in run:
            self.meter.received(record.topic)
            done = self.batches.handle(record)
            self.meter.decided(done.outcome)
            handled.append(done)
            await asyncio.sleep(0)  # let heartbeats and other partitions' commits run
        outputs = [out for done in handled for out in done.outputs]
        try:
            await self.batches.persist_keys()
            await self.transactions.commit(tp, run[-1].offset, outputs)
        except Exception:
            self.meter.commit_failed()
            self.batches.not_committed(handled)
            structlog.contextvars.clear_contextvars()
            log.exception(
                "normaliser.commit_failed",
                partition=tp.partition,
                first_offset=run[0].offset,
                records=len(run),
                retry_in=RETRY_SECONDS,
            )
            return False
        self.meter.published(outputs)
        for done in handled:
            self.meter.settled(done.started)
        self.batches.committed(handled)
        return True
