"""Stage 1: re-key canonical events by person and by place.

Canonical events are keyed by the subject token the partner's strongest identifier gave, so one
person's events from police (police id) and housing (housing reference) land on different
partitions. This stage sends each event to every person blocking key and linked location it
names, so that each later stage sees all it needs on one partition. Its state, per partner
record, remembers every key earlier versions went to, so a correction reaches (and replaces) the
old version wherever it went.
"""

from __future__ import annotations

from aiokafka import ConsumerRecord

from contracts.envelope import CanonicalEvent
from services.correlator.domain.facts import fact_from_event
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.routing import RecordRoutes
from services.correlator.topics import CorrelatorTopics
from services.streams.engine import Output
from services.streams.store import PartitionStore

__all__ = ["MentionRouter"]


class MentionRouter:
    """Processor: canonical event → person and place mentions."""

    def __init__(self, policy: AreaPolicy, topics: CorrelatorTopics) -> None:
        self._policy = policy
        self._topics = topics

    def process(
        self, store: PartitionStore[RecordRoutes], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        """Every mention of the event, keyed for its stage."""
        event = CanonicalEvent.model_validate_json(record.value or b"")
        fact = fact_from_event(event)
        if fact is None:
            return []
        routes = store.get(fact.record_key) or RecordRoutes(fact.record_key)
        people, places = routes.route(fact, self._policy)
        store.put(fact.record_key, routes)
        headers = tuple((k, v or b"") for k, v in record.headers if k.startswith(("ce_", "trace")))
        value = record.value or b""
        return [
            *(Output(self._topics.person_mentions, k.encode(), value, headers) for k in people),
            *(Output(self._topics.place_mentions, k.encode(), value, headers) for k in places),
        ]

    def encode(self, value: RecordRoutes) -> bytes:
        """Routes → changelog bytes."""
        return value.to_bytes()

    def decode(self, raw: bytes) -> RecordRoutes:
        """Changelog bytes → routes."""
        return RecordRoutes.from_bytes(raw)
