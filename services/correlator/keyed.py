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

Stream time also decides what is forgotten (``domain/expiry.py``): a touched key drops what no
rule can use any more, and a key holding nothing is deleted (a tombstone in the changelog, in the
same transaction). On a new stream day the keys the expiry index says are due are swept, so a
quiet key goes too without every key being scanned. A fact that is itself already beyond the
cutoff (an old event redelivered after its key forgot it) is dropped at once, never evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary, WeakSet

from aiokafka import ConsumerRecord

from contracts.vocab import InterventionType
from services.correlator.alerting import alert_outputs
from services.correlator.domain.expiry import expire, kept_until, retention_cutoff
from services.correlator.domain.facts import InterventionFact
from services.correlator.domain.mentions import read_mention
from services.correlator.domain.packing import pack_key, unpack_key
from services.correlator.domain.periods import local_date
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.state import PersonState, PlaceState, evaluate
from services.correlator.expiry_index import ExpiryIndex
from services.protection.keys import KeyStore
from services.streams.engine import Output
from services.streams.store import PartitionStore

__all__ = ["CLOCK_KEY", "KeyedRules", "PackedChangelogKeys", "StreamClock"]

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


class PackedChangelogKeys:
    """The changelog key codec of every correlator stage: keys ending in a token packed to 34
    bytes (``packing.pack_key``); the text keys of older changelogs still read."""

    def encode_key(self, key: str) -> bytes:
        """State key → changelog key."""
        return pack_key(key)

    def decode_key(self, raw: bytes) -> str:
        """Changelog key (packed, or text) → state key."""
        return unpack_key(raw)


class KeyedRules(PackedChangelogKeys, Generic[S]):
    """Processor for person or place state."""

    def __init__(
        self,
        state_type: type[S],
        policy: AreaPolicy,
        alerts_topic: str,
        actor: str,
        keys: KeyStore | None = None,
        *,
        expiry_grace: timedelta = timedelta(0),
    ) -> None:
        self._keys = keys
        self._grace = expiry_grace
        self._type: type[S] = state_type
        self._policy = policy
        self._alerts_topic = alerts_topic
        self._actor = actor
        self._waiting: WeakKeyDictionary[PartitionStore[S | StreamClock], set[str]] = (
            WeakKeyDictionary()
        )
        self._expiring: WeakKeyDictionary[PartitionStore[S | StreamClock], ExpiryIndex] = (
            WeakKeyDictionary()
        )
        self._indexed: WeakSet[PartitionStore[S | StreamClock]] = WeakSet()

    def process(
        self, store: PartitionStore[S | StreamClock], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        """Apply the mention, run the rules for its key, and punctuate on a new stream day."""
        key = (record.key or b"").decode()
        occurred_at, fact = read_mention(record.value or b"")
        if fact is None:
            return []
        clock = store.get(CLOCK_KEY)
        clock = clock if isinstance(clock, StreamClock) else StreamClock()
        new_day = clock.advance(occurred_at)
        trace = dict(record.headers).get("traceparent")
        held = store.get(key)
        state = held if isinstance(held, self._type) else self._type(key=key)
        outputs: list[Output] = []
        added = state.apply(fact)
        expired = expire(state, self._policy, (clock.at or occurred_at) - self._grace)
        if added and fact.event_id in state.facts:
            # The key's own facts set its clock: other keys sharing the partition must not make
            # this key's history look late (and arrival interleaving must not change alerts).
            outputs += self._run(store, state, None, trace)
            if isinstance(fact, InterventionFact) and fact.intervention is (
                InterventionType.COMMUNITY_PROTECTION_NOTICE
            ):
                self._watch(store).add(key)
        elif expired and held is not None:
            self._save(store, state)
        if new_day and clock.at:
            outputs += self._punctuate(store, clock.at, key)
        if clock.waiting != self._watch(store):
            clock.waiting = set(self._watch(store))
        store.put(CLOCK_KEY, clock)
        return outputs

    def _punctuate(
        self, store: PartitionStore[S | StreamClock], now: datetime, touched: str
    ) -> list[Output]:
        """A new stream day: sweep the keys due for expiry, then re-check the CPN watch."""
        cutoff = local_date(retention_cutoff(self._policy, now - self._grace))
        for due in self._index(store, complete=True).due(cutoff):
            held = store.get(due)
            if isinstance(held, self._type):
                expire(held, self._policy, now - self._grace)
                self._save(store, held)
        outputs: list[Output] = []
        for waiting in sorted(self._watch(store) - {touched}):
            held = store.get(waiting)
            if isinstance(held, self._type):
                outputs += self._run(store, held, now, None)
        return outputs

    def _save(self, store: PartitionStore[S | StreamClock], state: S) -> None:
        """Write the key, or delete it when nothing is left; keep the in-memory indexes right."""
        if state.facts or state.raised:
            store.put(state.key, state)
            self._index(store).set(state.key, kept_until(state, self._policy))
            if not _holds_notice(state):
                self._watch(store).discard(state.key)
        else:
            store.delete(state.key)
            self._index(store).discard(state.key)
            self._watch(store).discard(state.key)

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
        self._save(store, state)
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
                if isinstance(value, self._type) and _holds_notice(value)
            }
        return self._waiting[store]

    def _index(
        self, store: PartitionStore[S | StreamClock], *, complete: bool = False
    ) -> ExpiryIndex:
        """Keys by the day they may be forgotten, rebuilt from state after recovery.

        Rebuilding reads every state of the partition (a minute or more for a million subjects
        on disk), so it waits for the first sweep (``complete``): the first record after a
        restart is not held up, and keys written before then are filed as they are written.
        """
        index = self._expiring.get(store)
        if index is None:
            index = self._expiring[store] = ExpiryIndex()
        if complete and store not in self._indexed:
            written = set(index.keys())
            for key, value in store.items():
                if key not in written and isinstance(value, self._type):
                    index.set(key, kept_until(value, self._policy))
            self._indexed.add(store)
        return index

    def encode(self, key: str, value: S | StreamClock) -> bytes:
        """State → changelog bytes (a state's own key is left out: the record's key says it)."""
        if isinstance(value, StreamClock):
            clock: dict[str, object] = {"stream_time": value.at.isoformat() if value.at else None}
            if value.waiting is not None:
                clock["waiting"] = sorted(value.waiting)
            return json.dumps(clock).encode()
        if value.key != key:  # the bytes leave the key out: it must be the record's
            raise ValueError(f"{self._type.__name__} of key {value.key!r} stored under {key!r}")
        return value.to_bytes()

    def decode(self, key: str, raw: bytes) -> S | StreamClock:
        """Changelog bytes → state."""
        if raw.startswith(b'{"stream_time"'):
            clock = json.loads(raw)
            at, waiting = clock["stream_time"], clock.get("waiting")
            return StreamClock(
                datetime.fromisoformat(at) if at else None,
                None if waiting is None else set(waiting),
            )
        state: S = self._type.from_bytes(raw, key)
        return state


def _holds_notice(state: PersonState | PlaceState) -> bool:
    return any(
        isinstance(f, InterventionFact)
        and f.intervention is InterventionType.COMMUNITY_PROTECTION_NOTICE
        for f in state.facts.values()
    )
