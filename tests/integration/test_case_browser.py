"""The lead officer's case view in headless Chromium over the cuckooing scenario on the real
broker: partner messages through the normalisers and the correlator, the alert opened, the
chronology, the pictures, OSARA work recorded, and the evidence bundle checked."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pypdf
import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from contracts.audit import AuditAction, AuditRecord
from contracts.topics import AUDIT, CASEWORK
from contracts.vocab import AlertRule, Audience
from deploy.topics import ensure_topics
from services.audit.archive import archive_topic
from services.casework.case import build_case
from services.casework.records import case_id_for_alert
from services.correlator.app import CorrelatorService
from services.correlator.domain.policy import load_policy
from services.demo.scenario import scenario
from services.kafka.reader import collect
from services.protection.keys import LocalKeyStore
from services.web.settings import WebSettings
from tests.casework.scenario import bethany
from tests.integration.correlation import alerts, wait_caught_up
from tests.integration.exchange import Exchange, with_message_id
from tests.web.browser import LiveServer, chromium, log_in, page, screenshot, serve, stop

__all__ = ["chromium", "page"]  # fixtures used here, defined beside the other web tests

pytestmark = pytest.mark.kafka

DASH = "\N{EN DASH}"
JUSTIFICATION = "Preparing the case review for Bethany"
HEALTH_DETAIL = ("Learning disability", "easy read", "cuckooing at home address")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(
    exchange: Exchange,
    correlator: CorrelatorService,
    keys_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveServer]:
    """The web app over the scenario (sent once, correlated, audit archived)."""
    tmp_path = tmp_path_factory.mktemp("case-web")
    await ensure_topics(exchange.bootstrap, [CASEWORK])
    run = uuid.uuid4().hex[:8]
    await exchange.send(*(with_message_id(m, f"UI-{run}-{i}") for i, m in enumerate(scenario())))
    await wait_caught_up(correlator)
    settings = WebSettings(
        KAFKA_BOOTSTRAP_SERVERS=exchange.bootstrap,
        ASBX_KEYS_DIR=keys_dir,
        ASBX_WEB_STATE_DIR=tmp_path / "web",
        ASBX_AUDIT_LOG=tmp_path / "audit" / "audit.jsonl",
        ASBX_ALERTS_TOPIC=correlator.alerts_topic,
    )
    await archive_topic(exchange.bootstrap, settings.audit_log, keys_dir)
    live = serve(settings)
    try:
        yield live
    finally:
        stop(live)


async def _open_case(page: Page, server: LiveServer, keys: LocalKeyStore) -> str:
    """From the alerts list, open the case of this run's threshold alert about Bethany (the
    kept broker also holds alerts about earlier runs' people, under other keys)."""
    found = await alerts(server.settings.kafka_bootstrap_servers, server.settings.alerts_topic)
    (alert,) = [
        a for a in found if a.subject == bethany(keys) and a.data.rule is AlertRule.THRESHOLD_MET
    ]
    await log_in(page, server, "lead.officer", "/cases")
    await page.locator(f'a[href="/cases/{case_id_for_alert(alert.id)}/open"]').click()
    await page.get_by_label("Justification").fill(JUSTIFICATION)
    await page.get_by_role("button", name="Open case").click()
    await expect(page.get_by_test_id("victim")).to_have_text("Bethany Marsh")
    return alert.id


