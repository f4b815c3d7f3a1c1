"""Building casework events (sealing officers' free text) and their audit records.

Pure: sealing needs only the audiences' public keys, and nothing here touches Kafka. The event id
may come from the form that asked for it, so a form submitted twice records one fact.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from contracts.audit import AuditAction, AuditRecord
from contracts.casework import (
    CASEWORK_TYPE_PREFIX,
    ApplicationReceived,
    ApplicationRoute,
    CaseworkData,
    CaseworkEvent,
    ObjectiveSet,
    ResponseAgreed,
    ResponseAssessed,
    ResponseOutcome,
    ReviewHeld,
    ThresholdDecided,
)
from contracts.protected import SealedField
from contracts.vocab import Audience, VictimType
from services.audit.records import sealed_fields
from services.correlator.domain.working_days import add_working_days
from services.protection.keys import KeyStore
from services.protection.retention import RetentionScope, period_of
from services.protection.sealing import FieldSealer

__all__ = ["NOTE_CLASS", "CaseContext", "Recorder", "case_id_for_alert", "casework_audit_record"]

#: Data class of officers' free text about a case (may name or describe people).
NOTE_CLASS = "casework_note"
_CASE_NS = uuid.UUID("6a1d2c77-2a7e-4d8e-9c61-0f0b3a5f4e10")
_AUDIT_NS = uuid.UUID("b0f3f6d2-8a53-4a4a-9d0e-5b0c6a2f7e21")
#: Seals one free-text field (``None`` when the text is empty).
_Seal = Callable[[str, str | None], SealedField | None]
_DataFor = Callable[[_Seal], CaseworkData]


def case_id_for_alert(alert_id: str) -> str:
    """The case opened from an alert: one case per alert, whoever opens it first."""
    return f"case-{uuid.uuid5(_CASE_NS, alert_id)}"


@dataclass(frozen=True)
class CaseContext:
    """The case being worked on and who is working on it."""

    case_id: str
    case_subject: str
    area: str
    audiences: tuple[Audience, ...]
    user: str
    acting_for: Audience


@dataclass(frozen=True)
class Recorder:
    """Builds one casework event per call; free text is sealed for the case's audiences."""

    context: CaseContext
    keys: KeyStore

    def _event(self, data_for: _DataFor, event_id: str | None, at: datetime) -> CaseworkEvent:
        eid = event_id or str(uuid.uuid4())
        # Officers' notes are about the case subject: erasing them or ending the month's
        # retention shreds the notes with the partner data they discuss.
        retention = RetentionScope(period=period_of(at), subject=self.context.case_subject)
        sealer = FieldSealer(self.keys, eid, retention)

        def seal(path: str, text: str | None) -> SealedField | None:
            text = (text or "").strip()
            if not text:
                return None
            return sealer.seal(path, NOTE_CLASS, text, self.context.audiences)

        data = data_for(seal)
        ctx = self.context
        return CaseworkEvent(
            id=eid,
            source=f"/asbx/casework/{ctx.area}",
            type=f"{CASEWORK_TYPE_PREFIX}{data.kind}.v1",
            subject=ctx.case_id,
            time=at,
            case_id=ctx.case_id,
            case_subject=ctx.case_subject,
            area=ctx.area,
            recorded_by=ctx.user,
            recorded_for=ctx.acting_for,
            audiences=ctx.audiences,
            data=data,
        )

    def application_received(
        self,
        at: datetime,
        *,
        received_on: date,
        route: ApplicationRoute,
        alert_id: str | None = None,
        applicant_type: VictimType = VictimType.INDIVIDUAL,
        event_id: str | None = None,
    ) -> CaseworkEvent:
        """An application for a case review (from the victim, on their behalf, or an alert)."""
        return self._event(
            lambda _seal: ApplicationReceived(
                received_on=received_on,
                received_by=self.context.acting_for,
                route=route,
                applicant_type=applicant_type,
                alert_id=alert_id,
            ),
            event_id,
            at,
        )

    def threshold_decided(
        self, at: datetime, *, decided_on: date, met: bool, reason: str | None,
        event_id: str | None = None,
    ) -> CaseworkEvent:  # fmt: skip
        """Whether the threshold was met, and why (sealed)."""
        return self._event(
            lambda seal: ThresholdDecided(
                decided_on=decided_on, met=met, reason=seal("reason", reason)
            ),
            event_id,
            at,
        )

    def review_held(
        self, at: datetime, *, held_on: date, recommendations: Sequence[str],
        event_id: str | None = None,
    ) -> CaseworkEvent:  # fmt: skip
        """The review meeting, with its recommendations (sealed, one per line)."""
        made = [r.strip() for r in recommendations if r.strip()]
        return self._event(
            lambda seal: ReviewHeld(
                held_on=held_on,
                recommendation_count=len(made),
                recommendations=seal("recommendations", "\n".join(made)),
            ),
            event_id,
            at,
        )

    def objective_set(
        self, at: datetime, *, set_on: date, objective: str, event_id: str | None = None
    ) -> CaseworkEvent:
        """The OSARA objective (sealed)."""
        if not objective.strip():
            raise ValueError("an objective needs some text")

        def data(seal: _Seal) -> CaseworkData:
            sealed = seal("objective", objective)
            assert sealed is not None  # checked non-empty above
            return ObjectiveSet(set_on=set_on, objective=sealed)

        return self._event(data, event_id, at)

    def response_agreed(
        self, at: datetime, *, owner: Audience, agreed_on: date, working_days: int,
        description: str, event_id: str | None = None,
    ) -> CaseworkEvent:  # fmt: skip
        """An agreed response, due ``working_days`` England-and-Wales working days later."""
        if not description.strip():
            raise ValueError("a response needs a description")
        response_id = event_id or str(uuid.uuid4())

        def data(seal: _Seal) -> CaseworkData:
            sealed = seal("description", description)
            assert sealed is not None  # checked non-empty above
            return ResponseAgreed(
                response_id=response_id,
                owner=owner,
                agreed_on=agreed_on,
                due_working_days=working_days,
                due_on=add_working_days(agreed_on, working_days),
                description=sealed,
            )

        return self._event(data, response_id, at)

    def response_assessed(
        self, at: datetime, *, response_id: str, assessed_on: date, outcome: ResponseOutcome,
        notes: str | None, event_id: str | None = None,
    ) -> CaseworkEvent:  # fmt: skip
        """What an agreed response achieved."""
        return self._event(
            lambda seal: ResponseAssessed(
                response_id=response_id,
                assessed_on=assessed_on,
                outcome=outcome,
                notes=seal("notes", notes),
            ),
            event_id,
            at,
        )


def casework_audit_record(event: CaseworkEvent) -> AuditRecord:
    """The audit record of recording ``event`` (metadata only; deterministic id)."""
    sealed = list(sealed_fields(event.data))
    return AuditRecord(
        record_id=str(uuid.uuid5(_AUDIT_NS, event.id)),
        at=event.time,
        actor=f"user:{event.recorded_by}",
        action=AuditAction.CASEWORK_RECORDED,
        partner=event.recorded_for.value,
        event_id=event.id,
        event_type=event.type,
        subject=event.case_subject,
        purpose=event.purpose.value,
        lawful_basis=event.lawful_basis.value,
        recipient=",".join(a.value for a in event.audiences),
        data_classes=tuple(sorted({f.data_class for f in sealed})),
        fields=tuple(f.path for f in sealed),
        key_ids=tuple(sorted({k.kid for f in sealed for k in f.keys})),
        outcome=f"{event.data.kind} recorded for {event.case_id}",
    )
