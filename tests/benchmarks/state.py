"""Correlator state per tracked subject, and recovery after ``kill -9`` with that state.

The state layer is driven directly (no normalisers, no broker): synthetic canonical events
(``tests/correlator/builders``: real contracts, well-formed tokens) go through the same
processors the correlator runs, router → person rules → place rules, into in-memory partition
stores partitioned as Kafka would partition them. One subject is one person of the population:
most report one incident at home, 5% are repeat victims with three, 10% name a perpetrator.
Reported: resident memory growth per subject, and changelog bytes per subject (key + encoded
value of every stored key: what the compacted changelog topics hold after compaction).

With ``--recovery`` the changelogs are then written to an empty local broker, the correlator
runs as a subprocess (``asbx serve correlator``) and is killed with SIGKILL; the time from
restart until it has processed a new canonical event (``services.correlator.progress.caught_up``)
is the recovery time.

    python -m tests.benchmarks.state --subjects 100000 --recovery
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import signal
import subprocess
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

from contracts.topics import CANONICAL_EVENTS
from contracts.vocab import AsbCategory, Partner
from deploy.kafka_client import client_config_from_env
from deploy.security.apply import ensure_local_acls
from deploy.topics import ensure_topics
from services.correlator.app import build_correlator
from services.correlator.domain.policy import load_policy
from services.correlator.domain.state import PersonState, PlaceState
from services.correlator.keyed import KeyedRules
from services.correlator.progress import caught_up
from services.correlator.router import MentionRouter
from services.correlator.settings import CorrelatorSettings
from services.correlator.topics import CorrelatorTopics
from services.kafka.headers import cloudevent_headers
from services.streams.engine import Output
from services.streams.store import PartitionStore
from tests.benchmarks.kafka_tools import BenchBroker, env_for
from tests.benchmarks.pipeline import ASBX, REPO, _peak_rss_mb
from tests.correlator.builders import Who, incident, place

PARTITIONS = CANONICAL_EVENTS.partitions
_PARTITIONER = DefaultPartitioner()
_ALL = list(range(PARTITIONS))


def _partition(key: bytes) -> int:
    return int(_PARTITIONER(key, _ALL, _ALL))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _record(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
    return ConsumerRecord(
        topic, _partition(key), 0, 0, 0, key, value, None, len(key), len(value), headers
    )


def _person(index: int, prefix: str) -> Who:
    """A person whose names (letters, as real names) and birth date follow from ``index``."""
    rng = random.Random(index)
    given, family = (
        "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n)) for n in (6, 8)
    )
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(25000))
    return Who(given, family, born, police_id=f"{prefix}-{index}")


def subject_events(index: int, rng: random.Random, people: int) -> list[Any]:
    """The canonical events of subject ``index``: one incident, or three for a repeat victim."""
    who = _person(index, "PP")
    home = place(str(100_000_000_000 + index // 2))
    count = 3 if rng.random() < 0.05 else 1
    first = datetime(2026, 1, 1, 9) + timedelta(days=rng.randrange(150))
    events = []
    for n in range(count):
        occurred = first + timedelta(days=10 * n)
        suspect = None
        if rng.random() < 0.1:
            other = rng.randrange(people)
            suspect = _person(other + people, "SP")
        events.append(
            incident(
                f"inc-{index}-{n}",
                Partner.POLICE if n % 2 == 0 else Partner.HOUSING,
                occurred.isoformat(timespec="minutes"),
                (occurred + timedelta(hours=5)).isoformat(timespec="minutes"),
                victims=[who],
                perpetrators=[suspect] if suspect else [],
                category=AsbCategory.PERSONAL,
                where=home,
            )
        )
    return events


class StateLayer:
    """The correlator's three processors over in-memory partition stores."""

    def __init__(self) -> None:
        policy = load_policy(CorrelatorSettings().policy_file)
        self.topics = CorrelatorTopics("bench-state", PARTITIONS)
        self.stages: dict[str, Any] = {
            "routes": MentionRouter(policy, self.topics),
            "person": KeyedRules(PersonState, policy, "alerts", "bench"),
            "place": KeyedRules(PlaceState, policy, "alerts", "bench"),
        }
        self.stores: dict[str, list[PartitionStore[Any]]] = {
            stage: [PartitionStore(p) for p in range(PARTITIONS)] for stage in self.stages
        }
        self.alerts = 0

    def feed(self, event: Any) -> None:
        """One canonical event through every stage."""
        value = event.model_dump_json().encode()
        headers = [(k, v.encode()) for k, v in cloudevent_headers(event, None).items()]
        record = _record(CANONICAL_EVENTS.name, event.subject.encode(), value, headers)
        mentions = self._run("routes", record)
        for out in mentions:
            stage = "person" if out.topic == self.topics.person_mentions else "place"
            for alert in self._run(stage, _record(out.topic, out.key, out.value, [])):
                self.alerts += alert.topic == "alerts"

    def _run(self, stage: str, record: Any) -> list[Output]:
        store = self.stores[stage][record.partition]
        outputs: list[Output] = self.stages[stage].process(store, record)
        store.take_dirty()  # as after a commit
        return outputs

    def changelog(self, stage: str) -> list[tuple[int, bytes, bytes]]:
        """(partition, key, value) of every stored key: the compacted changelog."""
        return [
            (store.partition, key.encode(), self.stages[stage].encode(value))
            for store in self.stores[stage]
            for key, value in store.items()
        ]


