"""Crypto-shredding: destroying a subject's or a month's retention key ends what it covers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contracts.envelope import CanonicalEvent
from contracts.events import AsbIncidentReported
from contracts.protected import SealedField
from contracts.vocab import Audience
from services.audit.records import sealed_fields
from services.protection.keys import LocalKeyStore
from services.protection.retention import (
    RetentionScope,
    period_of,
    period_scope,
    subject_scope,
)
from services.protection.sealing import FieldSealer, Opener, ShreddedError
from tests.scenario_events import RECORDED_AT, scenario_events

SUBJECT_A = "nhs_number:" + "A" * 43
SUBJECT_B = "nhs_number:" + "B" * 43


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyStore:
    return LocalKeyStore(tmp_path / "keys")


def _seal(keys: LocalKeyStore, event_id: str, subject: str, period: str = "2026-03") -> SealedField:
    scope = RetentionScope(period=period, subject=subject)
    return FieldSealer(keys, event_id, scope).seal(
        "narrative", "narrative", "noise", [Audience.POLICE]
    )


def test_sealed_field_names_its_month_and_subject_keys(keys: LocalKeyStore) -> None:
    """A field is bound to one key of its recording month and one of its subject."""
    field = _seal(keys, "e1", SUBJECT_A)
    assert [kid.rsplit("-v", 1)[0] for kid in field.retention_kids] == [
        period_scope("2026-03"),
        subject_scope(SUBJECT_A),
    ]
    assert SUBJECT_A not in " ".join(field.retention_kids)


def test_shredding_a_subject_ends_only_that_subjects_fields(keys: LocalKeyStore) -> None:
    """After erasure, A's fields raise ShreddedError for every audience; B's still open."""
    a, b = _seal(keys, "e1", SUBJECT_A), _seal(keys, "e2", SUBJECT_B)
    result = keys.retention.shred_subject(SUBJECT_A)
    assert result.destroyed == (a.retention_kids[1],)
    with pytest.raises(ShreddedError):
        Opener(keys, Audience.POLICE).open(a, "e1")
    assert Opener(keys, Audience.POLICE).open(b, "e2") == "noise"


def test_shredding_is_seen_at_once_by_another_service(keys: LocalKeyStore) -> None:
    """A reader that already opened a field cannot open it after another process shreds."""
    field = _seal(keys, "e1", SUBJECT_A)
    reader = LocalKeyStore(keys.directory)
    assert Opener(reader, Audience.POLICE).open(field, "e1") == "noise"
    LocalKeyStore(keys.directory).retention.shred_subject(SUBJECT_A)
    with pytest.raises(ShreddedError):
        Opener(reader, Audience.POLICE).open(field, "e1")


def test_months_before_a_cutoff_are_shredded_and_later_ones_kept(keys: LocalKeyStore) -> None:
    """Ending retention before 2026-03 shreds January and February, not March."""
    jan, feb, mar = (_seal(keys, f"e{m}", SUBJECT_A, f"2026-0{m}") for m in (1, 2, 3))
    results = keys.retention.shred_periods_before("2026-03")
    assert [r.scope for r in results] == [period_scope("2026-01"), period_scope("2026-02")]
    opener = Opener(keys, Audience.POLICE)
    for field, event_id in ((jan, "e1"), (feb, "e2")):
        with pytest.raises(ShreddedError):
            opener.open(field, event_id)
    assert opener.open(mar, "e3") == "noise"


def test_new_data_after_erasure_gets_a_new_key_version(keys: LocalKeyStore) -> None:
    """A report arriving after erasure is sealed under version 2 and stays readable."""
    old = _seal(keys, "e1", SUBJECT_A)
    keys.retention.shred_subject(SUBJECT_A)
    new = _seal(keys, "e2", SUBJECT_A)
    assert new.retention_kids[1].endswith("-v2")
    assert Opener(keys, Audience.POLICE).open(new, "e2") == "noise"
    with pytest.raises(ShreddedError):
        Opener(keys, Audience.POLICE).open(old, "e1")


def test_unknown_period_is_refused() -> None:
    """A retention period must be a calendar month."""
    with pytest.raises(ValueError, match="does not match format"):
        period_scope("last year")


def _subject_of(path: str, event: CanonicalEvent) -> str:
    if path.startswith(("people[", "subject.", "victim.", "perpetrator.")) and (
        path.endswith((".identity", ".contact"))
    ):
        node: object = event.data
        for part in path.rsplit(".", 1)[0].replace("]", "").split("."):
            name, _, index = part.partition("[")
            node = getattr(node, name)
            if index:
                node = node[int(index)]  # type: ignore[index]
        return node.subject  # type: ignore[attr-defined,no-any-return]
    return event.subject


def test_every_scenario_field_is_bound_to_its_month_and_the_right_subject(
    keys: LocalKeyStore,
) -> None:
    """Each person's details follow that person; everything else follows the event subject."""
    events = scenario_events(keys)
    month = period_scope(RECORDED_AT.strftime("%Y-%m"))
    checked = 0
    for event in events:
        for field in sealed_fields(event.data):
            period_kid, subject_kid = field.retention_kids
            assert period_kid.startswith(month)
            assert subject_kid.startswith(subject_scope(_subject_of(field.path, event))), field.path
            checked += 1
    assert checked > 50


def test_erasing_the_victim_leaves_other_subjects_and_all_tokens_intact(
    keys: LocalKeyStore,
) -> None:
    """After erasing Bethany, her fields are unreadable; others open; tokens still join."""
    events = scenario_events(keys)
    incidents = [e for e in events if isinstance(e.data, AsbIncidentReported)]
    victim = incidents[0].subject
    keys.retention.shred_subject(victim)
    opener = Opener(keys, Audience.POLICE)
    shredded = readable = 0
    for event in events:
        for field in sealed_fields(event.data):
            if not opener.can_open(field):
                continue
            if subject_scope(victim) in field.retention_kids[1]:
                with pytest.raises(ShreddedError):
                    opener.open(field, event.id)
                shredded += 1
            else:
                opener.open(field, event.id)
                readable += 1
    assert shredded
    assert readable
    assert sum(1 for e in events if e.subject == victim) == sum(
        1 for e in scenario_events(keys) if e.subject == victim
    )


def test_shredded_keys_leave_no_bytes_in_the_key_file(keys: LocalKeyStore) -> None:
    """secure_delete: the destroyed key's bytes are in neither the database file nor its log."""
    _seal(keys, "e1", SUBJECT_A)
    kid = keys.current_retention_key(subject_scope(SUBJECT_A))
    keys.retention.shred_subject(SUBJECT_A)
    database = keys.directory / "retention" / "retention.sqlite"
    log = database.with_name(database.name + "-wal")
    # Checked while the connection is still open: closing it would checkpoint on its own.
    for path in (database, log):
        assert not path.exists() or kid[1] not in path.read_bytes(), path.name
    keys.retention.close()
    assert kid[1] not in database.read_bytes()


def test_recorded_month_is_utc() -> None:
    """A message recorded just after midnight BST on 1 April belongs to March (UTC)."""
    assert period_of(datetime(2026, 4, 1, 0, 30, tzinfo=ZoneInfo("Europe/London"))) == "2026-03"
    assert period_of(datetime(2026, 4, 1, 1, 30, tzinfo=UTC)) == "2026-04"
