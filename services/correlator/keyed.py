"""Stages 2 and 3: keyed rule state, by person blocking key and by linked location.

Each mention updates the state of its key; if the state changed, the rules run for that key and
any new alert drafts are published and remembered in the same transaction. Rules work on event
time, so a partition's *stream time* (the newest event time it has seen) stands in for "now": a
condition that needs time to pass without news (a CPN with no CPW after a grace period) is
re-checked when the partition's stream time reaches a new day. Ordinary evaluation uses only the
key's own facts as its clock, so keys sharing a partition never affect each other's results.
Stream time is kept in the changelog like any state, so recovery resumes with the same clock.
So is the list of keys waiting for that re-check: finding them by reading every state of the
partition (as was done before the list was kept) costs minutes when the state is on disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from aiokafka import ConsumerRecord

from contracts.envelope import CanonicalEvent
from contracts.vocab import InterventionType
from services.correlator.alerting import alert_outputs
from services.correlator.domain.facts import InterventionFact, fact_from_event
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.state import PersonState, PlaceState, evaluate
from services.protection.keys import KeyStore
from services.streams.engine import Output
from services.streams.store import PartitionStore

__all__ = ["CLOCK_KEY", "KeyedRules", "StreamClock"]

#: Reserved state key holding the partition's stream time (never a token: tokens have a colon).
CLOCK_KEY = "~stream-time"

S = TypeVar("S", PersonState, PlaceState)


@dataclass
class StreamClock:
    """The newest event time a partition has processed, and the keys waiting for a new day."""

    at: datetime | None = None
    #: Keys holding a CPN (``None``: not recorded yet, found by reading every state once).
    waiting: set[str] | None = None

    def advance(self, moment: datetime) -> bool:
        """Move forward to ``moment``; True if the local day changed (time to punctuate)."""
        moment = moment.astimezone(UTC)
        previous, self.at = self.at, max(self.at, moment) if self.at else moment
        return previous is None or previous.date() != self.at.date()


class KeyedRules(Generic[S]):
    """Processor for person or place state."""

    def __init__(
        self,
        state_type: type[S],
        policy: AreaPolicy,
        alerts_topic: str,
        actor: str,
        keys: KeyStore | None = None,
    ) -> None:
        self._keys = keys
        self._type: type[S] = state_type
        self._policy = policy
        self._alerts_topic = alerts_topic
        self._actor = actor
        self._waiting: WeakKeyDictionary[PartitionStore[S | StreamClock], set[str]] = (
            WeakKeyDictionary()
        )

    def process(
        self, store: PartitionStore[S | StreamClock], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        """Apply the mention, run the rules for its key, and punctuate on a new stream day."""
        key = (record.key or b"").decode()
        event = CanonicalEvent.model_validate_json(record.value or b"")
        fact = fact_from_event(event)
        if fact is None:
            return []
        clock = store.get(CLOCK_KEY)
        clock = clock if isinstance(clock, StreamClock) else StreamClock()
        new_day = clock.advance(event.occurred_at)
        trace = dict(record.headers).get("traceparent")
        state = store.get(key)
        state = state if isinstance(state, self._type) else self._type(key=key)
        outputs: list[Output] = []
        if state.apply(fact):
            # The key's own facts set its clock: other keys sharing the partition must not make
            # this key's history look late (and arrival interleaving must not change alerts).
            outputs += self._run(store, state, None, trace)
            if isinstance(fact, InterventionFact) and fact.intervention is (
                InterventionType.COMMUNITY_PROTECTION_NOTICE
            ):
                self._watch(store).add(key)
        if clock.waiting is None or (key in self._watch(store) and key not in clock.waiting):
            clock.waiting = set(self._watch(store))
        store.put(CLOCK_KEY, clock)
        if new_day:
            for waiting in sorted(self._watch(store) - {key}):
                held = store.get(waiting)
                if isinstance(held, self._type):
                    outputs += self._run(store, held, clock.at, None)
        return outputs

    def _run(
        self,
        store: PartitionStore[S | StreamClock],
        state: S,
        now_hint: datetime | None,
        trace: bytes | None,
    ) -> list[Output]:
        drafts = evaluate(self._policy, state, now_hint=now_hint)
        if drafts:
            state.mark_raised(drafts)
        store.put(state.key, state)
        return alert_outputs(
            drafts,
            self._policy,
            alerts_topic=self._alerts_topic,
            actor=self._actor,
            traceparent=trace,
            keys=self._keys,
        )

    def _watch(self, store: PartitionStore[S | StreamClock]) -> set[str]:
        """Keys holding a CPN: kept with the stream time; found in every state if not yet."""
        if store not in self._waiting:
            clock = store.get(CLOCK_KEY)
            if isinstance(clock, StreamClock) and clock.waiting is not None:
                self._waiting[store] = set(clock.waiting)
                return self._waiting[store]
            self._waiting[store] = {
                key
                for key, value in store.items()
                if isinstance(value, self._type)
                and any(
                    isinstance(f, InterventionFact)
                    and f.intervention is InterventionType.COMMUNITY_PROTECTION_NOTICE
                    for f in value.facts.values()
                )
            }
        return self._waiting[store]

    def encode(self, value: S | StreamClock) -> bytes:
        """State → changelog bytes."""
        if isinstance(value, StreamClock):
            clock: dict[str, object] = {"stream_time": value.at.isoformat() if value.at else None}
            if value.waiting is not None:
                clock["waiting"] = sorted(value.waiting)
            return json.dumps(clock).encode()
        return value.to_bytes()

    def decode(self, raw: bytes) -> S | StreamClock:
        """Changelog bytes → state."""
        if raw.startswith(b'{"stream_time"'):
            clock = json.loads(raw)
            at, waiting = clock["stream_time"], clock.get("waiting")
            return StreamClock(
                datetime.fromisoformat(at) if at else None,
                None if waiting is None else set(waiting),
            )
        state: S = self._type.from_bytes(raw)
        return state
