"""Police and housing describe the same people and places with tokens that join."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.envelope import CanonicalEvent
from contracts.events import AsbIncidentReported, InterventionIssued
from contracts.vocab import Partner, TokenKind
from services.normalise.context import MappingContext
from services.normalise.port import PartnerAdapter
from services.partners.housing.adapter import HousingAdapter
from services.partners.police.adapter import PoliceAdapter
from services.protection.keys import LocalKeyStore
from services.protection.tokens import Tokeniser
from services.sharing.agreements import load

PARTNERS = Path(__file__).resolve().parents[2] / "services/partners"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeyStore:
    return LocalKeyStore(tmp_path_factory.mktemp("keys"))


def events(adapter: PartnerAdapter, raw: bytes, keys: LocalKeyStore) -> list[CanonicalEvent]:
    parsed = adapter.parse(raw, {})
    ctx = MappingContext(
        partner=adapter.partner,
        source_system=parsed.source_system,
        message_id=parsed.message_id,
        message_digest=hashlib.sha256(raw).hexdigest(),
        recorded_at=datetime(2026, 7, 1, tzinfo=UTC),
        agreement=load().for_partner(adapter.partner),
        tokeniser=Tokeniser(keys),
        keys=keys,
    )
    return list(adapter.to_canonical(parsed, ctx).events)


def example(partner: Partner, name: str, keys: LocalKeyStore) -> list[CanonicalEvent]:
    adapter: PartnerAdapter = HousingAdapter() if partner is Partner.HOUSING else PoliceAdapter()
    return events(adapter, (PARTNERS / partner.value / "examples" / name).read_bytes(), keys)


def name_dob(event: CanonicalEvent, index: int = 0) -> set[str]:
    data = event.data
    assert isinstance(data, AsbIncidentReported)
    return {k.token for k in data.people[index].keys if k.kind is TokenKind.NAME_DOB}


def test_one_incident_reported_twice_shares_victim_and_time(keys: LocalKeyStore) -> None:
    """Police 05 and housing 06: same victim (name and birth date), same occurred time."""
    (police,) = example(Partner.POLICE, "05-incident-threats.json", keys)
    (housing,) = example(Partner.HOUSING, "06-asb-case-report.json", keys)
    assert police.subject != housing.subject  # different agencies' ids ...
    assert name_dob(police) & name_dob(housing)  # ... but the same person
    assert police.occurred_at == housing.occurred_at
    places = [e.data.location for e in (police, housing) if isinstance(e.data, AsbIncidentReported)]
    assert places[0] is not None
    assert places[1] is not None
    assert places[0].uprn == places[1].uprn


def test_perpetrator_ladder_links_across_agencies(keys: LocalKeyStore) -> None:
    """Jordan's housing warning letter and police CPW carry a shared name+birth-date key."""
    letter = example(Partner.HOUSING, "04-asb-action-warning-letters.json", keys)[0].data
    cpw = example(Partner.POLICE, "09-cpw-issued.json", keys)[0].data
    assert isinstance(letter, InterventionIssued)
    assert isinstance(cpw, InterventionIssued)
    assert letter.subject is not None
    assert cpw.subject is not None
    assert {k.token for k in letter.subject.keys} & {k.token for k in cpw.subject.keys}


def test_housing_report_quoting_police_ref_shares_the_incident_key(keys: LocalKeyStore) -> None:
    """A housing report that records the police reference carries the police incident token."""
    (police,) = example(Partner.POLICE, "05-incident-threats.json", keys)
    message = json.loads((PARTNERS / "housing/examples/06-asb-case-report.json").read_text())
    message["police_incident_ref"] = "MSP-INC-2026-006102"
    (housing,) = events(HousingAdapter(), json.dumps(message).encode(), keys)
    assert isinstance(police.data, AsbIncidentReported)
    assert police.data.incident_ref in {k.token for k in housing.correlation_keys}
