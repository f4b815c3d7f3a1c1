"""The IG report as PDF pages and CSV rows, and the command that serves the web UI."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from pypdf import PdfReader
from typer.testing import CliRunner

from contracts.audit import AuditAction, AuditRecord
from services.cli.main import app
from services.web.ig.readmodel import Period
from services.web.ig.reports import build_report, disclosures_csv, report_pdf


def disclosure(n: int) -> AuditRecord:
    return AuditRecord(
        record_id=f"d{n}",
        at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        actor=f"officer{n}",
        action=AuditAction.DISCLOSURE,
        subject="name_dob:" + "C" * 43,
        purpose="asb_case_review",
        recipient="lead_agency",
        justification="panel",
        fields=("narrative",),
    )


def test_long_reports_run_over_numbered_pages() -> None:
    """Hundreds of disclosures paginate, every page numbered, and the period is stated."""
    records = [disclosure(n) for n in range(300)]
    report = build_report(records, Period.WEEK, date(2026, 1, 1), date(2026, 1, 31))
    pages = PdfReader(io.BytesIO(report_pdf(report))).pages
    assert len(pages) > 2
    assert "2026-01-01 to 2026-01-31, grouped by week" in pages[0].extract_text()
    assert f"page {len(pages)}/{len(pages)}" in pages[-1].extract_text()
    assert "officer299" in "".join(p.extract_text() for p in pages)


def test_report_keeps_to_its_period() -> None:
    """Records outside the dates are neither counted nor listed."""
    records = [disclosure(n) for n in range(48)]  # 1 and 2 January
    report = build_report(records, Period.DAY, date(2026, 1, 2), None)
    assert [c.count for c in report.counts] == [24]
    assert disclosures_csv(report).decode().count("\n") == 25  # heading and 24 rows


def test_web_command_is_offered() -> None:
    """``asbx web`` exists and says where it listens."""
    result = CliRunner().invoke(app, ["web", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output
