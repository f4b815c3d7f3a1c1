"""End-to-end benchmark: partner messages through the normalisers, correlator and alerts.

Starts an empty local broker (``--broker-home``, wiped first), runs the four services as real
subprocesses (``asbx serve housing|health|police|correlator``), and in one run reports:

- the raw ceiling: an aiokafka consume → produce passthrough of the same messages (repeated to
  ``--raw-messages``), timed from when its consumer holds its partitions;
- throughput: the population published at full speed, timed until every normaliser has
  committed its input and every correlator stage has caught up; the ratio asbx / raw;
- alert latency at half the measured rate: from the deciding partner message being handed to
  the producer to its alert being readable (``read_committed``) on ``asbx.alerts.v1``;
- peak memory (VmHWM) of each service;
- the cores each process used in the throughput run while the normalisers had input, and
  after, while the correlator caught up (a burst leaves one core idle if only one stage works);
- the cores each process uses with nothing to do (``--idle-seconds``).

``--partitions N`` creates the partner, canonical-event and alert topics (and so the
correlator's) with N partitions each (``ASBX_PARTITIONS``), as a deployment running one instance
of each service would; without it they have the declared counts. With ``--source``, that
checkout's correlator must size its internal topics by the canonical topic too (since 2026-11-25).

Nothing is measured on a cold broker: an unmeasured raw copy and ``--warm-messages`` partner
messages through every service go first (a fresh JVM's JIT compilers take seconds of CPU).
Many small transactions at a moderate rate run broker code that full speed leaves cold, so
before the latency run the same rate is published until the broker's JIT compilers are quiet
(``--rate-warm-limit``; 0 leaves that out, as the harness did before 2026-11-25).

    python -m tests.benchmarks.pipeline --messages 3000 --repeat 2

The machine is shared, so always read the throughput next to the raw ceiling of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer

from contracts.topics import ALERTS, inbound_topic
from contracts.vocab import Partner
from deploy.kafka_client import client_config_from_env
from deploy.security.apply import ensure_local_acls
from deploy.topics import ensure_topics
from services.correlator.app import build_correlator
from services.correlator.progress import caught_up
from services.correlator.settings import CorrelatorSettings
from services.kafka.metadata import partitions_of
from services.observability.tracing import trace_id
from tests.benchmarks.kafka_tools import (
    BenchBroker,
    LagProbe,
    env_for,
    log_ends,
    passthrough,
    publish,
)
from tests.benchmarks.population import population

REPO = Path(__file__).resolve().parents[2]
ASBX = Path(sys.executable).parent / "asbx"
SERVICES = ("housing", "health", "police", "correlator")


@dataclass
class RunResult:
    """Figures of one run."""

    messages: int
    raw_per_s: float
    asbx_per_s: float
    alerts: int
    #: Messages the raw copy timed (the population repeated up to ``--raw-messages``).
    raw_messages: int = 0
    #: Partner messages per second through the normalisers alone (committed input).
    normalised_per_s: float = 0.0
    latency_rate: float = 0.0
    latency_alerts: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    #: Each alert of the latency run: seconds into the run that its deciding message was
    #: published, its latency in ms, and the ms until the correlator sent it (the alert
    #: record's timestamp): slow alerts in clusters point at stalls rather than load, and the
    #: two times tell a stall before the alert's transaction from one in its commit.
    latency_series: list[tuple[float, float, float]] = field(default_factory=list)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    #: CPU milliseconds per partner message of each process during the throughput run.
    cpu_ms: dict[str, float] = field(default_factory=dict)
    #: The broker's CPU milliseconds per message while the raw copy was published and copied.
    raw_broker_cpu_ms: float = 0.0
    #: Log offsets (records and transaction markers) written per partner message, by topic.
    written_per_message: dict[str, float] = field(default_factory=dict)
    #: Cores each process used during the latency run (CPU seconds per second).
    latency_cores: dict[str, float] = field(default_factory=dict)
    #: Share of the latency run each service's event loop spent runnable but waiting for a
    #: core (its main thread's run-queue time, ``/proc/<pid>/schedstat``).
    latency_core_wait: dict[str, float] = field(default_factory=dict)
    #: Cores each process used with nothing to do (services and broker, after the warm-up).
    idle_cores: dict[str, float] = field(default_factory=dict)
    #: Seconds published at the latency rate, unmeasured, until the broker's JIT was quiet.
    rate_warm_s: float = 0.0
    #: Cores the broker's JIT compilers used during the latency run.
    latency_broker_jit_cores: float = 0.0
    #: Cores each process used in the throughput run, in its two phases: while the
    #: normalisers had input left ("normalising"), then until the correlator had caught up.
    phase_cores: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Seconds of each phase.
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """asbx throughput as a share of the raw passthrough."""
        return self.asbx_per_s / self.raw_per_s


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a running process so far (0 if it is gone)."""
    if pid is None:
        return 0.0
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def _run_queue_seconds(pid: int | None) -> float:
    """Seconds the process's main thread (a service's event loop) has spent runnable but
    waiting for a core, so far (0 if unknown)."""
    if pid is None:
        return 0.0
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _jit_cpu_seconds(pid: int | None) -> float:
    """CPU time so far of a JVM's JIT compiler threads (``C1``/``C2 CompilerThread``)."""
    if pid is None:
        return 0.0
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if not (task / "comm").read_text().startswith(("C1 Compiler", "C2 Compiler")):
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


