"""A subject's chronology: every partner's events in time order, opened only as permitted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from contracts.vocab import Audience, Partner, TokenKind
from services.correlator.chronology import WITHHELD, build_chronology, disclosure_record
from services.normalise.outcome import Accepted, InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.protection.tokens import Tokeniser
from services.sharing.agreements import load

EXAMPLES = Path(__file__).resolve().parents[2] / "services" / "partners"


def _events(keys: LocalKeyStore) -> list:
    events = []
    for partner, name, ctype in [
        (Partner.HOUSING, "03-asb-case-report.json", "application/json"),
        (Partner.POLICE, "05-incident-threats.json", "application/json"),
        (Partner.HEALTH, "01-bethany-learning-disability-flag.json", "application/fhir+json"),
    ]:
        normaliser = Normaliser(
            adapter_for(partner),
            keys=keys,
            agreements=load,
            seen=InMemorySeenStore(),
            max_message_bytes=1 << 20,
        )
        raw = (EXAMPLES / partner.value / "examples" / name).read_bytes()
        outcome = normaliser.process(InboundRecord("t", 0, 0, None, raw, {"content-type": ctype}))
        assert isinstance(outcome, Accepted)
        events += outcome.events
    return events


def test_police_reads_contact_and_narrative_but_not_health_detail(tmp_path: Path) -> None:
    """Police open contact and narrative across partners; a health flag's detail is withheld."""
    keys = LocalKeyStore(tmp_path)
    bethany = Tokeniser(keys).token(TokenKind.NAME_DOB, "BETHANY MARSH|1989-04-17")
    entries = build_chronology(_events(keys), bethany, Audience.POLICE, keys)
    assert [e.occurred_at for e in entries] == sorted(e.occurred_at for e in entries)
    assert {e.partner for e in entries} == {"housing", "police", "health"}
    opened = json.dumps([e.opened for e in entries], default=str)
    assert "07700 900461" in opened
    assert "intimidate" in opened
    flag = next(e for e in entries if e.kind == "vulnerability_flag_raised")
    assert flag.opened["detail"] == WITHHELD
    record = disclosure_record(
        entries,
        bethany,
        Audience.POLICE,
        purpose="asb_case_review",
        justification="case review chronology",
        actor="officer-17",
    )
    assert record.recipient == "police"
    assert "detail" not in record.fields
    assert record.at <= datetime.now(UTC)
