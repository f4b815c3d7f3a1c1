"""Batched normalising without Kafka: runs, pending redelivery entries, poison, log context."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from contracts.vocab import RejectReason
from services.normalise.batch import BatchLimits, BatchNormaliser, Handled, transaction_runs
from services.normalise.emitter import OutcomeEmitter
from services.normalise.outcome import Accepted, Duplicate, Rejected
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore, PendingSeen
from services.protection.keys import LocalKeyStore
from services.sharing.agreements import load
from tests.unit.test_pipeline import TinyAdapter, record

SEEN_TOPIC = "seen"


@pytest.fixture
def store() -> InMemorySeenStore:
    return InMemorySeenStore()


@pytest.fixture
def batches(tmp_path: Path, store: InMemorySeenStore) -> BatchNormaliser:
    pending = PendingSeen(store)
    normaliser = Normaliser(
        TinyAdapter(),
        keys=LocalKeyStore(tmp_path / "keys"),
        agreements=load,
        seen=pending,
        max_message_bytes=1 << 20,
    )
    emitter = OutcomeEmitter("normaliser:police", "canonical", "rejected", "audit", SEEN_TOPIC)
    return BatchNormaliser(normaliser, emitter, pending)


def message(message_id: str, victim: str = "Smith", **extra: object) -> bytes:
    return json.dumps({"id": message_id, "victim": victim, **extra}).encode()


def run_of(batches: BatchNormaliser, *values: bytes, first: int = 0) -> list[Handled]:
    return [batches.handle(record(v, offset)) for offset, v in enumerate(values, start=first)]


def test_runs_respect_the_record_limit() -> None:
    """Seven records with at most three per run make runs of 3, 3 and 1, in order."""
    runs = transaction_runs(list(range(7)), lambda _: 1, BatchLimits(3, 1000))
    assert runs == [[0, 1, 2], [3, 4, 5], [6]]


def test_runs_respect_the_byte_limit_and_an_oversized_record_runs_alone() -> None:
    """Records are grouped up to the byte limit; one larger than the limit is a run of its own."""
    sizes = [400, 400, 400, 5000, 100]
    runs = transaction_runs(sizes, lambda n: n, BatchLimits(100, 1000))
    assert runs == [[400, 400], [400], [5000], [100]]


def test_a_repeat_within_one_batch_is_a_duplicate_as_in_a_later_poll(
    batches: BatchNormaliser, store: InMemorySeenStore
) -> None:
    """The same message twice in one run: accepted once, the copy a duplicate with no events."""
    first, second = run_of(batches, message("M-1"), message("M-1"))
    assert isinstance(first.outcome, Accepted)
    assert isinstance(second.outcome, Duplicate)
    assert second.outcome.event_ids == tuple(e.id for e in first.outcome.events)
    assert not [o for o in second.outputs if o.topic in ("canonical", SEEN_TOPIC)]
    assert store.get(first.outcome.message_key) is None, "not durable before the commit"
    batches.committed([first, second])
    assert store.get(first.outcome.message_key) == first.outcome.seen_entry
    (later,) = run_of(batches, message("M-1"), first=2)
    assert isinstance(later.outcome, Duplicate)
    assert later.outcome.event_ids == second.outcome.event_ids


def test_a_reused_id_within_one_batch_is_refused_as_in_a_later_poll(
    batches: BatchNormaliser,
) -> None:
    """One id with other content later in the same run is refused as a reused message id."""
    first, second = run_of(batches, message("M-2"), message("M-2", victim="Jones"))
    assert isinstance(first.outcome, Accepted)
    assert isinstance(second.outcome, Rejected)
    assert second.outcome.rejection.reason is RejectReason.MESSAGE_ID_REUSED


def test_a_run_not_committed_forgets_its_messages(
    batches: BatchNormaliser, store: InMemorySeenStore
) -> None:
    """After a failed transaction the same records are accepted again, not taken as repeats."""
    failed = run_of(batches, message("M-3"), message("M-4"), message("M-3"))
    batches.not_committed(failed)
    again = run_of(batches, message("M-3"), message("M-4"), message("M-3"))
    assert [type(h.outcome) for h in again] == [Accepted, Accepted, Duplicate]
    assert [e.id for e in again[0].outcome.events] == [  # type: ignore[union-attr]
        e.id
        for e in failed[0].outcome.events  # type: ignore[union-attr]
    ]
    assert len(store) == 0


def test_the_policy_record_is_made_again_when_its_run_fails(batches: BatchNormaliser) -> None:
    """The agreement record rides on a run's first message; a failed run's retry carries it."""
    (first,) = run_of(batches, message("M-5"))
    assert isinstance(first.outcome, Accepted)
    assert first.outcome.policy_changes
    (second,) = run_of(batches, message("M-6"), first=1)
    assert isinstance(second.outcome, Accepted)
    assert not second.outcome.policy_changes
    batches.not_committed([first])
    (again,) = run_of(batches, message("M-5"))
    assert isinstance(again.outcome, Accepted)
    assert [r.record_id for r in again.outcome.policy_changes] == [
        r.record_id for r in first.outcome.policy_changes
    ]


def test_a_poison_record_mid_run_is_rejected_and_its_neighbours_accepted(
    batches: BatchNormaliser,
) -> None:
    """A record the mapping raises on becomes an internal_error rejection; the others go on."""
    handled = run_of(batches, message("M-7"), message("M-8", boom=True), message("M-9"))
    assert [type(h.outcome) for h in handled] == [Accepted, Rejected, Accepted]
    poison = handled[1].outcome
    assert isinstance(poison, Rejected)
    assert poison.rejection.reason is RejectReason.INTERNAL_ERROR
    assert poison.rejection.source_offset == 1
    assert handled[1].outputs[0].topic == "rejected"


def test_each_record_is_reported_with_its_own_log_context_and_trace(
    batches: BatchNormaliser,
) -> None:
    """After the commit, each record's log lines carry its own offset; outputs their own trace."""
    handled = run_of(batches, message("M-10"), message("M-10"), message("M-11"))
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        batches.committed(handled)
    offsets: dict[str, list[int]] = {}
    for line in logs:
        offsets.setdefault(line["event"], []).append(line["offset"])
    assert offsets["canonical.published"] == [0, 2]
    assert offsets["inbound.duplicate"] == [1]
    traces = {h.outcome.traceparent.split("-")[1] for h in handled}
    assert len(traces) == 3, "each record has its own trace"
    for h in handled:
        traced = [dict(o.headers)["traceparent"] for o in h.outputs if o.topic != SEEN_TOPIC]
        assert traced
        assert {t.decode() for t in traced} == {h.outcome.traceparent}
