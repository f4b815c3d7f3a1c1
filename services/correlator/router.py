"""Stage 1: re-key canonical events by person and by place.

Canonical events are keyed by the subject token the partner's strongest identifier gave, so one
person's events from police (police id) and housing (housing reference) land on different
partitions. This stage sends each event to every person blocking key and linked location it
names, so that each later stage sees all it needs on one partition. Its state, per partner
record, remembers every key earlier versions went to, so a correction reaches (and replaces) the
old version wherever it went.

Routes are forgotten on the partition's stream time (kept in the changelog like the keyed
stages' clock) once no later stage can hold a version of their record: a touched record is
checked at once, and on a new stream day the records the expiry index says are due are swept.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from weakref import WeakKeyDictionary, WeakSet

from aiokafka import ConsumerRecord

from contracts.envelope import CanonicalEvent
from services.correlator.domain.expiry import FOREVER, retention_cutoff
from services.correlator.domain.facts import fact_from_event
from services.correlator.domain.mentions import mention_bytes
from services.correlator.domain.periods import local_date
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.routing import RecordRoutes
from services.correlator.expiry_index import ExpiryIndex
from services.correlator.keyed import CLOCK_KEY, PackedChangelogKeys, StreamClock
from services.correlator.topics import CorrelatorTopics
from services.streams.engine import Output
from services.streams.store import PartitionStore

__all__ = ["MentionRouter"]

Held = RecordRoutes | StreamClock


class MentionRouter(PackedChangelogKeys):
    """Processor: canonical event → person and place mentions."""

    def __init__(
        self,
        policy: AreaPolicy,
        topics: CorrelatorTopics,
        *,
        expiry_grace: timedelta = timedelta(0),
    ) -> None:
        self._policy = policy
        self._topics = topics
        self._grace = expiry_grace
        self._expiring: WeakKeyDictionary[PartitionStore[Held], ExpiryIndex] = WeakKeyDictionary()
        self._indexed: WeakSet[PartitionStore[Held]] = WeakSet()

    def process(
        self, store: PartitionStore[Held], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        """Every mention of the event, keyed for its stage."""
        event = CanonicalEvent.model_validate_json(record.value or b"")
        fact = fact_from_event(event)
        if fact is None:
            return []
        clock = store.get(CLOCK_KEY)
        clock = clock if isinstance(clock, StreamClock) else StreamClock()
        new_day = clock.advance(event.occurred_at)
        store.put(CLOCK_KEY, clock)
        now = (clock.at or event.occurred_at) - self._grace
        held = store.get(fact.record_key)
        routes = held if isinstance(held, RecordRoutes) else RecordRoutes(fact.record_key)
        people, places = routes.route(fact, self._policy)
        self._save(store, routes, now, held is not None)
        if new_day:
            self._sweep(store, now)
        # The event's id and trace go along (provenance, and the alert's trace); its other
        # CloudEvents headers describe the event's JSON, which the mention no longer is.
        headers = tuple(
            (k, v or b"") for k, v in record.headers if k == "ce_id" or k.startswith("trace")
        )
        value = mention_bytes(event.occurred_at, fact)
        return [
            *(Output(self._topics.person_mentions, k.encode(), value, headers) for k in people),
            *(Output(self._topics.place_mentions, k.encode(), value, headers) for k in places),
        ]

    def _save(
        self, store: PartitionStore[Held], routes: RecordRoutes, now: datetime, held: bool
    ) -> None:
        """Keep the routes, or forget them (a tombstone if they were held) once expired."""
        index = self._index(store)
        if routes.expired(self._policy, now):
            index.discard(routes.record_key)
            if held:
                store.delete(routes.record_key)
            return
        store.put(routes.record_key, routes)
        index.set(routes.record_key, _day(routes))

    def _sweep(self, store: PartitionStore[Held], now: datetime) -> None:
        """Forget the routes whose records no stage can hold any more."""
        cutoff = local_date(retention_cutoff(self._policy, now))
        for key in self._index(store, complete=True).due(cutoff):
            routes = store.get(key)
            if isinstance(routes, RecordRoutes) and routes.expired(self._policy, now):
                store.delete(key)
            elif isinstance(routes, RecordRoutes):
                self._index(store).set(key, _day(routes))

    def _index(self, store: PartitionStore[Held], *, complete: bool = False) -> ExpiryIndex:
        """Records by the day they may be forgotten, rebuilt from state after recovery.

        As in ``keyed.py``, the rebuild (a read of every state) waits for the first sweep, so
        the first record after a restart is not held up by it.
        """
        index = self._expiring.get(store)
        if index is None:
            index = self._expiring[store] = ExpiryIndex()
        if complete and store not in self._indexed:
            written = index.keys()
            for key, value in store.items():
                if key not in written and isinstance(value, RecordRoutes):
                    index.set(key, _day(value))
            self._indexed.add(store)
        return index

    def encode(self, key: str, value: Held) -> bytes:
        """Routes (or the stream time) → changelog bytes (the record key is the key's)."""
        if isinstance(value, StreamClock):
            return json.dumps({"stream_time": value.at.isoformat() if value.at else None}).encode()
        if value.record_key != key:  # the bytes leave the record key out: it must be this
            raise ValueError(f"routes of {value.record_key!r} stored under {key!r}")
        return value.to_bytes()

    def decode(self, key: str, raw: bytes) -> Held:
        """Changelog bytes of ``key`` → routes (or the stream time)."""
        if raw.startswith(b'{"stream_time"'):
            at = json.loads(raw)["stream_time"]
            return StreamClock(datetime.fromisoformat(at) if at else None)
        return RecordRoutes.from_bytes(raw, key)


def _day(routes: RecordRoutes) -> date | None:
    until = routes.relevant_until
    return local_date(until) if until and until != FOREVER else None
