"""Protecting planned health facts into canonical events.

The person goes through ``person_ref`` (NHS number token first, name and date of birth sealed
as ``identity``, phone as ``contact``); the Patient's current addresses only add UPRN and
address tokens to the envelope's correlation keys, so the correlator can join a vulnerable
person to a place without any address travelling. Health detail is sealed as ``health_detail``
(flags) or ``referral_detail`` (referrals), which the agreement opens to health alone.
"""

from __future__ import annotations

from contracts.envelope import CanonicalEvent
from contracts.events import SupportReferralMade, VulnerabilityFlagEnded, VulnerabilityFlagRaised
from contracts.protected import CorrelationKey
from contracts.vocab import Partner, PersonRole, TokenKind
from services.normalise.context import MappingContext
from services.normalise.subjects import person_ref, place_ref
from services.partners.health.mapping import LONDON, Planned

__all__ = ["ROLE", "build"]

#: A health partner knows nothing of ASB roles; the person is the one the agreement protects.
ROLE = PersonRole.SUBJECT_OF_CARE


def build(item: Planned, ctx: MappingContext) -> CanonicalEvent:
    """The protected canonical event for one planned fact."""
    event_id = ctx.event_id(item.fact_key)
    sealer = ctx.sealer(event_id)
    person = person_ref(ctx, sealer, "person", ROLE, item.subject.identity)
    keys: list[CorrelationKey] = list(person.keys)
    for i, where in enumerate(item.subject.places):
        place = place_ref(ctx, sealer, f"places[{i}]", where)
        for kind, token in ((TokenKind.UPRN, place.uprn), (TokenKind.ADDRESS, place.address)):
            if token and all(k.token != token for k in keys):
                keys.append(CorrelationKey(kind=kind, token=token))
    day = item.occurred_at.astimezone(LONDON).date()
    data: VulnerabilityFlagRaised | VulnerabilityFlagEnded | SupportReferralMade
    if item.kind == "flag_raised":
        data = VulnerabilityFlagRaised(
            flag_ref=ctx.token(TokenKind.FLAG_REF, item.ref_key),
            person=person,
            raised_by=Partner.HEALTH,
            active_from=day,
            safeguarding_concern=item.concept.safeguarding,
            detail=sealer.seal("detail", "health_detail", item.detail),
        )
    elif item.kind == "flag_ended":
        data = VulnerabilityFlagEnded(
            flag_ref=ctx.token(TokenKind.FLAG_REF, item.ref_key),
            person=person,
            raised_by=Partner.HEALTH,
            ended_on=day,
        )
    else:
        data = SupportReferralMade(
            referral_ref=ctx.token(TokenKind.REFERRAL_REF, item.ref_key),
            person=person,
            referring_agency=Partner.HEALTH,
            referred_on=day,
            status=item.status,  # checked against the contract's statuses in plan
            service=sealer.seal("service", "referral_detail", item.detail),
        )
    return ctx.envelope(
        event_id=event_id,
        subject=person.subject,
        occurred_at=item.occurred_at,
        data=data,
        correlation_keys=tuple(keys),
    )
