"""asbx shared contracts: the canonical envelope, events, rejections, audit records and topics.

A leaf package: it imports nothing from ``services`` or ``deploy``.
"""

from contracts.alert_envelope import ALERT_TYPE, AlertEnvelope
from contracts.audit import AuditAction, AuditRecord
from contracts.envelope import SCHEMA_VERSION, CanonicalEvent, ce_type, dataschema_uri
from contracts.events import (
    AsbIncidentReported,
    ContributingIncident,
    EventData,
    InterventionIssued,
    SupportReferralMade,
    TenancyEvent,
    TriggerAlertRaised,
    VulnerabilityFlagEnded,
    VulnerabilityFlagRaised,
)
from contracts.parts import PersonRef, PlaceRef
from contracts.protected import CorrelationKey, SealedField, Token, WrappedKey
from contracts.rejection import ErrorDetail, RejectedMessage
from contracts.vocab import (
    AlertRule,
    AsbCategory,
    Audience,
    InterventionType,
    LawfulBasis,
    Partner,
    PersonRole,
    Purpose,
    RejectReason,
    RiskLevel,
    TenancyEventType,
    TokenKind,
    VictimType,
)

__all__ = [
    "ALERT_TYPE",
    "SCHEMA_VERSION",
    "AlertEnvelope",
    "AlertRule",
    "AsbCategory",
    "AsbIncidentReported",
    "Audience",
    "AuditAction",
    "AuditRecord",
    "CanonicalEvent",
    "ContributingIncident",
    "CorrelationKey",
    "ErrorDetail",
    "EventData",
    "InterventionIssued",
    "InterventionType",
    "LawfulBasis",
    "Partner",
    "PersonRef",
    "PersonRole",
    "PlaceRef",
    "Purpose",
    "RejectReason",
    "RejectedMessage",
    "RiskLevel",
    "SealedField",
    "SupportReferralMade",
    "TenancyEvent",
    "TenancyEventType",
    "Token",
    "TokenKind",
    "TriggerAlertRaised",
    "VictimType",
    "VulnerabilityFlagEnded",
    "VulnerabilityFlagRaised",
    "WrappedKey",
    "ce_type",
    "dataschema_uri",
]
