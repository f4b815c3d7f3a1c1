"""Fault-injection helpers: a broker of its own, services as OS processes, partner streams, checks.

The fault tests kill services and the broker itself, so they run against a throwaway KRaft node
in a temporary directory (the session broker and the services other tests run on it are left
alone). Services run as real processes (``asbx serve ...``) so that ``kill -9`` and ``SIGTERM``
are the real thing. What must come out is computed by the pure normaliser from the same bytes:
event ids are deterministic, so the expected canonical events are known exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from contracts.audit import AuditAction, AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.rejection import RejectedMessage
from contracts.topics import AUDIT, CANONICAL_EVENTS, inbound_topic, rejected_topic
from contracts.vocab import Audience, Partner, TokenKind
from deploy.kafka_client import client_config_from_env
from deploy.local_kafka import LocalKafka, LocalKafkaConfig
from services.audit.records import audit_records
from services.correlator.app import CorrelatorService
from services.correlator.domain.mentions import read_mention
from services.correlator.router import MentionRouter
from services.demo.scenario import PARTNERS_DIR, ScenarioMessage, _message, scenario
from services.kafka.reader import read_all
from services.normalise.outcome import Accepted, InboundRecord, Rejected
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.settings import REPO_ROOT, Settings
from services.sharing.agreements import AgreementFile
from services.streams.store import PartitionStore
from tests.integration.exchange import with_message_id
from tests.integration.stage_state import check_stages_hold_what_was_routed

__all__ = [
    "Expected",
    "ServiceProcess",
    "ThrowawayBroker",
    "check_normalised_once",
    "check_routed_once",
    "expect",
    "partner_stream",
    "prepare_keys",
    "publish_partner",
    "wait_for_verdicts",
]

#: Bad examples that stay bad under a fresh message id (so each run's bytes are unique).
_BAD = {
    Partner.HOUSING: ("bad-postcode.json", "bad-uprn.json"),
    Partner.POLICE: ("bad-postcode.json", "bad-uprn.json"),
    Partner.HEALTH: ("bad-nhs-check-digit.json",),
}
_VERDICTS = {AuditAction.INBOUND_ACCEPTED, AuditAction.INBOUND_REJECTED}


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayBroker:
    """A local KRaft node in a temporary directory, on ports of its own, that tests may kill."""

    def __init__(self, home: Path) -> None:
        port = free_port()
        self.kafka = LocalKafka(LocalKafkaConfig(home=home, port=port, controller_port=free_port()))
        self.bootstrap = self.kafka.config.bootstrap

    @contextlib.contextmanager
    def credentials_in_env(self) -> Iterator[None]:
        """Clients created inside log in to this node (its admin unless they name a principal)."""
        saved = os.environ.get("ASBX_KAFKA_CREDENTIALS")
        os.environ["ASBX_KAFKA_CREDENTIALS"] = str(self.kafka.credentials_file)
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("ASBX_KAFKA_CREDENTIALS", None)
            else:
                os.environ["ASBX_KAFKA_CREDENTIALS"] = saved

    def start(self) -> str:
        """Start (or restart on the same data) and wait until it is ready."""
        return self.kafka.start(timeout=180)

    def kill9(self) -> None:
        """SIGKILL the JVM: no controlled shutdown, no flush."""
        pid = self.kafka.status().pid
        assert pid is not None, "the throwaway broker is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.kafka.status().running and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        """Controlled shutdown (harmless if it is not running)."""
        self.kafka.stop()

    async def warm_up(self) -> None:
        """Create the internal topics (group offsets, transaction state) before any test times.

        A fresh broker creates them on first use, which on a loaded machine takes long enough
        to make a test's first seconds look like a stalled service.
        """
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            transactional_id=f"warm-up-{uuid.uuid4().hex}",
            **client_config_from_env(),
        )
        await producer.start()
        try:
            async with producer.transaction():
                tp = TopicPartition(AUDIT.name, 0)
                await producer.send_offsets_to_transaction({tp: 0}, "asbx-warm-up")
        finally:
            await producer.stop()


@dataclass
class ServiceProcess:
    """``asbx serve <name>`` as an OS process, its log kept in a file."""

    name: str
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: How ``asbx`` is run (an installed copy's script, say) and where.
    command: tuple[str, ...] = (sys.executable, "-m", "services.cli.main")
    cwd: Path = REPO_ROOT

    @classmethod
    def for_broker(
        cls, name: str, bootstrap: str, keys_dir: Path, log_dir: Path, **extra: str
    ) -> ServiceProcess:
        """A service configured for ``bootstrap`` and the test keys."""
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ASBX_KEYS_DIR": str(keys_dir),
            "ASBX_LOG_FORMAT": "json",
            "ASBX_LOG_LEVEL": "INFO",
            **extra,
        }
        return cls(name, env, log_dir)

    @property
    def log_file(self) -> Path:
        """Every start appends to the same file."""
        return self.log_dir / f"{self.name}.log"

    def start(self) -> None:
        """Start the process (the previous one must have exited)."""
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        with self.log_file.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [*self.command, "serve", self.name],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill9(self) -> None:
        """SIGKILL and reap."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM; return the exit status (SIGKILL after ``timeout``, status then negative)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def log_lines_with(self, text: str) -> list[dict[str, object]]:
        """JSON log lines whose event contains ``text``."""
        return [line for line in self.log_lines() if text in str(line.get("event", ""))]

    def log_lines(self) -> list[dict[str, object]]:
        """The JSON log lines written so far (other output skipped)."""
        lines = []
        for text in self.log_file.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(text)
                if isinstance(doc, dict):
                    lines.append(doc)
        return lines

    async def wait_for_log(self, event: str, timeout: float = 60, after_start: bool = True) -> None:
        """Return once a JSON log line whose ``event`` contains ``event`` was written.

        With ``after_start``, only lines of the current start count.
        """
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_file.read_text(errors="replace")
            if after_start:
                text = text.rsplit(f"--- start {self.starts} ---", 1)[-1]
            for line in text.splitlines():
                with contextlib.suppress(ValueError, AttributeError):
                    if event in str(json.loads(line).get("event", "")):
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not log {event!r} in {timeout}s")
            await asyncio.sleep(0.2)

    def close(self) -> None:
        """Make sure nothing is left running."""
        if self.running():
            self.terminate(timeout=20)


