"""IG pages over a scenario archive, without a browser: roles, CSRF, content and downloads."""

from __future__ import annotations

import csv
import io
import json
import re
import stat

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from services.web.app import create_app
from services.web.settings import WebSettings
from services.web.users import UserDirectory, hash_password, password_matches
from tests.web.browser import password_of
from tests.web.scenario_archive import ScenarioArchive, build_scenario_archive, personal_values

IG_PAGES = ["/ig", "/ig/disclosures", "/ig/alerts", "/ig/verify", "/ig/reports"]


@pytest.fixture
def archive(web_settings: WebSettings) -> ScenarioArchive:
    """The cuckooing scenario's audit trail, archived where the app reads it."""
    return build_scenario_archive(web_settings.keys_dir, web_settings.audit_log)


@pytest.fixture
def client(web_settings: WebSettings, archive: ScenarioArchive) -> TestClient:
    """A client of the app (not logged in)."""
    return TestClient(create_app(web_settings), follow_redirects=False)


def csrf(client: TestClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, "no CSRF token on the form"
    return match.group(1)


def log_in(client: TestClient, settings: WebSettings, user: str) -> None:
    token = csrf(client)
    response = client.post(
        "/login",
        data={"username": user, "password": password_of(settings, user), "csrf_token": token},
    )
    assert response.status_code == 303, response.text


@pytest.mark.parametrize("path", [*IG_PAGES, "/ig/alerts/x", "/ig/reports/report.pdf"])
def test_anonymous_users_are_sent_to_sign_in(client: TestClient, path: str) -> None:
    """Every IG page redirects to the login page, remembering where the user was going."""
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/login?next={path}")


def test_pages_are_not_cached_or_framed(client: TestClient, web_settings: WebSettings) -> None:
    """IG pages carry no-store and anti-framing headers."""
    log_in(client, web_settings, "ig.officer")
    response = client.get("/ig")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"


def test_lead_officers_get_403_on_every_ig_page(
    client: TestClient, web_settings: WebSettings
) -> None:
    """A lead officer is logged in but may open no IG page."""
    log_in(client, web_settings, "lead.officer")
    for path in [*IG_PAGES, "/ig/reports/exchanges.csv"]:
        assert client.get(path).status_code == 403, path


def test_posts_without_the_csrf_token_are_refused(
    client: TestClient, web_settings: WebSettings
) -> None:
    """Login, verify, refresh and logout need the session's CSRF token."""
    password = password_of(web_settings, "ig.officer")
    assert (
        client.post("/login", data={"username": "ig.officer", "password": password}).status_code
        == 403
    )
    log_in(client, web_settings, "ig.officer")
    for path in ("/ig/verify", "/ig/refresh", "/logout"):
        assert client.post(path, data={"csrf_token": "forged"}).status_code == 403, path


def test_no_ig_page_shows_a_personal_value(
    client: TestClient, web_settings: WebSettings, archive: ScenarioArchive
) -> None:
    """Names, birth dates, contacts, addresses and narratives never appear on an IG page."""
    log_in(client, web_settings, "ig.officer")
    token = csrf(client, "/ig/verify")
    bodies = [client.get(p).text for p in IG_PAGES]
    bodies.append(client.get("/ig/disclosures", params={"subject": archive.bethany}).text)
    bodies.append(client.get(f"/ig/alerts/{archive.alert_id}").text)
    bodies.append(client.post("/ig/verify", data={"csrf_token": token}).text)
    for kind in ("exchanges.csv", "disclosures.csv"):
        bodies.append(client.get(f"/ig/reports/{kind}").text)
    pdf = PdfReader(io.BytesIO(client.get("/ig/reports/report.pdf").content))
    bodies.append("\n".join(page.extract_text() for page in pdf.pages))
    for value in personal_values():
        for body in bodies:
            assert value not in body, f"{value!r} shown to IG"


def test_disclosures_and_provenance_from_the_archive(
    client: TestClient, web_settings: WebSettings, archive: ScenarioArchive
) -> None:
    """Bethany's token finds the lead officer's disclosure; the alert names its events."""
    log_in(client, web_settings, "ig.officer")
    page = client.get("/ig/disclosures", params={"subject": archive.bethany}).text
    assert "Case review requested; chronology for the panel" in page
    assert "lead.officer" in page
    provenance = client.get(f"/ig/alerts/{archive.alert_id}").text
    alert = next(r for r in archive.records if r.event_id == archive.alert_id)
    for event_id in alert.related_ids:
        assert event_id in provenance
    digests = {r.message_sha256 for r in archive.records if r.event_id in alert.related_ids}
    assert all(d and d in provenance for d in digests)
    assert "Case review requested" in provenance  # who read it
    assert client.get("/ig/alerts/not-an-alert").status_code == 404


def test_reports_download_as_csv_and_pdf(
    client: TestClient, web_settings: WebSettings, archive: ScenarioArchive
) -> None:
    """The CSVs parse with the counts and the disclosure; the PDF has its title and period."""
    log_in(client, web_settings, "admin")
    response = client.get("/ig/reports/exchanges.csv", params={"period": "day"})
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(int(r["count"]) for r in rows) == len(archive.records)
    disclosures = list(csv.DictReader(io.StringIO(client.get("/ig/reports/disclosures.csv").text)))
    assert [d["subject"] for d in disclosures] == [archive.bethany]
    assert disclosures[0]["alert_ids"] == archive.alert_id
    pdf = client.get("/ig/reports/report.pdf", params={"start": "2020-01-01", "end": "2099-12-31"})
    assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Information-governance report" in text
    assert "2020-01-01 to 2099-12-31" in text
    assert "lead.officer" in text
    assert client.get("/ig/reports/report.pdf", params={"start": "soon"}).status_code == 400


def test_verify_names_a_tampered_record(
    client: TestClient, web_settings: WebSettings, archive: ScenarioArchive
) -> None:
    """Verify says OK on the intact archive and names the record changed afterwards."""
    log_in(client, web_settings, "ig.officer")
    ok = client.post("/ig/verify", data={"csrf_token": csrf(client, "/ig/verify")}).text
    assert "Archive verified" in ok
    lines = archive.log_path.read_text().splitlines()
    entry = json.loads(lines[5])
    entry["record"]["actor"] = "someone-else"
    lines[5] = json.dumps(entry)
    archive.log_path.write_text("\n".join(lines) + "\n")
    failed = client.post("/ig/verify", data={"csrf_token": csrf(client, "/ig/verify")}).text
    assert "The archive has been changed" in failed
    assert "altered: record 5" in failed


def test_passwords_are_generated_owner_only_and_scrypt_hashed(web_settings: WebSettings) -> None:
    """First start writes owner-only files; only the hash is needed to log in."""
    directory = UserDirectory.load(web_settings.users_file, web_settings.state_dir)
    listing = web_settings.state_dir / "local-passwords.txt"
    hashes = json.loads((web_settings.state_dir / "password-hashes.json").read_text())
    assert stat.S_IMODE(listing.stat().st_mode) == 0o600
    assert all(h.startswith("scrypt$") for h in hashes.values())
    password = password_of(web_settings, "ig.officer")
    assert directory.authenticate("ig.officer", password) is not None
    assert directory.authenticate("ig.officer", password + "x") is None
    assert directory.authenticate("nobody", password) is None
    again = UserDirectory.load(web_settings.users_file, web_settings.state_dir)
    assert again.authenticate("ig.officer", password) is not None  # not regenerated
    assert password_matches("s3cret", hash_password("s3cret"))
