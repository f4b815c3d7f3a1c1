"""Noticing that a partner's sharing agreement changed, as an audit record.

An agreement decides who can open new data, so a change to it is a governance event IG staff
must see: which agreement, from which version to which, and which data classes gained or lost
audiences. A normaliser observes the agreement it seals under for every message; the first
message after a start records the agreement in force, and any later difference (even an edit
that forgot to bump the version: the content digest differs) records the change before the
first event sealed under it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.audit import AuditAction, AuditRecord
from services.sharing.agreements import Agreement

__all__ = ["AgreementObserver", "describe_change"]

_NS = uuid.UUID("b0b7e0c4-36d1-4f55-9d6b-0a8cbb8e4f1e")


def _audiences(agreement: Agreement, data_class: str) -> str:
    return ",".join(a.value for a in agreement.data_classes.get(data_class, ())) or "nobody"


def describe_change(previous: Agreement, current: Agreement) -> str:
    """What changed, in words an IG officer can check against the signed agreement."""
    parts = []
    if previous.ref != current.ref:
        parts.append(f"{previous.ref} -> {current.ref}")
    elif previous != current:
        parts.append(f"{current.ref} edited without a version change")
    for data_class in sorted(previous.data_classes.keys() | current.data_classes.keys()):
        before, after = _audiences(previous, data_class), _audiences(current, data_class)
        if before != after:
            parts.append(f"{data_class}: {before} -> {after}")
    for name in ("purpose", "lawful_basis", "retention"):
        if getattr(previous, name) != getattr(current, name):
            parts.append(f"{name}: {getattr(previous, name)} -> {getattr(current, name)}")
    return "; ".join(parts)


class AgreementObserver:
    """Remembers the agreement last sealed under and reports a change once."""

    def __init__(self, actor: str, partner: str) -> None:
        self._actor = actor
        self._partner = partner
        self._last: Agreement | None = None

    def forget(self) -> None:
        """Report the agreement in force again: the record carrying the last report was lost."""
        self._last = None

    def observe(
        self, agreement: Agreement, at: datetime, message_digest: str
    ) -> AuditRecord | None:
        """A POLICY_CHANGED record if ``agreement`` differs from the last one seen, else None."""
        if agreement == self._last:
            return None
        previous, self._last = self._last, agreement
        if previous is None:
            outcome = f"{agreement.ref} in force at start of {self._actor}"
        else:
            outcome = describe_change(previous, agreement)
        return AuditRecord(
            record_id=str(
                uuid.uuid5(_NS, f"{self._actor}|{agreement.model_dump_json()}|{message_digest}")
            ),
            at=at,
            actor=self._actor,
            action=AuditAction.POLICY_CHANGED,
            partner=self._partner,
            purpose=agreement.purpose.value,
            lawful_basis=agreement.lawful_basis.value,
            data_classes=tuple(sorted(agreement.data_classes)),
            outcome=outcome[:300],
        )
