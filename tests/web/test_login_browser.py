"""Signing in and out in a real browser, and the pages each role may open."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.web.browser import LiveServer, log_in, screenshot


async def test_ig_officer_signs_in_sees_exchanges_and_signs_out(
    page: Page, live_server: LiveServer
) -> None:
    """An IG officer is sent to sign in, lands on the exchanges page, and can sign out."""
    await page.goto(live_server.url + "/ig")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await screenshot(page, "login")
    await log_in(page, live_server, "ig.officer", "/ig")
    await expect(page.get_by_role("heading", name="Exchanges", exact=True)).to_be_visible()
    await expect(page.get_by_test_id("signed-in-as")).to_contain_text("ig.officer")
    await screenshot(page, "exchanges-empty")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.goto(live_server.url + "/ig/alerts")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_wrong_password_shows_the_error_summary(page: Page, live_server: LiveServer) -> None:
    """A wrong password is refused with a GOV.UK error summary."""
    await page.goto(live_server.url + "/login")
    await page.get_by_label("User name").fill("ig.officer")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("not right")
    await screenshot(page, "login-error")


async def test_lead_officer_is_refused_ig_pages(page: Page, live_server: LiveServer) -> None:
    """A lead officer signs in but gets 403 on the IG pages and sees no IG navigation."""
    await log_in(page, live_server, "lead.officer")
    await expect(page.get_by_role("link", name="Exchanges")).to_have_count(0)
    response = await page.goto(live_server.url + "/ig/disclosures")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    await screenshot(page, "lead-officer-403")