async def _load_changelogs(bootstrap: str, correlator_id: str, layer: StateLayer) -> int:
    topics = CorrelatorTopics(correlator_id, PARTITIONS)
    await ensure_topics(bootstrap)
    await ensure_topics(bootstrap, topics.specs())
    await ensure_local_acls(bootstrap, [correlator_id])  # the correlator logs in as itself
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=1024 * 1024,
        **client_config_from_env(),
    )
    await producer.start()
    sent = 0
    try:
        futures = []
        for stage in layer.stages:
            for partition, key, value in layer.changelog(stage):
                futures.append(
                    await producer.send(
                        topics.changelog(stage), value, key=key, partition=partition
                    )
                )
                sent += 1
                if len(futures) >= 20000:
                    await asyncio.gather(*futures)
                    futures = []
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def _probe(bootstrap: str, index: int, people: int) -> None:
    """Publish one new canonical event for an existing subject."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **client_config_from_env())
    await producer.start()
    try:
        rng = random.Random(index)
        event = subject_events(index, rng, people)[0]
        event = event.model_copy(update={"id": f"probe-{time.time_ns()}"})
        headers = [(k, v.encode()) for k, v in cloudevent_headers(event, None).items()]
        await producer.send_and_wait(
            CANONICAL_EVENTS.name,
            event.model_dump_json().encode(),
            key=event.subject.encode(),
            headers=headers,
        )
    finally:
        await producer.stop()


async def recovery(args: argparse.Namespace, layer: StateLayer) -> None:
    """Load the state into a broker, run, kill -9, restart, time the catch-up."""
    broker = BenchBroker(REPO / args.broker_home, args.port)
    bootstrap = broker.start()
    correlator_id = "bench-state"
    try:
        began = time.monotonic()
        records = await _load_changelogs(bootstrap, correlator_id, layer)
        _say(f"changelogs: {records} records written in {time.monotonic() - began:.1f} s")
        env = env_for(bootstrap, REPO / "var" / "bench" / "keys-state", correlator_id)
        service = build_correlator(bootstrap, CorrelatorSettings(ASBX_CORRELATOR_ID=correlator_id))  # type: ignore[call-arg]
        log = (REPO / "var" / "bench" / "state-correlator.log").open("wb")
        for attempt in ("first start", "after kill -9", "after kill -9"):
            await _probe(bootstrap, attempt.__hash__() % args.subjects, args.subjects)
            began = time.monotonic()
            proc = subprocess.Popen(  # noqa: ASYNC220 - one start per attempt, timed around it
                [str(ASBX), "serve", "correlator"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            await caught_up(service, timeout=900)
            took = time.monotonic() - began
            _say(
                f"{attempt}: caught up {took:.1f} s after start; "
                f"correlator peak RSS {_peak_rss_mb(proc.pid):.0f} MB"
            )
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        broker.stop()


def _say(text: str) -> None:
    print(text, flush=True)


def main() -> None:
    """Build the state, print its size, optionally time recovery."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--recovery", action="store_true")
    parser.add_argument("--broker-home", default="var/bench-kafka")
    parser.add_argument("--port", type=int, default=37092)
    args = parser.parse_args()
    rng = random.Random(11)
    layer = StateLayer()
    gc.collect()
    rss0, began, events = _rss_mb(), time.process_time(), 0
    for index in range(args.subjects):
        for event in subject_events(index, rng, args.subjects):
            layer.feed(event)
            events += 1
        if index and index % 50_000 == 0:
            _say(f"  {index} subjects, {time.process_time() - began:.0f} s CPU")
    took = time.process_time() - began
    gc.collect()
    rss = _rss_mb() - rss0
    keys = {stage: sum(len(s) for s in stores) for stage, stores in layer.stores.items()}
    sizes = {stage: sum(len(k) + len(v) for _, k, v in layer.changelog(stage)) for stage in keys}
    total = sum(sizes.values())
    _say(f"subjects {args.subjects}, canonical events {events}, alerts {layer.alerts}")
    _say(f"state layer: {took:.0f} s CPU, {events / took:.0f} events per CPU-second")
    _say("keys per stage: " + ", ".join(f"{k}={v}" for k, v in keys.items()))
    _say(
        "changelog bytes per subject: "
        + ", ".join(f"{k}={v / args.subjects:.0f}" for k, v in sizes.items())
        + f", total={total / args.subjects:.0f}"
    )
    _say(f"resident memory growth: {rss:.0f} MB, {rss * 1024 * 1024 / args.subjects:.0f} B/subject")
    if args.recovery:
        asyncio.run(recovery(args, layer))


if __name__ == "__main__":
    main()
