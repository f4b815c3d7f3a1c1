"""Prometheus metrics every asbx service exposes, and the small wrappers that record them.

Metrics live in the process-wide default registry and carry a ``service`` label, so several
services in one process (the demo, the integration tests) share one ``/metrics`` page without
clashing. Handlers stay small: publishers are wrapped to count what goes out, and a normaliser
records each record's arrival, outcome and commit through :class:`NormaliserMeter`, one
record at a time even though records are committed in batches.
"""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from prometheus_client import Counter, Gauge, Histogram

from services.normalise.outcome import Accepted, Duplicate, Outcome, Rejected
from services.streams.engine import Output, Processor
from services.streams.store import PartitionStore

__all__ = [
    "CONSUMER_LAG",
    "ERRORS",
    "MESSAGES_IN",
    "MESSAGES_OUT",
    "OUTCOMES",
    "PROCESSING_SECONDS",
    "READY",
    "REJECTED",
    "STATE_KEYS",
    "MeteredProcessor",
    "NormaliserMeter",
    "StateKeysMeter",
]

V = TypeVar("V")

MESSAGES_IN = Counter(
    "asbx_messages_in", "Records consumed, per input topic.", ["service", "topic"]
)
MESSAGES_OUT = Counter(
    "asbx_messages_out",
    "Records published and acknowledged, per output topic.",
    ["service", "topic"],
)
OUTCOMES = Counter(
    "asbx_outcomes", "Normalised partner messages by outcome.", ["service", "outcome"]
)
REJECTED = Counter(
    "asbx_rejected", "Partner messages refused, by machine-readable reason.", ["service", "reason"]
)
ERRORS = Counter(
    "asbx_errors",
    "Failures inside a service (publish failures, records sent to a dead letter topic).",
    ["service", "kind"],
)
PROCESSING_SECONDS = Histogram(
    "asbx_processing_seconds",
    "Time from a record's arrival in the handler to its outputs being acknowledged.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CONSUMER_LAG = Gauge(
    "asbx_consumer_lag",
    "End offset minus the group's committed offset, per partition.",
    ["service", "group", "topic", "partition"],
)
STATE_KEYS = Gauge(
    "asbx_state_keys",
    "Keys held in a stream stage's state (expired keys are deleted), per input partition.",
    ["service", "topic", "partition"],
)
READY = Gauge("asbx_ready", "1 once the service is connected and owns its partitions.", ["service"])


class NormaliserMeter:
    """Records what a normaliser handler did with one record."""

    def __init__(self, service: str) -> None:
        self.service = service
        for outcome in ("accepted", "rejected", "duplicate"):
            OUTCOMES.labels(service, outcome)  # exported as 0 before the first message
        READY.labels(service).set(0)

    def received(self, topic: str) -> None:
        """Count one record taken from ``topic``."""
        MESSAGES_IN.labels(self.service, topic).inc()

    def decided(self, outcome: Outcome) -> None:
        """Count what the pipeline made of one record."""
        self._observe(outcome)

    def settled(self, started: float) -> None:
        """One record's outputs were committed; ``started`` is its ``perf_counter`` at arrival."""
        PROCESSING_SECONDS.labels(self.service).observe(time.perf_counter() - started)

    def handler_failed(self) -> None:
        """Count a batch the handler could not finish (its records are read again)."""
        ERRORS.labels(self.service, "handler").inc()

    def published(self, outputs: list[Output]) -> None:
        """Count records committed to their topics (after the transaction succeeded)."""
        for out in outputs:
            MESSAGES_OUT.labels(self.service, out.topic).inc()

    def commit_failed(self) -> None:
        """Count a transaction that did not commit (the record is read again)."""
        ERRORS.labels(self.service, "publish").inc()

    def _observe(self, outcome: Outcome) -> None:
        if isinstance(outcome, Accepted):
            OUTCOMES.labels(self.service, "accepted").inc()
        elif isinstance(outcome, Rejected):
            OUTCOMES.labels(self.service, "rejected").inc()
            REJECTED.labels(self.service, outcome.rejection.reason.value).inc()
        elif isinstance(outcome, Duplicate):
            OUTCOMES.labels(self.service, "duplicate").inc()


class StateKeysMeter:
    """Sets ``asbx_state_keys`` for a stage's partition after each committed batch.

    Once per batch, not per record: after a commit a store's size is a counter it keeps, while
    mid-batch it has to check the batch's changed keys against the file.
    """

    def __init__(self, service: str, topic: str) -> None:
        self._service = service
        self._topic = topic

    def __call__(self, store: PartitionStore[Any], offset: int) -> None:
        """Called by the engine with the partition's store and its new committed offset."""
        STATE_KEYS.labels(self._service, self._topic, str(store.partition)).set(len(store))


class MeteredProcessor(Generic[V]):
    """A stream :class:`Processor` that counts and times each record it processes.

    Outputs are counted when produced inside the stage's transaction (they become visible on
    commit); a record the inner processor raises on is counted as an error (the engine sends it
    to the dead letter topic).
    """

    def __init__(self, inner: Processor[V], service: str) -> None:
        self._inner = inner
        self._service = service
        self._seconds = PROCESSING_SECONDS.labels(service)
        self._errors = ERRORS.labels(service, "dead_letter")

    def process(
        self, store: PartitionStore[V], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        """Delegate to the wrapped processor, recording count, outputs and latency."""
        MESSAGES_IN.labels(self._service, record.topic).inc()
        started = time.perf_counter()
        try:
            outputs = self._inner.process(store, record)
        except Exception:
            self._errors.inc()
            raise
        finally:
            self._seconds.observe(time.perf_counter() - started)
        for out in outputs:
            MESSAGES_OUT.labels(self._service, out.topic).inc()
        return outputs

    def encode(self, key: str, value: V) -> bytes:
        """State value → changelog bytes (unchanged)."""
        return self._inner.encode(key, value)

    def decode(self, key: str, raw: bytes) -> V:
        """Changelog bytes → state value (unchanged)."""
        return self._inner.decode(key, raw)

    def encode_key(self, key: str) -> bytes:
        """State key → changelog key (unchanged)."""
        return self._inner.encode_key(key)

    def decode_key(self, raw: bytes) -> str:
        """Changelog key → state key (unchanged)."""
        return self._inner.decode_key(raw)
