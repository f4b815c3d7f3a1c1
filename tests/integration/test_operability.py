"""Health, readiness and Prometheus metrics of a normaliser and the correlator, real broker."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.topics import AUDIT, CANONICAL_EVENTS, inbound_topic, rejected_topic
from contracts.vocab import Partner
from services.normalise.app import build_normaliser, normaliser_group
from services.observability.endpoint import operability
from services.partners.registry import adapter_for
from services.settings import Settings
from tests.integration.conftest import start_correlator, stop_correlator
from tests.integration.exchange import Exchange, example
from tests.kafka_fixture import Broker

pytestmark = pytest.mark.kafka

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def get(port: int, path: str) -> tuple[int, str]:
    """GET a path of the health endpoint without blocking the event loop."""
    return await asyncio.to_thread(_get, port, path)


async def scrape(port: int) -> Samples:
    """Every sample on ``/metrics``, keyed by sample name and labels."""
    status, text = await get(port, "/metrics")
    assert status == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def eventually(check: Callable[[], object], timeout: float = 60) -> None:
    """Wait until the async ``check`` returns a true value."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():  # type: ignore[misc]
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.5)


async def test_normaliser_health_readiness_and_metrics(
    kafka_broker: Broker, keys_dir: Path
) -> None:
    """/readyz turns ready once partitions are assigned; counters follow good and bad messages."""
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap, ASBX_KEYS_DIR=keys_dir)
    service = build_normaliser(adapter_for(Partner.HOUSING), settings)
    name, group = "normaliser-housing", normaliser_group("housing")
    async with operability(
        name,
        port=0,
        bootstrap=kafka_broker.bootstrap,
        groups={group: inbound_topic("housing")},
        ready=service.ready,
        interval=0.5,
    ) as server:
        assert server is not None
        port = server.port
        assert (await get(port, "/livez"))[0] == 200
        assert (await get(port, "/readyz"))[0] == 503
        await service.start()
        try:
            await eventually(lambda: _status_is(port, "/readyz", 200))
            before = await scrape(port)
            fates = await Exchange(kafka_broker.bootstrap).send(
                example(Partner.HOUSING, "03-asb-case-report.json"),
                example(Partner.HOUSING, "bad/bad-uprn.json"),
                example(Partner.HOUSING, "bad/not-json.json"),
            )
            assert all(f.verdict is not None for f in fates)

            async def counted() -> bool:
                after = await scrape(port)

                def delta(metric: str, **labels: str) -> float:
                    return value(after, metric, **labels) - value(before, metric, **labels)

                topic, refused = inbound_topic("housing"), rejected_topic("housing")
                return (
                    delta("asbx_messages_in_total", service=name, topic=topic) == 3
                    and delta("asbx_outcomes_total", service=name, outcome="accepted") == 1
                    and delta("asbx_rejected_total", service=name, reason="invalid_uprn") == 1
                    and delta("asbx_rejected_total", service=name, reason="not_parseable") == 1
                    and delta("asbx_messages_out_total", service=name, topic=refused) == 2
                    and delta("asbx_messages_out_total", service=name, topic=CANONICAL_EVENTS.name)
                    >= 1
                    and delta("asbx_messages_out_total", service=name, topic=AUDIT.name) >= 3
                    and delta("asbx_processing_seconds_count", service=name) == 3
                    and value(after, "asbx_ready", service=name) == 1
                )

            await eventually(counted, timeout=30)

            async def caught_up() -> bool:
                samples = await scrape(port)
                lags = [
                    v
                    for (metric, labels), v in samples.items()
                    if metric == "asbx_consumer_lag" and ("group", group) in labels
                ]
                return len(lags) == 3 and sum(lags) == 0

            await eventually(caught_up, timeout=30)
        finally:
            await service.stop()


async def _status_is(port: int, path: str, status: int) -> bool:
    return (await get(port, path))[0] == status


async def test_correlator_readiness_and_lag(kafka_broker: Broker, keys_dir: Path) -> None:
    """The correlator is ready once every stage owns partitions, and reports lag per stage."""
    service = await start_correlator(kafka_broker.bootstrap, "ops", keys_dir=keys_dir)
    try:
        async with operability(
            "correlator",
            port=0,
            bootstrap=service.bootstrap,
            groups=service.groups,
            ready=service.ready,
            interval=0.5,
        ) as server:
            assert server is not None
            await eventually(lambda: _status_is(server.port, "/readyz", 200))

            async def lag_reported() -> bool:
                samples = await scrape(server.port)
                groups = {
                    dict(labels)["group"]
                    for (metric, labels) in samples
                    if metric == "asbx_consumer_lag"
                }
                return set(service.groups) <= groups

            await eventually(lag_reported, timeout=30)
    finally:
        await stop_correlator(service)