class CpuSampler:
    """Each process's CPU time, sampled every ``interval`` seconds while it runs.

    A burst's throughput depends on how its phases share the cores, not only on the CPU each
    process needs: one single-threaded stage working through a backlog alone leaves the other
    core idle. The samples say how busy the machine was in each phase.
    """

    def __init__(self, pids: dict[str, int | None], interval: float = 0.1) -> None:
        self._pids, self._interval = pids, interval
        self._samples: list[tuple[float, dict[str, float]]] = []
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        self._samples.append(
            (time.monotonic(), {name: _cpu_seconds(pid) for name, pid in self._pids.items()})
        )

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        """Take samples until :meth:`stop`."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop sampling (with one last sample)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self._sample()

    def _at(self, moment: float) -> tuple[float, dict[str, float]]:
        return min(self._samples, key=lambda sample: abs(sample[0] - moment))

    def cores_between(self, start: float, end: float) -> dict[str, float]:
        """Cores each process used from the sample nearest ``start`` to the one nearest ``end``."""
        (t0, cpu0), (t1, cpu1) = self._at(start), self._at(end)
        if t1 <= t0:
            return {}
        return {name: (cpu1[name] - cpu0[name]) / (t1 - t0) for name in cpu1}


async def _warm_at_rate(
    bootstrap: str, rate: float, broker_pid: int | None, tag: str, limit: float
) -> tuple[float, float]:
    """Publish at ``rate``, unmeasured, until the broker's JIT compilers are quiet.

    A fresh broker compiles what full speed runs within seconds, but a moderate rate makes many
    more, smaller transactions and fetches, whose code then takes the compilers another minute
    or so: a third of a core, in the first 20 s at 128/s, on a 2-core machine. A broker in
    service has long compiled it. Publishes ten-second populations until one of them saw the
    compilers use under 3% of a core, or ``limit`` seconds have passed; returns the seconds
    spent and the compilers' share of a core in the last ten.
    """
    began, share, chunk = time.monotonic(), 0.0, 0
    while time.monotonic() - began < limit:
        messages = population(max(1, int(rate * 10)), seed=10_000 + chunk, tag=f"Q{chunk}{tag}")
        jit, start = _jit_cpu_seconds(broker_pid), time.monotonic()
        await publish(bootstrap, messages, rate=rate)
        share = (_jit_cpu_seconds(broker_pid) - jit) / (time.monotonic() - start)
        chunk += 1
        if share < 0.03:
            break
    return time.monotonic() - began, share


def _written_per_message(
    before: dict[str, int], after: dict[str, int], messages: int
) -> dict[str, float]:
    """Log offsets each topic gained per partner message, by topic without its common parts
    (``asbx.``, the version, the deployment's id), the raw copy's topics left out."""
    written: dict[str, float] = {}
    for topic, end in after.items():
        if topic.startswith("bench.raw."):
            continue
        name = re.sub(r"^asbx\.(internal\.[^.]+\.)?|\.v\d+$", "", topic)
        gained = (end - before.get(topic, 0)) / messages
        if gained:
            written[name] = written.get(name, 0.0) + gained
    return written


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def services(
    bootstrap: str,
    keys_dir: Path,
    correlator_id: str,
    log_dir: Path,
    source: Path | None = None,
    correlators: int = 1,
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The four services as subprocesses; stopped with SIGTERM (then SIGKILL) on exit.

    ``source``: another checkout of asbx (e.g. ``git worktree add /tmp/base <commit>``) whose
    services to run instead of this one's, for before/after figures on the same machine.
    ``correlators``: instances of the correlator (one process each, splitting the partitions
    of every stage, each with its own state files), as a deployment would scale it out.
    """
    env = env_for(bootstrap, keys_dir, correlator_id)
    # The correlator's state files belong to this run (each run has a fresh broker), never in
    # the checkout's own var/state: a stale file would be checked against an empty changelog.
    state_dir = log_dir.parent / f"state-{correlator_id}"
    shutil.rmtree(state_dir, ignore_errors=True)
    env["ASBX_STATE_DIR"] = str(state_dir)
    command = [str(ASBX)]
    if source is not None:
        env["PYTHONPATH"] = str(source)
        command = [sys.executable, "-c", "from services.cli.main import app; app()"]
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = {}
    instances = [(name, name, env) for name in SERVICES if name != "correlator"]
    for i in range(correlators):
        label = "correlator" if i == 0 else f"correlator-{i + 1}"
        instances.append((label, "correlator", {**env, "ASBX_STATE_DIR": str(state_dir / label)}))
    for label, name, service_env in instances:
        with (log_dir / f"{label}.log").open("wb") as out:
            procs[label] = subprocess.Popen(
                [*command, "serve", name],
                env=service_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=source,
            )
    try:
        yield procs
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _wait_done(bootstrap: str, correlator_id: str, timeout: float) -> tuple[float, float]:
    """Until the normalisers have committed all input and the correlator has caught up.

    Returns when (``time.monotonic()``) the normalisers had committed all their input, and when
    the correlator's stages last committed. The stages' committed offsets are polled every
    50 ms; once they have not moved for a second, ``caught_up`` confirms that every stage has
    read all its input (it reads each partition's tail and takes seconds, which are not
    counted). A stage's input is written in transactions, so its commit markers make the end
    offsets useless for this: the time of the last change is what is reported.
    """
    groups = {f"asbx-{p.value}-normaliser": inbound_topic(p.value) for p in Partner}
    deadline = time.monotonic() + timeout
    service = build_correlator(bootstrap, CorrelatorSettings(ASBX_CORRELATOR_ID=correlator_id))  # type: ignore[call-arg]
    async with LagProbe(bootstrap) as probe:
        while await probe.lag(groups):
            if time.monotonic() > deadline:
                raise TimeoutError("normalisers did not finish")
            await asyncio.sleep(0.05)
        normalised = time.monotonic()
        seen, changed = await probe.committed(service.groups), time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = await probe.committed(service.groups)
            if now != seen:
                seen, changed = now, time.monotonic()
            elif time.monotonic() - changed > 1.0:
                await caught_up(service, timeout=max(1.0, deadline - time.monotonic()))
                if await probe.committed(service.groups) == seen:
                    return normalised, changed
            if time.monotonic() > deadline:
                raise TimeoutError("correlator did not finish")


class AlertWatch:
    """Reads alerts as they become readable and notes when each trace id's alert arrived."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self.arrived: dict[str, float] = {}
        #: The alert record's timestamp (set when the correlator sent it), by trace id.
        self.produced: dict[str, float] = {}
        self.count = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Start reading from the current end of the alerts topic."""
        self._task = asyncio.create_task(self._run())
        await self._ready.wait()

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
            **client_config_from_env(),
        )
        await consumer.start()
        try:
            tps = await partitions_of(consumer, ALERTS.name)
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
            self._ready.set()
            while True:
                batches = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for records in batches.values():
                    for record in records:
                        self.count += 1
                        parent = dict(record.headers).get("traceparent")
                        if parent:
                            trace = trace_id(parent.decode())
                            self.arrived.setdefault(trace, now)
                            self.produced.setdefault(trace, record.timestamp / 1000)
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(values)}


