"""The keyed stage forgets on stream time: tombstones, sweeps, redeliveries and recovery."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiokafka import ConsumerRecord

from contracts.envelope import CanonicalEvent
from contracts.vocab import Partner
from services.correlator.domain.facts import fact_from_event
from services.correlator.domain.routing import person_keys
from services.correlator.domain.state import PersonState
from services.correlator.expiry_index import ExpiryIndex
from services.correlator.keyed import KeyedRules, StreamClock
from services.streams.store import PartitionStore
from tests.correlator.builders import POLICY, Who, incident

VIC = Who("Vic", "Tim", date(1960, 6, 6), police_id="P-VIC")
ANN = Who("Ann", "Other", date(1970, 7, 7), police_id="P-ANN")
Store = PartitionStore[PersonState | StreamClock]


def complaint(label: str, who: Who, occurred: str) -> CanonicalEvent:
    """A police complaint by ``who``."""
    return incident(label, Partner.POLICE, occurred, occurred, victims=[who])


def record(event: CanonicalEvent) -> Any:
    """The person-mention record of ``event`` (keyed by its victim's blocking key)."""
    fact = fact_from_event(event)
    assert fact is not None
    key = person_keys(fact)[0].encode()
    value = event.model_dump_json().encode()
    return ConsumerRecord("m", 0, 0, 0, 0, key, value, None, len(key), len(value), [])


def rules() -> KeyedRules[PersonState]:
    """The person stage's processor."""
    return KeyedRules(PersonState, POLICY, "alerts", "test")


def alert_ids(outputs: list[Any]) -> list[bytes]:
    """Keys of the alert records among a processor's outputs."""
    return [o.key for o in outputs if o.topic == "alerts"]


def victim_key(who: Who) -> str:
    """The blocking key of ``who`` as a victim."""
    fact = fact_from_event(complaint("x", who, "2026-01-01T12:00"))
    assert fact is not None
    return person_keys(fact)[0]


def old_threshold() -> list[CanonicalEvent]:
    """Three complaints by VIC in January 2025: a threshold alert."""
    return [complaint(f"v{n}", VIC, f"2025-01-{10 + n}T20:00") for n in range(3)]


def test_quiet_key_is_tombstoned_when_stream_time_passes_its_horizon() -> None:
    """Another key moving stream time a year on deletes VIC's key: a tombstone is written."""
    processor, store = rules(), Store(0)
    processor.process(store, record(complaint("v1", VIC, "2025-01-10T20:00")))
    list(store.take_dirty())
    processor.process(store, record(complaint("a1", ANN, "2026-02-01T12:00")))
    dirty = dict(store.take_dirty())
    assert victim_key(VIC) in dirty
    assert dirty[victim_key(VIC)] is None
    assert store.get(victim_key(VIC)) is None


def test_key_that_raised_alerts_keeps_only_their_anchors() -> None:
    """A quiet key that raised alerts sheds every fact but keeps its last alerts' ids."""
    processor, store = rules(), Store(0)
    for event in old_threshold():
        processor.process(store, record(event))
    processor.process(store, record(complaint("a1", ANN, "2026-02-01T12:00")))
    held = store.get(victim_key(VIC))
    assert isinstance(held, PersonState)
    assert not held.facts
    assert held.raised


def test_old_event_redelivered_after_expiry_raises_nothing_and_stores_nothing() -> None:
    """A re-sent January 2025 complaint a year later neither re-raises nor resurrects the key."""
    processor, store = rules(), Store(0)
    for event in old_threshold():
        processor.process(store, record(event))
    processor.process(store, record(complaint("a1", ANN, "2026-02-01T12:00")))
    for event in old_threshold():
        assert alert_ids(processor.process(store, record(event))) == []
    held = store.get(victim_key(VIC))
    assert isinstance(held, PersonState)
    assert not held.facts


def test_restore_then_continue_gives_the_same_alerts_and_state() -> None:
    """Recovery from the changelog (a fresh processor, its index rebuilt) changes nothing."""
    first = [
        *old_threshold(),
        complaint("a1", ANN, "2025-06-01T12:00"),
        complaint("a2", ANN, "2025-07-01T12:00"),
    ]
    then = [
        complaint("a3", ANN, "2025-11-01T12:00"),
        complaint("v9", VIC, "2025-11-02T12:00"),
        *(complaint(f"w{n}", VIC, f"2026-03-0{n + 1}T12:00") for n in range(3)),
        complaint("a4", ANN, "2027-01-01T12:00"),
    ]
    straight, store = rules(), Store(0)
    expected = [a for e in [*first, *then] for a in alert_ids(straight.process(store, record(e)))]

    before, kept = rules(), Store(0)
    got = [a for e in first for a in alert_ids(before.process(kept, record(e)))]
    restored = Store(0)
    for key, value in kept.take_dirty():
        restored.load(key, None if value is None else before.decode(key, before.encode(key, value)))
    after = rules()
    got += [a for e in then for a in alert_ids(after.process(restored, record(e)))]
    assert got == expected
    assert {k: after.encode(k, v) for k, v in restored.items()} == {
        k: straight.encode(k, v) for k, v in store.items()
    }
    held = restored.get(victim_key(VIC))
    assert isinstance(held, PersonState)
    assert not held.facts  # every fact of VIC forgotten by January 2027


def test_expiry_index_gives_keys_due_before_a_day_once() -> None:
    """Keys filed under earlier days come out in order, once; re-filed keys move."""
    index = ExpiryIndex([("a", date(2026, 1, 1)), ("b", date(2026, 3, 1)), ("c", None)])
    index.set("a", date(2026, 2, 1))
    assert index.due(date(2026, 1, 15)) == []
    assert index.due(date(2026, 3, 2)) == ["a", "b"]
    assert index.due(date(2030, 1, 1)) == []
    assert len(index) == 0
