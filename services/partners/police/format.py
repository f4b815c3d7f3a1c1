"""The police message format, version 1: a POLE view (Person, Object, Location, Event).

One JSON object per message. ``event`` is the ASB incident (absent in an actions-only message);
``persons``, ``locations`` and ``objects`` are the POLE entities, each with a message-local ``id``
that the event and the actions point at; ``actions`` are powers used under the Anti-social
Behaviour, Crime and Policing Act 2014 (CPW, CPN, civil injunction, CBO, closure notice and
order), each against one person or one premises. A person's ``role`` is their part in the event.

The published JSON Schema (``schema/police-message.v1.schema.json``) is generated from these
models by :func:`generate_schema`. Cross-references (an action naming a person that is not in
``persons``) cannot be said in JSON Schema and are checked here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from services.partners.police.codes import (
    CLOSURE_ACTIONS,
    ActionCode,
    ClassificationCode,
    HateStrandCode,
    RoleCode,
)
from services.partners.police.fields import (
    BirthDate,
    Duration,
    Email,
    IsoDate,
    IsoDateTime,
    Name,
    Phone,
    Postcode,
    Ref,
    RiskLevelCode,
    Strict,
    Text,
    Uprn,
)

__all__ = [
    "SCHEMA_ID",
    "SCHEMA_PATH",
    "PoleAction",
    "PoleEvent",
    "PoleLocation",
    "PoleObject",
    "PolePerson",
    "PoliceMessage",
    "RiskAssessment",
    "generate_schema",
]

SCHEMA_ID = "police-message.v1"
SCHEMA_PATH = Path(__file__).with_name("schema") / f"{SCHEMA_ID}.schema.json"
LocalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,20}$")]


def _fail(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


class RiskAssessment(Strict):
    """The victim risk assessment outcome (and the officer's reasoning)."""

    level: RiskLevelCode
    detail: Text | None = None


class PolePerson(Strict):
    """A POLE person (or a business or community group), with their part in the event."""

    id: LocalId
    police_person_id: Ref | None = Field(default=None, description="Force nominal id.")
    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: BirthDate | None = None
    person_type: Literal["individual", "business", "community_group"] = "individual"
    organisation_name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    role: RoleCode | None = None
    risk_assessment: RiskAssessment | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> PolePerson:
        if not (self.police_person_id or self.family_name or self.organisation_name):
            raise _fail(
                "person_unidentified", "give police_person_id, family_name or organisation_name"
            )
        if self.person_type != "individual" and not self.organisation_name:
            raise _fail(
                "organisation_missing", "a business or community group needs organisation_name"
            )
        if self.risk_assessment is not None and self.role != "victim":
            raise _fail("risk_assessment", "risk_assessment is for victims")
        return self


class PoleLocation(Strict):
    """A POLE location: UPRN when known, else address lines (with postcode if known)."""

    id: LocalId
    uprn: Uprn | None = None
    address_lines: list[Name] = Field(default_factory=list, max_length=6)
    postcode: Postcode | None = None

    @model_validator(mode="after")
    def _locatable(self) -> PoleLocation:
        if self.uprn is None and not self.address_lines:
            raise _fail("place_unlocatable", "give a uprn or address_lines")
        return self


class PoleObject(Strict):
    """A POLE object (vehicle, weapon, property). Accepted, then dropped at the edge."""

    id: LocalId
    object_type: Literal["vehicle", "weapon", "drugs", "phone", "property", "other"]
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    registration: Annotated[str, StringConstraints(max_length=12)] | None = None


class PoleEvent(Strict):
    """The ASB incident, classified by the force's ASB code."""

    incident_ref: Ref
    classification: ClassificationCode
    hate_flag: bool = False
    hate_strand: HateStrandCode | None = None
    occurred_from: IsoDateTime
    occurred_to: IsoDateTime | None = None
    reported_at: IsoDateTime
    location_id: LocalId
    narrative: Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> PoleEvent:
        if self.reported_at < self.occurred_from:
            raise _fail("time_order", "reported_at is before occurred_from")
        if self.occurred_to is not None and self.occurred_to < self.occurred_from:
            raise _fail("time_order", "occurred_to is before occurred_from")
        if self.hate_strand is not None and not self.hate_flag:
            raise _fail("hate_strand", "hate_strand needs hate_flag true")
        return self


class PoleAction(Strict):
    """A power used against one person (``person_id``) or one premises (``location_id``)."""

    id: LocalId
    action_ref: Ref
    action_type: ActionCode
    issued_at: IsoDateTime
    effective_from: IsoDate | None = Field(default=None, description="Defaults to issue date.")
    duration: Duration | None = None
    expires_on: IsoDate | None = None
    person_id: LocalId | None = None
    location_id: LocalId | None = None
    related_incident_refs: list[Ref] = Field(default_factory=list, max_length=50)
    conditions: Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> PoleAction:
        closure = self.action_type in CLOSURE_ACTIONS
        if closure and (self.location_id is None or self.person_id is not None):
            raise _fail("action_target", "a closure power names location_id (premises) only")
        if not closure and (self.person_id is None or self.location_id is not None):
            raise _fail("action_target", "this power names person_id only")
        if self.duration is not None and self.expires_on is not None:
            raise _fail("duration_or_expiry", "give duration or expires_on, not both")
        start = self.effective_from or self.issued_at.date()
        if self.expires_on is not None and (self.expires_on - start).days > 3660:
            raise _fail("duration_range", "expires_on must be within ten years")
        if self.expires_on is not None and self.expires_on < start:
            raise _fail("time_order", "expires_on is before the action takes effect")
        return self


class PoliceMessage(Strict):
    """One police message: an incident with its POLE entities, and/or actions taken."""

    schema_: Literal["police-message.v1"] = Field(alias="schema")
    message_id: Ref
    sent_at: IsoDateTime
    source_system: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    event: PoleEvent | None = None
    persons: list[PolePerson] = Field(default_factory=list, max_length=50)
    locations: list[PoleLocation] = Field(default_factory=list, max_length=20)
    objects: list[PoleObject] = Field(default_factory=list, max_length=50)
    actions: list[PoleAction] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _linked(self) -> PoliceMessage:
        if self.event is None and not self.actions:
            raise _fail("empty_message", "a message needs an event or actions")
        for name, items in (("persons", self.persons), ("locations", self.locations),
                            ("objects", self.objects), ("actions", self.actions)):  # fmt: skip
            if len({item.id for item in items}) != len(items):
                raise _fail("duplicate_id", f"{name} ids must be unique")
        persons, places = {p.id for p in self.persons}, {loc.id for loc in self.locations}
        targets = {a.person_id for a in self.actions} | {a.location_id for a in self.actions}
        if self.event is not None and self.event.location_id not in places:
            raise _fail("dangling_ref", "event.location_id does not name a location")
        if any(a.person_id not in persons | {None} for a in self.actions):
            raise _fail("dangling_ref", "an action's person_id does not name a person")
        if any(a.location_id not in places | {None} for a in self.actions):
            raise _fail("dangling_ref", "an action's location_id does not name a location")
        roles = [p.role for p in self.persons if p.role is not None]
        if self.event is None and roles:
            raise _fail("role_without_event", "a person role needs an event")
        if self.event is not None and not roles:
            raise _fail("no_people", "an event needs at least one person with a role")
        if any(p.role is None and p.id not in targets for p in self.persons):
            raise _fail("unlinked", "every person needs a role or must be an action's target")
        used = targets | ({self.event.location_id} if self.event else set())
        if any(loc.id not in used for loc in self.locations):
            raise _fail("unlinked", "every location must be the event's or an action's")
        return self


def generate_schema() -> dict[str, Any]:
    """The published JSON Schema (2020-12) of the police message, generated from the models."""
    body = PoliceMessage.model_json_schema()
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:asbx:partner:{SCHEMA_ID}",
        "title": "asbx police message v1",
        "description": "POLE incident and action messages from police systems.",
        **body,
    }


if __name__ == "__main__":  # regenerate: python -m services.partners.police.format
    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(json.dumps(generate_schema(), indent=2) + "\n")