async def one_run(
    args: argparse.Namespace, run: int, bootstrap: str, broker_pid: int | None = None
) -> RunResult:
    """Raw ceiling, throughput and latency on one fresh broker."""
    tag = f"R{run}T{int(time.time()) % 100000}"
    warm = population(args.warm_messages, seed=run + 100, tag=f"W{tag}")
    load = population(args.messages, seed=run, tag=f"L{tag}")
    slow = population(args.latency_messages, seed=run + 50, tag=f"S{tag}")
    await ensure_topics(bootstrap)
    # The broker is a fresh JVM: its JIT compilers take seconds of CPU (and its code runs
    # interpreted) until the hot paths are compiled. Measure the steady state a long-running
    # broker is in: an unmeasured raw copy comes before the measured one, and the warm-up
    # population goes through every service before the services are measured.
    await passthrough(bootstrap, load, at_least=args.raw_messages)
    broker_cpu = _cpu_seconds(broker_pid)
    raw = await passthrough(bootstrap, load, at_least=args.raw_messages)
    raw_broker_ms = (_cpu_seconds(broker_pid) - broker_cpu) * 1000 / raw.messages
    correlator_id = f"bench-{run}"
    await ensure_local_acls(bootstrap, [correlator_id])  # the services log in as themselves
    keys_dir = REPO / "var" / "bench" / f"keys-{run}"
    # Fresh keys for a fresh broker: the normalisers' retention-key file grows by every run's
    # subjects, and a file left from earlier runs (100 MB after a few dozen) slows their
    # lookups, so a checkout that had run more often measured slower than a fresh copy.
    shutil.rmtree(keys_dir, ignore_errors=True)
    logs = REPO / "var" / "bench" / f"logs-{run}"
    with services(bootstrap, keys_dir, correlator_id, logs, args.source, args.correlators) as procs:
        await publish(bootstrap, warm)
        await _wait_done(bootstrap, correlator_id, timeout=180)
        watch = AlertWatch(bootstrap)
        await watch.start()
        pids = {name: p.pid for name, p in procs.items()} | {"broker": broker_pid}
        idle: dict[str, float] = {}
        if args.idle_seconds > 0:
            # What a deployment costs when nobody reports anything, as it will most of the day.
            cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            await asyncio.sleep(args.idle_seconds)
            idle = {
                name: (_cpu_seconds(pid) - cpu_before[name]) / args.idle_seconds
                for name, pid in pids.items()
            }
            _say(
                f"run {run}: idle for {args.idle_seconds:.0f} s, cores used: "
                + ", ".join(f"{k} {v:.3f}" for k, v in idle.items())
                + f", total {sum(idle.values()):.3f}"
            )
        ends_before = await log_ends(bootstrap)
        cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
        sampler = CpuSampler(pids)
        sampler.start()
        began = time.monotonic()
        await publish(bootstrap, load)
        normalised, settled = await _wait_done(bootstrap, correlator_id, timeout=args.timeout)
        await sampler.stop()
        took = settled - began
        result = RunResult(
            len(load), raw.per_s, len(load) / took, watch.count, raw_messages=raw.messages
        )
        result.idle_cores = idle
        result.normalised_per_s = len(load) / (normalised - began)
        result.raw_broker_cpu_ms = raw_broker_ms
        result.cpu_ms = {
            name: (_cpu_seconds(pid) - cpu_before[name]) * 1000 / len(load)
            for name, pid in pids.items()
        }
        _say(
            f"run {run}: raw {result.raw_per_s:.0f}/s ({raw.messages} copied), "
            f"asbx {result.asbx_per_s:.1f}/s "
            f"(normalisers alone {result.normalised_per_s:.1f}/s); CPU ms per message: "
            + ", ".join(f"{k} {v:.2f}" for k, v in result.cpu_ms.items())
            + f", total {sum(result.cpu_ms.values()):.2f} in {took:.1f} s "
            f"(the raw copy: broker {raw_broker_ms:.2f}, publish and copy included)"
        )
        result.phase_seconds = {
            "normalising": normalised - began,
            "catching up": settled - normalised,
        }
        result.phase_cores = {
            "normalising": sampler.cores_between(began, normalised),
            "catching up": sampler.cores_between(normalised, settled),
        }
        _say(
            f"run {run}: cores used in the throughput run, "
            + "; ".join(
                f"{phase} ({result.phase_seconds[phase]:.1f} s): "
                + ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
                + f", total {sum(cores.values()):.2f}"
                for phase, cores in result.phase_cores.items()
            )
        )
        written = _written_per_message(ends_before, await log_ends(bootstrap), len(load))
        result.written_per_message = written
        _say(
            f"run {run}: offsets written per partner message (records and transaction markers) "
            f"{sum(written.values()):.1f}: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(written.items(), key=lambda i: -i[1]))
        )
        if slow:
            rate = args.latency_rate or result.asbx_per_s / 2
            if args.rate_warm_limit > 0:
                result.rate_warm_s, jit_share = await _warm_at_rate(
                    bootstrap, rate, broker_pid, tag, args.rate_warm_limit
                )
                _say(
                    f"run {run}: warmed at {rate:.0f}/s for {result.rate_warm_s:.0f} s, unmeasured "
                    f"(the broker's JIT compilers: {jit_share:.2f} of a core in the last 10 s)"
                )
            jit_before = _jit_cpu_seconds(broker_pid)
            cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            waited_before = {name: _run_queue_seconds(procs[name].pid) for name in procs}
            publishing = time.monotonic()
            sent = await publish(bootstrap, slow, rate=rate)
            # Cores in use while the population was published at the fixed rate (the wait for
            # the last alerts after it is left out: the machine is idling down then).
            span = time.monotonic() - publishing
            result.latency_cores = {
                name: (_cpu_seconds(pid) - cpu_before[name]) / span for name, pid in pids.items()
            }
            result.latency_core_wait = {
                name: (_run_queue_seconds(procs[name].pid) - waited_before[name]) / span
                for name in procs
            }
            result.latency_broker_jit_cores = (_jit_cpu_seconds(broker_pid) - jit_before) / span
            _say(
                f"run {run}: while publishing at {rate:.0f}/s, cores used: "
                + ", ".join(f"{k} {v:.2f}" for k, v in result.latency_cores.items())
                + f" (its JIT compilers {result.latency_broker_jit_cores:.2f})"
                + f", total {sum(result.latency_cores.values()):.2f} of {os.cpu_count()}; "
                "share of the time each service's event loop waited for a core: "
                + ", ".join(f"{k} {v:.0%}" for k, v in result.latency_core_wait.items())
            )
            await _wait_done(bootstrap, correlator_id, timeout=args.timeout)
            await asyncio.sleep(0.5)
            first = min(sent.values(), default=0.0)
            result.latency_series = sorted(
                (
                    sent[m.trace_id] - first,
                    (watch.arrived[m.trace_id] - sent[m.trace_id]) * 1000,
                    (watch.produced[m.trace_id] - sent[m.trace_id]) * 1000,
                )
                for m in slow
                if m.trace_id in watch.arrived
            )
            latencies = [ms for _, ms, _ in result.latency_series]
            result.latency_rate = rate
            result.latency_alerts = len(latencies)
            result.latency_ms = _percentiles(latencies)
        await watch.stop()
        result.peak_rss_mb = {name: _peak_rss_mb(p.pid) for name, p in procs.items()}
    return result


