"""Mentions (router → person and place stages): the fact and the event's time, packed; the
canonical event's JSON, as earlier versions sent it, is still read."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.correlator.domain.facts import fact_from_event
from services.correlator.domain.mentions import mention_bytes, read_mention
from services.protection.keys import LocalKeyStore
from tests.casework.scenario import scenario_events
from tests.correlator.test_packing import facts, moments
from tests.partners.privacy import personal_values


@settings(max_examples=150, deadline=None)
@given(facts, moments)
def test_a_mention_gives_back_its_fact_and_time(fact, occurred_at) -> None:  # type: ignore[no-untyped-def]
    """Every kind of fact, with any time zone, comes back equal."""
    back_at, back = read_mention(mention_bytes(occurred_at, fact))
    assert back == fact
    assert back_at == occurred_at
    assert back_at.utcoffset() == occurred_at.utcoffset()


def _sealed(event_json: object) -> set[str]:
    """The ciphertexts and wrapped keys of every sealed field in an event's JSON."""
    return personal_values(event_json, {"ciphertext", "wrapped"})


def test_partner_events_mention_their_facts_without_sealed_data(tmp_path: Path) -> None:
    """Real normalised events: the mention states the same fact as the event, reads the same
    as the event's JSON (the form earlier versions sent), and carries none of its sealed
    fields: a fraction of the bytes."""
    keys = LocalKeyStore(tmp_path / "keys")
    events = [e for e in scenario_events(keys) if fact_from_event(e) is not None]
    assert events
    assert all(_sealed(e.model_dump(mode="json")) for e in events)
    for event in events:
        fact = fact_from_event(event)
        assert fact is not None
        raw = mention_bytes(event.occurred_at, fact)
        as_json = event.model_dump_json().encode()
        assert read_mention(raw) == (event.occurred_at, fact)
        assert read_mention(as_json) == (event.occurred_at, fact)
        for sealed in _sealed(event.model_dump(mode="json")):
            assert sealed.encode() not in raw
        assert len(raw) < len(as_json) / 3


@settings(max_examples=300, deadline=None)
@given(facts, moments, st.data())
def test_damaged_mentions_are_read_or_refused_clearly(fact, occurred_at, data) -> None:  # type: ignore[no-untyped-def]
    """A mention cut short, with bytes flipped, or of random bytes after its header either
    reads as some event time and fact or is refused with a ValueError naming the mention (what
    the stage's dead-letter record carries), never another exception."""
    good = mention_bytes(occurred_at, fact)
    cut = data.draw(st.integers(2, len(good)))
    damaged = bytearray(good[:cut])
    for _ in range(data.draw(st.integers(0, 3))):
        if len(damaged) > 2:
            damaged[data.draw(st.integers(2, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    for raw in (bytes(damaged), b"M\x03" + data.draw(st.binary(max_size=80))):
        try:
            back_at, back = read_mention(raw)
        except ValueError as exc:
            refusal = str(exc)
        else:
            assert isinstance(back_at, datetime)
            assert back is not None
            continue
        assert "mention" in refusal


def test_an_unknown_mention_is_refused() -> None:
    """Bytes that are neither form are an error (the engine dead-letters the record)."""
    with pytest.raises(ValueError, match="neither a packed mention nor a canonical event"):
        read_mention(b"\x00garbage")