async def test_case_view_shows_chronology_pictures_and_ladders(
    page: Page, server: LiveServer, keys: LocalKeyStore
) -> None:
    """Full chronology, heat map, threshold chart and a ladder per visitor; the lead agency
    sees that Bethany is flagged vulnerable but not why."""
    alert_id = await _open_case(page, server, keys)
    expected = build_case(
        await server.app.state.casework.canonical_events(),
        bethany(keys),
        Audience.LEAD_AGENCY,
        keys,
        load_policy(),
    )
    await expect(page.get_by_test_id("entry")).to_have_count(len(expected.items))
    await expect(page.locator("[data-testid=entry][data-kind=vulnerability]")).to_have_count(2)
    shared = page.get_by_test_id("entry").filter(
        has_text="one incident reported to housing and police"
    )
    await expect(shared).to_have_count(1)
    vulnerability = page.get_by_test_id("vulnerability")
    await expect(vulnerability).to_contain_text("Flagged vulnerable")
    await expect(vulnerability).to_contain_text("not shared with your audience")
    body = await page.content()
    for detail in HEALTH_DETAIL:
        assert detail not in body
    await expect(page.get_by_test_id("heat-map")).to_be_visible()
    await expect(page.get_by_test_id("threshold-chart")).to_be_visible()
    ladders = page.get_by_test_id("ladder-block")
    await expect(ladders).to_have_count(2)
    await expect(ladders.filter(has_text="Jordan Pike")).to_contain_text(
        "Community protection notice"
    )
    await expect(ladders.filter(has_text="Tyler Voss").get_by_test_id("breach")).to_contain_text(
        "at another address"
    )
    await screenshot(page, "case-view")

    first = page.get_by_test_id("entry").first
    await first.locator("summary").first.click()
    await first.get_by_test_id("provenance-link").first.click()
    await expect(page.get_by_test_id("leaf-hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    await screenshot(page, "case-provenance")

    def viewed(records: list[object]) -> bool:
        for r in records:
            value = r.value or b""  # type: ignore[attr-defined]
            if b"case view" in value:
                record = AuditRecord.model_validate_json(value)
                if alert_id in record.related_ids and record.justification == JUSTIFICATION:
                    return record.recipient == "lead_agency" and "detail" not in record.fields
        return False

    assert await collect(server.settings.kafka_bootstrap_servers, AUDIT.name, until=viewed)


async def test_osara_work_and_evidence_bundle(
    page: Page, server: LiveServer, keys: LocalKeyStore
) -> None:
    """An objective and a response are recorded and shown; the bundle's entries follow the
    chronology on screen and its export is audited; a recorded application is counted in the
    yearly figures."""
    await _open_case(page, server, keys)
    await page.get_by_label("Objective").fill("Bethany is safe at home and the visits stop")
    await page.get_by_role("button", name="Set objective").click()
    await expect(page.get_by_test_id("objective")).to_contain_text("the visits stop")
    await page.get_by_label("Agree a response").fill("Change the locks at Flat 4")
    await page.get_by_label("Owner").select_option("housing")
    await page.get_by_role("button", name="Agree response").click()
    await expect(page.get_by_test_id("responses")).to_contain_text("Change the locks")
    await screenshot(page, "case-osara")

    headings = await page.locator("[data-testid=entry] h3").all_inner_texts()
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download evidence bundle (PDF)").click()
    download = await download_info.value
    pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    for heading in headings:
        assert heading.split(f" {DASH} ", 1)[1].split(",")[0] in text
    assert len(re.findall(r"Provenance hash\s*[0-9a-f]{64}", text)) >= len(headings)

    def exported(records: list[object]) -> bool:
        for r in records:
            value = r.value or b""  # type: ignore[attr-defined]
            if b"evidence bundle" in value:
                record = AuditRecord.model_validate_json(value)
                if record.action is AuditAction.DISCLOSURE and record.message_sha256:
                    return True
        return False

    assert await collect(server.settings.kafka_bootstrap_servers, AUDIT.name, until=exported)

    received = page.get_by_test_id("figures").locator("tbody tr").first.locator("td").first
    await page.get_by_role("link", name="Case review figures").click()
    before = int(await received.inner_text())
    await page.go_back()
    await page.get_by_text("Record the application, threshold decision or review").click()
    await page.get_by_role("button", name="Record application").click()
    await page.get_by_role("link", name="Case review figures").click()
    await expect(received).to_have_text(str(before + 1))
    await screenshot(page, "case-figures")
