"""A reproducible synthetic workload for the correlator, and its reference alerts.

Thousands of canonical events over hundreds of victims, perpetrators and places, with late
reports, incidents reported to two agencies, hate incidents, high-risk victims, vulnerability
flags and community protection warnings, published in shuffled order. The reference is the pure
domain run over the same events in publication order (the order each key really receives them
differs: the router interleaves canonical partitions, and alert numbering of a few rules depends
on order), so the exact checks are made against the stages' own state (``stage_state.py``).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta

from contracts.envelope import CanonicalEvent
from contracts.vocab import AsbCategory, InterventionType, Partner, RiskLevel
from services.correlator.domain.facts import fact_from_event
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.routing import person_keys, place_keys
from services.correlator.domain.state import PersonState, PlaceState, evaluate
from tests.correlator.builders import Who, flag, incident, intervention, place

__all__ = ["reference_alert_ids", "workload"]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _name(rng: random.Random, tag: str) -> str:
    return tag + "".join(rng.choice(_LETTERS) for _ in range(8))


def workload(size: int, seed: int, tag: str) -> list[CanonicalEvent]:
    """``size`` canonical events, shuffled; ``tag`` (letters) keeps runs apart."""
    rng = random.Random(seed)
    victims = [
        Who(
            "Vic",
            _name(rng, tag),
            date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
            police_id=f"V-{tag}-{i}",
        )
        for i in range(max(10, size // 20))
    ]
    perpetrators = [
        Who(
            "Per",
            _name(rng, tag),
            date(1970, 1, 1) + timedelta(days=rng.randrange(12000)),
            police_id=f"P-{tag}-{i}",
        )
        for i in range(max(5, size // 150))
    ]
    homes = {v.police_id: place(f"{tag}{rng.randrange(size // 60 + 2)}") for v in victims}
    start = date(2025, 6, 1)
    events: list[CanonicalEvent] = []
    for i, who in enumerate(perpetrators[: len(perpetrators) // 3]):
        issued = start + timedelta(days=rng.randrange(400))
        events.append(
            intervention(
                f"{tag}-cpw-{i}", InterventionType.COMMUNITY_PROTECTION_WARNING, who, issued
            )
        )
    for i, who in enumerate(victims[: len(victims) // 15]):
        events += flag(f"{tag}-flag-{i}", who, start + timedelta(days=rng.randrange(300)))
    n = 0
    while len(events) < size:
        who = rng.choice(victims)
        occurred = datetime(2025, 6, 1) + timedelta(
            days=rng.randrange(480), minutes=rng.randrange(1440)
        )
        late = rng.random() < 0.1
        reported = occurred + timedelta(days=rng.randrange(35, 60) if late else rng.randrange(3))
        agency = rng.choice((Partner.POLICE, Partner.HOUSING))
        kwargs = {
            "victims": [who],
            "perpetrators": [rng.choice(perpetrators)] if rng.random() < 0.3 else [],
            "category": rng.choice(list(AsbCategory)),
            "hate": rng.random() < 0.03,
            "where": homes[who.police_id] if rng.random() < 0.8 else None,
            "risk": RiskLevel.HIGH if rng.random() < 0.05 else None,
        }
        stamp = occurred.isoformat(timespec="minutes")
        events.append(
            incident(
                f"{tag}-inc-{n}", agency, stamp, reported.isoformat(timespec="minutes"), **kwargs
            )
        )
        if rng.random() < 0.1:  # the same incident reported to the other agency too
            other = Partner.HOUSING if agency is Partner.POLICE else Partner.POLICE
            again = (occurred + timedelta(minutes=30)).isoformat(timespec="minutes")
            events.append(
                incident(
                    f"{tag}-dup-{n}",
                    other,
                    again,
                    (reported + timedelta(days=1)).isoformat(timespec="minutes"),
                    **kwargs,
                )
            )
        n += 1
    events = events[:size]
    rng.shuffle(events)
    return events


def reference_alert_ids(events: list[CanonicalEvent], policy: AreaPolicy) -> set[str]:
    """Alert ids the domain raises for ``events``, each key seeing them in publication order."""
    people: dict[str, PersonState] = {}
    places: dict[str, PlaceState] = {}
    raised: set[str] = set()
    per_key: dict[str, list[object]] = defaultdict(list)
    for event in events:
        fact = fact_from_event(event)
        if fact is None:
            continue
        states: list[PersonState | PlaceState] = [
            people.setdefault(k, PersonState(key=k)) for k in person_keys(fact)
        ] + [places.setdefault(k, PlaceState(key=k)) for k in place_keys(fact, policy)]
        for state in states:
            per_key[state.key].append(fact)
            if state.apply(fact):
                drafts = evaluate(policy, state)
                state.mark_raised(drafts)
                raised |= {d.alert_id for d in drafts}
    return raised
