"""Casework on the real broker: OSARA records round-trip, and the evidence bundle's entries and
provenance hashes check out against the chronology and the archived, signed audit log."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pypdf
import pytest
import pytest_asyncio
from pydantic import ValidationError

from contracts.audit import AuditAction, AuditRecord
from contracts.casework import ApplicationRoute, ResponseOutcome
from contracts.topics import AUDIT, CASEWORK
from contracts.vocab import Audience
from deploy.topics import ensure_topics
from services.audit.log import AuditLog, CheckpointSigner
from services.audit.verify import verify
from services.casework.bundle import Application
from services.casework.osara import case_record
from services.casework.provenance import archived_records
from services.casework.records import CaseContext, Recorder, case_id_for_alert
from services.casework.service import CaseworkService, Viewer
from services.casework.store import CaseworkStore
from services.correlator.domain.policy import load_policy
from services.demo.scenario import scenario
from services.kafka.reader import collect, read_all
from services.protection.keys import LocalKeyStore
from tests.casework.scenario import bethany
from tests.integration.exchange import Exchange, with_message_id

pytestmark = pytest.mark.kafka


@pytest_asyncio.fixture(loop_scope="session")
async def service(
    exchange: Exchange, keys: LocalKeyStore, tmp_path: Path
) -> AsyncIterator[CaseworkService]:
    """The casework service over the session's exchange, with the cuckooing scenario sent."""
    await ensure_topics(exchange.bootstrap, [CASEWORK])
    run = uuid.uuid4().hex[:8]
    fates = await exchange.send(
        *(with_message_id(m, f"CW-{run}-{i}") for i, m in enumerate(scenario()))
    )
    assert all(f.verdict and f.verdict.action is AuditAction.INBOUND_ACCEPTED for f in fates)
    yield CaseworkService(
        bootstrap=exchange.bootstrap,
        keys=keys,
        policy=load_policy(),
        audit_log=tmp_path / "audit.jsonl",
        store=CaseworkStore(exchange.bootstrap),
    )


async def _archive(bootstrap: str, log_path: Path, signer: CheckpointSigner) -> None:
    """What ``asbx audit archive`` does: append new audit records, sign a checkpoint."""
    log = AuditLog(log_path, signer, checkpoint_every=0)
    known = {r.record_id for r in log.records()}
    for raw in sorted(await read_all(bootstrap, AUDIT.name), key=lambda r: r.offset):
        try:
            record = AuditRecord.model_validate_json(raw.value or b"")
        except ValidationError:
            continue
        if record.record_id not in known:
            log.append(record)
            known.add(record.record_id)
    log.checkpoint()


async def test_osara_records_round_trip_with_audit(
    service: CaseworkService, keys: LocalKeyStore
) -> None:
    """Objective, response and assessment are read back from the topic, each with its audit."""
    alert = f"alert-{uuid.uuid4()}"
    context = CaseContext(
        case_id=case_id_for_alert(alert),
        case_subject=bethany(keys),
        area="default",
        audiences=(Audience.LEAD_AGENCY, Audience.POLICE),
        user="officer-17",
        acting_for=Audience.LEAD_AGENCY,
    )
    rec, now = Recorder(context, keys), datetime.now(UTC)
    agreed = rec.response_agreed(
        now, owner=Audience.HOUSING, agreed_on=date(2026, 6, 26), working_days=5,
        description="Housing to change the locks at Flat 4",
    )  # fmt: skip
    events = [
        rec.application_received(now, received_on=date(2026, 6, 22), route=ApplicationRoute.ASBX_ALERT, alert_id=alert),  # noqa: E501
        rec.objective_set(now, set_on=date(2026, 6, 26), objective="Bethany safe at home"),
        agreed,
        rec.response_assessed(now, response_id=agreed.id, assessed_on=date(2026, 7, 10), outcome=ResponseOutcome.WORKED, notes=None),  # noqa: E501
    ]  # fmt: skip
    for event in events:
        await service.record(event)
    back = case_record(await service.casework(context.case_id), context.case_id,
                       Audience.LEAD_AGENCY, keys)  # fmt: skip
    assert back.objective is not None
    assert back.objective.text == "Bethany safe at home"
    assert [r.outcome for r in back.responses.values()] == [ResponseOutcome.WORKED]
    assert back.responses[agreed.id].due_on == date(2026, 7, 3)
    ids = {e.id for e in events}
    audits = await collect(
        service.bootstrap,
        AUDIT.name,
        until=lambda rs: ids <= {AuditRecord.model_validate_json(r.value).event_id for r in rs
                                 if b'"casework_recorded"' in (r.value or b"")},
    )  # fmt: skip
    assert audits


async def test_evidence_bundle_matches_chronology_and_verifies(
    service: CaseworkService, keys: LocalKeyStore, tmp_path: Path
) -> None:
    """Every entry's event id and provenance hash in the PDF match the case and the signed log."""
    signer = CheckpointSigner.generate()
    await _archive(service.bootstrap, service.audit_log, signer)
    viewer = Viewer("officer-17", Audience.LEAD_AGENCY, justification="closure order application")
    case, pdf = await service.evidence_bundle(
        bethany(keys), viewer, Application.CLOSURE_ORDER, "Millbrook"
    )
    (tmp_path / "bundle.pdf").write_bytes(pdf)

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Contents" in reader.pages[1].extract_text()
    assert f"page {len(reader.pages)} of {len(reader.pages)}" in text
    event_ids = re.findall(r"Event id\s*([0-9a-f-]{36})", text)
    hashes = re.findall(r"Provenance hash\s*([0-9a-f]{64})", text)
    assert event_ids == [e for item in case.items for e in item.event_ids]
    assert len(hashes) == len(event_ids), "every entry has its provenance in the archive"

    archived = list(archived_records(service.audit_log))
    by_hash = dict(zip(_leaf_hashes(service.audit_log), archived, strict=True))
    for event_id, leaf in zip(event_ids, hashes, strict=True):
        assert by_hash[leaf].event_id == event_id
        assert by_hash[leaf].action is AuditAction.CANONICAL_PUBLISHED
    public = tmp_path / "audit.pub.pem"
    public.write_bytes(signer.public_key_pem())
    report = verify(service.audit_log, service.audit_log.with_name("audit.checkpoints.jsonl"),
                    public.read_bytes())  # fmt: skip
    assert report.ok, report.problems

    disclosures = await collect(
        service.bootstrap,
        AUDIT.name,
        until=lambda rs: any(b"evidence bundle for closure_order" in (r.value or b"") and
                             b"closure order application" in (r.value or b"") for r in rs),
    )  # fmt: skip
    assert disclosures


def _leaf_hashes(log: Path) -> list[str]:
    import json  # noqa: PLC0415 - only this helper reads the raw lines

    return [json.loads(line)["leaf_hash"] for line in log.read_text().splitlines() if line]
