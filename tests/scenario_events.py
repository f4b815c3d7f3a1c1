"""The sample scenario normalised in-process: canonical events for tests that need no broker."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.envelope import CanonicalEvent
from services.demo.scenario import scenario
from services.normalise.outcome import Accepted, InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import KeyStore
from services.sharing.agreements import load

__all__ = ["RECORDED_AT", "scenario_events"]

#: When the scenario is taken to arrive (fixes the retention month of every sealed field).
RECORDED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def scenario_events(keys: KeyStore, recorded_at: datetime = RECORDED_AT) -> list[CanonicalEvent]:
    """Every canonical event of the cuckooing scenario, sealed under ``keys``."""
    normalisers = {}
    events: list[CanonicalEvent] = []
    for offset, message in enumerate(scenario()):
        normaliser = normalisers.get(message.partner) or Normaliser(
            adapter_for(message.partner),
            keys=keys,
            agreements=load,
            seen=InMemorySeenStore(),
            max_message_bytes=1 << 20,
            clock=lambda: recorded_at,
        )
        normalisers[message.partner] = normaliser
        headers = {"content-type": message.content_type}
        outcome = normaliser.process(
            InboundRecord(
                f"scenario.{message.partner.value}", 0, offset, None, message.value, headers
            )
        )
        assert isinstance(outcome, Accepted), f"{message.label} was not accepted: {outcome}"
        events.extend(outcome.events)
    return events
