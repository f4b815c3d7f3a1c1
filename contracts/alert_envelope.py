"""The envelope of a case-review alert on ``asbx.alerts.v1``.

Alerts are not partner facts, so they do not use :class:`contracts.envelope.CanonicalEvent`:
they come from asbx itself (the correlator, for one local area) and carry the area's policy
instead of a partner message digest. The CloudEvents attributes are the same, so subscribers and
tools route alerts exactly as they route canonical events.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.envelope import SCHEMA_VERSION
from contracts.events import TriggerAlertRaised
from contracts.protected import Token
from contracts.vocab import LawfulBasis, Purpose

__all__ = ["ALERT_TYPE", "AlertEnvelope"]

ALERT_TYPE: Final = "uk.asbx.trigger_alert_raised.v1"


class AlertEnvelope(BaseModel):
    """One alert, with CloudEvents attributes and the governance it was raised under."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="The alert id: deterministic per condition and episode.")
    source: str = Field(description="e.g. /asbx/correlator/<area>")
    type: Literal["uk.asbx.trigger_alert_raised.v1"] = ALERT_TYPE
    subject: Token
    time: AwareDatetime = Field(description="When the condition was met (event time).")
    dataschema: str = f"urn:asbx:schema:trigger_alert_raised:{SCHEMA_VERSION}"
    datacontenttype: Literal["application/json"] = "application/json"

    schema_version: str = SCHEMA_VERSION
    area: str
    policy: str = Field(description="Id and version of the area policy the rules ran under.")
    purpose: Purpose = Purpose.ASB_CASE_REVIEW
    lawful_basis: LawfulBasis = LawfulBasis.UK_GDPR_6_1_E
    data: TriggerAlertRaised
