"""State expiry on the real broker: a key past its horizon is tombstoned in the changelog."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest
from aiokafka.partitioner import DefaultPartitioner

from contracts.envelope import CanonicalEvent
from contracts.topics import KeyKind, TopicSpec
from contracts.vocab import Partner
from deploy.topics import ensure_topics
from services.correlator.app import build_correlator
from services.correlator.domain.facts import fact_from_event
from services.correlator.domain.packing import pack_key
from services.correlator.domain.routing import person_keys
from services.correlator.settings import CorrelatorSettings
from services.kafka.reader import read_all
from tests.correlator.builders import Who, incident
from tests.integration.correlation import publish_canonical, wait_caught_up
from tests.kafka_fixture import Broker, broker_client_config

pytestmark = pytest.mark.kafka

_PARTITIONER = DefaultPartitioner()


def _complaint(label: str, who: Who, occurred: str) -> CanonicalEvent:
    return incident(label, Partner.POLICE, occurred, occurred, victims=[who])


def _key(event: CanonicalEvent) -> str:
    fact = fact_from_event(event)
    assert fact is not None
    return person_keys(fact)[0]


def _letters(number: int) -> str:
    return "".join("ABCDEFGHIJ"[int(d)] for d in str(number))


def _partition(key: str, partitions: int) -> int:
    every = list(range(partitions))
    return int(_PARTITIONER(key.encode(), every, every))


async def test_key_past_its_horizon_is_tombstoned_in_the_changelog(kafka_broker: Broker) -> None:
    """A victim's state, quiet while stream time moves 18 months on, ends as a tombstone."""
    run = _letters(uuid.uuid4().int)[:8]
    correlator_id = f"test-expiry-{run.lower()}"
    canonical = f"asbx.test.canonical.{correlator_id}"
    alerts_topic = f"asbx.test.alerts.{correlator_id}"
    settings = CorrelatorSettings(
        ASBX_CORRELATOR_ID=correlator_id,
        ASBX_CANONICAL_TOPIC=canonical,
        ASBX_ALERTS_TOPIC=alerts_topic,
    )
    await ensure_topics(
        kafka_broker.bootstrap,
        [
            TopicSpec(
                name=canonical,
                purpose="test canonical events",
                key=KeyKind.SUBJECT_TOKEN,
                partitions=settings.partitions,
            ),
            TopicSpec(name=alerts_topic, purpose="test alerts", key=KeyKind.SUBJECT_TOKEN),
        ],
    )
    victim = Who("Vic", f"Tim{run}", date(1960, 6, 6), police_id=f"P-VIC-{run}")
    # One complaint (no alert, so nothing outlives the facts), then nothing for 18 months.
    history = [_complaint(f"{run}-v1", victim, "2026-01-10T20:00")]
    key = _key(history[0])
    partition = _partition(key, settings.partitions)
    # Someone else whose state lives on the same person partition moves its stream time on.
    # (Names are normalised to letters, so the candidates differ by letters.)
    candidates = (Who("Ola", f"Other{run}{_letters(n)}", date(1950, 1, 1)) for n in range(1000))
    ticker = next(
        who
        for who in candidates
        if _partition(_key(_complaint("t", who, "2027-07-01T12:00")), settings.partitions)
        == partition
    )
    service = build_correlator(kafka_broker.bootstrap, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await publish_canonical(kafka_broker.bootstrap, history, topic=canonical)
        await wait_caught_up(service)
        changelog = service.topics.changelog("person")
        held = [
            r
            for r in await read_all(kafka_broker.bootstrap, changelog, broker_client_config())
            if r.key == pack_key(key)
        ]
        assert held
        assert held[-1].value is not None

        later = _complaint(f"{run}-t1", ticker, "2027-07-01T12:00")
        await publish_canonical(kafka_broker.bootstrap, [later], topic=canonical)
        await wait_caught_up(service)
        records = await read_all(kafka_broker.bootstrap, changelog, broker_client_config())
        mine = [r for r in records if r.key == pack_key(key)]
        assert mine[-1].value is None
        # Also under the text form older changelogs used, so no such record outlives it.
        assert [r.value for r in records if r.key == key.encode()] == [None]
    finally:
        stop.set()
        await task
