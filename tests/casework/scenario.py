"""The cuckooing scenario's partner messages normalised in-process: real tokens, real sealing."""

from __future__ import annotations

from contracts.envelope import CanonicalEvent
from contracts.vocab import TokenKind
from services.demo.scenario import scenario
from services.normalise.outcome import Accepted, InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import KeyStore
from services.protection.tokens import Tokeniser
from services.sharing.agreements import load


def scenario_events(keys: KeyStore) -> list[CanonicalEvent]:
    """Every canonical event the scenario's partner messages produce."""
    events: list[CanonicalEvent] = []
    for message in scenario():
        normaliser = Normaliser(
            adapter_for(message.partner),
            keys=keys,
            agreements=load,
            seen=InMemorySeenStore(),
            max_message_bytes=1 << 20,
        )
        record = InboundRecord(
            "t", 0, 0, None, message.value, {"content-type": message.content_type}
        )
        outcome = normaliser.process(record)
        assert isinstance(outcome, Accepted), message.label
        events += outcome.events
    return events


def bethany(keys: KeyStore) -> str:
    """Bethany Marsh's full-name and date-of-birth token (the alert subject)."""
    return Tokeniser(keys).token(TokenKind.NAME_DOB, "BETHANY MARSH|1989-04-17")
