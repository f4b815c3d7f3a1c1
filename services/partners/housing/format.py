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

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, RootModel, Tag, model_validator
from pydantic_core import PydanticCustomError

from services.partners.housing.codes import (
    MESSAGE_TYPES,
    ActionTypeCode,
    AsbTypeCode,
    HateStrandCode,
    TenancyEventCode,
    TenureTypeCode,
)
from services.partners.housing.fields import (
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


class Property(Strict):
    """A property or place: UPRN when known, else address lines (with postcode if known)."""

    uprn: Uprn | None = None
    address_lines: list[Name] = Field(default_factory=list, max_length=6)
    postcode: Postcode | None = None

    @model_validator(mode="after")
    def _locatable(self) -> Property:
        if self.uprn is None and not self.address_lines:
            raise PydanticCustomError("place_unlocatable", "give a uprn or address_lines")
        return self


class HousingPerson(Strict):
    """A person (or a business or community group) as the housing system records them."""

    person_ref: Ref | None = Field(default=None, description="Housing person reference.")
    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: BirthDate | None = None
    phone: Phone | None = None
    email: Email | None = None
    party_type: Literal["individual", "business", "community_group"] = "individual"
    organisation_name: Name | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> HousingPerson:
        if not (self.person_ref or self.family_name or self.organisation_name):
            raise PydanticCustomError(
                "person_unidentified", "give person_ref, family_name or organisation_name"
            )
        if self.party_type != "individual" and not self.organisation_name:
            raise PydanticCustomError(
                "organisation_missing", "a business or community group needs organisation_name"
            )
        return self


class _Envelope(Strict):
    schema_: Literal["housing-message.v1"] = Field(alias="schema")
    message_id: Ref
    sent_at: IsoDateTime
    source_system: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")


class TenancyMessage(_Envelope):
    """A change to a tenancy. ``people`` are the tenants, or the occupants added or removed."""

    message_type: Literal["tenancy"]
    tenancy_ref: Ref
    tenancy_event: TenancyEventCode
    effective_date: IsoDate
    tenure_type: TenureTypeCode | None = None
    property: Property
    people: list[HousingPerson] = Field(min_length=1, max_length=20)


class AsbCaseReportMessage(_Envelope):
    """One complaint of ASB recorded on a case. The victim who reported is listed as victim."""

    message_type: Literal["asb_case_report"]
    case_ref: Ref
    report_ref: Ref
    category: Literal["personal", "nuisance", "environmental"]
    asb_type: AsbTypeCode | None = None
    hate_incident: bool = False
    hate_strand: HateStrandCode | None = None
    occurred_from: IsoDateTime
    occurred_to: IsoDateTime | None = None
    reported_at: IsoDateTime
    location: Property
    victims: list[HousingPerson] = Field(default_factory=list, max_length=20)
    complainants: list[HousingPerson] = Field(default_factory=list, max_length=20)
    alleged_perpetrators: list[HousingPerson] = Field(default_factory=list, max_length=20)
    witnesses: list[HousingPerson] = Field(default_factory=list, max_length=20)
    police_incident_ref: Ref | None = Field(
        default=None, description="The police incident reference, when it was reported there too."
    )
    victim_risk: RiskLevelCode | None = Field(
        default=None, description="Outcome of the landlord's risk assessment of the first victim."
    )
    narrative: Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> AsbCaseReportMessage:
        if not (self.victims or self.complainants):
            raise PydanticCustomError("no_complainant", "a report needs a victim or complainant")
        if self.reported_at < self.occurred_from:
            raise PydanticCustomError("time_order", "reported_at is before occurred_from")
        if self.occurred_to is not None and self.occurred_to < self.occurred_from:
            raise PydanticCustomError("time_order", "occurred_to is before occurred_from")
        if self.hate_strand is not None and not self.hate_incident:
            raise PydanticCustomError("hate_strand", "hate_strand needs hate_incident true")
        if self.victim_risk is not None and not self.victims:
            raise PydanticCustomError("victim_risk", "victim_risk needs a victim")
        return self


class HousingAction(Strict):
    """One intervention against one person."""

    action_ref: Ref
    action_type: ActionTypeCode
    issued_at: IsoDateTime
    effective_from: IsoDate | None = Field(default=None, description="Defaults to issue date.")
    duration: Duration | None = None
    expires_on: IsoDate | None = None
    person: HousingPerson
    related_report_refs: list[Ref] = Field(default_factory=list, max_length=50)
    conditions: Text | None = None

    @model_validator(mode="after")
    def _dates(self) -> HousingAction:
        if self.duration is not None and self.expires_on is not None:
            raise PydanticCustomError("duration_or_expiry", "give duration or expires_on, not both")
        start = self.effective_from or self.issued_at.date()
        if self.expires_on is not None and (self.expires_on - start).days > 3660:
            raise PydanticCustomError("duration_range", "expires_on must be within ten years")
        if self.expires_on is not None and self.expires_on < start:
            raise PydanticCustomError("time_order", "expires_on is before the action takes effect")
        return self


class AsbActionMessage(_Envelope):
    """Interventions recorded on an ASB case."""

    message_type: Literal["asb_action"]
    case_ref: Ref
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
    body = HousingMessage.model_json_schema()
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:asbx:partner:{SCHEMA_ID}",
        "title": "asbx housing message v1",
        "description": "Tenancy, ASB case report and ASB action messages from housing systems.",
        **body,
    }


if __name__ == "__main__":  # regenerate: python -m services.partners.housing.format
    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(json.dumps(generate_schema(), indent=2) + "\n")
