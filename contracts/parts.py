"""Building blocks shared by several events: people and places, with no plaintext identity."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.protected import CorrelationKey, SealedField, Token
from contracts.vocab import PersonRole, RiskLevel, VictimType

__all__ = ["PersonRef", "PlaceRef"]


class PersonRef(BaseModel):
    """A person (or business, or community group) in an event, known only by tokens.

    ``subject`` is the strongest token the partner gave (NHS number, police or housing person id,
    else name and date of birth); ``keys`` holds every token so that linkage can try the weaker
    tiers. Name and date of birth travel sealed in ``identity``, phone and email in ``contact``,
    each for the audiences the agreement gives that data class.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: PersonRole
    subject: Token
    keys: tuple[CorrelationKey, ...] = Field(min_length=1)
    victim_type: VictimType = VictimType.INDIVIDUAL
    risk: RiskLevel | None = None
    birth_year: int | None = Field(
        default=None, ge=1900, le=2100, description="Coarse age band support for scored linkage."
    )
    identity: SealedField | None = None
    contact: SealedField | None = None


class PlaceRef(BaseModel):
    """A place, keyed by UPRN token when known and by normalised-address token as a fallback."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uprn: Token | None = None
    address: Token | None = Field(default=None, description="Token of the normalised address.")
    postcode: Token | None = None
    postcode_district: str | None = Field(
        default=None,
        pattern=r"^([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)$",
        description="Outward code only (e.g. M14): coarse enough to publish, useful for figures.",
    )
    details: SealedField | None = None

    @property
    def key(self) -> str | None:
        """The token to join places on: UPRN first, the address token otherwise."""
        return self.uprn or self.address
