"""Normalising partner records in batches, one Kafka transaction per run of a partition's records.

No Kafka here. A transaction costs a few round trips to the transaction coordinator whatever it
holds, so paying one per partner message capped a normaliser at a few dozen messages a second.
The Kafka edge (``services.normalise.app``) now takes what one poll returned, splits each
partition's records into *runs* bounded in records and bytes (:func:`transaction_runs`), and
commits every run's outputs with its last offset in one transaction.

Each record is still decided on its own by the pure pipeline, so a poison record becomes its
own rejection and its neighbours go through. Redelivery detection reads through
:class:`~services.normalise.seen.PendingSeen`: a message id accepted earlier in the same batch
counts as seen (so a second copy is a duplicate, or a reused id, exactly as in a later poll);
once the run commits its entries are remembered for good, and if it fails they are forgotten
and the run is read again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from services.normalise.emitter import OutcomeEmitter
from services.normalise.outcome import Accepted, InboundRecord, Outcome
from services.normalise.pipeline import Normaliser
from services.normalise.seen import PendingSeen
from services.protection.keys import persist_new_keys_off_loop
from services.streams.engine import Output

__all__ = ["BatchLimits", "BatchNormaliser", "Handled", "transaction_runs"]

R = TypeVar("R")


@dataclass(frozen=True)
class BatchLimits:
    """How much one transaction may hold, counted on the partner records it consumes.

    Outputs grow with their input (a rejection seals the whole original), so bounding the input
    bytes keeps a transaction's produce requests well under the broker's request limit; a record
    larger than ``max_bytes`` is committed in a transaction of its own.
    """

    max_records: int = 250
    max_bytes: int = 4 * 1024 * 1024


def transaction_runs(
    records: Sequence[R], size: Callable[[R], int], limits: BatchLimits
) -> list[list[R]]:
    """``records`` (one partition's, in offset order) cut into consecutive runs within limits."""
    runs: list[list[R]] = []
    current: list[R] = []
    used = 0
    for record in records:
        n = size(record)
        if current and (len(current) >= limits.max_records or used + n > limits.max_bytes):
            runs.append(current)
            current, used = [], 0
        current.append(record)
        used += n
    if current:
        runs.append(current)
    return runs


@dataclass
class Handled:
    """One record's outcome and the records it must publish, awaiting its run's commit."""

    record: InboundRecord
    outcome: Outcome
    outputs: list[Output]
    #: The log context bound while it was processed, restored to report it after the commit.
    log_context: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0


class BatchNormaliser:
    """The pure pipeline over the records of a batch, with pending redelivery entries."""

    def __init__(
        self, normaliser: Normaliser, emitter: OutcomeEmitter, pending: PendingSeen
    ) -> None:
        self.normaliser = normaliser
        self.emitter = emitter
        self.pending = pending

    def handle(self, record: InboundRecord) -> Handled:
        """Decide ``record`` and build its outputs; never raises for anything a partner sent."""
        structlog.contextvars.clear_contextvars()
        started = time.perf_counter()
        outcome = self.normaliser.process(record)
        try:
            outputs = self.emitter.outputs(outcome)
        except Exception as exc:  # e.g. an event that cannot be serialised: poison
            outcome = self.normaliser.failed(record, exc)
            outputs = self.emitter.outputs(outcome)
        if isinstance(outcome, Accepted):
            self.pending.hold(outcome.message_key, outcome.seen_entry)
        context = structlog.contextvars.get_contextvars()
        return Handled(record, outcome, outputs, context, started)

    async def persist_keys(self) -> None:
        """Make the retention keys of what was sealed durable: call before committing a run."""
        await persist_new_keys_off_loop(self.normaliser.keys)

    def committed(self, run: Sequence[Handled]) -> None:
        """The run's transaction committed: remember its messages, log what each became."""
        self.pending.settle(_accepted_keys(run))
        for handled in run:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**handled.log_context)
            self.emitter.report(handled.outcome)
        structlog.contextvars.clear_contextvars()

    def not_committed(self, run: Sequence[Handled]) -> None:
        """The run's transaction failed: nothing of it is visible, so forget what it decided."""
        self.pending.drop(_accepted_keys(run))
        if any(isinstance(h.outcome, Accepted) and h.outcome.policy_changes for h in run):
            self.normaliser.not_committed()


def _accepted_keys(run: Sequence[Handled]) -> list[str]:
    return [h.outcome.message_key for h in run if isinstance(h.outcome, Accepted)]
