"""Sizing a deployment's topics: only the topics instances share out take its partition count."""

from __future__ import annotations

import pytest

from contracts.topics import ALERTS, AUDIT, CANONICAL_EVENTS, CASEWORK, TOPICS, sized_for
from deploy.topics import declared_topics
from services.correlator.settings import CorrelatorSettings
from services.settings import Settings


def test_unset_leaves_the_declared_counts() -> None:
    assert sized_for(None) == TOPICS


def test_partner_canonical_and_alert_topics_take_the_count() -> None:
    sized = {spec.name: spec for spec in sized_for(1)}
    shared = {
        name
        for name in sized
        if name.startswith("asbx.inbound.") or name in {CANONICAL_EVENTS.name, ALERTS.name}
    }
    assert len(shared) == 5  # three partners' inbound topics, canonical events, alerts
    for spec in TOPICS:
        expected = 1 if spec.name in shared else spec.partitions
        assert sized[spec.name].partitions == expected, spec.name
    # The single audit stream stays one partition, case work and compacted tables as declared.
    assert sized[AUDIT.name] == AUDIT
    assert sized[CASEWORK.name] == CASEWORK


def test_no_partitions_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        sized_for(0)


def test_the_setting_sizes_topics_and_the_correlator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASBX_PARTITIONS", "2")
    assert Settings().partitions == 2
    assert CorrelatorSettings().partitions == 2
    sized = {spec.name: spec.partitions for spec in declared_topics()}
    assert sized[CANONICAL_EVENTS.name] == 2
    assert sized[AUDIT.name] == 1
    monkeypatch.delenv("ASBX_PARTITIONS")
    assert declared_topics() == TOPICS
    assert CorrelatorSettings().partitions == CANONICAL_EVENTS.partitions


def test_out_of_range_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASBX_PARTITIONS", "0")
    with pytest.raises(ValueError, match="ASBX_PARTITIONS"):
        Settings()
