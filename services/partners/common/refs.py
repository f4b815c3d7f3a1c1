"""Partner references as tokens, and the correlation keys an event is joined on.

Agencies number their records independently, so a bare reference could collide across them:
a reference token is namespaced by partner and what it names (``POLICE:INCIDENT:<ref>``). Both
mappings must use the same rule, or a housing report quoting a police incident reference would
not share that incident's key. Likewise every event lists its keys in one order (people, then
place, then references) with duplicates removed, whichever partner it came from.
"""

from __future__ import annotations

from contracts.parts import PersonRef, PlaceRef
from contracts.protected import CorrelationKey
from contracts.vocab import TokenKind
from services.normalise.context import MappingContext

__all__ = ["correlation_keys", "ref_token"]


def ref_token(ctx: MappingContext, kind: TokenKind, partner: str, what: str, ref: str) -> str:
    """Token of a partner reference, namespaced by partner and what it names."""
    return ctx.token(kind, f"{partner}:{what}:{ref.strip()}".upper())


def correlation_keys(
    people: list[PersonRef], place: PlaceRef | None, *refs: CorrelationKey
) -> tuple[CorrelationKey, ...]:
    """Every join key of an event, de-duplicated, strongest (people) first."""
    found = [key for person in people for key in person.keys]
    if place is not None and place.uprn:
        found.append(CorrelationKey(kind=TokenKind.UPRN, token=place.uprn))
    if place is not None and place.address:
        found.append(CorrelationKey(kind=TokenKind.ADDRESS, token=place.address))
    found.extend(refs)
    return tuple({key.token: key for key in found}.values())
