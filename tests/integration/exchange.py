"""Test helpers for the exchange: partner messages with fresh ids, and reading outcomes back.

Message ids are made unique per test run so that tests are repeatable against a broker that
keeps its data between runs (the normalisers remember every message id they accepted).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from contracts.audit import AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.rejection import RejectedMessage
from contracts.topics import AUDIT, CANONICAL_EVENTS, rejected_topic
from contracts.vocab import Partner
from services.demo.runner import MessageFate, replay
from services.demo.scenario import PARTNERS_DIR, ScenarioMessage, _message
from services.kafka.reader import collect, read_all

__all__ = ["Exchange", "audit_records_by", "canonical_events", "example", "with_message_id"]


def with_message_id(message: ScenarioMessage, new_id: str) -> ScenarioMessage:
    """The same partner message under another message id (JSON or FHIR XML)."""
    text = message.value.decode()
    if message.path.suffix == ".xml":
        text = re.sub(
            r'(<identifier>\s*<system value="[^"]*"/>\s*<value value=")[^"]*(")',
            rf"\g<1>{new_id}\g<2>",
            text,
            count=1,
        )
        return ScenarioMessage(message.partner, message.path, message.content_type, text.encode())
    doc = json.loads(text)
    if "message_id" in doc:
        doc["message_id"] = new_id
    else:
        doc.setdefault("identifier", {})["value"] = new_id
    return ScenarioMessage(
        message.partner, message.path, message.content_type, json.dumps(doc).encode()
    )


async def audit_records_by(bootstrap: str, actor: str) -> list[AuditRecord]:
    """Every audit record ``actor`` wrote (records of other shapes on the topic are skipped)."""
    found = []
    for record in await read_all(bootstrap, AUDIT.name):
        try:
            audit = AuditRecord.model_validate_json(record.value or b"")
        except ValidationError:
            continue
        if audit.actor == actor:
            found.append(audit)
    return found


async def canonical_events(bootstrap: str) -> list[CanonicalEvent]:
    """Every canonical event on the topic (records of other shapes are skipped)."""
    events = []
    for record in await read_all(bootstrap, CANONICAL_EVENTS.name):
        try:
            events.append(CanonicalEvent.model_validate_json(record.value or b""))
        except ValidationError:
            continue
    return events


def example(partner: Partner, name: str, fresh: bool = True) -> ScenarioMessage:
    """A partner example by file name (``bad/...`` for bad ones), with a fresh message id."""
    message = _message(partner, PARTNERS_DIR / partner.value / "examples" / name)
    if not fresh or "bad" in Path(name).parts or message.path.name == "not-json.json":
        return message
    return with_message_id(message, f"T-{uuid.uuid4().hex[:12]}")


@dataclass
class Exchange:
    """The running normalisers, seen from outside: publish, then read the topics back."""

    bootstrap: str

    async def send(self, *messages: ScenarioMessage, timeout: float = 90) -> list[MessageFate]:
        """Publish to the inbound topics and wait until each message has a verdict."""
        console = Console(file=io.StringIO())
        return await replay(self.bootstrap, list(messages), console, timeout=timeout)

    async def canonical(self, digest: str, expected: int) -> list[CanonicalEvent]:
        """Canonical events made from the partner message with this SHA-256."""

        def events(records: list[object]) -> list[CanonicalEvent]:
            found = []
            for record in records:
                event = CanonicalEvent.model_validate_json(record.value)  # type: ignore[attr-defined]
                if event.partner_message_digest == digest:
                    found.append(event)
            return found

        records = await collect(
            self.bootstrap, CANONICAL_EVENTS.name, until=lambda rs: len(events(rs)) >= expected
        )
        return events(records)

    async def canonical_records(self, digest: str, expected: int) -> list[object]:
        """Raw canonical records (key, headers, value) for one partner message."""

        def mine(records: list[object]) -> list[object]:
            return [
                r
                for r in records
                if json.loads(r.value)["partner_message_digest"] == digest  # type: ignore[attr-defined]
            ]

        records = await collect(
            self.bootstrap, CANONICAL_EVENTS.name, until=lambda rs: len(mine(rs)) >= expected
        )
        return mine(records)

    async def rejection(self, partner: Partner, digest: str) -> RejectedMessage:
        """The newest rejection of the partner message with this SHA-256.

        The same bad bytes may have been refused in an earlier run against a broker that keeps
        its data; the send has already waited for this run's verdict, so its rejection is the
        last one on the topic.
        """
        records = await read_all(self.bootstrap, rejected_topic(partner.value))
        found = []
        for record in records:
            try:
                rejected = RejectedMessage.model_validate_json(record.value)
            except ValidationError:
                continue  # something else was written here by hand; not ours to judge
            if rejected.original_sha256 == digest:
                found.append(rejected)
        assert found, f"no rejection of {digest[:12]} on {rejected_topic(partner.value)}"
        return found[-1]
