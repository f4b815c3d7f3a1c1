"""Turning alert drafts into the records the correlator publishes: the alert and its audit.

Both go out in the transaction that changed the state, so an alert exists exactly when the state
says it was raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from contracts.alert_envelope import ALERT_TYPE, AlertEnvelope
from contracts.audit import AuditAction, AuditRecord
from contracts.protected import SealedField
from contracts.topics import AUDIT
from services.correlator.domain.alerts import ALERT_AUDIENCES, AlertDraft, alert_event
from services.correlator.domain.policy import AreaPolicy
from services.protection.keys import KeyStore
from services.protection.sealing import FieldSealer
from services.streams.engine import Output

__all__ = ["alert_outputs"]

_AUDIT_NS = uuid.UUID("8c0f77b5-2a8e-4b59-9a0e-5f1f0d6b3c21")


def _details(draft: AlertDraft, keys: KeyStore | None) -> SealedField | None:
    """What a lead officer needs to build the chronology, sealed for the alert's audiences.

    The correlator holds only audience public keys: it can seal these details but never open
    them (nor any partner field).
    """
    if keys is None:
        return None
    detail = {
        "reason_code": draft.reason_code,
        "scope": draft.scope,
        "ordinal": draft.ordinal,
        "contributing_event_ids": sorted(draft.event_ids),
        "met_at": draft.met_at.isoformat(),
    }
    return FieldSealer(keys, draft.alert_id).seal(
        "details", "alert_detail", detail, ALERT_AUDIENCES
    )


def _envelope(draft: AlertDraft, policy: AreaPolicy, keys: KeyStore | None) -> AlertEnvelope:
    event = alert_event(draft, policy)
    return AlertEnvelope(
        id=draft.alert_id,
        source=f"/asbx/correlator/{policy.area_id}",
        subject=draft.subject,
        time=draft.met_at,
        area=policy.area_id,
        policy=f"{policy.area_id}@{policy.threshold}/{policy.qualifying_period}",
        data=event.model_copy(update={"details": _details(draft, keys)}),
    )


def alert_outputs(
    drafts: Iterable[AlertDraft],
    policy: AreaPolicy,
    *,
    alerts_topic: str,
    actor: str,
    traceparent: bytes | None = None,
    keys: KeyStore | None = None,
) -> list[Output]:
    """Alert records (keyed by subject, CloudEvents headers) and their audit records."""
    outputs: list[Output] = []
    for draft in drafts:
        envelope = _envelope(draft, policy, keys)
        headers: list[tuple[str, bytes]] = [
            ("ce_specversion", b"1.0"),
            ("ce_id", envelope.id.encode()),
            ("ce_source", envelope.source.encode()),
            ("ce_type", ALERT_TYPE.encode()),
            ("ce_time", envelope.time.isoformat().encode()),
            ("ce_subject", envelope.subject.encode()),
            ("ce_dataschema", envelope.dataschema.encode()),
            ("content-type", b"application/json"),
        ]
        if traceparent:
            headers.append(("traceparent", traceparent))
        outputs.append(
            Output(
                alerts_topic,
                draft.subject.encode(),
                envelope.model_dump_json().encode(),
                tuple(headers),
            )
        )
        audit = AuditRecord(
            record_id=str(uuid.uuid5(_AUDIT_NS, f"alert|{draft.alert_id}")),
            at=draft.met_at,
            actor=actor,
            action=AuditAction.ALERT_RAISED,
            event_id=draft.alert_id,
            event_type=ALERT_TYPE,
            subject=draft.subject,
            purpose=envelope.purpose.value,
            lawful_basis=envelope.lawful_basis.value,
            recipient=",".join(a.value for a in envelope.data.audiences),
            outcome=f"{draft.rule.value}: {len(draft.event_ids)} event(s) contributed"[:300],
            related_ids=tuple(sorted(draft.event_ids)),
        )
        outputs.append(Output(AUDIT.name, actor.encode(), audit.model_dump_json().encode()))
    return outputs
