"""Which adapter serves which partner: the one place a new partner is registered."""

from __future__ import annotations

from contracts.vocab import Partner
from services.normalise.port import PartnerAdapter

__all__ = ["adapter_for", "all_adapters"]


def adapter_for(partner: Partner | str) -> PartnerAdapter:
    """The adapter for ``partner``."""
    chosen = Partner(partner)
    if chosen is Partner.HOUSING:
        from services.partners.housing.adapter import HousingAdapter  # noqa: PLC0415

        return HousingAdapter()
    if chosen is Partner.HEALTH:
        from services.partners.health.adapter import HealthAdapter  # noqa: PLC0415

        return HealthAdapter()
    from services.partners.police.adapter import PoliceAdapter  # noqa: PLC0415

    return PoliceAdapter()


def all_adapters() -> list[PartnerAdapter]:
    """One adapter per partner, in a stable order."""
    return [adapter_for(partner) for partner in Partner]
