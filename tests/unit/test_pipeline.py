"""The normalising pipeline's decisions, with a minimal partner adapter and no Kafka."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.events import AsbIncidentReported
from contracts.vocab import AsbCategory, Audience, Partner, PersonRole, RejectReason, TokenKind
from services.normalise.context import MappingContext
from services.normalise.outcome import Accepted, Duplicate, InboundRecord, Rejected
from services.normalise.pipeline import Normaliser
from services.normalise.port import MappingResult, Parsed, Refusal
from services.normalise.seen import InMemorySeenStore
from services.normalise.subjects import Identity, person_ref
from services.protection.keys import LocalKeyStore
from services.protection.sealing import Opener
from services.sharing.agreements import load


class TinyAdapter:
    """A partner whose messages are ``{"id": ..., "victim": ..., "nhs": ...}``."""

    partner = Partner.POLICE

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> Parsed:
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise Refusal(RejectReason.NOT_PARSEABLE, "not JSON") from exc
        if doc.get("boom"):
            raise RuntimeError("a bug in the mapping")
        return Parsed(message_id=doc["id"], source_system="tiny", body=doc)

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        body: dict[str, Any] = parsed.body
        event_id = ctx.event_id("incident")
        sealer = ctx.sealer(event_id)
        victim = person_ref(
            ctx,
            sealer,
            "people[0]",
            PersonRole.VICTIM,
            Identity(given="Ann", family=body["victim"], nhs_number=body.get("nhs")),
        )
        at = datetime(2026, 3, 1, tzinfo=UTC)
        data = AsbIncidentReported(
            incident_ref=ctx.token(TokenKind.INCIDENT_REF, body["id"]),
            reporting_agency=Partner.POLICE,
            category=AsbCategory.PERSONAL,
            classification="ASB-PERSONAL",
            occurred_at=at,
            reported_at=at,
            people=(victim,),
        )
        return MappingResult(
            events=[
                ctx.envelope(event_id=event_id, subject=victim.subject, occurred_at=at, data=data)
            ]
        )


def record(value: bytes, offset: int = 0) -> InboundRecord:
    return InboundRecord("asbx.inbound.police.v1", 0, offset, None, value, {})


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyStore:
    return LocalKeyStore(tmp_path / "keys")


@pytest.fixture
def normaliser(keys: LocalKeyStore) -> Normaliser:
    return Normaliser(
        TinyAdapter(), keys=keys, agreements=load, seen=InMemorySeenStore(), max_message_bytes=4096
    )


async def test_good_message_becomes_protected_event(normaliser: Normaliser) -> None:
    """Names are sealed and NHS numbers tokenised; the envelope names the agreement."""
    outcome = normaliser.process(
        record(b'{"id": "m1", "victim": "Quillfeather", "nhs": "9434765919"}')
    )
    assert isinstance(outcome, Accepted)
    text = outcome.events[0].model_dump_json()
    assert "Quillfeather" not in text
    assert "9434765919" not in text
    assert outcome.events[0].agreement == "isa-asb-police@1"


async def test_same_message_same_event_id(keys: LocalKeyStore) -> None:
    """Event ids are deterministic, so a redelivery past the seen-store is still recognisable."""

    def make() -> Normaliser:
        return Normaliser(
            TinyAdapter(),
            keys=keys,
            agreements=load,
            seen=InMemorySeenStore(),
            max_message_bytes=4096,
        )

    raw = b'{"id": "m1", "victim": "Ash"}'
    first, second = make().process(record(raw)), make().process(record(raw, offset=9))
    assert isinstance(first, Accepted)
    assert isinstance(second, Accepted)
    assert first.events[0].id == second.events[0].id


async def test_exact_redelivery_is_duplicate_and_reuse_is_refused(normaliser: Normaliser) -> None:
    """Same id and bytes: duplicate. Same id, other bytes: refused as message_id_reused."""
    raw = b'{"id": "m2", "victim": "Ash"}'
    first = normaliser.process(record(raw))
    assert isinstance(first, Accepted)
    await normaliser._seen.put(first.message_key, first.seen_entry)
    assert isinstance(normaliser.process(record(raw, 1)), Duplicate)
    reused = normaliser.process(record(b'{"id": "m2", "victim": "Birch"}', 2))
    assert isinstance(reused, Rejected)
    assert reused.rejection.reason is RejectReason.MESSAGE_ID_REUSED


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\xff not json", RejectReason.NOT_PARSEABLE),
        (b'{"id": "m3", "victim": "A", "nhs": "9434765918"}', RejectReason.INVALID_NHS_NUMBER),
        (b'{"id": "m4", "boom": true}', RejectReason.INTERNAL_ERROR),
        (b'{"id": "m5", "victim": "' + b"x" * 5000 + b'"}', RejectReason.PAYLOAD_TOO_LARGE),
    ],
)
async def test_bad_input_becomes_rejection_with_sealed_original(
    normaliser: Normaliser, keys: LocalKeyStore, raw: bytes, reason: RejectReason
) -> None:
    """Every failure is a rejection; the original bytes are kept, readable by the partner only."""
    outcome = normaliser.process(record(raw))
    assert isinstance(outcome, Rejected)
    rejection = outcome.rejection
    assert rejection.reason is reason
    assert rejection.original.audiences == (Audience.POLICE,)
    assert Opener(keys, Audience.POLICE).open_bytes(rejection.original, rejection.reject_id) == raw
    assert "9434765918" not in rejection.model_dump_json()
