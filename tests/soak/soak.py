"""Bounded soak: the three normalisers and the correlator under a steady partner load.

    .venv/bin/asbx broker start            # or point KAFKA_BOOTSTRAP_SERVERS at a cluster
    .venv/bin/python tests/soak/soak.py --minutes 10 --rate 5 --sample 15

The services run as ``asbx serve <name>`` subprocesses, each with its metrics endpoint. The load
is a synthetic population (``tests/benchmarks/population.py``: people at UPRNs, repeat victims,
incidents reported to two agencies, late reports, health flags) whose event time advances
``--days-per-minute`` simulated days per real minute (default 72: a 10-minute run spans two
years, well past the rules' six months plus lateness, so the correlator's state must be
forgetting to stay flat), with a share of the partners' bad examples mixed in. Every
``--sample`` seconds the script reads each service's ``/metrics`` (consumer lag, messages in,
rejections, errors, keys held in stream state) and its resident memory, prints a row per
service, and ends with a verdict on memory: the RSS slope over the second half of the run
(least squares, MiB per minute) must stay under ``--flat-mib-per-min`` for every service.
Exit status 1 if memory grew, a service died or reported errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from contracts.topics import CANONICAL_EVENTS, TopicSpec, inbound_topic  # noqa: E402 - after the path set-up
from contracts.vocab import Audience, Partner, TokenKind  # noqa: E402
from deploy.kafka_client import client_config_from_env  # noqa: E402
from deploy.security.apply import ensure_local_acls  # noqa: E402
from deploy.topics import ensure_topics  # noqa: E402
from services.correlator.app import correlator_group  # noqa: E402
from services.correlator.topics import CorrelatorTopics  # noqa: E402
from services.demo.scenario import bad_examples, scenario  # noqa: E402
from services.kafka.metadata import partitions_of  # noqa: E402
from services.protection.keys import LocalKeyStore  # noqa: E402
from tests.benchmarks.population import population  # noqa: E402
from tests.integration.exchange import with_message_id  # noqa: E402

SERVICES = ("housing", "health", "police", "correlator")
MIB = 1024 * 1024


@dataclass
class Service:
    """One ``asbx serve`` subprocess and what was sampled from it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    rss: list[tuple[float, float]] = field(default_factory=list)  # (minutes, MiB)
    last: dict[str, float] = field(default_factory=dict)

    def sample(self, minute: float) -> dict[str, float]:
        """Memory and metric totals now."""
        figures = {"rss_mib": psutil.Process(self.process.pid).memory_info().rss / MIB}
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            text = ""
        totals = {"lag": 0.0, "in": 0.0, "rejected": 0.0, "errors": 0.0, "ready": 0.0, "keys": 0.0}
        names = {
            "asbx_state_keys": "keys",
            "asbx_consumer_lag": "lag",
            "asbx_messages_in_total": "in",
            "asbx_rejected_total": "rejected",
            "asbx_errors_total": "errors",
            "asbx_ready": "ready",
        }
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name in names:
                    totals[names[s.name]] += s.value
        figures.update(totals)
        self.rss.append((minute, figures["rss_mib"]))
        self.last = figures
        return figures


def start_services(base_port: int, env: dict[str, str], logs: Path) -> list[Service]:
    """Start every service with its own metrics port; logs go to ``logs``."""
    logs.mkdir(parents=True, exist_ok=True)
    started = []
    for offset, name in enumerate(SERVICES):
        port = base_port + offset
        log = (logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "asbx"), "serve", name],
            env={**env, "ASBX_HTTP_PORT": str(port), "ASBX_LOG_FORMAT": "json"},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        started.append(Service(name, port, process))
    return started


