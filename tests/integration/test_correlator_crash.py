"""Exactly once under kill -9, and the same alerts from two instances as from one.

The correlator runs as real processes (``asbx serve correlator``) on a deployment of its own: its
own canonical input topic holding a 10,000-event workload, its own internal topics and alerts
topic. The expected alerts are computed by the pure domain from the same events.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from contracts.alert_envelope import AlertEnvelope
from contracts.envelope import CanonicalEvent
from contracts.topics import KeyKind, TopicSpec
from contracts.vocab import AlertRule
from deploy.topics import ensure_topics
from services.correlator.app import CorrelatorService, build_correlator
from services.correlator.domain.policy import load_policy
from services.correlator.settings import CorrelatorSettings
from services.settings import REPO_ROOT
from tests.integration.correlation import alerts, publish_canonical, wait_caught_up
from tests.integration.stage_state import check_stages_hold_what_was_routed, raised_alert_ids
from tests.integration.workload import reference_alert_ids, workload
from tests.kafka_fixture import Broker

pytestmark = pytest.mark.kafka

EVENTS = 10_000
#: The workload is published before the correlator starts, and the router reads its partitions
#: one batch at a time, so stream time runs far ahead of some partitions: the expiry clock is
#: held back by the workload's span (``ASBX_EXPIRY_GRACE_DAYS``), as for any backlog replay.
GRACE_DAYS = 730


@pytest.fixture(scope="module")
def events() -> list[CanonicalEvent]:
    """The workload, with people unique to this run."""
    tag = "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(6))
    return workload(EVENTS, seed=2026, tag=tag)


@pytest.fixture(scope="module")
def expected(events: list[CanonicalEvent]) -> set[str]:
    """Reference alert ids from the pure domain."""
    return reference_alert_ids(events, load_policy())


class Deployment:
    """One correlator deployment fed by its own canonical topic, run as OS processes."""

    def __init__(self, bootstrap: str, name: str) -> None:
        run = uuid.uuid4().hex[:8]
        self.bootstrap = bootstrap
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ASBX_CORRELATOR_ID": f"test-{name}-{run}",
            "ASBX_CANONICAL_TOPIC": f"asbx.test.canonical.{name}.{run}",
            "ASBX_ALERTS_TOPIC": f"asbx.test.alerts.{name}.{run}",
            "ASBX_LOG_FORMAT": "json",
            "ASBX_LOG_LEVEL": "WARNING",
            "ASBX_EXPIRY_GRACE_DAYS": str(GRACE_DAYS),
        }
        settings = CorrelatorSettings(
            ASBX_CORRELATOR_ID=self.env["ASBX_CORRELATOR_ID"],
            ASBX_CANONICAL_TOPIC=self.env["ASBX_CANONICAL_TOPIC"],
            ASBX_ALERTS_TOPIC=self.env["ASBX_ALERTS_TOPIC"],
            ASBX_EXPIRY_GRACE_DAYS=GRACE_DAYS,
        )
        self.service: CorrelatorService = build_correlator(bootstrap, settings)
        self.processes: list[subprocess.Popen[bytes]] = []
        #: The instances' stderr: a file, so a burst of warnings (a rebalance, fenced
        #: transactions) can never fill a pipe nobody reads and stall an instance.
        self.log = Path(tempfile.mkdtemp(prefix=f"asbx-correlator-{name}-")) / "stderr.log"

    async def prepare(self, events: list[CanonicalEvent]) -> None:
        specs = [
            TopicSpec(
                name=self.env["ASBX_CANONICAL_TOPIC"],
                purpose="test input",
                key=KeyKind.SUBJECT_TOKEN,
                partitions=6,
            ),
            TopicSpec(
                name=self.env["ASBX_ALERTS_TOPIC"], purpose="test alerts", key=KeyKind.SUBJECT_TOKEN
            ),
        ]
        await ensure_topics(self.bootstrap, specs)
        await self.service.prepare()
        await publish_canonical(self.bootstrap, events, topic=self.env["ASBX_CANONICAL_TOPIC"])

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "serve", "correlator"],
                env=self.env,
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    async def alerts(self) -> list[AlertEnvelope]:
        return await alerts(self.bootstrap, self.env["ASBX_ALERTS_TOPIC"])


def _differences(published: list[AlertEnvelope], expected: set[str]) -> str:
    extra = Counter(a.data.rule.value for a in published if a.id not in expected)
    missing = len(expected - {a.id for a in published})
    return f"extra by rule: {dict(extra)}; missing: {missing}"


@pytest.fixture
def deployments(kafka_broker: Broker) -> Iterator[list[Deployment]]:
    made: list[Deployment] = []
    yield made
    for deployment in made:
        deployment.stop_all()


async def test_kill_9_at_random_points_loses_and_repeats_nothing(
    kafka_broker: Broker,
    deployments: list[Deployment],
    events: list[CanonicalEvent],
    expected: set[str],
) -> None:
    """Killed with SIGKILL three times mid-stream, restarted each time: every alert exactly once."""
    deployment = Deployment(kafka_broker.bootstrap, "kill")
    deployments.append(deployment)
    await deployment.prepare(events)
    rng = random.Random(9)
    process = deployment.start()
    for _ in range(3):
        await asyncio.sleep(rng.uniform(4, 12))
        process.send_signal(signal.SIGKILL)
        process.wait()
        process = deployment.start()
    await wait_caught_up(deployment.service, timeout=600)
    await _check(deployment, events, expected)


async def _check(deployment: Deployment, events: list[CanonicalEvent], expected: set[str]) -> None:
    """Exactly the replayed alerts, once each; nothing lost on the way; thresholds as reference."""
    published = await deployment.alerts()
    duplicates = [i for i, n in Counter(a.id for a in published).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} alert(s) published more than once"
    grace = timedelta(days=GRACE_DAYS)
    routed = await check_stages_hold_what_was_routed(deployment.service, grace)
    raised = await raised_alert_ids(deployment.service)
    assert {a.id for a in published} == raised, _differences(published, raised)
    assert routed == {e.id for e in events}, "some canonical events were never routed"
    thresholds = {a.id for a in published if a.data.rule is AlertRule.THRESHOLD_MET}
    assert thresholds <= expected
    assert len({a.id for a in published} ^ expected) < len(expected) // 50


async def test_two_instances_split_partitions_and_agree_with_one(
    kafka_broker: Broker,
    deployments: list[Deployment],
    events: list[CanonicalEvent],
    expected: set[str],
) -> None:
    """Two instances of one deployment share the partitions and raise the reference alerts."""
    deployment = Deployment(kafka_broker.bootstrap, "pair")
    deployments.append(deployment)
    await deployment.prepare(events)
    deployment.start()
    deployment.start()
    await wait_caught_up(deployment.service, timeout=600)
    await _check(deployment, events, expected)
    assert all(p.poll() is None for p in deployment.processes), (
        f"an instance died: {deployment.log}"
    )
