"""Knowing when a correlator has processed everything published so far (demo, tests, ops).

A stage is caught up when its consumer group has committed past every record of its input that
existed when asked. Transaction commit markers occupy offsets too, so a committed offset short
of the end offset can still be caught up: the check reads from the committed offset
(``read_committed``) and looks for any record left.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.correlator.app import CorrelatorService
from services.kafka.reader import end_offsets

__all__ = ["caught_up"]


async def _stage_done(
    bootstrap: str,
    group: str,
    ends: dict[TopicPartition, int],
    client_config: dict[str, Any],
) -> bool:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
        **client_config,
    )
    await consumer.start()
    try:
        for tp, end in ends.items():
            if end == 0:
                continue
            committed = await consumer.committed(tp)
            if committed is not None and committed >= end:
                continue
            consumer.assign([tp])
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
            for _ in range(10):  # a fetch may end before the commit marker is stepped over
                if (await consumer.getmany(tp, timeout_ms=200)).get(tp):
                    return False
                if await consumer.position(tp) >= end:
                    break
            else:
                return False
        return True
    finally:
        await consumer.stop()


async def caught_up(service: CorrelatorService, timeout: float = 120) -> None:
    """Return once every stage has processed everything published before the call."""
    deadline = time.monotonic() + timeout
    for engine in service.engines:
        group = engine.config.group_id
        for stage in engine.stages:
            topic = stage.input_topic
            ends = await end_offsets(service.bootstrap, topic, service.client_config)
            while not await _stage_done(service.bootstrap, group, ends, service.client_config):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{stage.name} stage did not catch up with {topic}")
                await asyncio.sleep(0.25)
