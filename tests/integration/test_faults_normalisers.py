"""Partner normalisers under kill -9 and SIGTERM: nothing lost, nothing repeated downstream.

Each normaliser runs as a real process (``asbx serve <partner>``) against a broker of its own
while a stream of good and bad partner messages flows in. What must come out is computed by the
pure normaliser from the same bytes; the canonical, rejected and audit topics are read
``read_committed``, as every consumer downstream reads them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.vocab import Partner
from tests.integration.faults import (
    ServiceProcess,
    ThrowawayBroker,
    check_normalised_once,
    expect,
    partner_stream,
    publish_partner,
    wait_for_verdicts,
)

pytestmark = pytest.mark.kafka


@pytest.fixture
def normalisers(
    fault_broker: ThrowawayBroker, fault_keys: Path, tmp_path: Path
) -> Iterator[dict[Partner, ServiceProcess]]:
    """One normaliser process per partner (not started yet), stopped after the test."""
    made = {
        p: ServiceProcess.for_broker(p.value, fault_broker.bootstrap, fault_keys, tmp_path)
        for p in Partner
    }
    yield made
    for service in made.values():
        service.close()


async def test_kill_9_mid_stream_loses_and_repeats_nothing(
    fault_broker: ThrowawayBroker, fault_keys: Path, normalisers: dict[Partner, ServiceProcess]
) -> None:
    """Normalisers killed with SIGKILL at random points and restarted: every output exactly once."""
    messages = partner_stream(240, seed=9)
    expected = expect(messages, fault_keys)
    assert expected.good
    assert expected.bad
    for service in normalisers.values():
        service.start()
    flowing = asyncio.create_task(publish_partner(fault_broker.bootstrap, messages, pace=0.08))
    digests = set(expected.outcomes)
    await wait_for_verdicts(fault_broker.bootstrap, digests, timeout=90, at_least=10)
    rng = random.Random(9)
    for _ in range(3):
        await asyncio.sleep(rng.uniform(2, 6))
        for service in rng.sample(list(normalisers.values()), k=2):
            service.kill9()
            service.start()
    await flowing
    await wait_for_verdicts(fault_broker.bootstrap, digests, timeout=150)
    await check_normalised_once(fault_broker.bootstrap, expected)
    assert all(s.running() for s in normalisers.values()), "a normaliser died on its own"


async def test_sigterm_mid_stream_exits_cleanly_and_loses_nothing(
    fault_broker: ThrowawayBroker, fault_keys: Path, normalisers: dict[Partner, ServiceProcess]
) -> None:
    """SIGTERM mid-stream: each normaliser exits 0; restarted, every output appears exactly once."""
    messages = partner_stream(150, seed=15)
    expected = expect(messages, fault_keys)
    for service in normalisers.values():
        service.start()
    flowing = asyncio.create_task(publish_partner(fault_broker.bootstrap, messages, pace=0.08))
    for service in normalisers.values():
        await service.wait_for_log("canonical.published", timeout=90)
    codes = await asyncio.gather(
        *(asyncio.to_thread(s.terminate, 60) for s in normalisers.values())
    )
    assert codes == [0, 0, 0], "a normaliser did not stop cleanly on SIGTERM"
    await asyncio.sleep(2)  # partners keep sending while the normalisers are down
    for service in normalisers.values():
        service.start()
    await flowing
    await wait_for_verdicts(fault_broker.bootstrap, set(expected.outcomes), timeout=150)
    await check_normalised_once(fault_broker.bootstrap, expected)
