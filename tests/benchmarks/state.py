"""Correlator state per tracked subject, and recovery after ``kill -9`` with that state.

A *sample* of subjects is driven through the state layer directly (no normalisers, no broker):
synthetic canonical events (``tests/correlator/builders``: real contracts, well-formed tokens)
go through the same processors the correlator runs, router → person rules → place rules, into
in-memory partition stores partitioned as Kafka would partition them. One subject is one person
of the population: most report one incident at home, 5% are repeat victims with three, 10% name
a perpetrator. Reported for the sample: resident memory growth per subject of those in-memory
stores.

Driving a million subjects through the processors takes over half an hour here, so larger
populations are built from the sample's changelog records: ``--subjects`` / ``--sample`` copies
of them, each copy with every keyed token and event id replaced (a keyed hash of the original
and the copy number, so links inside a copy stay links: shared homes, named perpetrators).
Values keep the sample's exact shapes and sizes; person and place keys go to the partition the
new key hashes to; a route stays in its sample partition (its canonical subject is not in the
record). Reported: changelog bytes per subject (key + value of every stored key: what the
compacted changelog topics hold after compaction).

With ``--recovery`` the changelogs are written to an empty local broker (plain, committed
records, as compaction would leave them) and the correlator runs as a subprocess (``asbx serve
correlator``, state files under ``var/bench/state-store``): first start with no files (a full
restore), ``kill -9``, restart on the files (changelog tail only), ``kill -9`` again, files
deleted, restart (full restore). Each is timed from the process start until a new canonical
event has been processed by every stage (``services.correlator.progress.caught_up``) and the
correlator's ``/readyz`` says every assigned partition's state is restored. Reported
with it: the correlator's peak resident memory and the state files' bytes per subject.

    python -m tests.benchmarks.state --subjects 1000000 --sample 20000 --recovery

``ASBX_PARTITIONS=N`` lays the topics out as a deployment with that setting would (one
partition: one instance of each service on one machine).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import os
import random
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgpack
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

from contracts.topics import CANONICAL_EVENTS
from contracts.vocab import AsbCategory, Partner
from deploy.kafka_client import client_config_from_env
from deploy.security.apply import ensure_local_acls
from deploy.topics import ensure_topics
from services.correlator.app import build_correlator
from services.correlator.domain.packing import _TOKEN, _UUID, unpack_key
from services.correlator.domain.policy import load_policy
from services.correlator.domain.state import PersonState, PlaceState
from services.correlator.keyed import CLOCK_KEY, KeyedRules
from services.correlator.progress import caught_up
from services.correlator.router import MentionRouter
from services.correlator.settings import CorrelatorSettings
from services.correlator.topics import CorrelatorTopics
from services.kafka.headers import cloudevent_headers
from services.settings import Settings
from services.streams.engine import Output
from services.streams.store import PartitionStore
from tests.benchmarks.kafka_tools import BenchBroker, env_for
from tests.benchmarks.pipeline import ASBX, REPO, _peak_rss_mb
from tests.correlator.builders import Who, incident, place

#: As a deployment would create them (``ASBX_PARTITIONS``), else as declared.
PARTITIONS = Settings().partitions or CANONICAL_EVENTS.partitions
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
            (
                store.partition,
                self.stages[stage].encode_key(key),
                self.stages[stage].encode(key, value),
            )
            for store in self.stores[stage]
            for key, value in store.items()
        ]


Record = tuple[str, int, bytes, bytes]  # stage, partition, key, value


class Copies:
    """The sample's changelog records, copied with new tokens and event ids per copy."""

    def __init__(self, layer: StateLayer) -> None:
        self.sample = [
            (stage, partition, key, value)
            for stage in layer.stages
            for partition, key, value in layer.changelog(stage)
        ]

    def records(self, copies: int) -> Iterator[Record]:
        """Copy 0 is the sample itself; the partition clocks are written once."""
        for n in range(copies):
            salt = n.to_bytes(4, "big")
            for stage, partition, key, value in self.sample:
                if n == 0:
                    yield stage, partition, key, value
                elif key != CLOCK_KEY.encode():
                    new_key = _new_key(key, salt)
                    # Partitioned as the router's outputs are: by the key's text.
                    text = unpack_key(new_key).encode()
                    where = partition if stage == "routes" else _partition(text)
                    yield stage, where, new_key, _new_value(value, salt)


def _new(raw: bytes, salt: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=len(raw), key=salt).digest()


def _new_key(key: bytes, salt: bytes) -> bytes:
    if len(key) == 34 and key[:1] == b"\x00":  # packed: NUL, prefix code, raw token
        return key[:2] + _new(key[2:], salt)
    prefix, token = key[:-43], key[-43:]
    raw = base64.urlsafe_b64decode(token + b"=")
    return prefix + base64.urlsafe_b64encode(_new(raw, salt))[:-1]


def _new_value(value: bytes, salt: bytes) -> bytes:
    """A format-3 record with every token and UUID replaced, structure and sizes unchanged
    (the key's token, left out of the value, is replaced in the key the same way)."""

    def hook(code: int, data: bytes) -> msgpack.ExtType:
        if code == _TOKEN:
            return msgpack.ExtType(code, _new(data[:32], salt) + data[32:])
        if code == _UUID:
            return msgpack.ExtType(code, _new(data, salt))
        return msgpack.ExtType(code, data)

    header = 3 if value[:1] == b"S" else 2  # state: letter, format, kind; routes: no kind
    body = msgpack.unpackb(value[header:], ext_hook=hook)
    return value[:header] + msgpack.packb(body, use_bin_type=True)