def prepare_keys(keys_dir: Path) -> LocalKeyStore:
    """Create every key up front, so processes started together never race to create one."""
    keys = LocalKeyStore(keys_dir)
    for kind in TokenKind:
        keys.token_key(kind)
    for audience in Audience:
        keys.current_audience_key(audience)
    return keys


def _unique(message: ScenarioMessage, tag: str) -> ScenarioMessage:
    return with_message_id(message, f"F-{tag}-{uuid.uuid4().hex[:10]}")


def partner_stream(
    count: int, seed: int, bad_share: float = 0.15, partners: tuple[Partner, ...] = tuple(Partner)
) -> list[ScenarioMessage]:
    """``count`` partner messages with fresh ids, about ``bad_share`` of them bad, shuffled."""
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:6]
    good = [m for m in scenario() if m.partner in partners]
    bad = [
        _message(p, PARTNERS_DIR / p.value / "examples" / "bad" / name)
        for p in partners
        for name in _BAD[p]
    ]
    return [
        _unique(rng.choice(bad if rng.random() < bad_share else good), tag) for _ in range(count)
    ]


@dataclass
class Expected:
    """What each message must become: event ids if accepted, None if rejected."""

    outcomes: dict[str, frozenset[str] | None] = field(default_factory=dict)
    audit_ids: dict[str, frozenset[str]] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)

    @property
    def good(self) -> set[str]:
        """Digests of messages that must be accepted."""
        return {d for d, ids in self.outcomes.items() if ids is not None}

    @property
    def bad(self) -> set[str]:
        """Digests of messages that must be rejected."""
        return {d for d, ids in self.outcomes.items() if ids is None}

    @property
    def event_ids(self) -> set[str]:
        """Every canonical event id that must be published, once."""
        return {i for ids in self.outcomes.values() if ids for i in ids}


def expect(messages: list[ScenarioMessage], keys_dir: Path) -> Expected:
    """Run the pure normaliser over ``messages`` (no Kafka): the exact expected outcomes."""
    settings = Settings(ASBX_KEYS_DIR=keys_dir)
    keys = LocalKeyStore(keys_dir)
    expected = Expected()
    normalisers = {
        p: Normaliser(
            adapter_for(p.value),
            keys=keys,
            agreements=AgreementFile(settings.agreements_file),
            seen=InMemorySeenStore(),
            max_message_bytes=settings.max_message_bytes,
        )
        for p in {m.partner for m in messages}
    }
    for offset, message in enumerate(messages):
        digest = hashlib.sha256(message.value).hexdigest()
        headers = {"content-type": message.content_type}
        record = InboundRecord(
            inbound_topic(message.partner.value), 0, offset, None, message.value, headers
        )
        outcome = normalisers[message.partner].process(record)
        assert isinstance(outcome, Accepted | Rejected), f"{message.label}: {outcome}"
        expected.partners[digest] = message.partner
        if isinstance(outcome, Accepted):
            expected.outcomes[digest] = frozenset(e.id for e in outcome.events)
            actor = f"normaliser:{message.partner.value}"
            records = audit_records(actor, datetime.now(UTC), outcome)
            # The agreement in force is recorded once per process start, not per message.
            expected.audit_ids[digest] = frozenset(
                r.record_id for r in records if r.action is not AuditAction.POLICY_CHANGED
            )
        else:
            expected.outcomes[digest] = None
    return expected


