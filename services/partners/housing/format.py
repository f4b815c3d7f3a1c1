"""The housing message format, version 1: what housing association systems send to asbx.

One JSON object per message. Envelope fields (``schema``, ``message_id``, ``sent_at``,
``source_system``) are common; ``message_type`` picks one of three kinds, each with its own
fields at the top level, so an error location reads ``asb_case_report.location.uprn``:

- ``tenancy``: a tenancy started, ended, had a notice seeking possession served, was
  transferred, or gained or lost an occupant;
- ``asb_case_report``: one complaint recorded on an ASB case;
- ``asb_action``: steps a landlord takes against a person (warning letter, letter of
  expectation, acceptable behaviour contract, civil injunction granted on its application).

Concepts follow HACT's UK housing data standards where one exists (tenancy, tenure type,
property with UPRN, person, ASB case and category); codes are lower-snake strings.
The published JSON Schema (``schema/housing-message.v1.schema.json``) is generated from these
models by :func:`generate_schema`, so the two cannot drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, RootModel, Tag, model_validator

from services.partners.common import fields, rules
from services.partners.common.json_schema import published_schema, write_schema
from services.partners.housing.codes import (
    MESSAGE_TYPES,
    ActionTypeCode,
    AsbTypeCode,
    HateStrandCode,
    TenancyEventCode,
    TenureTypeCode,
)

__all__ = [
    "SCHEMA_ID",
    "SCHEMA_PATH",
    "AsbActionMessage",
    "AsbCaseReportMessage",
    "HousingAction",
    "HousingMessage",
    "HousingPerson",
    "Message",
    "Property",
    "TenancyMessage",
    "generate_schema",
]

SCHEMA_ID = "housing-message.v1"
SCHEMA_PATH = Path(__file__).with_name("schema") / f"{SCHEMA_ID}.schema.json"
_TITLE = "asbx housing message v1"
_DESCRIPTION = "Tenancy, ASB case report and ASB action messages from housing systems."


class Property(fields.Strict):
    """A property or place: UPRN when known, else address lines (with postcode if known)."""

    uprn: fields.Uprn | None = None
    address_lines: list[fields.Name] = Field(default_factory=list, max_length=6)
    postcode: fields.Postcode | None = None

    @model_validator(mode="after")
    def _locatable(self) -> Property:
        rules.require_place(self.uprn, self.address_lines)
        return self


class HousingPerson(fields.Strict):
    """A person (or a business or community group) as the housing system records them."""

    person_ref: fields.Ref | None = Field(default=None, description="Housing person reference.")
    given_name: fields.Name | None = None
    family_name: fields.Name | None = None
    date_of_birth: fields.BirthDate | None = None
    phone: fields.Phone | None = None
    email: fields.Email | None = None
    party_type: Literal["individual", "business", "community_group"] = "individual"
    organisation_name: fields.Name | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> HousingPerson:
        rules.require_identity(
            "person_ref", self.person_ref, self.family_name, self.organisation_name, self.party_type
        )
        return self


class _Envelope(fields.Strict):
    schema_: Literal["housing-message.v1"] = Field(alias="schema")
    message_id: fields.Ref
    sent_at: fields.IsoDateTime
    source_system: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")


class TenancyMessage(_Envelope):
    """A change to a tenancy. ``people`` are the tenants, or the occupants added or removed."""

    message_type: Literal["tenancy"]
    tenancy_ref: fields.Ref
    tenancy_event: TenancyEventCode
    effective_date: fields.IsoDate
    tenure_type: TenureTypeCode | None = None
    property: Property
    people: list[HousingPerson] = Field(min_length=1, max_length=20)


class AsbCaseReportMessage(_Envelope):
    """One complaint of ASB recorded on a case. The victim who reported is listed as victim."""

    message_type: Literal["asb_case_report"]
    case_ref: fields.Ref
    report_ref: fields.Ref
    category: Literal["personal", "nuisance", "environmental"]
    asb_type: AsbTypeCode | None = None
    hate_incident: bool = False
    hate_strand: HateStrandCode | None = None
    occurred_from: fields.IsoDateTime
    occurred_to: fields.IsoDateTime | None = None
    reported_at: fields.IsoDateTime
    location: Property
    victims: list[HousingPerson] = Field(default_factory=list, max_length=20)
    complainants: list[HousingPerson] = Field(default_factory=list, max_length=20)
    alleged_perpetrators: list[HousingPerson] = Field(default_factory=list, max_length=20)
    witnesses: list[HousingPerson] = Field(default_factory=list, max_length=20)
    police_incident_ref: fields.Ref | None = Field(
        default=None, description="The police incident reference, when it was reported there too."
    )
    victim_risk: fields.RiskLevelCode | None = Field(
        default=None, description="Outcome of the landlord's risk assessment of the first victim."
    )
    narrative: fields.Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> AsbCaseReportMessage:
        if not (self.victims or self.complainants):
            raise rules.fail("no_complainant", "a report needs a victim or complainant")
        rules.check_times(self.occurred_from, self.occurred_to, self.reported_at)
        rules.check_hate_strand("hate_incident", self.hate_incident, self.hate_strand)
        if self.victim_risk is not None and not self.victims:
            raise rules.fail("victim_risk", "victim_risk needs a victim")
        return self


class HousingAction(fields.Strict):
    """One intervention against one person."""

    action_ref: fields.Ref
    action_type: ActionTypeCode
    issued_at: fields.IsoDateTime
    effective_from: fields.IsoDate | None = Field(
        default=None, description="Defaults to issue date."
    )
    duration: fields.Duration | None = None
    expires_on: fields.IsoDate | None = None
    person: HousingPerson
    related_report_refs: list[fields.Ref] = Field(default_factory=list, max_length=50)
    conditions: fields.Text | None = None

    @model_validator(mode="after")
    def _dates(self) -> HousingAction:
        rules.check_terms(self)
        return self


class AsbActionMessage(_Envelope):
    """Interventions recorded on an ASB case."""

    message_type: Literal["asb_action"]
    case_ref: fields.Ref
    actions: list[HousingAction] = Field(min_length=1, max_length=20)


Message = TenancyMessage | AsbCaseReportMessage | AsbActionMessage


def _message_type(value: Any) -> str | None:
    found = (
        value.get("message_type")
        if isinstance(value, dict)
        else getattr(value, "message_type", None)
    )
    return found if found in MESSAGE_TYPES else None


class HousingMessage(
    RootModel[
        Annotated[
            Annotated[TenancyMessage, Tag("tenancy")]
            | Annotated[AsbCaseReportMessage, Tag("asb_case_report")]
            | Annotated[AsbActionMessage, Tag("asb_action")],
            Discriminator(
                _message_type,
                custom_error_type="message_type",
                custom_error_message="message_type must be one of: " + ", ".join(MESSAGE_TYPES),
            ),
        ]
    ]
):
    """Any housing message, chosen by ``message_type`` (an unknown type is never echoed back)."""


def generate_schema() -> dict[str, Any]:
    """The published JSON Schema (2020-12) of the housing message, generated from the models."""
    return published_schema(HousingMessage, SCHEMA_ID, _TITLE, _DESCRIPTION)


if __name__ == "__main__":  # regenerate: python -m services.partners.housing.format
    write_schema(SCHEMA_PATH, generate_schema())
