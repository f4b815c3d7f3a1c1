"""JSON Schema (2020-12) for every contract, generated from the models into ``contracts/schemas``.

The files are the published contract for partners and subscribers. They are generated, never
edited by hand; a test regenerates them and fails on any difference, so a model change that is
not re-published cannot land unnoticed. Regenerate with ``asbx contracts generate``.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from contracts.alert_envelope import AlertEnvelope
from contracts.audit import AuditRecord
from contracts.casework import (
    ApplicationReceived,
    CaseworkEvent,
    ObjectiveSet,
    ResponseAgreed,
    ResponseAssessed,
    ReviewHeld,
    ThresholdDecided,
)
from contracts.envelope import SCHEMA_VERSION, CanonicalEvent
from contracts.events import (
    AsbIncidentReported,
    InterventionIssued,
    SupportReferralMade,
    TenancyEvent,
    TriggerAlertRaised,
    VulnerabilityFlagEnded,
    VulnerabilityFlagRaised,
)
from contracts.rejection import RejectedMessage

__all__ = ["CONTRACTS", "SCHEMA_DIR", "render_schemas", "write_schemas"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"

CONTRACTS: dict[str, type[BaseModel]] = {
    "canonical-event": CanonicalEvent,
    "alert-envelope": AlertEnvelope,
    "asb-incident-reported": AsbIncidentReported,
    "intervention-issued": InterventionIssued,
    "tenancy-event": TenancyEvent,
    "vulnerability-flag-raised": VulnerabilityFlagRaised,
    "vulnerability-flag-ended": VulnerabilityFlagEnded,
    "support-referral-made": SupportReferralMade,
    "trigger-alert-raised": TriggerAlertRaised,
    "rejected-message": RejectedMessage,
    "audit-record": AuditRecord,
    "casework-event": CaseworkEvent,
    "case-review-application-received": ApplicationReceived,
    "case-review-threshold-decided": ThresholdDecided,
    "case-review-held": ReviewHeld,
    "osara-objective-set": ObjectiveSet,
    "osara-response-agreed": ResponseAgreed,
    "osara-response-assessed": ResponseAssessed,
}


def render_schemas() -> dict[str, str]:
    """File name → schema text for every contract."""
    rendered = {}
    for name, model in CONTRACTS.items():
        schema = {
            "$schema": _DIALECT,
            "$id": f"urn:asbx:schema:{name}:{SCHEMA_VERSION}",
            **model.model_json_schema(mode="serialization"),
        }
        rendered[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in render_schemas().items():
        path = directory / file_name
        path.write_text(text)
        written.append(path)
    return written
