"""The IG read model: exchanges counted, disclosures found, alert provenance assembled."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.audit import AuditAction, AuditRecord
from services.web.ig.readmodel import (
    Period,
    alert_provenance,
    alert_summaries,
    exchanges,
    period_label,
    sharing_about,
    totals,
)


def rec(n: int, action: AuditAction, at: str, **kw: object) -> AuditRecord:
    return AuditRecord(
        record_id=f"r{n}",
        at=datetime.fromisoformat(at).replace(tzinfo=UTC),
        actor=str(kw.pop("actor", "normaliser:police")),
        action=action,
        **kw,  # type: ignore[arg-type]
    )


TOK_A, TOK_B = "name_dob:" + "A" * 43, "name_dob:" + "B" * 43
PUB, ALERT, DISC = AuditAction.CANONICAL_PUBLISHED, AuditAction.ALERT_RAISED, AuditAction.DISCLOSURE
RECORDS = [
    rec(0, AuditAction.INBOUND_ACCEPTED, "2026-03-31T23:00", partner="police"),
    rec(
        1,
        PUB,
        "2026-03-31T23:00",
        partner="police",
        purpose="asb_case_review",
        event_id="e1",
        subject=TOK_A,
        recipient="police,lead_agency",
        message_sha256="a" * 64,
    ),
    rec(
        2,
        PUB,
        "2026-04-01T08:00",
        partner="housing",
        purpose="asb_case_review",
        event_id="e2",
        subject=TOK_A,
        recipient="housing",
        message_sha256="b" * 64,
    ),
    rec(
        3,
        PUB,
        "2026-04-02T08:00",
        partner="health",
        purpose="safeguarding",
        event_id="e3",
        subject=TOK_B,
    ),
    rec(
        4,
        ALERT,
        "2026-04-03T00:00",
        actor="correlator:x",
        event_id="al-1",
        subject=TOK_A,
        purpose="asb_case_review",
        recipient="police,lead_agency",
        outcome="threshold_met: 2 event(s) contributed",
        related_ids=("e1", "e2"),
    ),
    rec(
        5,
        DISC,
        "2026-04-10T09:00",
        actor="lead.officer",
        subject=TOK_A,
        purpose="asb_case_review",
        recipient="lead_agency",
        justification="panel",
        fields=("narrative",),
        related_ids=("al-1",),
    ),
    rec(
        6,
        DISC,
        "2026-04-11T09:00",
        actor="lead.officer",
        subject=TOK_B,
        purpose="asb_case_review",
        recipient="lead_agency",
    ),
]


def test_period_labels_sort_as_text() -> None:
    """Days, ISO weeks and months label records so that text order is time order."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert period_label(at, Period.DAY) == "2026-01-01"
    assert period_label(at, Period.WEEK) == "2026-W01"
    assert period_label(at, Period.MONTH) == "2026-01"


def test_exchanges_count_per_partner_purpose_action_and_period() -> None:
    """Counts group by month; a disclosure counts against its recipient, an alert against asbx."""
    counts = exchanges(RECORDS, Period.MONTH)
    assert dict(totals(counts, "period")) == {"2026-03": 2, "2026-04": 5}
    assert dict(totals(counts, "partner")) == {
        "police": 2,
        "housing": 1,
        "health": 1,
        "asbx": 1,
        "lead_agency": 2,
    }
    assert dict(totals(counts, "purpose"))["asb_case_review"] == 5
    assert dict(totals(counts, "action"))["disclosure"] == 2


def test_exchanges_keep_to_the_chosen_dates() -> None:
    """Start and end are inclusive days."""
    counts = exchanges(RECORDS, Period.DAY, start=date(2026, 4, 1), end=date(2026, 4, 3))
    assert sum(c.count for c in counts) == 3


def test_sharing_about_a_subject_newest_first() -> None:
    """Publications, alerts and disclosures naming the token are found; others are not."""
    found = sharing_about(RECORDS, TOK_A)
    assert [s.index for s in found] == [5, 4, 2, 1]
    assert [s.kind for s in found] == ["disclosed", "alerted", "shared", "shared"]


def test_alert_provenance_names_events_digests_and_readers() -> None:
    """The alert's contributing events come with their publication records and digests."""
    p = alert_provenance("al-1", RECORDS, [])
    assert p is not None
    assert p.alert.rule == "threshold_met"
    assert p.raised is not None
    assert p.raised.index == 4
    assert [c.event_id for c in p.contributions] == ["e1", "e2"]
    published = [c.published for c in p.contributions]
    assert [s.record.message_sha256 for s in published if s] == ["a" * 64, "b" * 64]
    assert [r.index for r in p.readers] == [5]


def test_unknown_alert_has_no_provenance() -> None:
    """An id that no record or alert names gives nothing."""
    assert alert_provenance("nope", RECORDS, []) is None
    assert [a.alert_id for a in alert_summaries(RECORDS, [])] == ["al-1"]


def test_related_ids_are_left_out_of_old_records_json() -> None:
    """A record without related ids serialises as before, so archived leaf hashes still hold."""
    assert "related_ids" not in RECORDS[0].model_dump_json()
    assert '"related_ids":["e1","e2"]' in RECORDS[4].model_dump_json()
