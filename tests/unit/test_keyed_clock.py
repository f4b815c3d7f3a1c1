"""The partition clock keeps the keys waiting for a new stream day, so restarts need no scan."""

from __future__ import annotations

from datetime import UTC, datetime

from services.correlator.domain.policy import load_policy
from services.correlator.domain.state import PersonState
from services.correlator.keyed import CLOCK_KEY, KeyedRules, StreamClock
from services.streams.store import PartitionStore


def _rules() -> KeyedRules[PersonState]:
    return KeyedRules(PersonState, load_policy(), "alerts", "test")


def test_clock_round_trips_with_its_waiting_keys() -> None:
    """Stream time and waiting keys come back from the changelog bytes."""
    rules = _rules()
    clock = StreamClock(datetime(2026, 3, 1, tzinfo=UTC), {"b", "a"})
    back = rules.decode(CLOCK_KEY, rules.encode(CLOCK_KEY, clock))
    assert back == clock


def test_clock_written_before_the_list_reads_as_not_recorded() -> None:
    """An older clock record has no list: ``None``, so the keys are found once by a scan."""
    back = _rules().decode(CLOCK_KEY, b'{"stream_time": "2026-03-01T00:00:00+00:00"}')
    assert isinstance(back, StreamClock)
    assert back.waiting is None


def test_recorded_list_is_used_without_reading_every_state() -> None:
    """With the list recorded, finding the waiting keys reads no other state."""
    rules = _rules()
    store: PartitionStore[PersonState | StreamClock] = PartitionStore(0)
    store.put(CLOCK_KEY, StreamClock(datetime(2026, 3, 1, tzinfo=UTC), {"k1"}))

    def no_scan() -> None:
        raise AssertionError("every state was read")

    store.items = no_scan  # type: ignore[method-assign,assignment]
    assert rules._watch(store) == {"k1"}
