"""Writing a run of records' outputs and the run's input offset in one Kafka transaction.

Why: a normaliser killed between publishing a canonical event and committing the partner
record's offset would read the record again and publish the event a second time. With the
outputs and the offset in one transaction, a ``read_committed`` reader sees either all of them
once or none of them, whatever moment the process dies at. A transaction costs the same few
coordinator round trips whether it holds one record's outputs or a few hundred, so the caller
commits a run of consecutive records of one partition at a time.

One transactional producer per input partition, ``transactional.id`` derived from the group,
topic and partition (as in :mod:`services.streams.engine`). The instance that next handles the
partition (the same service restarted, or another member after a rebalance) starts a producer
with the same id, which aborts whatever transaction the previous owner left open and fences it
out, so a killed process never leaves a half-written result or blocks ``read_committed``
readers for the transaction timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition

from services.kafka.partition_producer import partition_producer
from services.streams.engine import Output

__all__ = ["PartitionTransactions"]

log = structlog.get_logger(__name__)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a send's outcome as seen: a failed transaction reports it once, as its own error."""
    if not future.cancelled():
        future.exception()


class PartitionTransactions:
    """Per input partition, a transactional producer that commits outputs with the offset."""

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        client_config: dict[str, Any] | None = None,
        max_request_size: int = 32 * 1024 * 1024,
    ) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._client_config = dict(client_config or {})
        self._max_request_size = max_request_size
        self._producers: dict[TopicPartition, AIOKafkaProducer] = {}
        # A rebalance may revoke a partition while its transaction is in flight; stopping the
        # producer under it would leave the commit waiting for ever, so each partition's
        # commit and release take turns.
        self._locks: dict[TopicPartition, asyncio.Lock] = {}

    def _lock(self, tp: TopicPartition) -> asyncio.Lock:
        return self._locks.setdefault(tp, asyncio.Lock())

    async def _producer(self, tp: TopicPartition) -> AIOKafkaProducer:
        producer = self._producers.get(tp)
        if producer is None:
            producer = partition_producer(
                self._bootstrap, self._group_id, tp, self._client_config, self._max_request_size
            )
            try:
                await producer.start()  # aborts the previous owner's open transaction
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producers[tp] = producer
            log.info("transactions.partition_producer_started", partition=tp.partition)
        return producer

    async def commit(self, tp: TopicPartition, offset: int, outputs: Iterable[Output]) -> None:
        """Publish ``outputs`` and commit ``offset + 1`` for ``tp``, atomically.

        ``offset`` is the last record of the run the outputs were made from. On any failure
        nothing becomes visible; the partition's producer is discarded (it may be fenced or in
        an unknown transaction state) and the caller must read the whole run again.
        """
        async with self._lock(tp):
            producer = await self._producer(tp)
            try:
                async with producer.transaction():
                    for out in outputs:
                        sent = await producer.send(
                            out.topic, out.value, key=out.key, headers=list(out.headers)
                        )
                        sent.add_done_callback(_retrieved)
                    await producer.send_offsets_to_transaction({tp: offset + 1}, self._group_id)
            except BaseException:
                await self._discard(tp)
                raise

    async def settle(self, tp: TopicPartition) -> None:
        """Make sure no earlier transaction of ``tp`` is still undecided.

        After a commit failed, the broker may yet have committed it (the answer was lost) or
        still be aborting it. Starting the partition's producer completes whatever its
        transactional id left open, so once this returns the group's committed offset is final.
        """
        async with self._lock(tp):
            await self._producer(tp)

    async def _discard(self, tp: TopicPartition) -> None:
        producer = self._producers.pop(tp, None)
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def release(self, partitions: Sequence[TopicPartition]) -> None:
        """Stop the producers of partitions this instance no longer handles."""
        for tp in partitions:
            async with self._lock(tp):
                await self._discard(tp)

    async def stop(self) -> None:
        """Stop every producer (open transactions are aborted by the next owner)."""
        await self.release(list(self._producers))
