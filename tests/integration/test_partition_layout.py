"""A deployment's partition count (``ASBX_PARTITIONS``) on the real broker.

The correlator keeps the state of canonical partition *n* in changelog partition *n*, so its
internal topics must follow the canonical topic as it exists, whatever the settings say; and a
deployment of one partition per topic must raise the same alerts as the declared layout.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest

from contracts.topics import KeyKind, TopicSpec
from contracts.vocab import AlertRule, Partner
from deploy.topics import TopicError, ensure_topics, partition_counts
from services.correlator.app import build_correlator
from services.correlator.settings import CorrelatorSettings
from tests.correlator.builders import Who, incident
from tests.integration.correlation import alerts, publish_canonical, wait_caught_up
from tests.kafka_fixture import Broker, broker_client_config

pytestmark = pytest.mark.kafka


def _letters(number: int) -> str:
    """A name-safe tag: names are normalised to letters."""
    return "".join("ABCDEFGHIJ"[int(d)] for d in str(number))


async def _deployment(bootstrap: str, canonical_partitions: int) -> CorrelatorSettings:
    """Settings of a new correlator deployment whose canonical topic has the given count."""
    run = uuid.uuid4().hex[:8]
    settings = CorrelatorSettings(
        ASBX_CORRELATOR_ID=f"test-layout-{run}",
        ASBX_CANONICAL_TOPIC=f"asbx.test.canonical.layout-{run}",
        ASBX_ALERTS_TOPIC=f"asbx.test.alerts.layout-{run}",
        ASBX_PARTITIONS=6,  # what the settings say; the canonical topic decides
    )
    await ensure_topics(
        bootstrap,
        [
            TopicSpec(
                name=settings.input_topic,
                purpose="test canonical events",
                key=KeyKind.SUBJECT_TOKEN,
                partitions=canonical_partitions,
            ),
            TopicSpec(
                name=settings.alerts_topic,
                purpose="test alerts",
                key=KeyKind.SUBJECT_TOKEN,
                partitions=canonical_partitions,
            ),
        ],
    )
    return settings


async def test_internal_topics_follow_the_canonical_topic(kafka_broker: Broker) -> None:
    """Settings say six, the canonical topic has two: every internal topic gets two."""
    settings = await _deployment(kafka_broker.bootstrap, canonical_partitions=2)
    service = build_correlator(kafka_broker.bootstrap, settings)
    await service.prepare()
    internal = [spec.name for spec in service.topics.specs() if spec.partitions != 1]
    assert len(internal) == 5  # two mention topics, three changelogs
    missing = "asbx.test.no-such-topic"
    counts = await partition_counts(
        kafka_broker.bootstrap, [*internal, missing], broker_client_config()
    )
    assert counts == {**dict.fromkeys(internal, 2), missing: None}


async def test_a_changelog_that_disagrees_with_its_input_is_refused(kafka_broker: Broker) -> None:
    """Left from another layout, a changelog sized unlike its input stops the start, named."""
    settings = await _deployment(kafka_broker.bootstrap, canonical_partitions=2)
    service = build_correlator(kafka_broker.bootstrap, settings)
    stale = TopicSpec(
        name=service.topics.changelog("routes"),
        purpose="a changelog of an earlier layout",
        key=KeyKind.SUBJECT_TOKEN,
        partitions=3,
        cleanup_policy="compact",
    )
    await ensure_topics(kafka_broker.bootstrap, [stale])
    with pytest.raises(TopicError, match=r"routes-changelog.* has 3 partitions but .* has 2"):
        await service.prepare()


async def test_a_mention_topic_sized_unlike_the_canonical_topic_is_refused(
    kafka_broker: Broker,
) -> None:
    """Task n owns partition n of the canonical events and of both mention topics: a mention
    topic left from another layout would split tasks, so it stops the start, named."""
    settings = await _deployment(kafka_broker.bootstrap, canonical_partitions=2)
    service = build_correlator(kafka_broker.bootstrap, settings)
    stale = TopicSpec(
        name=service.topics.place_mentions,
        purpose="mentions of an earlier layout",
        key=KeyKind.SUBJECT_TOKEN,
        partitions=3,
    )
    await ensure_topics(kafka_broker.bootstrap, [stale])
    with pytest.raises(TopicError, match=r"place-mentions.* has 3 partitions but .* has 2"):
        await service.prepare()


async def test_one_partition_deployment_raises_the_threshold_alert(kafka_broker: Broker) -> None:
    """Three complaints in six months through a one-partition deployment: the threshold, once."""
    settings = await _deployment(kafka_broker.bootstrap, canonical_partitions=1)
    tag = _letters(uuid.uuid4().int)[:10]
    victim = Who("Vera", f"Layout{tag}", date(1971, 4, 4), police_id=f"P-LAYOUT-{tag}")
    complaints = [
        incident(f"{tag}-{n}", Partner.POLICE, when, when, victims=[victim])
        for n, when in enumerate(["2026-01-10T20:00", "2026-03-01T20:00", "2026-05-10T20:00"])
    ]
    service = build_correlator(kafka_broker.bootstrap, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await publish_canonical(kafka_broker.bootstrap, complaints, topic=settings.input_topic)
        await wait_caught_up(service)
        found = await alerts(kafka_broker.bootstrap, settings.alerts_topic)
    finally:
        stop.set()
        await task
    assert service.topics.partitions == 1
    met = [a for a in found if a.data.rule is AlertRule.THRESHOLD_MET]
    assert len(met) == 1
    assert {e for i in met[0].data.incidents for e in i.event_ids} == {c.id for c in complaints}


async def test_without_a_canonical_topic_the_setting_sizes_the_internal_topics(
    kafka_broker: Broker,
) -> None:
    """A correlator started before the topics job: its own topics take ``ASBX_PARTITIONS``."""
    run = uuid.uuid4().hex[:8]
    settings = CorrelatorSettings(
        ASBX_CORRELATOR_ID=f"test-layout-{run}",
        ASBX_CANONICAL_TOPIC=f"asbx.test.canonical.absent-{run}",
        ASBX_PARTITIONS=3,
    )
    service = build_correlator(kafka_broker.bootstrap, settings)
    await service.prepare()
    changelogs = [service.topics.changelog(stage) for stage in ("routes", "person", "place")]
    counts = await partition_counts(kafka_broker.bootstrap, changelogs, broker_client_config())
    assert counts == dict.fromkeys(changelogs, 3)