def wait_ready(services: list[Service], timeout: float = 120) -> None:
    """Block until every service answers ``/readyz`` with 200."""
    deadline = time.monotonic() + timeout
    pending = {s.name: s for s in services}
    while pending and time.monotonic() < deadline:
        for name, service in list(pending.items()):
            if service.process.poll() is not None:
                raise SystemExit(f"{name} exited with {service.process.returncode} at start-up")
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{service.port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        del pending[name]
        time.sleep(1)
    if pending:
        raise SystemExit(f"not ready after {timeout:.0f} s: {', '.join(pending)}")


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: where, what, and the simulated day it belongs to."""

    partner: Partner
    content_type: str
    value: bytes
    good: bool


_CONTENT_TYPES = {Partner.HEALTH: "application/fhir+json"}


def _scenario(count: int) -> list[Outgoing]:
    """The demo scenario again and again under fresh message ids, at its fixed event times: the
    same people's same records, re-sent (each a new version of its record)."""
    plan: list[Outgoing] = []
    for message in itertools.islice(itertools.cycle(scenario()), count):
        fresh = with_message_id(message, f"SOAK-{uuid.uuid4().hex[:12]}")
        plan.append(Outgoing(fresh.partner, fresh.content_type, fresh.value, good=True))
    return plan


def messages(
    count: int, days: int, bad_share: float, seed: int, workload: str = "population"
) -> list[Outgoing]:
    """A population of about ``count`` messages over ``days`` days, with bad examples mixed in.

    Names, identifiers and message ids are fresh per run (``seed`` and a random tag), so a
    second run on the same broker is new people, not duplicates. ``workload="scenario"`` is the
    earlier soak instead: the demo scenario replayed, event time standing still.
    """
    tag = f"K{uuid.uuid4().hex[:6]}"
    good = (
        _scenario(count)
        if workload == "scenario"
        else [
            Outgoing(m.partner, _CONTENT_TYPES.get(m.partner, "application/json"), m.value, True)
            for m in population(count, seed=seed, tag=tag, spread_days=days)
        ]
    )
    every = max(1, round(1 / bad_share)) if bad_share > 0 else 0
    bad_cycle = itertools.cycle(bad_examples())
    plan: list[Outgoing] = []
    for index, message in enumerate(good):
        plan.append(message)
        if every and index % every == every - 1:
            bad = next(bad_cycle)
            plan.append(Outgoing(bad.partner, bad.content_type, bad.value, good=False))
    return plan


async def publish(
    bootstrap: str, rate: float, seconds: float, plan: list[Outgoing], sent: list[int]
) -> None:
    """Publish ``plan`` in order at ``rate`` messages per second for at most ``seconds``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_config_from_env())
    await producer.start()
    try:
        started = time.monotonic()
        for message in plan:
            if (now := time.monotonic() - started) >= seconds:
                break
            await producer.send_and_wait(
                inbound_topic(message.partner.value),
                message.value,
                headers=[("content-type", message.content_type.encode())],
            )
            sent[0] += 1
            await asyncio.sleep(max(0.0, sent[0] / rate - now))
    finally:
        await producer.stop()


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 with fewer than two points)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


async def start_at_log_end(bootstrap: str, group: str, topic: TopicSpec) -> None:
    """Commit ``group``'s offsets at the end of ``topic``: a new deployment would otherwise
    begin with every canonical event of earlier runs on this broker."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **client_config_from_env(),
    )
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic.name)
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends.items()))
    finally:
        await consumer.stop()


