"""The trigger rules, table-driven, through the correlator running on the real broker.

The same tables as the domain tests (``tests/correlator``), but every case goes the whole way:
canonical events published to the canonical topic, re-keyed, correlated under transactions, and
alerts read back from the alerts topic. Each case gets people of its own, so cases run side by
side in one correlator deployment per policy. Each history is also sent in reverse, to show the
rules work on when things happened, not on arrival order.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from contracts.alert_envelope import AlertEnvelope
from contracts.envelope import CanonicalEvent
from contracts.vocab import AlertRule, AsbCategory, Partner
from services.correlator.app import CorrelatorService, build_correlator
from services.correlator.domain.periods import local_date
from services.correlator.domain.policy import AreaPolicy, PolicyError
from services.correlator.settings import CorrelatorSettings
from tests.correlator.builders import Who, incident, place
from tests.correlator.test_threshold import CASES, R
from tests.integration.conftest import start_correlator, stop_correlator
from tests.integration.correlation import alerts, publish_canonical, wait_caught_up
from tests.kafka_fixture import Broker

pytestmark = pytest.mark.kafka

RUN = uuid.uuid4().hex[:6]


def _letters(number: int) -> str:
    """A name-safe tag: names are normalised to letters, so digits would not tell people apart."""
    return "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[int(d, 16) % 26] for d in f"{number:x}")


def _events(name: str, rows: list[R], order: str) -> list[CanonicalEvent]:
    """The case's history with people unique to this run, case and order."""
    index = list(CASES).index(name)
    tag = _letters(int(RUN, 16)) + _letters(index + 1) + ("Q" if order == "reversed" else "Z")
    unique = []
    for row in rows:
        victim = row.victim
        victim = dataclasses.replace(
            victim,
            family=f"{victim.family}{tag}" if victim.family else None,
            organisation=f"{victim.organisation}{tag}" if victim.organisation else None,
            police_id=f"{victim.police_id}-{tag}" if victim.police_id else None,
        )
        unique.append(dataclasses.replace(row, victim=victim))
    events = [row.event(n) for n, row in enumerate(unique)]
    return list(reversed(events)) if order == "reversed" else events


def _counted(found: list[AlertEnvelope], events: list[CanonicalEvent]) -> list[list[date]]:
    ids = {e.id for e in events}
    mine = [
        a
        for a in found
        if a.data.rule is AlertRule.THRESHOLD_MET
        and {eid for i in a.data.incidents for eid in i.event_ids} <= ids
    ]
    mine.sort(key=lambda a: a.data.window_start)
    return [[local_date(i.occurred_at) for i in a.data.incidents] for a in mine]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def deployments(
    kafka_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, CorrelatorService]]:
    """One correlator per distinct policy in the tables."""
    policies = {policy.area_id: policy for _, policy, _ in CASES.values()}
    running = {}
    for area, policy in policies.items():
        path = tmp_path_factory.mktemp("policy") / f"{area}.yaml"
        path.write_text(yaml.safe_dump(policy.model_dump(mode="json")))
        running[area] = await start_correlator(kafka_broker.bootstrap, area, path)
    try:
        yield running
    finally:
        for service in running.values():
            await stop_correlator(service)


@pytest.mark.parametrize("order", ["in order", "reversed"])
async def test_threshold_rules_on_the_broker(
    deployments: dict[str, CorrelatorService], order: str
) -> None:
    """Every table case raises exactly its THRESHOLD_MET episodes, in either arrival order."""
    sent: dict[str, list[CanonicalEvent]] = {}
    for name, (rows, policy, _) in CASES.items():
        sent[name] = _events(name, rows, order)
        await publish_canonical(deployments[policy.area_id].bootstrap, sent[name])
    found: dict[str, list[AlertEnvelope]] = {}
    for area, service in deployments.items():
        await wait_caught_up(service)
        found[area] = await alerts(service.bootstrap, service.alerts_topic)
    for name, (_, policy, expected) in CASES.items():
        assert _counted(found[policy.area_id], sent[name]) == expected, name


def test_threshold_above_three_refused_naming_the_field(tmp_path: Path) -> None:
    """A policy with N = 4 stops the correlator at start, with an error naming `threshold`."""
    path = tmp_path / "n4.yaml"
    doc = AreaPolicy(area_id="n4", area_name="N4").model_dump(mode="json")
    path.write_text(yaml.safe_dump({**doc, "threshold": 4}))
    with pytest.raises(PolicyError) as refused:
        build_correlator("127.0.0.1:1", CorrelatorSettings(ASBX_AREA_POLICY=path))
    assert refused.value.field == "threshold"
    assert "threshold" in str(refused.value)


async def test_hate_and_locality_reviews_on_the_broker(
    deployments: dict[str, CorrelatorService],
) -> None:
    """One hate incident suggests a review; five distinct complainants at a place do, four not."""
    service = deployments["test"]
    tag = _letters(int(RUN, 16))
    hate_victim = Who("Hal", f"Hate{tag}", date(1975, 5, 5), police_id=f"H-{tag}")
    busy, quiet = place(f"busy{RUN}"), place(f"quiet{RUN}")
    events = [
        incident(
            f"hate-{RUN}",
            Partner.POLICE,
            "2026-02-01T21:00",
            "2026-02-02T09:00",
            victims=[hate_victim],
            hate=True,
        ),
    ]
    for where, count in ((busy, 5), (quiet, 4)):
        for n in range(count):
            neighbour = Who(
                "Nia",
                f"Near{tag}{_letters(n + 1)}",
                date(1960 + n, 1, 2),
                police_id=f"N-{tag}-{where.uprn}-{n}",
            )
            events.append(
                incident(
                    f"loc-{RUN}-{where.uprn}-{n}",
                    Partner.HOUSING,
                    f"2026-03-{n + 1:02d}T20:00",
                    f"2026-03-{n + 1:02d}T22:00",
                    complainants=[neighbour],
                    where=where,
                    category=AsbCategory.NUISANCE,
                )
            )
    await publish_canonical(service.bootstrap, events)
    await wait_caught_up(service)
    found = await alerts(service.bootstrap, service.alerts_topic)
    hate_ids = {events[0].id}
    hate = [
        a
        for a in found
        if a.data.rule is AlertRule.REVIEW_SUGGESTED
        and {e for i in a.data.incidents for e in i.event_ids} == hate_ids
    ]
    assert len(hate) == 1
    assert "hate" in hate[0].data.reason
    locality = [
        a
        for a in found
        if a.data.rule is AlertRule.REVIEW_SUGGESTED and a.subject in {busy.uprn, quiet.uprn}
    ]
    assert [a.subject for a in locality] == [busy.uprn]
