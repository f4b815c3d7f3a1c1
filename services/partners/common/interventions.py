"""An intervention as the canonical event states it, whichever agency issued it.

Housing actions and police powers resolve their terms the same way: a term starts on
``effective_from`` (else the issue date), and a ``duration`` counts from then at the time of day
it was issued, in calendar months where it is given in months. Written once, so the escalation
ladder compares like with like across agencies; conditions are always sealed, never in clear.
"""

from __future__ import annotations

from datetime import datetime

from contracts.events import InterventionIssued
from contracts.parts import PersonRef, PlaceRef
from contracts.vocab import InterventionType, Partner, TokenKind
from services.normalise.context import EventSealer, MappingContext
from services.partners.common.fields import ActionTerms
from services.partners.common.refs import ref_token

__all__ = ["intervention"]


def intervention(
    ctx: MappingContext,
    sealer: EventSealer,
    action: ActionTerms,
    agency: Partner,
    kind: InterventionType,
    *,
    subject: PersonRef | None,
    premises: PlaceRef | None = None,
    related: tuple[str, ...] = (),
) -> InterventionIssued:
    """The canonical ``kind`` of intervention ``agency`` took, its term resolved to dates.

    The action reference is tokenised in ``agency``'s namespace (``POLICE:ACTION:<ref>``).
    """
    effective = action.effective_from or action.issued_at.date()
    expires = action.expires_on
    if action.duration is not None:
        start = datetime.combine(effective, action.issued_at.timetz())
        expires = action.duration.end(start).date()
    return InterventionIssued(
        intervention_ref=ref_token(
            ctx, TokenKind.INTERVENTION_REF, agency, "action", action.action_ref
        ),
        intervention=kind,
        issuing_agency=agency,
        issued_on=action.issued_at.date(),
        effective_from=effective,
        expires_on=expires,
        duration_days=(expires - effective).days if expires else None,
        subject=subject,
        premises=premises,
        related_incidents=related,
        conditions=sealer.seal_if("conditions", "intervention_conditions", action.conditions),
    )