async def delete_internal_topics(bootstrap: str, correlator_id: str) -> None:
    """Remove the run's own correlator topics (repartitions, changelogs, dead letters)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config_from_env())
    await admin.start()
    try:
        topics = CorrelatorTopics(correlator_id, CANONICAL_EVENTS.partitions).specs()
        await admin.delete_topics([t.name for t in topics])
    finally:
        await admin.close()


async def soak(args: argparse.Namespace) -> int:
    """Run the soak and print the table and verdict; return the exit status.

    The correlator is a new deployment each run (its own id, internal topics and state files,
    all removed afterwards) that starts at the end of the canonical topic, so its state grows
    from nothing to the steady size the rules' windows give, and the second half of the run
    measures memory at that steady size, not state left over from earlier runs."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": args.bootstrap}
    correlator_id = env.setdefault("ASBX_CORRELATOR_ID", args.correlator_id)
    env.setdefault("ASBX_STATE_DIR", str(ROOT / "var" / "soak" / "state" / correlator_id))
    keys = LocalKeyStore(Path(env.get("ASBX_KEYS_DIR", ROOT / "var" / "keys")))
    for kind in TokenKind:  # create the keys once, before four processes race to
        keys.token_key(kind)
    for audience in Audience:
        keys.current_audience_key(audience)
    await ensure_topics(args.bootstrap, client_config=client_config_from_env())
    await ensure_local_acls(args.bootstrap, [correlator_id])
    await start_at_log_end(args.bootstrap, correlator_group(correlator_id), CANONICAL_EVENTS)
    services = start_services(args.base_port, env, ROOT / "var" / "soak" / "logs")
    try:
        wait_ready(services)
        sent = [0]
        seconds = args.minutes * 60
        days = round(args.minutes * args.days_per_minute)
        # A population somewhat larger than the run needs (its size is approximate), cut to the
        # run: the part published spans about ``days``.
        needed = int(args.rate * seconds) + 1
        good = int(needed * 1.15 / (1 + args.bad_share))
        plan = messages(good, round(days * 1.15), args.bad_share, 7, args.workload)[:needed]
        print(
            f"soak: {args.minutes:g} min at {args.rate:g} msg/s, {args.bad_share:.0%} bad, "
            f"{days} simulated days, sampling every {args.sample:g} s; "
            f"bootstrap {args.bootstrap}"
        )
        header = (
            f"{'t(s)':>6} {'sent':>6} "
            + " ".join(f"| {s.name[:5]:>5} lag   in  rej err  MiB" for s in services)
            + "  keys"
        )
        print(header)
        publisher = asyncio.create_task(publish(args.bootstrap, args.rate, seconds, plan, sent))
        started = time.monotonic()
        while not publisher.done() or time.monotonic() - started < seconds + args.sample:
            await asyncio.sleep(args.sample)
            elapsed = time.monotonic() - started
            cells = []
            for service in services:
                if service.process.poll() is not None:
                    cells.append(f"| {service.name[:5]:>5} DIED rc={service.process.returncode}")
                    continue
                f = service.sample(elapsed / 60)
                cells.append(
                    f"| {'':>5} {f['lag']:>3.0f} {f['in']:>4.0f} {f['rejected']:>4.0f} "
                    f"{f['errors']:>3.0f} {f['rss_mib']:>4.0f}"
                )
            state_keys = services[-1].last.get("keys", 0)
            print(
                f"{elapsed:>6.0f} {sent[0]:>6} " + " ".join(cells) + f" {state_keys:>5.0f}",
                flush=True,
            )
            if publisher.done() and elapsed >= seconds + args.sample:
                break
        await publisher
        return verdict(services, args.flat_mib_per_min, sent[0], time.monotonic() - started)
    finally:
        for service in services:
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for service in services:
            try:
                service.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.process.kill()


def verdict(services: list[Service], limit: float, sent: int, seconds: float) -> int:
    """Print the memory verdict and the closing figures."""
    failed = False
    print(f"\nsent {sent} messages in {seconds:.0f} s ({sent / seconds:.1f} msg/s)")
    print(
        f"{'service':<11} {'RSS start':>9} {'middle':>7} {'RSS end':>8} {'slope 2nd half':>15} "
        "lag err verdict"
    )
    for service in services:
        if not service.rss:
            print(f"{service.name:<11} no samples")
            failed = True
            continue
        half = service.rss[len(service.rss) // 2 :]
        per_minute = slope(half)
        flat = per_minute < limit
        died = service.process.poll() is not None
        errors = service.last.get("errors", 0)
        failed |= not flat or died or errors > 0
        print(
            f"{service.name:<11} {service.rss[0][1]:>8.1f}M {half[0][1]:>6.1f}M "
            f"{service.rss[-1][1]:>7.1f}M "
            f"{per_minute:>+10.2f} MiB/min {service.last.get('lag', 0):>3.0f} {errors:>3.0f} "
            f"{'flat' if flat else 'GROWING'}{' (died)' if died else ''}"
        )
    print("verdict:", "memory flat, no errors" if not failed else "FAILED (see above)")
    return 1 if failed else 0


def main() -> None:
    """Parse the bounds and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=5, help="partner messages per second")
    parser.add_argument("--sample", type=float, default=15, help="seconds between samples")
    parser.add_argument("--bad-share", type=float, default=0.1, help="share of bad messages")
    parser.add_argument(
        "--workload",
        choices=("population", "scenario"),
        default="population",
        help="population (event time advancing) or scenario (the demo replayed, time fixed)",
    )
    parser.add_argument(
        "--days-per-minute", type=float, default=72, help="simulated event days per real minute"
    )
    parser.add_argument("--base-port", type=int, default=9180, help="first metrics port")
    parser.add_argument("--flat-mib-per-min", type=float, default=0.5)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's correlator topics and state files"
    )
    args = parser.parse_args()
    args.correlator_id = f"asbx-soak-{uuid.uuid4().hex[:8]}"
    try:
        status = asyncio.run(soak(args))
    finally:  # also after Ctrl-C
        if not args.keep and not os.environ.get("ASBX_CORRELATOR_ID"):
            shutil.rmtree(ROOT / "var" / "soak" / "state" / args.correlator_id, ignore_errors=True)
            asyncio.run(delete_internal_topics(args.bootstrap, args.correlator_id))
    raise SystemExit(status)


if __name__ == "__main__":
    main()