def _say(text: str) -> None:
    print(text, flush=True)


def report(results: list[RunResult]) -> None:
    """Print each run and the medians."""
    _say("")
    _say(
        f"{'run':>3} {'msgs':>6} {'raw/s':>8} {'asbx/s':>8} {'norm/s':>7} {'ratio':>6} "
        f"{'alerts':>6} "
        f"{'rate':>6} {'p50ms':>7} {'p95ms':>7} {'p99ms':>7}  peak RSS MB"
    )
    for i, r in enumerate(results):
        lat = r.latency_ms
        rss = " ".join(f"{k}={v:.0f}" for k, v in r.peak_rss_mb.items())
        _say(
            f"{i:>3} {r.messages:>6} {r.raw_per_s:>8.0f} {r.asbx_per_s:>8.1f} "
            f"{r.normalised_per_s:>7.1f} {r.ratio:>6.1%} {r.alerts:>6} {r.latency_rate:>6.1f} "
            f"{lat.get('p50', 0):>7.0f} "
            f"{lat.get('p95', 0):>7.0f} {lat.get('p99', 0):>7.0f}  {rss}"
        )
    if len(results) > 1:
        _say(
            f"median ratio {statistics.median(r.ratio for r in results):.1%}, "
            f"median asbx {statistics.median(r.asbx_per_s for r in results):.1f}/s, "
            f"median p99 {statistics.median(r.latency_ms.get('p99', 0) for r in results):.0f} ms"
        )
    partitions = os.environ.get("ASBX_PARTITIONS") or "as declared"
    _say(
        f"conditions: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
        f"partitions {partitions}"
    )


