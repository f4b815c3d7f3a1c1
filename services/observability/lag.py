"""Consumer lag per partition, from a group's committed offsets and the topics' end offsets.

One admin client and one group-less consumer are kept for the life of the service (opening
clients on every poll would churn connections and memory). The probe reads what the cluster
knows, so it works the same for a FastStream subscriber and for a transactional stream stage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from deploy.kafka_client import client_config_from_env
from services.kafka.metadata import partitions_of
from services.observability.metrics import CONSUMER_LAG, READY

__all__ = ["LagProbe", "Watched", "watch"]

#: Consumer groups to watch, each with the topic (or topics) it reads.
Watched = Mapping[str, str | tuple[str, ...]]

log = structlog.get_logger(__name__)


class LagProbe:
    """Measures the lag of some consumer groups, each on its input topics."""

    def __init__(
        self,
        service: str,
        bootstrap: str,
        groups: Watched,
        client_config: dict[str, Any] | None = None,
    ) -> None:
        self.service = service
        self.groups = {g: (t,) if isinstance(t, str) else t for g, t in groups.items()}
        config = client_config if client_config is not None else client_config_from_env()
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **config)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, **config
        )
        self._started = False

    async def start(self) -> None:
        """Connect both clients."""
        await self._admin.start()
        await self._consumer.start()
        self._started = True

    async def stop(self) -> None:
        """Close both clients."""
        if self._started:
            self._started = False
            await self._consumer.stop()
            await self._admin.close()

    async def poll(self) -> dict[tuple[str, str, int], int]:
        """Lag of every partition of every watched group; also sets the lag gauge."""
        lags: dict[tuple[str, str, int], int] = {}
        for group, topics in self.groups.items():
            tps = []
            for topic in topics:
                tps += await partitions_of(self._consumer, topic, attempts=3)
            if not tps:
                continue
            ends = await self._consumer.end_offsets(tps)
            committed = await self._admin.list_consumer_group_offsets(group, partitions=tps)
            for tp in tps:
                topic = tp.topic
                done = committed.get(tp)
                position = done.offset if done is not None and done.offset >= 0 else 0
                lag = max(ends[tp] - position, 0)
                lags[(group, topic, tp.partition)] = lag
                CONSUMER_LAG.labels(self.service, group, topic, str(tp.partition)).set(lag)
        return lags


async def watch(
    probe: LagProbe,
    ready: Callable[[], bool],
    stop: asyncio.Event,
    interval: float = 5.0,
) -> None:
    """Poll lag and readiness every ``interval`` seconds until ``stop`` is set."""
    try:
        await probe.start()
        while not stop.is_set():
            try:
                await probe.poll()
            except Exception as exc:  # the cluster may be briefly away; keep watching
                log.warning("lag.poll_failed", error=type(exc).__name__, detail=str(exc)[:200])
            READY.labels(probe.service).set(1 if ready() else 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        READY.labels(probe.service).set(0)
        with contextlib.suppress(Exception):
            await probe.stop()
