"""Controlled vocabularies shared by every contract.

Values are lower-snake strings so that they read well in JSON and in Kafka tooling. Where a
national vocabulary exists (HACT housing data standards, POLE, SNOMED CT) the partner formats
map onto these; the canonical side keeps one small, stable list.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AlertRule",
    "AsbCategory",
    "Audience",
    "InterventionType",
    "LawfulBasis",
    "Partner",
    "PersonRole",
    "Purpose",
    "RejectReason",
    "RiskLevel",
    "TenancyEventType",
    "TokenKind",
    "VictimType",
]


class Partner(StrEnum):
    """The agencies that publish to asbx."""

    HOUSING = "housing"
    HEALTH = "health"
    POLICE = "police"


class Audience(StrEnum):
    """Who a sealed field can be opened for. Set per field by the data-sharing agreement."""

    POLICE = "police"
    HOUSING = "housing"
    HEALTH = "health"
    LEAD_AGENCY = "lead_agency"
    COMMUNITY_SAFETY = "community_safety"


class AsbCategory(StrEnum):
    """The three ASB categories of the National Standard for Incident Recording."""

    PERSONAL = "personal"
    NUISANCE = "nuisance"
    ENVIRONMENTAL = "environmental"


class PersonRole(StrEnum):
    """A person's part in an event.

    The first four are ASB roles in an incident. ``tenant`` and ``occupant`` are tenancy roles;
    ``subject_of_care`` is the person a health record is about (health knows nothing of ASB roles,
    and asbx must not invent one).
    """

    VICTIM = "victim"
    COMPLAINANT = "complainant"
    ALLEGED_PERPETRATOR = "alleged_perpetrator"
    WITNESS = "witness"
    TENANT = "tenant"
    OCCUPANT = "occupant"
    SUBJECT_OF_CARE = "subject_of_care"


class VictimType(StrEnum):
    """The Act lets individuals, businesses and community groups use the case review."""

    INDIVIDUAL = "individual"
    BUSINESS = "business"
    COMMUNITY_GROUP = "community_group"


class InterventionType(StrEnum):
    """The escalation ladder, lowest first (Anti-social Behaviour, Crime and Policing Act 2014)."""

    WARNING_LETTER = "warning_letter"
    LETTER_OF_EXPECTATION = "letter_of_expectation"
    ACCEPTABLE_BEHAVIOUR_CONTRACT = "acceptable_behaviour_contract"
    COMMUNITY_PROTECTION_WARNING = "community_protection_warning"
    COMMUNITY_PROTECTION_NOTICE = "community_protection_notice"
    CIVIL_INJUNCTION = "civil_injunction"
    CRIMINAL_BEHAVIOUR_ORDER = "criminal_behaviour_order"
    CLOSURE_NOTICE = "closure_notice"
    CLOSURE_ORDER = "closure_order"


class TenancyEventType(StrEnum):
    """Tenancy lifecycle events that matter to ASB work (HACT tenancy vocabulary, simplified)."""

    TENANCY_STARTED = "tenancy_started"
    TENANCY_ENDED = "tenancy_ended"
    NOTICE_SERVED = "notice_served"
    TRANSFER = "transfer"
    OCCUPANT_ADDED = "occupant_added"
    OCCUPANT_REMOVED = "occupant_removed"


class RiskLevel(StrEnum):
    """Victim risk assessment outcome (standard / medium / high, as police and councils grade)."""

    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


class Purpose(StrEnum):
    """Why data is shared. Every canonical event names exactly one."""

    ASB_CASE_REVIEW = "asb_case_review"
    SAFEGUARDING = "safeguarding"
    ASB_CASE_MANAGEMENT = "asb_case_management"


class LawfulBasis(StrEnum):
    """Lawful bases used by the sharing agreements."""

    UK_GDPR_6_1_E = "uk_gdpr_art6_1_e_public_task"
    UK_GDPR_6_1_C = "uk_gdpr_art6_1_c_legal_obligation"
    DPA_2018_SCH1_PARA18 = "dpa2018_sch1_para18_safeguarding"
    DPA_2018_PART3_S35 = "dpa2018_part3_s35_law_enforcement"


class TokenKind(StrEnum):
    """Identifier types; each is tokenised under its own key so tokens never cross-match."""

    NHS_NUMBER = "nhs_number"
    POLICE_PERSON_ID = "police_person_id"
    HOUSING_PERSON_REF = "housing_person_ref"
    NAME_DOB = "name_dob"
    NAME = "name"
    DATE_OF_BIRTH = "dob"
    UPRN = "uprn"
    POSTCODE = "postcode"
    ADDRESS = "address"
    ORGANISATION = "organisation"
    TENANCY_REF = "tenancy_ref"
    INCIDENT_REF = "incident_ref"
    CASE_REF = "case_ref"
    INTERVENTION_REF = "intervention_ref"
    REFERRAL_REF = "referral_ref"
    FLAG_REF = "flag_ref"
    PARTNER_MESSAGE = "partner_message"


class AlertRule(StrEnum):
    """Conditions the correlator raises alerts for."""

    THRESHOLD_MET = "threshold_met"
    REVIEW_SUGGESTED = "review_suggested"
    SECOND_REPORT_PROMPT = "second_report_prompt"
    CPN_WITHOUT_PRIOR_CPW = "cpn_without_prior_cpw"
    PERPETRATOR_UNDER_CPW_REOFFENDS = "perpetrator_under_cpw_reoffends"
    PERPETRATOR_UNDER_CPW_NEW_ADDRESS = "perpetrator_under_cpw_new_address"


class RejectReason(StrEnum):
    """Machine-readable reasons a partner message is refused."""

    NOT_PARSEABLE = "not_parseable"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    SCHEMA_VIOLATION = "schema_violation"
    INVALID_NHS_NUMBER = "invalid_nhs_number"
    INVALID_UPRN = "invalid_uprn"
    INVALID_POSTCODE = "invalid_postcode"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNKNOWN_RESOURCE_TYPE = "unknown_resource_type"
    MESSAGE_ID_REUSED = "message_id_reused"
    HOSTILE_CONTENT = "hostile_content"
    INTERNAL_ERROR = "internal_error"
