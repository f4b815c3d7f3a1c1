"""What every partner message must come to, checked the same way for every normaliser.

A normaliser's outcome for any bytes is Accepted (valid canonical events that carry none of the
partner's plaintext names or contacts), Duplicate (an exact redelivery), or Rejected with a
reason code and a message. ``internal_error`` is the pipeline's last-resort net for a mapper
that raised: reaching it is a bug, so the properties treat it as a failure.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from contracts.envelope import CanonicalEvent
from contracts.vocab import Partner, RejectReason
from services.normalise.outcome import Accepted, Duplicate, InboundRecord, Outcome, Rejected
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.sharing.agreements import load
from tests.partners.privacy import leaks

__all__ = [
    "MAX_BYTES",
    "PARTNERS",
    "bad_examples",
    "check",
    "good_examples",
    "make_normaliser",
    "personal_strings",
    "process",
]

PARTNERS = (Partner.HOUSING, Partner.HEALTH, Partner.POLICE)
#: Small enough that oversized inputs stay cheap to generate.
MAX_BYTES = 64 * 1024
_PARTNERS_DIR = Path(__file__).resolve().parents[2] / "services" / "partners"

#: Partner-format keys whose string values are names, contacts or identifiers of people.
PERSONAL_KEYS = frozenset(
    {
        "given_name", "family_name", "date_of_birth", "phone", "email", "organisation_name",
        "address_lines", "postcode", "person_ref", "police_person_id", "narrative",
        # FHIR
        "family", "given", "birthDate", "line", "postalCode",
    }
)  # fmt: skip
#: FHIR elements whose ``value`` is personal (an identifier or a contact point).
_FHIR_VALUE_PARENTS = frozenset({"identifier", "telecom"})


def make_normaliser(partner: Partner, keys: LocalKeyStore) -> Normaliser:
    """A partner normaliser with an in-memory seen store and the shipped agreements."""
    return Normaliser(
        adapter_for(partner),
        keys=keys,
        agreements=load,
        seen=InMemorySeenStore(),
        max_message_bytes=MAX_BYTES,
    )


def _examples(partner: Partner, pattern: str) -> list[tuple[str, bytes]]:
    folder = _PARTNERS_DIR / partner.value / "examples"
    return [(p.name, p.read_bytes()) for p in sorted(folder.glob(pattern)) if p.is_file()]


@cache
def good_examples(partner: Partner) -> tuple[tuple[str, bytes], ...]:
    """The partner's documented good examples, as (file name, bytes)."""
    return tuple(_examples(partner, "*.*"))


@cache
def bad_examples(partner: Partner) -> tuple[tuple[str, bytes], ...]:
    """The partner's documented bad examples, as (file name, bytes)."""
    return tuple(_examples(partner, "bad/*.*"))


def content_type(name: str) -> dict[str, str]:
    """The header a partner would send with an example file."""
    if name.endswith(".xml"):
        return {"content-type": "application/fhir+xml"}
    return {"content-type": "application/json"}


def personal_strings(node: Any, parent: str | None = None) -> set[str]:
    """Strings under personal keys of a decoded JSON partner message (FHIR or partner format)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "value" and parent in _FHIR_VALUE_PARENTS and isinstance(value, str):
                found.add(value)
            elif key in PERSONAL_KEYS:
                found |= _strings(value)
            else:
                found |= personal_strings(value, key)
    elif isinstance(node, list):
        for item in node:
            found |= personal_strings(item, parent)
    return found


def _strings(node: Any) -> set[str]:
    if isinstance(node, str):
        return {node, node.replace(" ", "")}
    if isinstance(node, list):
        return set().union(*(_strings(item) for item in node)) if node else set()
    return set()


def process(
    normaliser: Normaliser, raw: bytes, headers: Mapping[str, str] | None = None, offset: int = 0
) -> Outcome:
    """Run one record through ``normaliser`` as if read from the partner's inbound topic."""
    record = InboundRecord(
        topic=f"asbx.inbound.{normaliser.partner.value}.v1",
        partition=0,
        offset=offset,
        key=None,
        value=raw,
        headers=dict(headers or {}),
    )
    return normaliser.process(record)


def check(outcome: Outcome, secrets: Collection[str] = ()) -> Outcome:
    """Assert the outcome is canonical, a duplicate, or a reasoned refusal; return it."""
    if isinstance(outcome, Rejected):
        rejection = outcome.rejection
        assert isinstance(rejection.reason, RejectReason)
        assert rejection.reason is not RejectReason.INTERNAL_ERROR, rejection.message
        assert rejection.message.strip()
        assert rejection.errors
        text = rejection.model_dump_json(exclude={"original"})
        meaningful = [s for s in secrets if len(s) >= 6]
        repeated = leaks(text, meaningful)
        assert not repeated, f"refusal repeats input values: {repeated}"
        return outcome
    if isinstance(outcome, Duplicate):
        return outcome
    assert isinstance(outcome, Accepted), type(outcome)
    for event in outcome.events:
        text = event.model_dump_json()
        assert CanonicalEvent.model_validate_json(text) == event
        found = leaks(text, [s for s in secrets if len(s) >= 3])
        assert not found, f"canonical event carries plaintext: {found}"
    return outcome


def decoded(raw: bytes) -> Any:
    """The JSON document in ``raw``, or None if it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None
