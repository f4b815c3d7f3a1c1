"""A case's recorded work, read back from its casework events and opened for one audience.

The current state is folded from the events in the order they were recorded: the latest
objective and threshold decision stand, every agreed response is listed with its latest
assessment. Free text this audience may not open is shown as withheld, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from contracts.casework import (
    ApplicationReceived,
    CaseworkEvent,
    ObjectiveSet,
    ResponseAgreed,
    ResponseAssessed,
    ResponseOutcome,
    ReviewHeld,
    ThresholdDecided,
)
from contracts.protected import SealedField
from contracts.vocab import Audience
from services.correlator.chronology import SHREDDED, UNREADABLE, WITHHELD
from services.protection.keys import KeyStore
from services.protection.sealing import Opener, ShreddedError, UnreadableError

__all__ = ["CaseRecord", "Note", "ResponseState", "case_record"]


@dataclass(frozen=True)
class Note:
    """A dated piece of recorded work, its text opened or withheld."""

    on: date
    text: str
    event_id: str
    recorded_by: str


@dataclass(frozen=True)
class ResponseState:
    """An agreed response and, once assessed, what it achieved."""

    response_id: str
    owner: Audience
    agreed_on: date
    due_on: date
    due_working_days: int
    description: str
    event_id: str
    outcome: ResponseOutcome | None = None
    assessed_on: date | None = None
    assessment_notes: str | None = None


@dataclass
class CaseRecord:
    """Everything recorded about one case, as one audience may read it."""

    case_id: str
    application: ApplicationReceived | None = None
    threshold: tuple[ThresholdDecided, Note | None] | None = None
    objective: Note | None = None
    responses: dict[str, ResponseState] = field(default_factory=dict)
    reviews: list[tuple[ReviewHeld, Note | None]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)


def _text(opener: Opener, sealed: SealedField | None, event_id: str) -> str | None:
    if sealed is None:
        return None
    if not opener.can_open(sealed):
        return WITHHELD
    try:
        return str(opener.open(sealed, event_id))
    except ShreddedError:
        return SHREDDED
    except UnreadableError:
        return UNREADABLE


def case_record(
    events: Iterable[CaseworkEvent], case_id: str, audience: Audience, keys: KeyStore
) -> CaseRecord:
    """Fold ``case_id``'s events (redeliveries counted once) into its current record."""
    opener = Opener(keys, audience)
    record = CaseRecord(case_id)
    seen: set[str] = set()
    for event in sorted((e for e in events if e.case_id == case_id), key=lambda e: e.time):
        if event.id in seen:
            continue
        seen.add(event.id)
        record.event_ids.append(event.id)
        data, eid, who = event.data, event.id, event.recorded_by
        match data:
            case ApplicationReceived():
                record.application = record.application or data
            case ThresholdDecided():
                reason = _text(opener, data.reason, eid)
                note = Note(data.decided_on, reason, eid, who) if reason else None
                record.threshold = (data, note)
            case ObjectiveSet():
                text = _text(opener, data.objective, eid) or ""
                record.objective = Note(data.set_on, text, eid, who)
            case ResponseAgreed():
                record.responses[data.response_id] = ResponseState(
                    response_id=data.response_id,
                    owner=data.owner,
                    agreed_on=data.agreed_on,
                    due_on=data.due_on,
                    due_working_days=data.due_working_days,
                    description=_text(opener, data.description, eid) or "",
                    event_id=eid,
                )
            case ResponseAssessed():
                held = record.responses.get(data.response_id)
                if held is not None:
                    record.responses[data.response_id] = replace(
                        held,
                        outcome=data.outcome,
                        assessed_on=data.assessed_on,
                        assessment_notes=_text(opener, data.notes, eid),
                    )
            case ReviewHeld():
                made = _text(opener, data.recommendations, eid)
                record.reviews.append((data, Note(data.held_on, made, eid, who) if made else None))
    return record