async def main_async(args: argparse.Namespace) -> list[RunResult]:
    """Every run on its own fresh broker."""
    broker = BenchBroker(REPO / args.broker_home, args.port)
    results: list[RunResult] = []
    try:
        for run in range(args.repeat):
            bootstrap = broker.start()
            results.append(await one_run(args, run, bootstrap, broker.pid))
    finally:
        if not args.keep_broker:
            broker.stop()
    return results


def main() -> None:
    """Parse arguments, run, print, and keep the figures in ``var/bench``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--latency-messages", type=int, default=1500)
    parser.add_argument(
        "--warm-messages",
        type=int,
        default=3000,
        help="partner messages through every service before anything is measured",
    )
    parser.add_argument(
        "--raw-messages",
        type=int,
        default=60_000,
        help="the raw copy repeats the population until it has at least this many messages, "
        "so that it runs for seconds, not a fraction of one",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=0.0,
        help="publish the latency population at this rate (default: half the measured rate)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=10.0,
        help="after the warm-up, measure each process's CPU this long with nothing published",
    )
    parser.add_argument(
        "--rate-warm-limit",
        type=float,
        default=240.0,
        help="at most this many seconds at the latency rate, unmeasured, until the broker's "
        "JIT compilers are quiet (0: measure at once)",
    )
    parser.add_argument(
        "--correlators", type=int, default=1, help="correlator instances (processes) to run"
    )
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--broker-home", default="var/bench-kafka")
    parser.add_argument("--port", type=int, default=37092)
    parser.add_argument("--keep-broker", action="store_true")
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="partitions of the partner, canonical-event and alert topics (ASBX_PARTITIONS)",
    )
    parser.add_argument(
        "--source", type=Path, default=None, help="run the services of another asbx checkout"
    )
    args = parser.parse_args()
    if args.partitions is not None:  # the harness's topics and the services' alike
        os.environ["ASBX_PARTITIONS"] = str(args.partitions)
    results = asyncio.run(main_async(args))
    report(results)
    out = REPO / "var" / "bench" / f"pipeline-{int(time.time())}{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc: list[dict[str, Any]] = [asdict(r) | {"ratio": r.ratio} for r in results]
    out.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
