"""The IG report for a period: exchange counts and disclosure records, as CSV and as PDF.

The PDF (fpdf2, core Helvetica font) has a title, the period, a summary and the two tables,
repeated table headings on each page and numbered pages. Like the pages, the report holds
metadata only: tokens, field paths and counts, never a value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

from contracts.audit import AuditAction, AuditRecord
from services.web.ig.readmodel import ExchangeCount, Period, exchanges, totals

__all__ = ["Report", "build_report", "disclosures_csv", "exchanges_csv", "report_pdf"]

EXCHANGE_COLUMNS = ("period", "partner", "purpose", "action", "count")
DISCLOSURE_COLUMNS = (
    "at",
    "actor",
    "recipient",
    "purpose",
    "subject",
    "justification",
    "fields",
    "data_classes",
    "alert_ids",
    "record_id",
)


@dataclass(frozen=True)
class Report:
    """What a report covers and contains."""

    period: Period
    start: date | None
    end: date | None
    generated_at: datetime
    counts: list[ExchangeCount]
    disclosures: list[AuditRecord]

    @property
    def covers(self) -> str:
        """The period in words."""
        first = self.start.isoformat() if self.start else "the first record"
        last = self.end.isoformat() if self.end else "the latest record"
        return f"{first} to {last}, grouped by {self.period.value}"

    @property
    def slug(self) -> str:
        """For file names."""
        return f"{self.start or 'all'}-{self.end or 'now'}-{self.period.value}"


def build_report(
    records: Sequence[AuditRecord], period: Period, start: date | None, end: date | None
) -> Report:
    """The report over ``records`` between ``start`` and ``end`` (inclusive, either open)."""
    disclosed = [
        r
        for r in records
        if r.action is AuditAction.DISCLOSURE
        and not (start and r.at.date() < start)
        and not (end and r.at.date() > end)
    ]
    return Report(
        period=period,
        start=start,
        end=end,
        generated_at=datetime.now(UTC),
        counts=exchanges(records, period, start=start, end=end),
        disclosures=sorted(disclosed, key=lambda r: r.at),
    )


def _disclosure_row(r: AuditRecord) -> list[str]:
    return [
        r.at.isoformat(timespec="seconds"),
        r.actor,
        r.recipient or "",
        r.purpose or "",
        r.subject or "",
        r.justification or "",
        " ".join(r.fields),
        " ".join(r.data_classes),
        " ".join(r.related_ids),
        r.record_id,
    ]


def _csv(header: Sequence[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def exchanges_csv(report: Report) -> bytes:
    """One row per period, partner, purpose and action."""
    rows = [[c.period, c.partner, c.purpose, c.action, str(c.count)] for c in report.counts]
    return _csv(EXCHANGE_COLUMNS, rows)


def disclosures_csv(report: Report) -> bytes:
    """One row per disclosure record."""
    return _csv(DISCLOSURE_COLUMNS, [_disclosure_row(r) for r in report.disclosures])


class _ReportPDF(FPDF):
    """A4 landscape (tokens are long) with a running footer naming the report and the page."""

    title_text = "asbx information-governance report"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, f"{self.title_text} - page {self.page_no()}/{{nb}}", align="C")


def _latin1(text: str) -> str:
    """The core PDF fonts are Latin-1: replace anything else rather than fail."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _table(pdf: FPDF, header: Sequence[str], rows: list[list[str]], widths: Sequence[int]) -> None:
    pdf.set_font("Helvetica", size=7)
    with pdf.table(
        col_widths=widths,
        headings_style=FontFace(emphasis="BOLD", fill_color=(222, 224, 226)),
        line_height=4,
        repeat_headings=1,
        text_align="LEFT",
    ) as table:
        table.row([_latin1(h) for h in header])
        for values in rows:
            table.row([_latin1(v) for v in values])


def report_pdf(report: Report) -> bytes:
    """The report as a paginated PDF."""
    pdf = _ReportPDF(orientation="landscape", format="A4")
    pdf.set_title(_ReportPDF.title_text)
    pdf.set_author("asbx")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.cell(0, 10, "Information-governance report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    lines = [
        f"Period: {report.covers}",
        f"Generated: {report.generated_at.isoformat(timespec='seconds')}",
        f"Exchanges recorded: {sum(c.count for c in report.counts)}",
        f"Disclosures recorded: {len(report.disclosures)}",
        "Metadata only: tokens, field paths and counts; no personal data.",
    ]
    for line in lines:
        pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, "Exchanges by partner", new_x="LMARGIN", new_y="NEXT")
    _table(
        pdf,
        ("partner", "count"),
        [[k, str(v)] for k, v in totals(report.counts, "partner")],
        (200, 77),
    )
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(
        0, 8, "Exchanges by period, partner, purpose and action", new_x="LMARGIN", new_y="NEXT"
    )
    _table(
        pdf,
        EXCHANGE_COLUMNS,
        [[c.period, c.partner, c.purpose, c.action, str(c.count)] for c in report.counts],
        (40, 55, 70, 72, 40),
    )
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, "Disclosures", new_x="LMARGIN", new_y="NEXT")
    if report.disclosures:
        _table(
            pdf,
            ("at", "actor", "recipient", "purpose", "subject", "justification", "fields"),
            [_disclosure_row(r)[:7] for r in report.disclosures],
            (30, 35, 25, 30, 62, 50, 45),
        )
    else:
        pdf.set_font("Helvetica", size=10)
        pdf.cell(
            0, 6, "No disclosures were recorded in this period.", new_x="LMARGIN", new_y="NEXT"
        )
    return bytes(pdf.output())
