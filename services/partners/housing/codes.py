"""The housing format's controlled vocabularies, and how each maps to the canonical one.

Codes are lower-snake spellings of the HACT housing data standards' concepts where one exists
(tenancy events, tenure types, ASB categories and types). Keeping each list beside its mapping
means a new code cannot be accepted by the format without the mapping saying what it becomes.
"""

from __future__ import annotations

from typing import Literal

from contracts.vocab import InterventionType, TenancyEventType

__all__ = [
    "ACTIONS",
    "MESSAGE_TYPES",
    "TENANCY_EVENTS",
    "ActionTypeCode",
    "AsbTypeCode",
    "HateStrandCode",
    "TenancyEventCode",
    "TenureTypeCode",
]

MESSAGE_TYPES = ("tenancy", "asb_case_report", "asb_action")

TenancyEventCode = Literal[
    "started", "ended", "notice_seeking_possession_served", "transferred",
    "occupant_added", "occupant_removed",
]  # fmt: skip
TENANCY_EVENTS: dict[TenancyEventCode, TenancyEventType] = {
    "started": TenancyEventType.TENANCY_STARTED,
    "ended": TenancyEventType.TENANCY_ENDED,
    "notice_seeking_possession_served": TenancyEventType.NOTICE_SERVED,
    "transferred": TenancyEventType.TRANSFER,
    "occupant_added": TenancyEventType.OCCUPANT_ADDED,
    "occupant_removed": TenancyEventType.OCCUPANT_REMOVED,
}

#: Carried as the canonical ``tenure_type`` text unchanged.
TenureTypeCode = Literal[
    "secure", "introductory", "flexible", "assured", "assured_shorthold", "starter",
    "demoted", "licence", "shared_ownership", "leasehold",
]  # fmt: skip

#: Carried in the canonical ``classification`` after the category (``ASB-PERSONAL/noise``).
AsbTypeCode = Literal[
    "noise", "verbal_abuse_harassment_intimidation", "violence_threats", "drugs_substance_misuse",
    "alcohol_related", "vandalism_damage", "litter_rubbish_fly_tipping", "pets_animals",
    "vehicles", "misuse_of_communal_areas", "garden_nuisance", "other",
]  # fmt: skip

#: Accepted so a partner can send its record unedited, then dropped (special-category detail).
HateStrandCode = Literal[
    "race", "religion", "sexual_orientation", "disability", "transgender_identity", "other"
]

#: Steps a landlord takes itself. Closure powers belong to police and councils, so are absent.
ActionTypeCode = Literal[
    "warning_letter", "letter_of_expectation", "acceptable_behaviour_contract", "civil_injunction"
]
ACTIONS: dict[ActionTypeCode, InterventionType] = {
    "warning_letter": InterventionType.WARNING_LETTER,
    "letter_of_expectation": InterventionType.LETTER_OF_EXPECTATION,
    "acceptable_behaviour_contract": InterventionType.ACCEPTABLE_BEHAVIOUR_CONTRACT,
    "civil_injunction": InterventionType.CIVIL_INJUNCTION,
}
