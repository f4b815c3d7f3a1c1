"""The IG review in Chromium over the scenario archive: provenance, verify, and tampering."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from services.web.settings import WebSettings
from tests.web.browser import LiveServer, log_in, screenshot, serve, stop
from tests.web.scenario_archive import ScenarioArchive, build_scenario_archive


@pytest.fixture
def archive(web_settings: WebSettings) -> ScenarioArchive:
    """The cuckooing scenario's audit trail, archived where the app reads it."""
    return build_scenario_archive(web_settings.keys_dir, web_settings.audit_log)


@pytest.fixture
def server(web_settings: WebSettings, archive: ScenarioArchive) -> Iterator[LiveServer]:
    """The app over the scenario archive."""
    live = serve(web_settings)
    try:
        yield live
    finally:
        stop(live)


async def test_tampering_is_named_on_the_verify_page(
    page: Page, server: LiveServer, archive: ScenarioArchive
) -> None:
    """Verify passes, then names the record whose recipient was changed in the archive."""
    await log_in(page, server, "ig.officer")
    await page.get_by_role("link", name="Verify").click()
    await page.get_by_role("button", name="Run verification").click()
    await expect(page.get_by_test_id("verify-ok")).to_contain_text("Archive verified")

    lines = archive.log_path.read_text().splitlines()
    target = next(i for i, r in enumerate(archive.records) if r.action.value == "disclosure")
    entry = json.loads(lines[target])
    entry["record"]["recipient"] = "housing"
    lines[target] = json.dumps(entry, separators=(",", ":"))
    archive.log_path.write_text("\n".join(lines) + "\n")

    await page.get_by_role("button", name="Run verification").click()
    await expect(page.get_by_test_id("verify-failed")).to_contain_text(f"altered: record {target}")
    await expect(page.get_by_test_id("problems")).to_contain_text(archive.records[target].record_id)
    await screenshot(page, "verify-tampered")


async def test_provenance_reached_from_a_subject_search(
    page: Page, server: LiveServer, archive: ScenarioArchive
) -> None:
    """From the subject's disclosures to the alert, its partner events and who read it."""
    await log_in(page, server, "ig.officer")
    await page.get_by_role("link", name="Disclosures").click()
    await page.get_by_label("Subject token").fill(archive.bethany)
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_test_id("disclosure-count")).to_have_text("1")
    await page.locator(f'a[href="/ig/alerts/{archive.alert_id}"]').first.click()
    await expect(page.get_by_test_id("contributions").locator("tbody tr")).to_have_count(3)
    await expect(page.get_by_test_id("readers")).to_contain_text("lead.officer")
    await screenshot(page, "provenance-scenario")
