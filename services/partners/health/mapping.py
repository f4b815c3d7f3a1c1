"""Health facts to canonical events: what is published, what is dropped, and why.

``plan`` is the decision, pure and made while parsing, so that a fact that should be published
but cannot be (a safeguarding flag with no start date) refuses the message with a reason the
partner can act on. ``events.build`` then protects each planned fact.

Flag (code in the vulnerability set): active → ``VulnerabilityFlagRaised``; inactive or
entered-in-error → ``VulnerabilityFlagEnded``. ServiceRequest (a support-service referral
actually made) → ``SupportReferralMade``. Everything else is returned as a ``DroppedFact``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from contracts.rejection import ErrorDetail
from contracts.vocab import RejectReason
from services.normalise.port import DroppedFact, Refusal
from services.partners.health.codes import SNOMED, Concept, flag_concept, referral_concept
from services.partners.health.profile import Entry, HealthMessage, Subject

__all__ = ["LONDON", "Planned", "instant", "plan"]

LONDON = ZoneInfo("Europe/London")
_REFERRAL_STATUSES = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error"}
_REFERRAL_INTENTS = {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
_NOT_RELEVANT = "not safeguarding-relevant under the agreement's purpose"

Kind = Literal["flag_raised", "flag_ended", "referral"]


@dataclass(frozen=True)
class Planned:
    """A fact that will become one canonical event."""

    kind: Kind
    fact_key: str
    ref_key: str
    subject: Subject
    occurred_at: datetime
    concept: Concept
    status: str
    detail: dict[str, Any]


def instant(value: Any) -> datetime | None:
    """An aware datetime; a full date is midnight in Europe/London; partial dates give None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=LONDON)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=LONDON)
    return None


def _required(value: Any, location: str, what: str) -> datetime:
    found = instant(value)
    if found is None or not 1900 <= found.year <= 2100:
        problem = f"{what} is required, as a full date or date-time between 1900 and 2100"
        raise Refusal(
            RejectReason.SCHEMA_VIOLATION,
            f"{location}: {problem}",
            (ErrorDetail(location=location, problem=problem),),
        )
    return found


def _codings(concepts: Any) -> list[dict[str, str]]:
    return [
        {
            k: str(v)
            for k, v in (("system", c.system), ("code", c.code), ("display", c.display))
            if v
        }
        for concept in concepts or ()
        for c in concept.coding or ()
    ]


def _detail(concept: Concept, status: str, categories: Any) -> dict[str, Any]:
    return {
        "system": SNOMED,
        "code": concept.code,
        "display": concept.display,
        "status": status,
        "category": _codings(categories),
    }


def _ref_key(entry: Entry, source_system: str) -> str:
    """The partner's stable reference for a flag or referral, scoped by source system."""
    identifier = next(iter(entry.resource.identifier or ()), None)
    if identifier is not None and identifier.value:
        return f"{source_system}|{identifier.system or '-'}|{identifier.value}"
    return f"{source_system}|{entry.key}"


def _plan_flag(entry: Entry, msg: HealthMessage) -> Planned | DroppedFact:
    flag = entry.resource
    concept = flag_concept(flag.code)
    if concept is None:
        return DroppedFact(
            entry.key, "Flag", f"{_NOT_RELEVANT} (code not in the vulnerability set)"
        )
    subject = entry.subject
    assert subject is not None  # the profile refuses a Flag without a person
    status = str(flag.status)
    if status == "active":
        start = _required(
            flag.period.start if flag.period else None,
            f"{entry.path}.period.start",
            "Flag.period.start",
        )
        kind: Kind = "flag_raised"
    elif status in ("inactive", "entered-in-error"):
        end = (flag.period.end if flag.period else None) or (
            flag.meta.lastUpdated if flag.meta else None
        )
        start = _required(end, f"{entry.path}.period.end", "Flag.period.end (or meta.lastUpdated)")
        kind = "flag_ended"
    else:
        raise Refusal(
            RejectReason.SCHEMA_VIOLATION,
            f"{entry.path}.status: must be active, inactive or entered-in-error",
        )
    return Planned(
        kind,
        entry.key,
        _ref_key(entry, msg.source_system),
        subject,
        start,
        concept,
        status,
        _detail(concept, status, flag.category),
    )


def _plan_referral(entry: Entry, msg: HealthMessage) -> Planned | DroppedFact:
    request = entry.resource
    concept = referral_concept(request.code, request.category or ())
    if concept is None:
        why = f"{_NOT_RELEVANT} (not a referral to a support service)"
        return DroppedFact(entry.key, "ServiceRequest", why)
    if request.intent not in _REFERRAL_INTENTS:
        why = "intent is not an order: a proposal or plan is not a referral that was made"
        return DroppedFact(entry.key, "ServiceRequest", why)
    if request.status not in _REFERRAL_STATUSES:
        return DroppedFact(entry.key, "ServiceRequest", "status unknown: cannot tell its state")
    authored = _required(
        request.authoredOn, f"{entry.path}.authoredOn", "ServiceRequest.authoredOn"
    )
    assert entry.subject is not None  # the profile refuses a ServiceRequest without a person
    detail = {
        **_detail(concept, str(request.status), request.category),
        "intent": str(request.intent),
    }
    return Planned(
        "referral",
        entry.key,
        _ref_key(entry, msg.source_system),
        entry.subject,
        authored,
        concept,
        str(request.status),
        detail,
    )


def _plan_encounter(entry: Entry) -> DroppedFact:
    if flag_concept(*(entry.resource.reasonCode or ())) is None:
        return DroppedFact(entry.key, "Encounter", f"{_NOT_RELEVANT} (no safeguarding reason)")
    why = (
        "safeguarding-relevant reason, but canonical contract v1 has no encounter event; "
        "the encounter stays on the health side"
    )
    return DroppedFact(entry.key, "Encounter", why)


def plan(msg: HealthMessage) -> tuple[list[Planned], list[DroppedFact]]:
    """Decide, for every fact of the message, whether it is published or dropped (pure)."""
    planned: list[Planned] = []
    dropped: list[DroppedFact] = []
    seen: set[str] = set()
    for entry in msg.facts:
        if entry.key in seen:
            raise Refusal(RejectReason.SCHEMA_VIOLATION, f"{entry.path}: {entry.key} appears twice")
        seen.add(entry.key)
        if entry.type == "Flag":
            outcome: Planned | DroppedFact = _plan_flag(entry, msg)
        elif entry.type == "ServiceRequest":
            outcome = _plan_referral(entry, msg)
        else:
            outcome = _plan_encounter(entry)
        if isinstance(outcome, Planned):
            planned.append(outcome)
        else:
            dropped.append(outcome)
    used = {item.subject.patient_key for item in planned}
    for patient in (p for p in msg.patients if p.key not in used):
        why = "identity only: no fact that is shared refers to this Patient"
        dropped.append(DroppedFact(patient.key, "Patient", why))
    return planned, dropped
