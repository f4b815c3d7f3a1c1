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

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from services.partners.common import fields, rules
from services.partners.common.json_schema import published_schema, write_schema
from services.partners.police.codes import (
    CLOSURE_ACTIONS,
    ActionCode,
    ClassificationCode,
    HateStrandCode,
    RoleCode,
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
_TITLE = "asbx police message v1"
_DESCRIPTION = "POLE incident and action messages from police systems."
LocalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,20}$")]


class RiskAssessment(fields.Strict):
    """The victim risk assessment outcome (and the officer's reasoning)."""

    level: fields.RiskLevelCode
    detail: fields.Text | None = None


class PolePerson(fields.Strict):
    """A POLE person (or a business or community group), with their part in the event."""

    id: LocalId
    police_person_id: fields.Ref | None = Field(default=None, description="Force nominal id.")
    given_name: fields.Name | None = None
    family_name: fields.Name | None = None
    date_of_birth: fields.BirthDate | None = None
    person_type: Literal["individual", "business", "community_group"] = "individual"
    organisation_name: fields.Name | None = None
    phone: fields.Phone | None = None
    email: fields.Email | None = None
    role: RoleCode | None = None
    risk_assessment: RiskAssessment | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> PolePerson:
        rules.require_identity(
            "police_person_id",
            self.police_person_id,
            self.family_name,
            self.organisation_name,
            self.person_type,
        )
        if self.risk_assessment is not None and self.role != "victim":
            raise rules.fail("risk_assessment", "risk_assessment is for victims")
        return self


class PoleLocation(fields.Strict):
    """A POLE location: UPRN when known, else address lines (with postcode if known)."""

    id: LocalId
    uprn: fields.Uprn | None = None
    address_lines: list[fields.Name] = Field(default_factory=list, max_length=6)
    postcode: fields.Postcode | None = None

    @model_validator(mode="after")
    def _locatable(self) -> PoleLocation:
        rules.require_place(self.uprn, self.address_lines)
        return self


class PoleObject(fields.Strict):
    """A POLE object (vehicle, weapon, property). Accepted, then dropped at the edge."""

    id: LocalId
    object_type: Literal["vehicle", "weapon", "drugs", "phone", "property", "other"]
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    registration: Annotated[str, StringConstraints(max_length=12)] | None = None


class PoleEvent(fields.Strict):
    """The ASB incident, classified by the force's ASB code."""

    incident_ref: fields.Ref
    classification: ClassificationCode
    hate_flag: bool = False
    hate_strand: HateStrandCode | None = None
    occurred_from: fields.IsoDateTime
    occurred_to: fields.IsoDateTime | None = None
    reported_at: fields.IsoDateTime
    location_id: LocalId
    narrative: fields.Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> PoleEvent:
        rules.check_times(self.occurred_from, self.occurred_to, self.reported_at)
        rules.check_hate_strand("hate_flag", self.hate_flag, self.hate_strand)
        return self


class PoleAction(fields.Strict):
    """A power used against one person (``person_id``) or one premises (``location_id``)."""

    id: LocalId
    action_ref: fields.Ref
    action_type: ActionCode
    issued_at: fields.IsoDateTime
    effective_from: fields.IsoDate | None = Field(
        default=None, description="Defaults to issue date."
    )
    duration: fields.Duration | None = None
    expires_on: fields.IsoDate | None = None
    person_id: LocalId | None = None
    location_id: LocalId | None = None
    related_incident_refs: list[fields.Ref] = Field(default_factory=list, max_length=50)
    conditions: fields.Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> PoleAction:
        closure = self.action_type in CLOSURE_ACTIONS
        if closure and (self.location_id is None or self.person_id is not None):
            raise rules.fail("action_target", "a closure power names location_id (premises) only")
        if not closure and (self.person_id is None or self.location_id is not None):
            raise rules.fail("action_target", "this power names person_id only")
        rules.check_terms(self)
        return self


class PoliceMessage(fields.Strict):
    """One police message: an incident with its POLE entities, and/or actions taken."""

    schema_: Literal["police-message.v1"] = Field(alias="schema")
    message_id: fields.Ref
    sent_at: fields.IsoDateTime
    source_system: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    event: PoleEvent | None = None
    persons: list[PolePerson] = Field(default_factory=list, max_length=50)
    locations: list[PoleLocation] = Field(default_factory=list, max_length=20)
    objects: list[PoleObject] = Field(default_factory=list, max_length=50)
    actions: list[PoleAction] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _linked(self) -> PoliceMessage:
        if self.event is None and not self.actions:
            raise rules.fail("empty_message", "a message needs an event or actions")
        for name, items in (("persons", self.persons), ("locations", self.locations),
                            ("objects", self.objects), ("actions", self.actions)):  # fmt: skip
            if len({item.id for item in items}) != len(items):
                raise rules.fail("duplicate_id", f"{name} ids must be unique")
        persons, places = {p.id for p in self.persons}, {loc.id for loc in self.locations}
        targets = {a.person_id for a in self.actions} | {a.location_id for a in self.actions}
        if self.event is not None and self.event.location_id not in places:
            raise rules.fail("dangling_ref", "event.location_id does not name a location")
        if any(a.person_id not in persons | {None} for a in self.actions):
            raise rules.fail("dangling_ref", "an action's person_id does not name a person")
        if any(a.location_id not in places | {None} for a in self.actions):
            raise rules.fail("dangling_ref", "an action's location_id does not name a location")
        roles = [p.role for p in self.persons if p.role is not None]
        if self.event is None and roles:
            raise rules.fail("role_without_event", "a person role needs an event")
        if self.event is not None and not roles:
            raise rules.fail("no_people", "an event needs at least one person with a role")
        if any(p.role is None and p.id not in targets for p in self.persons):
            raise rules.fail("unlinked", "every person needs a role or must be an action's target")
        used = targets | ({self.event.location_id} if self.event else set())
        if any(loc.id not in used for loc in self.locations):
            raise rules.fail("unlinked", "every location must be the event's or an action's")
        return self


def generate_schema() -> dict[str, Any]:
    """The published JSON Schema (2020-12) of the police message, generated from the models."""
    return published_schema(PoliceMessage, SCHEMA_ID, _TITLE, _DESCRIPTION)


if __name__ == "__main__":  # regenerate: python -m services.partners.police.format
    write_schema(SCHEMA_PATH, generate_schema())
