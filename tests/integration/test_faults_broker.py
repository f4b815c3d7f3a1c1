"""The broker itself fails: down at start-up, and killed with SIGKILL while a stream flows.

Normalisers and a correlator run as real processes against a broker of their own. A service
started before the broker waits for it with backoff and says so; a broker killed mid-stream and
restarted leaves every canonical event, rejection and audit record once, and every alert once.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.envelope import CanonicalEvent
from contracts.topics import CANONICAL_EVENTS, KeyKind, TopicSpec
from contracts.vocab import AlertRule, Partner
from deploy.topics import ensure_topics
from services.correlator.app import CorrelatorService, build_correlator
from services.correlator.domain.policy import load_policy
from services.correlator.settings import CorrelatorSettings
from services.kafka.reader import read_all
from tests.integration.correlation import alerts, wait_caught_up
from tests.integration.faults import (
    ServiceProcess,
    ThrowawayBroker,
    check_normalised_once,
    check_routed_once,
    expect,
    partner_stream,
    publish_partner,
    wait_for_verdicts,
)
from tests.integration.stage_state import raised_alert_ids
from tests.integration.workload import reference_alert_ids

pytestmark = pytest.mark.kafka


class Services:
    """Three normalisers and a correlator deployment of its own, as OS processes."""

    def __init__(self, broker: ThrowawayBroker, keys_dir: Path, log_dir: Path) -> None:
        run = uuid.uuid4().hex[:8]
        self.alerts_topic = f"asbx.test.alerts.faults.{run}"
        correlator_env = {
            "ASBX_CORRELATOR_ID": f"test-faults-{run}",
            "ASBX_ALERTS_TOPIC": self.alerts_topic,
        }
        self.correlator = ServiceProcess.for_broker(
            "correlator", broker.bootstrap, keys_dir, log_dir, **correlator_env
        )
        self.normalisers = [
            ServiceProcess.for_broker(p.value, broker.bootstrap, keys_dir, log_dir) for p in Partner
        ]
        self.service: CorrelatorService = build_correlator(
            broker.bootstrap,
            CorrelatorSettings(
                ASBX_CORRELATOR_ID=correlator_env["ASBX_CORRELATOR_ID"],
                ASBX_ALERTS_TOPIC=self.alerts_topic,
            ),
            keys_dir,
        )
        self.bootstrap = broker.bootstrap

    @property
    def all(self) -> list[ServiceProcess]:
        """Every process."""
        return [*self.normalisers, self.correlator]

    async def create_alerts_topic(self) -> None:
        """The deployment's own alerts topic (the correlator creates its internal topics)."""
        spec = TopicSpec(name=self.alerts_topic, purpose="test alerts", key=KeyKind.SUBJECT_TOKEN)
        await ensure_topics(self.bootstrap, [spec])

    async def check_alerts_once(self) -> None:
        """Every routed event's alerts published exactly once, as the stages' state says."""
        await wait_caught_up(self.service, timeout=180)
        published = await alerts(self.bootstrap, self.alerts_topic)
        repeated = [i for i, n in Counter(a.id for a in published).items() if n > 1]
        assert not repeated, f"{len(repeated)} alert(s) published more than once"
        await check_routed_once(self.service)
        assert {a.id for a in published} == await raised_alert_ids(self.service)
        canonical = [
            CanonicalEvent.model_validate_json(r.value)
            for r in await read_all(self.bootstrap, CANONICAL_EVENTS.name)
        ]
        reference = reference_alert_ids(canonical, load_policy())
        assert {a.id for a in published if a.data.rule is AlertRule.THRESHOLD_MET} <= reference


@pytest.fixture
def services(fault_broker: ThrowawayBroker, fault_keys: Path, tmp_path: Path) -> Iterator[Services]:
    """The services (not started yet); stopped after the test, and the broker left running."""
    made = Services(fault_broker, fault_keys, tmp_path)
    yield made
    for process in made.all:
        process.close()
    fault_broker.start()


async def test_services_started_before_the_broker_wait_for_it_then_work(
    fault_broker: ThrowawayBroker, fault_keys: Path, services: Services
) -> None:
    """Started while the broker is down, services log backoff retries, then work once it is up."""
    await asyncio.to_thread(fault_broker.stop)
    for process in services.all:
        process.start()
    for process in services.all:
        await process.wait_for_log("waiting for Kafka at", timeout=60)
    await asyncio.sleep(3)
    assert all(p.running() for p in services.all), "a service gave up while the broker was down"
    housing = services.normalisers[0]
    waits = [
        float(m[1])
        for line in housing.log_lines_with("waiting for Kafka at")
        if (m := re.search(r"retry in ([\d.]+)s", str(line["event"])))
    ]
    assert len(waits) >= 3
    assert waits[-1] > waits[0], "retries are not backing off"
    assert all(
        fault_broker.bootstrap in str(line["event"]) for line in housing.log_lines_with("waiting")
    )

    await asyncio.to_thread(fault_broker.start)
    await services.create_alerts_topic()
    messages = partner_stream(30, seed=3)
    expected = expect(messages, fault_keys)
    await publish_partner(fault_broker.bootstrap, messages)
    await wait_for_verdicts(fault_broker.bootstrap, set(expected.outcomes), timeout=120)
    await check_normalised_once(fault_broker.bootstrap, expected)
    await services.check_alerts_once()
    codes = await asyncio.gather(*(asyncio.to_thread(p.terminate, 60) for p in services.all))
    assert codes == [0, 0, 0, 0], "a service did not stop cleanly on SIGTERM"


async def test_broker_killed_mid_stream_and_restarted_loses_and_repeats_nothing(
    fault_broker: ThrowawayBroker, fault_keys: Path, services: Services
) -> None:
    """SIGKILL to the broker mid-stream, restarted: outputs complete, each once; alerts once."""
    await services.create_alerts_topic()
    for process in services.all:
        process.start()
    messages = partner_stream(120, seed=21)
    expected = expect(messages, fault_keys)
    digests = set(expected.outcomes)
    flowing = asyncio.create_task(publish_partner(fault_broker.bootstrap, messages, pace=0.05))
    at = random.Random(21).randint(15, 40)
    await wait_for_verdicts(fault_broker.bootstrap, digests, timeout=120, at_least=at)
    await asyncio.to_thread(fault_broker.kill9)  # mid-stream: partners and services are busy
    await asyncio.sleep(1)
    await asyncio.to_thread(fault_broker.start)
    await flowing
    await wait_for_verdicts(fault_broker.bootstrap, set(expected.outcomes), timeout=150)
    await check_normalised_once(fault_broker.bootstrap, expected)
    await services.check_alerts_once()
    assert all(p.running() for p in services.all), "a service died with the broker"
