"""A normaliser commits a batch of partner messages per transaction, keeping every guarantee.

The messages are published before the normaliser starts, on one partition, so its first poll
holds all of them and they are committed as one run. Within that batch: an exact repeat and a
reused message id must be judged as they would be in a later poll, a poison message must be
set aside without holding up its neighbours, and a transaction that fails half-way must leave
nothing visible and have the whole run read again, with nothing lost and nothing repeated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from contracts.audit import AuditAction, AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.rejection import RejectedMessage
from contracts.topics import AUDIT, CANONICAL_EVENTS, rejected_topic
from contracts.vocab import Partner, RejectReason
from services.demo.scenario import ScenarioMessage
from services.kafka.reader import read_all
from services.kafka.transactions import PartitionTransactions
from services.normalise.app import NormaliserService, build_normaliser
from services.normalise.context import MappingContext
from services.normalise.port import MappingResult, Parsed, PartnerAdapter
from services.partners.registry import adapter_for
from services.settings import Settings
from services.streams.engine import Output
from tests.integration.faults import (
    ThrowawayBroker,
    check_normalised_once,
    expect,
    partner_stream,
    publish_partner,
    wait_for_verdicts,
)

pytestmark = pytest.mark.kafka


@dataclass
class PoisonOn:
    """A real partner adapter whose mapping raises on one message id (a stand-in for a bug)."""

    inner: PartnerAdapter
    poison_id: str
    partner: Partner = field(init=False)

    def __post_init__(self) -> None:
        self.partner = self.inner.partner

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> Parsed:
        return self.inner.parse(raw, headers)

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        if parsed.message_id == self.poison_id:
            raise KeyError("mapping table has no entry")
        return self.inner.to_canonical(parsed, ctx)


@dataclass
class CommitSpy:
    """Wraps a normaliser's transactions: notes each commit, and can break the first one.

    A broken commit raises half-way through sending the run's outputs, inside the real
    transaction, so some records reach the broker before it is aborted.
    """

    inner: PartitionTransactions
    fail_first: bool = False
    calls: list[tuple[int, int, bool]] = field(default_factory=list)

    def _breaking(self, outputs: list[Output]) -> Iterator[Output]:
        yield from outputs[: len(outputs) // 2]
        raise ConnectionError("the transaction coordinator went away")

    async def commit(self, tp: TopicPartition, offset: int, outputs: Iterable[Output]) -> None:
        run = list(outputs)
        fail = self.fail_first and not self.calls
        self.calls.append((tp.partition, offset, fail))
        await self.inner.commit(tp, offset, self._breaking(run) if fail else run)

    async def settle(self, tp: TopicPartition) -> None:
        await self.inner.settle(tp)


def _spy(service: NormaliserService, fail_first: bool = False) -> CommitSpy:
    spy = CommitSpy(service.transactions, fail_first)
    service.handler.transactions = spy
    return spy


def _digest(message: ScenarioMessage) -> str:
    return hashlib.sha256(message.value).hexdigest()


def _reused(message: ScenarioMessage) -> ScenarioMessage:
    """Another message under the same message id (one changed field)."""
    doc = json.loads(message.value)
    doc["source_system"] = f"{doc.get('source_system', 'housing')}-resent"
    return ScenarioMessage(
        message.partner, message.path, message.content_type, json.dumps(doc).encode()
    )


@pytest.fixture
async def started() -> AsyncIterator[list[NormaliserService]]:
    """Normalisers a test starts; stopped after it."""
    services: list[NormaliserService] = []
    yield services
    for service in services:
        await service.stop()


async def _audit(bootstrap: str, digests: set[str]) -> list[AuditRecord]:
    records = [
        AuditRecord.model_validate_json(r.value) for r in await read_all(bootstrap, AUDIT.name)
    ]
    return [r for r in records if r.message_sha256 in digests]


async def test_repeats_and_a_poison_message_in_one_batch_are_judged_as_one_by_one(
    fault_broker: ThrowawayBroker, fault_keys: Path, started: list[NormaliserService]
) -> None:
    """One batch: a repeat is a duplicate, a reused id refused, a poison rejected; others once."""
    originals = partner_stream(16, seed=31, bad_share=0.0, partners=(Partner.HOUSING,))
    poison, repeated, reused_from = originals[6], originals[2], originals[4]
    reused = _reused(reused_from)
    batch = [*originals[:9], repeated, reused, *originals[9:]]
    expected = expect([m for m in originals if m is not poison], fault_keys)
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=fault_broker.bootstrap, ASBX_KEYS_DIR=fault_keys)
    poison_id = json.loads(poison.value)["message_id"]
    service = build_normaliser(PoisonOn(adapter_for("housing"), poison_id), settings)
    spy = _spy(service)
    await publish_partner(fault_broker.bootstrap, batch, key=b"one-partition")
    await service.start()
    started.append(service)
    verdicts = {_digest(m) for m in originals} | {_digest(reused)}
    await wait_for_verdicts(fault_broker.bootstrap, verdicts, timeout=60)

    assert len(spy.calls) == 1, f"expected the batch in one transaction, got {spy.calls}"
    digests = {_digest(m) for m in originals}
    events = [
        e
        for e in (
            CanonicalEvent.model_validate_json(r.value)
            for r in await read_all(fault_broker.bootstrap, CANONICAL_EVENTS.name)
        )
        if e.partner_message_digest in digests
    ]
    ids = [e.id for e in events]
    assert sorted(ids) == sorted(expected.event_ids), "events missing, extra or repeated"
    audit = await _audit(fault_broker.bootstrap, verdicts)
    actions = {(r.message_sha256, r.action) for r in audit if r.action is not None}
    per_record = [r.record_id for r in audit]
    assert len(per_record) == len(set(per_record)), "an audit record was written twice"
    assert (_digest(repeated), AuditAction.INBOUND_DUPLICATE) in actions
    assert [r.action for r in audit if r.message_sha256 == _digest(repeated)].count(
        AuditAction.INBOUND_ACCEPTED
    ) == 1
    rejections = {
        r.original_sha256: r
        for r in (
            RejectedMessage.model_validate_json(rec.value)
            for rec in await read_all(fault_broker.bootstrap, rejected_topic("housing"))
        )
        if r.original_sha256 in verdicts
    }
    assert set(rejections) == {_digest(poison), _digest(reused)}
    assert rejections[_digest(poison)].reason is RejectReason.INTERNAL_ERROR
    assert rejections[_digest(reused)].reason is RejectReason.MESSAGE_ID_REUSED


async def test_a_failed_batch_transaction_is_read_again_whole_and_committed_once(
    fault_broker: ThrowawayBroker, fault_keys: Path, started: list[NormaliserService]
) -> None:
    """The batch's transaction aborts half-way: all of it is read again; every output once."""
    messages = partner_stream(14, seed=37, bad_share=0.2, partners=(Partner.HOUSING,))
    expected = expect(messages, fault_keys)
    assert expected.good
    assert expected.bad
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=fault_broker.bootstrap, ASBX_KEYS_DIR=fault_keys)
    service = build_normaliser(adapter_for("housing"), settings)
    spy = _spy(service, fail_first=True)
    await publish_partner(fault_broker.bootstrap, messages, key=b"one-partition")
    await service.start()
    started.append(service)
    await wait_for_verdicts(fault_broker.bootstrap, set(expected.outcomes), timeout=60)

    (failed, *retried) = spy.calls
    assert failed[2], "the first transaction was meant to fail"
    assert retried, "nothing was committed after the failure"
    assert retried[-1][1] == failed[1], "the retry did not cover the failed run"
    # Read committed: the aborted half is invisible, nothing is missing or repeated, and no
    # message was taken for a redelivery of its own aborted first attempt.
    await check_normalised_once(fault_broker.bootstrap, expected)
