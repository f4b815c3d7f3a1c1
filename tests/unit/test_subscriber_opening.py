"""What each audience opens of the scenario's events, and what it is told it cannot see."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.events import AsbIncidentReported, VulnerabilityFlagRaised
from contracts.vocab import Audience, Partner, Purpose
from services.protection.keys import LocalKeyStore
from services.subscriber.disclosure import Reader, disclosure_record
from services.subscriber.opening import SHREDDED, WITHHELD, open_fields
from tests.scenario_events import scenario_events


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeyStore:
    return LocalKeyStore(tmp_path_factory.mktemp("keys"))


def test_police_open_contact_and_narrative_but_not_health_flag_detail(
    keys: LocalKeyStore,
) -> None:
    """The police audience reads victim contact and narratives; flag detail stays withheld."""
    events = scenario_events(keys)
    incidents = [e for e in events if isinstance(e.data, AsbIncidentReported)]
    flags = [e for e in events if isinstance(e.data, VulnerabilityFlagRaised)]
    opened = [open_fields(e.data, e.id, Audience.POLICE, keys) for e in incidents]
    assert any("07700 900461" in str(o.values.get("people[0].contact")) for o in opened)
    assert all(isinstance(o.values.get("narrative"), str) for o in opened)
    for flag in flags:
        seen = open_fields(flag.data, flag.id, Audience.POLICE, keys)
        assert seen.withheld
        assert all(seen.shown()[p] == WITHHELD for p in seen.withheld)
        assert "health_detail" not in seen.data_classes


def test_housing_cannot_open_police_only_fields(keys: LocalKeyStore) -> None:
    """Police narrative, contact and risk detail are withheld from housing; the rest opens."""
    events = [e for e in scenario_events(keys) if e.partner is Partner.POLICE]
    for event in events:
        seen = open_fields(event.data, event.id, Audience.HOUSING, keys).shown()
        for path, value in seen.items():
            if path == "narrative" or path.endswith((".contact", "victim_risk_detail")):
                assert value == WITHHELD, path
    assert any(open_fields(e.data, e.id, Audience.HOUSING, keys).values for e in events), (
        "addresses and identities are shared with housing"
    )


def test_shredded_fields_are_named_as_shredded(tmp_path: Path) -> None:
    """After erasure a field shows as shredded, not as withheld or silently missing."""
    keys = LocalKeyStore(tmp_path)
    event = next(e for e in scenario_events(keys) if isinstance(e.data, AsbIncidentReported))
    keys.retention.shred_subject(event.subject)
    seen = open_fields(event.data, event.id, Audience.POLICE, keys)
    assert "narrative" in seen.shredded
    assert seen.shown()["narrative"] == SHREDDED


def test_disclosure_record_names_reader_purpose_fields_and_keys(keys: LocalKeyStore) -> None:
    """The audit record carries who, why, for whom, which fields and data classes, key ids."""
    event = next(e for e in scenario_events(keys) if isinstance(e.data, AsbIncidentReported))
    opened = open_fields(event.data, event.id, Audience.POLICE, keys)
    reader = Reader(
        "pc-1234",
        "millshire-police",
        Audience.POLICE,
        Purpose.ASB_CASE_REVIEW,
        "Preparing case review ASB-2026-0042",
    )
    record = disclosure_record(
        reader,
        opened,
        at=datetime(2026, 4, 3, tzinfo=UTC),
        event_id=event.id,
        event_type=event.type,
        subject=event.subject,
        message_sha256="0" * 64,
        what="incident",
    )
    assert record.actor == "subscriber:millshire-police:pc-1234"
    assert record.recipient == "millshire-police (police)"
    assert record.fields == tuple(sorted(opened.values))
    assert "narrative" in record.data_classes
    assert any(k.startswith("aud-police-v") for k in record.key_ids)
    assert any(k.startswith("subject-") for k in record.key_ids)
    assert "07700" not in record.model_dump_json()


def test_a_reader_must_justify() -> None:
    """Opening data without a real justification is refused before anything is read."""
    with pytest.raises(ValueError, match="justification"):
        Reader("pc-1234", "millshire-police", Audience.POLICE, Purpose.ASB_CASE_REVIEW, "x")
