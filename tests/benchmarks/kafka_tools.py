"""Kafka plumbing for the benchmarks: a fresh broker, paced publishing, the raw passthrough."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import inbound_topic
from deploy.kafka_client import client_config_from_env
from deploy.local_kafka import LocalKafka, LocalKafkaConfig
from tests.benchmarks.population import PartnerMessage

__all__ = ["BenchBroker", "LagProbe", "RawCopy", "log_ends", "passthrough", "publish"]


@dataclass
class BenchBroker:
    """A local broker started empty for one benchmark run (its home is wiped first)."""

    home: Path
    port: int

    def __post_init__(self) -> None:
        self._kafka = LocalKafka(
            LocalKafkaConfig.from_env(
                {
                    "ASBX_KAFKA_HOME": str(self.home),
                    "ASBX_KAFKA_PORT": str(self.port),
                    "ASBX_KAFKA_CONTROLLER_PORT": str(self.port + 1),
                }
            )
        )

    def start(self) -> str:
        """Stop any broker in ``home``, wipe its data, start afresh; returns the bootstrap.

        The node has SCRAM logins and ACLs like every local node: clients of this process and
        the services it starts log in with its generated credentials (see ``prepare``).
        """
        self._kafka.stop()
        shutil.rmtree(self.home / "data", ignore_errors=True)
        bootstrap = self._kafka.start()
        os.environ["ASBX_KAFKA_CREDENTIALS"] = str(self._kafka.credentials_file)
        return bootstrap

    def stop(self) -> None:
        """Stop the broker (its data stays until the next start)."""
        self._kafka.stop()

    @property
    def pid(self) -> int | None:
        """The running broker's process id (for its CPU time), if it wrote one."""
        try:
            return int(self._kafka.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None


def producer(bootstrap: str) -> AIOKafkaProducer:
    """A producer with the services' delivery settings (acks=all, idempotent)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **client_config_from_env(),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )


async def publish(
    bootstrap: str,
    messages: Sequence[PartnerMessage],
    *,
    rate: float | None = None,
    topic: str | None = None,
) -> dict[str, float]:
    """Publish ``messages`` (at ``rate`` per second, or as fast as possible).

    Returns the wall-clock time (``time.time()``) each message was handed to the client, by trace
    id: the start of its end-to-end latency.
    """
    sent: dict[str, float] = {}
    client = producer(bootstrap)
    await client.start()
    try:
        futures = []
        began = time.monotonic()
        for i, message in enumerate(messages):
            if rate:
                delay = began + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent[message.trace_id] = time.time()
            futures.append(
                await client.send(
                    topic or inbound_topic(message.partner.value),
                    message.value,
                    key=message.key,
                    headers=[
                        ("traceparent", message.traceparent.encode()),
                        ("content-type", b"application/json"),
                    ],
                )
            )
        await asyncio.gather(*futures)
    finally:
        await client.stop()
    return sent


@dataclass(frozen=True)
class RawCopy:
    """What one raw passthrough copied, and how long the copying took."""

    messages: int
    seconds: float

    @property
    def per_s(self) -> float:
        """Messages copied per second."""
        return self.messages / self.seconds


class LagProbe:
    """Records not yet committed by consumer groups, with its clients kept open between polls.

    Connecting (TLS and SCRAM) costs more than asking, so a probe that reconnected on every
    poll would add its own time to whatever it is timing.
    """

    def __init__(self, bootstrap: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config_from_env())
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_config_from_env())
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def __aenter__(self) -> LagProbe:
        await self._admin.start()
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def _partitions_of(self, topic: str) -> list[TopicPartition]:
        if topic not in self._partitions:
            described = await self._admin.describe_topics([topic])
            self._partitions[topic] = [
                TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]
            ]
        return self._partitions[topic]

    async def committed(
        self, groups: Mapping[str, str | tuple[str, ...]]
    ) -> dict[tuple[str, str, int], int]:
        """Each group's committed offset per partition of its topics (group → topic or topics)."""
        found = {}
        for group, topics in groups.items():
            tps = []
            for topic in (topics,) if isinstance(topics, str) else topics:
                tps += await self._partitions_of(topic)
            offsets = await self._admin.list_consumer_group_offsets(group, partitions=tps)
            for tp in tps:
                meta = offsets.get(tp)
                found[group, tp.topic, tp.partition] = meta.offset if meta is not None else -1
        return found

    async def lag(self, groups: dict[str, str]) -> int:
        """Uncommitted records of each group (group → topic), summed (a topic written in
        transactions also counts its commit markers, so use it for plain topics)."""
        lag = 0
        for group, topic in groups.items():
            tps = await self._partitions_of(topic)
            ends = await self._consumer.end_offsets(tps)
            committed = await self.committed({group: topic})
            for tp in tps:
                lag += max(0, ends[tp] - max(0, committed[group, topic, tp.partition]))
        return lag


async def passthrough(
    bootstrap: str, messages: Sequence[PartnerMessage], *, at_least: int = 0
) -> RawCopy:
    """The raw ceiling: an aiokafka consume → produce copy of ``messages``, timed.

    The same bytes, keys and headers go to a fresh 3-partition topic first (repeated whole until
    there are ``at_least``); then one consumer group reads them and a producer with the
    services' delivery settings writes each to a second topic, committing offsets after each
    batch is acknowledged: the least a service does.

    The clock starts once the consumer holds its partitions, as the services already do when
    their throughput is timed. Joining the group takes a few hundred milliseconds that vary
    from run to run, and copying one population of a few thousand messages takes about as
    long, so a clock that included the join (as before 2026-12-07) moved the ceiling up to
    3x between back-to-back runs on a quiet machine.
    """
    copies = max(1, -(-at_least // max(1, len(messages))))  # ceiling division
    source_messages = list(messages) * copies
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench.raw.in.{run}", f"bench.raw.out.{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config_from_env())
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(source, 3, 1), NewTopic(sink, 3, 1)], validate_only=False
        )
    finally:
        await admin.close()
    await publish(bootstrap, source_messages, topic=source)
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{run}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **client_config_from_env(),
    )
    out = producer(bootstrap)
    await consumer.start()
    await out.start()
    try:
        joined_by = time.monotonic() + 60
        while not consumer.assignment():
            if time.monotonic() > joined_by:
                raise TimeoutError(f"the raw copy's consumer got no partitions of {source}")
            await asyncio.sleep(0.005)
        copied = 0
        began = time.monotonic()
        while copied < len(source_messages):
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            futures = []
            for records in batches.values():
                for record in records:
                    futures.append(
                        await out.send(
                            sink, record.value, key=record.key, headers=list(record.headers)
                        )
                    )
            await asyncio.gather(*futures)
            if batches:
                await consumer.commit()
            copied += len(futures)
        return RawCopy(messages=copied, seconds=time.monotonic() - began)
    finally:
        await consumer.stop()
        await out.stop()


def env_for(bootstrap: str, keys_dir: Path, correlator_id: str) -> dict[str, str]:
    """Environment of a service subprocess."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ASBX_KEYS_DIR": str(keys_dir),
        "ASBX_CORRELATOR_ID": correlator_id,
        "ASBX_LOG_LEVEL": "WARNING",
        "ASBX_LOG_FORMAT": "json",
    }


async def log_ends(bootstrap: str) -> dict[str, int]:
    """Each topic's log end offsets summed over its partitions (records and transaction
    markers written so far), internal topics included."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config_from_env())
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_config_from_env())
    await admin.start()
    await consumer.start()
    try:
        topics = await admin.list_topics()
        described = await admin.describe_topics(list(topics))
        tps = [
            TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
        ]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
        await admin.close()
    totals: dict[str, int] = {}
    for tp, end in ends.items():
        totals[tp.topic] = totals.get(tp.topic, 0) + end
    return totals
