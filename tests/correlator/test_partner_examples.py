"""The partners' own example messages, through the real normalisers, give the expected alerts.

Checks the domain against what production tokenisation produces (keys, order, name variants),
not only against the test builders. Pure: no Kafka, keys in a temporary directory.
"""

from __future__ import annotations

from pathlib import Path

from services.correlator.domain.facts import fact_from_event
from services.demo.scenario import scenario
from services.normalise.outcome import Accepted, InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.sharing.agreements import load
from tests.correlator.builders import Stream, at


def test_partner_examples_raise_the_cuckooing_alerts(tmp_path: Path) -> None:
    """Threshold, prompt, two reviews for Bethany; reoffence for Jordan; Tyler twice."""
    keys = LocalKeyStore(tmp_path / "keys")
    stream = Stream()
    for offset, message in enumerate(scenario()):
        normaliser = Normaliser(
            adapter_for(message.partner),
            keys=keys,
            agreements=load,
            seen=InMemorySeenStore(),
            max_message_bytes=1 << 20,
        )
        headers = {"content-type": message.content_type}
        outcome = normaliser.process(
            InboundRecord(f"in.{message.partner}", 0, offset, None, message.value, headers)
        )
        assert isinstance(outcome, Accepted), message.label
        stream.run(f for e in outcome.events if (f := fact_from_event(e)) is not None)
    stream.tick(at("2026-09-01T00:00"))
    assert sorted((a.rule.value, a.reason_code) for a in stream.alerts) == [
        ("perpetrator_under_cpw_new_address", "cpw_new_address"),
        ("perpetrator_under_cpw_reoffends", "cpw_reoffends"),
        ("perpetrator_under_cpw_reoffends", "cpw_reoffends"),
        ("review_suggested", "high_risk"),
        ("review_suggested", "vulnerable"),
        ("second_report_prompt", "second_report"),
        ("threshold_met", "threshold"),
    ]
