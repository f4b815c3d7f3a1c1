"""A synthetic population as partner messages, built from the partners' own example messages.

People live at addresses with UPRNs (one to three per household). Most report one incident;
about 5% are repeat victims with three or four incidents inside six months (so the threshold
rule decides an alert on their third). About 10% of incidents are also reported to the other
agency (housing and police), about 10% are reported late (after the one-month window), and a
few people carry a health safeguarding flag (a FHIR bundle from the GP). Messages are the
partner example documents (``services/partners/*/examples``, the demo scenario) with their
identifiers, names, dates and addresses replaced, so the formats are exactly what partners send.

Each message carries its own W3C ``traceparent``: the correlator copies the trace of the
deciding record onto the alert, which is how the harness matches an alert to the partner message
that decided it.
"""

from __future__ import annotations

import copy
import json
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import nhs_number

from contracts.vocab import Partner
from services.demo.scenario import PARTNERS_DIR

__all__ = ["PartnerMessage", "Person", "population"]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HOUSING_CATEGORIES = ("personal", "nuisance", "environmental")
_POLICE_CLASSES = ("ASB-PERSONAL", "ASB-NUISANCE", "ASB-ENVIRONMENTAL")


def _template(partner: str, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((PARTNERS_DIR / partner / "examples" / name).read_text())
    return doc


_POLICE = _template("police", "05-incident-threats.json")
_HOUSING = _template("housing", "03-asb-case-report.json")
_HEALTH = _template("health", "01-bethany-learning-disability-flag.json")


@dataclass(frozen=True)
class PartnerMessage:
    """One partner message ready to publish to ``asbx.inbound.<partner>.v1``."""

    partner: Partner
    key: bytes
    value: bytes
    trace_id: str
    #: True when the threshold rule is expected to decide on this message (third report).
    deciding: bool = False

    @property
    def traceparent(self) -> str:
        """W3C trace context for the message's header."""
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-01"


@dataclass(frozen=True)
class Person:
    """A member of the synthetic population, with each partner's identifier."""

    index: int
    given: str
    family: str
    born: date
    uprn: str
    police_id: str
    housing_ref: str
    nhs_number: str


def _nhs_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        if check == 11:
            check = 0
        number = "".join(map(str, digits)) + str(check)
        if nhs_number.is_valid(number):  # 10 is never a check digit; some ranges are unissued
            return number


def _word(rng: random.Random, size: int = 7) -> str:
    return rng.choice(_LETTERS) + "".join(rng.choice(_LETTERS).lower() for _ in range(size - 1))


def _people(rng: random.Random, count: int, tag: str) -> list[Person]:
    people: list[Person] = []
    uprn = ""
    for i in range(count):
        if i == 0 or rng.random() < 0.5:
            uprn = str(100_000_000_000 + rng.randrange(899_999_999_999))
        people.append(
            Person(
                index=i,
                given=_word(rng),
                family=_word(rng, 8),
                born=date(1940, 1, 1) + timedelta(days=rng.randrange(25_000)),
                uprn=uprn,
                police_id=f"PP-{tag}-{i}",
                housing_ref=f"HP-{tag}-{i}",
                nhs_number=_nhs_number(rng),
            )
        )
    return people


def _police(
    msg_id: str, ref: str, victim: Person, suspect: Person | None, occurred: datetime, late: bool
) -> dict[str, Any]:
    doc = copy.deepcopy(_POLICE)
    reported = occurred + timedelta(days=40 if late else 0, hours=2)
    doc["message_id"] = msg_id
    doc["sent_at"] = (reported + timedelta(minutes=20)).isoformat()
    doc["event"]["incident_ref"] = ref
    doc["event"]["classification"] = _POLICE_CLASSES[victim.index % 3]
    doc["event"]["occurred_from"] = occurred.isoformat()
    doc["event"]["reported_at"] = reported.isoformat()
    persons = [
        {
            "id": "P1",
            "police_person_id": victim.police_id,
            "given_name": victim.given,
            "family_name": victim.family,
            "date_of_birth": victim.born.isoformat(),
            "role": "victim",
        }
    ]
    if suspect is not None:
        persons.append(
            {
                "id": "P2",
                "police_person_id": suspect.police_id,
                "given_name": suspect.given,
                "family_name": suspect.family,
                "date_of_birth": suspect.born.isoformat(),
                "role": "suspect",
            }
        )
    doc["persons"] = persons
    doc["locations"][0]["uprn"] = victim.uprn
    return doc


def _housing(
    msg_id: str, ref: str, victim: Person, suspect: Person | None, occurred: datetime, late: bool
) -> dict[str, Any]:
    doc = copy.deepcopy(_HOUSING)
    reported = occurred + timedelta(days=40 if late else 1)
    doc["message_id"] = msg_id
    doc["sent_at"] = (reported + timedelta(minutes=35)).isoformat()
    doc["case_ref"] = ref
    doc["report_ref"] = f"{ref}-R01"
    doc["category"] = _HOUSING_CATEGORIES[victim.index % 3]
    doc["occurred_from"] = occurred.isoformat()
    doc["reported_at"] = reported.isoformat()
    doc["location"]["uprn"] = victim.uprn
    doc["victims"] = [
        {
            "person_ref": victim.housing_ref,
            "given_name": victim.given,
            "family_name": victim.family,
            "date_of_birth": victim.born.isoformat(),
        }
    ]
    doc["alleged_perpetrators"] = (
        []
        if suspect is None
        else [
            {
                "given_name": suspect.given,
                "family_name": suspect.family,
                "date_of_birth": suspect.born.isoformat(),
            }
        ]
    )
    doc["witnesses"] = []
    return doc


def _health(msg_id: str, person: Person, start: date) -> dict[str, Any]:
    doc = copy.deepcopy(_HEALTH)
    doc["id"] = msg_id.lower()
    doc["identifier"]["value"] = msg_id
    doc["timestamp"] = datetime.combine(start, datetime.min.time(), UTC).isoformat()
    patient = doc["entry"][0]["resource"]
    patient["id"] = f"pat-{msg_id.lower()}"
    patient["identifier"][0]["value"] = person.nhs_number
    patient["name"][0]["family"] = person.family
    patient["name"][0]["given"] = [person.given]
    patient["birthDate"] = person.born.isoformat()
    patient["address"][0]["extension"][0]["extension"][1]["valueString"] = person.uprn
    for n, entry in enumerate(doc["entry"][1:]):
        entry["resource"]["id"] = f"flag-{msg_id.lower()}-{n}"
        entry["resource"]["period"]["start"] = start.isoformat()
    return doc


def population(
    messages: int,
    *,
    seed: int = 7,
    tag: str = "B",
    repeat_share: float = 0.05,
    multi_agency_share: float = 0.10,
    late_share: float = 0.10,
    health_share: float = 0.04,
    start: datetime = datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
    spread_days: int = 120,
) -> list[PartnerMessage]:
    """About ``messages`` partner messages over a population sized to match, in event order.

    Each person's first incident falls in the ``spread_days`` after ``start``; a long spread makes
    event time advance through the run (the soak spreads them over well past the rules' horizon).
    """
    rng = random.Random(seed)
    people = _people(rng, max(20, int(messages / 1.35)), tag)
    # (event time, message) pairs; sorted by event time at the end, like partners sending live.
    out: list[tuple[datetime, int, PartnerMessage]] = []
    n = 0

    def add(
        when: datetime, partner: Partner, key: str, doc: dict[str, Any], deciding: bool
    ) -> None:
        nonlocal n
        out.append(
            (
                when,
                n,
                PartnerMessage(
                    partner, key.encode(), json.dumps(doc).encode(), secrets.token_hex(16), deciding
                ),
            )
        )
        n += 1

    for person in people:
        if len(out) >= messages:
            break
        repeat = rng.random() < repeat_share
        reports = rng.choice((3, 4)) if repeat else 1
        first = start + timedelta(days=rng.randrange(spread_days), minutes=rng.randrange(1440))
        for r in range(reports):
            occurred = first + timedelta(days=12 * r, minutes=rng.randrange(600))
            late = not repeat and rng.random() < late_share
            suspect = rng.choice(people) if rng.random() < 0.3 else None
            if suspect is person:
                suspect = None
            agencies = [Partner.POLICE if rng.random() < 0.6 else Partner.HOUSING]
            if rng.random() < multi_agency_share:  # one incident, reported to both agencies
                agencies.append(
                    Partner.HOUSING if agencies[0] is Partner.POLICE else Partner.POLICE
                )
            for a, agency in enumerate(agencies):
                msg_id = f"{tag}-{agency.value[:3]}-{n}"
                ref = f"{tag}-{person.index}-{r}-{agency.value[:1]}"
                seen = occurred + timedelta(minutes=30 * a)
                build = _police if agency is Partner.POLICE else _housing
                doc = build(msg_id, ref, person, suspect, seen, late)
                # The third distinct incident of a repeat victim decides the threshold alert.
                add(
                    seen + timedelta(days=40 if late else 1),
                    agency,
                    ref,
                    doc,
                    repeat and r == 2 and a == 0,
                )
        if rng.random() < health_share:
            when = first.date() - timedelta(days=rng.randrange(30))
            msg_id = f"{tag}-GP-{n}"
            add(
                first - timedelta(days=30),
                Partner.HEALTH,
                msg_id,
                _health(msg_id, person, when),
                False,
            )
    out.sort(key=lambda item: (item[0], item[1]))
    return [message for _, _, message in out]