async def _load_changelogs(bootstrap: str, correlator_id: str, records: Iterable[Record]) -> int:
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
        for stage, partition, key, value in records:
            futures.append(
                await producer.send(topics.changelog(stage), value, key=key, partition=partition)
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


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:  # not listening yet, or 503 (HTTPError is an OSError)
        return False


async def _restored(port: int, timeout: float) -> None:
    """Wait until the correlator's ``/readyz`` says every partition's state is restored.

    The probe alone is not enough: partitions are claimed in the background, and the probe's
    own partitions may be processed while others are still restoring.
    """
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(_ready, port):
        if time.monotonic() > deadline:
            raise TimeoutError("the correlator never restored all its partitions")
        await asyncio.sleep(0.1)


def _bytes_under(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def recovery(args: argparse.Namespace, copies: Copies, subjects: int) -> None:
    """Load the state into a broker, run, kill -9, restart, time the catch-up."""
    broker = BenchBroker(REPO / args.broker_home, args.port)
    bootstrap = broker.start()
    correlator_id = "bench-state"
    state_dir = REPO / "var" / "bench" / "state-store"
    shutil.rmtree(state_dir, ignore_errors=True)
    try:
        began = time.monotonic()
        records = await _load_changelogs(bootstrap, correlator_id, copies.records(args.copies))
        _say(f"changelogs: {records} records written in {time.monotonic() - began:.1f} s")
        env = env_for(bootstrap, REPO / "var" / "bench" / "keys-state", correlator_id)
        env["ASBX_STATE_DIR"] = "" if args.in_memory else str(state_dir)
        port = args.port + 10
        env["ASBX_HTTP_PORT"] = str(port)
        service = build_correlator(bootstrap, CorrelatorSettings(ASBX_CORRELATOR_ID=correlator_id))  # type: ignore[call-arg]
        log = (REPO / "var" / "bench" / "state-correlator.log").open("wb")
        attempts = ["first start, no state files", "after kill -9, state files present"]
        attempts += ["after kill -9, state files present", "after kill -9, state files deleted"]
        for n, attempt in enumerate(attempts):
            if attempt.endswith("deleted"):
                shutil.rmtree(state_dir, ignore_errors=True)
            await _probe(bootstrap, (n * 7919) % args.sample, args.sample)
            began = time.monotonic()
            proc = subprocess.Popen(  # noqa: ASYNC220 - one start per attempt, timed around it
                [str(ASBX), "serve", "correlator"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            await caught_up(service, timeout=1800)
            await _restored(port, timeout=1800)
            took = time.monotonic() - began
            files = _bytes_under(state_dir) if state_dir.exists() else 0
            wal = sum(f.stat().st_size for f in state_dir.glob("*-wal"))
            _say(
                f"{attempt}: caught up {took:.1f} s after start; "
                f"correlator peak RSS {_peak_rss_mb(proc.pid):.0f} MB "
                f"({_peak_rss_mb(proc.pid) * 1024 * 1024 / subjects:.0f} B/subject); "
                f"state files {files / 1e6:.0f} MB ({files / subjects:.0f} B/subject, "
                f"{wal / 1e6:.0f} MB of it write-ahead log)"
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
    parser.add_argument("--sample", type=int, default=20_000, help="subjects driven for real")
    parser.add_argument("--recovery", action="store_true")
    parser.add_argument("--in-memory", action="store_true", help="no state files (as before)")
    parser.add_argument("--broker-home", default="var/bench-kafka")
    parser.add_argument("--port", type=int, default=37092)
    args = parser.parse_args()
    args.sample = min(args.sample, args.subjects)
    args.copies = max(1, args.subjects // args.sample)
    subjects = args.copies * args.sample
    rng = random.Random(11)
    layer = StateLayer()
    gc.collect()
    rss0, began, events = _rss_mb(), time.process_time(), 0
    for index in range(args.sample):
        for event in subject_events(index, rng, args.sample):
            layer.feed(event)
            events += 1
        if index and index % 50_000 == 0:
            _say(f"  {index} subjects, {time.process_time() - began:.0f} s CPU")
    took = time.process_time() - began
    gc.collect()
    rss = _rss_mb() - rss0
    keys = {stage: sum(len(s) for s in stores) for stage, stores in layer.stores.items()}
    _say(f"sample {args.sample} subjects, canonical events {events}, alerts {layer.alerts}")
    _say(f"state layer: {took:.0f} s CPU, {events / took:.0f} events per CPU-second")
    _say("sample keys per stage: " + ", ".join(f"{k}={v}" for k, v in keys.items()))
    _say(f"sample in-memory stores: {rss:.0f} MB, {rss * 1024 * 1024 / args.sample:.0f} B/subject")
    copies = Copies(layer)
    del layer
    gc.collect()
    sizes = dict.fromkeys(keys, 0)
    count = dict.fromkeys(keys, 0)
    began = time.process_time()
    for stage, _partition, key, value in copies.records(args.copies):
        sizes[stage] += len(key) + len(value)
        count[stage] += 1
    _say(
        f"{subjects} subjects ({args.copies} copies of the sample, "
        f"{time.process_time() - began:.0f} s CPU to copy): "
        + ", ".join(f"{k}={v}" for k, v in count.items())
        + " keys"
    )
    _say(
        "changelog bytes per subject: "
        + ", ".join(f"{k}={v / subjects:.0f}" for k, v in sizes.items())
        + f", total={sum(sizes.values()) / subjects:.0f}"
    )
    if args.recovery:
        asyncio.run(recovery(args, copies, subjects))


if __name__ == "__main__":
    main()
