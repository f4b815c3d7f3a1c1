"""The IG review end to end: the scenario through the real services, reviewed in Chromium.

Partner messages go through the normalisers and the correlator on the real broker, a lead
officer's chronology is recorded as a disclosure, and an IG officer then refreshes the archive
from the audit topic, finds the disclosures about the subject, opens an alert's provenance, runs
verification and downloads the report, all in Debian's headless Chromium.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from pypdf import PdfReader

from contracts.vocab import AlertRule, Audience, TokenKind
from services.cli.chronology import show_chronology
from services.correlator.app import CorrelatorService
from services.demo.scenario import scenario
from services.protection.keys import LocalKeyStore
from services.protection.tokens import Tokeniser
from services.web.settings import WebSettings
from tests.integration.correlation import alerts, wait_caught_up
from tests.integration.exchange import Exchange, with_message_id
from tests.web.browser import LiveServer, chromium, log_in, page, screenshot, serve, stop

pytestmark = pytest.mark.kafka
__all__ = ["chromium", "page"]  # browser fixtures used here


@pytest.fixture
def ig_server(
    tmp_path: Path, keys_dir: Path, correlator: CorrelatorService
) -> Iterator[LiveServer]:
    """The web UI reading this session's broker, alerts topic and a fresh archive."""
    settings = WebSettings(
        KAFKA_BOOTSTRAP_SERVERS=correlator.bootstrap,
        ASBX_KEYS_DIR=keys_dir,
        ASBX_AUDIT_LOG=tmp_path / "audit" / "audit.jsonl",
        ASBX_ALERTS_TOPIC=correlator.alerts_topic,
        ASBX_WEB_STATE_DIR=tmp_path / "web",
    )
    live = serve(settings)
    try:
        yield live
    finally:
        stop(live)


async def test_ig_officer_reviews_the_scenario_in_the_browser(
    exchange: Exchange,
    correlator: CorrelatorService,
    keys: LocalKeyStore,
    keys_dir: Path,
    ig_server: LiveServer,
    page: Page,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Log in, find the subject's disclosures, open provenance, verify, download the report."""
    run = uuid.uuid4().hex[:8]
    await exchange.send(*[with_message_id(m, f"IG-{run}-{i}") for i, m in enumerate(scenario())])
    await wait_caught_up(correlator)
    bethany = Tokeniser(keys).token(TokenKind.NAME_DOB, "BETHANY MARSH|1989-04-17")
    (alert,) = [
        a
        for a in await alerts(correlator.bootstrap, correlator.alerts_topic)
        if a.subject == bethany and a.data.rule is AlertRule.THRESHOLD_MET
    ]
    actor = f"lead.officer.{run}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", correlator.bootstrap)
    monkeypatch.setenv("ASBX_KEYS_DIR", str(keys_dir))
    await show_chronology(
        bethany,
        Audience.LEAD_AGENCY,
        "asb_case_review",
        f"Case review panel {run}",
        actor,
        alert_ids=(alert.id,),
    )

    await log_in(page, ig_server, "ig.officer")
    await page.get_by_role("button", name="Refresh from the audit topic").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Archived")
    await expect(page.get_by_test_id("table-action")).to_contain_text("disclosure")
    await screenshot(page, "e2e-exchanges")

    await page.get_by_role("link", name="Disclosures").click()
    await page.get_by_label("Subject token").fill(bethany)
    await page.get_by_role("button", name="Search").click()
    sharing = page.get_by_test_id("sharing")
    await expect(sharing).to_contain_text(actor)
    await expect(sharing).to_contain_text(f"Case review panel {run}")
    await screenshot(page, "e2e-disclosures")

    await page.locator(f'a[href="/ig/alerts/{alert.id}"]').first.click()
    await expect(page.get_by_test_id("alert-summary")).to_contain_text("threshold_met")
    contributions = page.get_by_test_id("contributions")
    await expect(contributions.locator("tbody tr").first).to_be_visible()
    rows = await contributions.locator("tbody tr").count()
    assert rows >= 3, "an alert rests on at least three partner events"
    await expect(contributions).not_to_contain_text("no publication record")
    await expect(page.get_by_test_id("readers")).to_contain_text(actor)
    await screenshot(page, "e2e-provenance")

    await page.get_by_role("link", name="Verify").click()
    await page.get_by_role("button", name="Run verification").click()
    await expect(page.get_by_test_id("verify-ok")).to_contain_text("Archive verified")
    await screenshot(page, "e2e-verify")

    await page.get_by_role("link", name="Reports").click()
    await screenshot(page, "e2e-reports")
    async with page.expect_download() as pdf_download:
        await page.get_by_role("link", name="Download report (PDF)").click()
    pdf_path = tmp_path / "report.pdf"
    await (await pdf_download.value).save_as(pdf_path)
    text = "\n".join(p.extract_text() for p in PdfReader(pdf_path).pages)
    assert "Information-governance report" in text
    assert "Period:" in text
    assert actor in "".join(text.split())  # a table cell may wrap it
    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="Download disclosures (CSV)").click()
    csv_path = tmp_path / "disclosures.csv"
    await (await csv_download.value).save_as(csv_path)
    rows_read = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    (ours,) = [r for r in rows_read if r["actor"] == actor]
    assert ours["subject"] == bethany
    assert ours["alert_ids"] == alert.id
    async with page.expect_download() as counts_download:
        await page.get_by_role("link", name="Download exchanges (CSV)").click()
    counts_path = tmp_path / "exchanges.csv"
    await (await counts_download.value).save_as(counts_path)
    counts = list(csv.DictReader(io.StringIO(counts_path.read_text())))
    assert {"police", "housing", "health"} <= {r["partner"] for r in counts}
