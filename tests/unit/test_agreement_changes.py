"""A change to a sharing agreement is audited before the first event sealed under it."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from contracts.audit import AuditAction
from contracts.vocab import Audience, Partner
from services.audit.records import audit_records, sealed_fields
from services.demo.scenario import scenario
from services.normalise.outcome import Accepted, InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.sharing.agreements import DEFAULT_AGREEMENTS, AgreementFile, load
from services.sharing.changes import describe_change


def _housing_messages() -> list[bytes]:
    return [m.value for m in scenario() if m.partner is Partner.HOUSING]


def _process(normaliser: Normaliser, value: bytes, offset: int) -> Accepted:
    outcome = normaliser.process(
        InboundRecord("inbound", 0, offset, None, value, {"content-type": "application/json"})
    )
    assert isinstance(outcome, Accepted)
    return outcome


def test_agreement_in_force_is_recorded_once_then_each_change(tmp_path: Path) -> None:
    """First message: the agreement in force; unchanged: nothing; edited: what changed."""
    agreements_file = tmp_path / "agreements.yaml"
    doc = yaml.safe_load(DEFAULT_AGREEMENTS.read_text())
    agreements_file.write_text(yaml.safe_dump(doc))
    normaliser = Normaliser(
        adapter_for(Partner.HOUSING),
        keys=LocalKeyStore(tmp_path / "keys"),
        agreements=AgreementFile(agreements_file),
        seen=InMemorySeenStore(),
        max_message_bytes=1 << 20,
    )
    first, second, third = _housing_messages()[:3]

    at_start = _process(normaliser, first, 0)
    (record,) = at_start.policy_changes
    assert record.action is AuditAction.POLICY_CHANGED
    assert record.outcome is not None
    assert "isa-asb-housing@1 in force" in record.outcome
    assert audit_records("normaliser:housing", record.at, at_start)[0] == record

    assert _process(normaliser, second, 1).policy_changes == ()

    doc["agreements"]["housing"]["version"] = 2
    doc["agreements"]["housing"]["data_classes"]["contact"] = ["housing", "police"]
    agreements_file.write_text(yaml.safe_dump(doc))
    os.utime(agreements_file, ns=(1, 1))  # a new mtime even within one clock tick
    changed = _process(normaliser, third, 2)
    (change,) = changed.policy_changes
    assert change.outcome == (
        "isa-asb-housing@1 -> isa-asb-housing@2; "
        "contact: housing,police,lead_agency -> housing,police"
    )
    for event in changed.events:
        for field in sealed_fields(event.data):
            if field.data_class == "contact":
                assert Audience.LEAD_AGENCY not in field.audiences
                assert event.agreement == "isa-asb-housing@2"


def test_edit_without_version_bump_is_still_a_change() -> None:
    """The content digest, not the version number, decides whether an agreement changed."""
    before = load().for_partner(Partner.POLICE)
    after = before.model_copy(update={"retention": "P7Y after case closure"})
    assert describe_change(before, after) == (
        "isa-asb-police@1 edited without a version change; "
        "retention: P6Y after case closure -> P7Y after case closure"
    )


def test_agreement_in_force_is_reported_again_after_an_uncommitted_outcome(
    tmp_path: Path,
) -> None:
    """If the outcome carrying the policy record was not committed, the retry carries it."""
    normaliser = Normaliser(
        adapter_for(Partner.HOUSING),
        keys=LocalKeyStore(tmp_path / "keys"),
        agreements=load,
        seen=InMemorySeenStore(),
        max_message_bytes=1 << 20,
    )
    first = _housing_messages()[0]
    assert _process(normaliser, first, 0).policy_changes
    normaliser.not_committed()
    (again,) = _process(normaliser, first, 0).policy_changes
    assert again.action is AuditAction.POLICY_CHANGED
