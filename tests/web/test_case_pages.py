"""The case pages without a broker: who may open them, and the view model they render."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.casework.case import CaseFile
from services.casework.osara import CaseRecord
from services.web.app import create_app
from services.web.case.view import case_page, vulnerability_note
from services.web.settings import WebSettings
from tests.casework.fixtures import case_keys, cuckooing, lead_case, policy
from tests.web.test_pages import log_in

__all__ = ["case_keys", "cuckooing", "lead_case", "policy"]  # fixtures shared with casework tests

CASE_PAGES = ["/cases", "/cases/case-x/open", "/cases/provenance/e1"]


@pytest.fixture
def client(web_settings: WebSettings) -> TestClient:
    """A client of the app (not logged in)."""
    return TestClient(create_app(web_settings), follow_redirects=False)


@pytest.mark.parametrize("path", [*CASE_PAGES, "/figures"])
def test_anonymous_users_are_sent_to_sign_in(client: TestClient, path: str) -> None:
    """Every case page redirects to the login page."""
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", CASE_PAGES)
def test_ig_officers_get_403_on_case_pages(
    client: TestClient, web_settings: WebSettings, path: str
) -> None:
    """IG staff review metadata; the case pages, which open personal data, are refused."""
    log_in(client, web_settings, "ig.officer")
    assert client.get(path).status_code == 403


def test_recording_without_csrf_is_refused(client: TestClient, web_settings: WebSettings) -> None:
    """A casework form posted without the session's CSRF token records nothing."""
    log_in(client, web_settings, "lead.officer")
    response = client.post("/cases/case-x/record/objective", data={"objective": "x"})
    assert response.status_code == 403


def test_view_model_says_vulnerable_but_not_why(lead_case: CaseFile) -> None:
    """The lead agency is told of the flag and that its reason is not shared with them."""
    note = vulnerability_note(lead_case)
    assert note is not None
    assert note.startswith("Flagged vulnerable")
    assert "not shared with your audience" in note


def test_view_model_pictures_carry_titles_and_tables(lead_case: CaseFile) -> None:
    """Every picture has a title for assistive technology and a table of the same figures."""
    page = case_page(lead_case, CaseRecord("case-x"), {}, lead_case.items[-1].occurred_at.date())
    assert "<title>Incidents by day of week and hour: 4 incident(s)" in page["heat_svg"]
    assert "threshold of 3, met on 21 May 2026" in page["threshold_svg"]
    assert len(page["ladders"]) == 2
    assert all("<title>Escalation ladder for " in svg for _, svg in page["ladders"])
    assert len(page["items"]) == len(lead_case.items)
