"""The police format's controlled vocabularies, and how each maps to the canonical one.

Keeping each list beside its mapping means a new code cannot be accepted by the format without
the mapping saying what it becomes.
"""

from __future__ import annotations

from typing import Literal

from contracts.vocab import AsbCategory, InterventionType, PersonRole

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "CLOSURE_ACTIONS",
    "ROLES",
    "ActionCode",
    "ClassificationCode",
    "HateStrandCode",
    "RoleCode",
]

#: The force's ASB incident classification (National Standard for Incident Recording).
ClassificationCode = Literal["ASB-PERSONAL", "ASB-NUISANCE", "ASB-ENVIRONMENTAL"]
CATEGORIES: dict[ClassificationCode, AsbCategory] = {
    "ASB-PERSONAL": AsbCategory.PERSONAL,
    "ASB-NUISANCE": AsbCategory.NUISANCE,
    "ASB-ENVIRONMENTAL": AsbCategory.ENVIRONMENTAL,
}

#: A person's involvement in the event; a suspect is an alleged perpetrator until proven.
RoleCode = Literal["victim", "complainant", "suspect", "witness"]
ROLES: dict[RoleCode, PersonRole] = {
    "victim": PersonRole.VICTIM,
    "complainant": PersonRole.COMPLAINANT,
    "suspect": PersonRole.ALLEGED_PERPETRATOR,
    "witness": PersonRole.WITNESS,
}

#: Powers under the Anti-social Behaviour, Crime and Policing Act 2014.
ActionCode = Literal["CPW", "CPN", "CIVIL_INJUNCTION", "CBO", "CLOSURE_NOTICE", "CLOSURE_ORDER"]
ACTIONS: dict[ActionCode, InterventionType] = {
    "CPW": InterventionType.COMMUNITY_PROTECTION_WARNING,
    "CPN": InterventionType.COMMUNITY_PROTECTION_NOTICE,
    "CIVIL_INJUNCTION": InterventionType.CIVIL_INJUNCTION,
    "CBO": InterventionType.CRIMINAL_BEHAVIOUR_ORDER,
    "CLOSURE_NOTICE": InterventionType.CLOSURE_NOTICE,
    "CLOSURE_ORDER": InterventionType.CLOSURE_ORDER,
}
#: Closure powers bind premises, not a person.
CLOSURE_ACTIONS: frozenset[ActionCode] = frozenset({"CLOSURE_NOTICE", "CLOSURE_ORDER"})

#: Monitored hate strands. Accepted so the record can be sent unedited, then dropped.
HateStrandCode = Literal[
    "race", "religion", "sexual_orientation", "disability", "transgender_identity", "other"
]