async def publish_partner(
    bootstrap: str, messages: list[ScenarioMessage], pace: float = 0.0, key: bytes | None = None
) -> None:
    """Publish to the partners' inbound topics, ``pace`` seconds apart, as partners would.

    With ``key``, every record carries it, so one partner's messages share a partition.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **client_config_from_env()
    )
    await producer.start()
    try:
        for message in messages:
            await producer.send_and_wait(
                inbound_topic(message.partner.value),
                message.value,
                key=key or message.path.stem.encode(),
                headers=[("content-type", message.content_type.encode())],
            )
            if pace:
                await asyncio.sleep(pace)
    finally:
        await producer.stop()


async def _audit(bootstrap: str, digests: set[str]) -> list[AuditRecord]:
    records = [
        AuditRecord.model_validate_json(r.value) for r in await read_all(bootstrap, AUDIT.name)
    ]
    return [r for r in records if r.message_sha256 in digests]


async def wait_for_verdicts(
    bootstrap: str, digests: set[str], timeout: float, at_least: int | None = None
) -> None:
    """Return once every message (or ``at_least`` of them) has its committed verdict record."""
    deadline = time.monotonic() + timeout
    wanted = len(digests) if at_least is None else at_least
    while True:
        done = {r.message_sha256 for r in await _audit(bootstrap, digests) if r.action in _VERDICTS}
        if len(done) >= wanted:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(digests - done)} of {len(digests)} message(s) have no verdict"
            )
        await asyncio.sleep(1)


def _mentioned(value: bytes | None) -> str:
    """The event id a mention was made from."""
    fact = read_mention(value or b"")[1]
    assert fact is not None, "a mention without a fact"
    return fact.event_id


def _repeated(counts: Counter[str]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n > 1}


async def check_normalised_once(bootstrap: str, expected: Expected) -> list[CanonicalEvent]:
    """Every good message became its events once, every bad one one rejection, audit complete.

    Reads committed records only (``read_committed``), as every consumer downstream does.
    Returns the canonical events made from these messages.
    """
    digests = set(expected.outcomes)
    events = [
        e
        for e in (
            CanonicalEvent.model_validate_json(r.value)
            for r in await read_all(bootstrap, CANONICAL_EVENTS.name)
        )
        if e.partner_message_digest in digests
    ]
    per_id = Counter(e.id for e in events)
    assert not _repeated(per_id), f"canonical events published twice: {_repeated(per_id)}"
    assert set(per_id) == expected.event_ids, (
        f"missing {len(expected.event_ids - set(per_id))}, "
        f"unexpected {len(set(per_id) - expected.event_ids)} canonical event(s)"
    )

    rejections: Counter[str] = Counter()
    for partner in {expected.partners[d] for d in expected.bad}:
        for record in await read_all(bootstrap, rejected_topic(partner.value)):
            rejected = RejectedMessage.model_validate_json(record.value)
            if rejected.original_sha256 in digests:
                rejections[rejected.original_sha256] += 1
    assert not _repeated(rejections), f"messages rejected twice: {_repeated(rejections)}"
    assert set(rejections) == expected.bad, "a good message was rejected or a bad one lost"

    audit = await _audit(bootstrap, digests)
    per_record = Counter(r.record_id for r in audit)
    assert not _repeated(per_record), f"audit records written twice: {len(_repeated(per_record))}"
    verdicts = Counter((r.message_sha256, r.action) for r in audit if r.action in _VERDICTS)
    assert set(verdicts) == {
        (d, AuditAction.INBOUND_ACCEPTED if d in expected.good else AuditAction.INBOUND_REJECTED)
        for d in digests
    }
    duplicates = [r for r in audit if r.action is AuditAction.INBOUND_DUPLICATE]
    assert not duplicates, "a message was treated as a redelivery: its first run left a trace"
    for digest, ids in expected.audit_ids.items():
        found = {r.record_id for r in audit if r.message_sha256 == digest}
        assert found == ids, f"audit trail of {digest[:12]} incomplete or extra"
    return events


async def check_routed_once(service: CorrelatorService) -> None:
    """The routes stage's mentions reached their stages exactly as a replay of its input says.

    The canonical topic is replayed per partition, in offset order, through the router in
    memory (its routing state matters: an event already routed is not routed again). A mention
    for another task's partition must be on its mention topic once; one for the router's own
    partition is handed to its stage inside the task and must not be. Either way the stage's
    state must hold it (``stage_state``).
    """
    router = MentionRouter(service.policy, service.topics)
    stores: dict[int, PartitionStore[Any]] = {}
    partitions = list(range(service.topics.partitions))
    partitioner = DefaultPartitioner()
    wanted: Counter[tuple[str, bytes, str]] = Counter()
    for record in sorted(
        await read_all(service.bootstrap, service.input_topic),
        key=lambda r: (r.partition, r.offset),
    ):
        store = stores.setdefault(record.partition, PartitionStore(record.partition))
        for out in router.process(store, record):
            if partitioner(out.key, partitions, partitions) != record.partition:
                wanted[(out.topic, out.key, _mentioned(out.value))] += 1
    written: Counter[tuple[str, bytes, str]] = Counter()
    for topic in (service.topics.person_mentions, service.topics.place_mentions):
        for record in await read_all(service.bootstrap, topic):
            written[(topic, record.key or b"", _mentioned(record.value))] += 1
    assert not _repeated(Counter({str(k): n for k, n in written.items()})), "mentions repeated"
    assert written == wanted, (
        f"{sum((wanted - written).values())} mention(s) missing, "
        f"{sum((written - wanted).values())} unexpected"
    )
    await check_stages_hold_what_was_routed(service)
