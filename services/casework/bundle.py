"""The chronological evidence bundle (PDF) for a civil application: CPN, injunction, closure order.

A lead officer's statement rests on a multi-agency chronology; the bundle is that chronology as a
paginated document: a title page, a contents page, then one section per chronology item in time
order. Every partner event behind an item is named with its source partner, its event id and
its provenance hash (the RFC 6962 leaf hash of its publication record in the archived audit
log, see ``provenance.py``), so the court, the defence or IG staff can check each entry against
the signed log with ``asbx audit verify``. Detail the officer's audience may not open is shown
as withheld, exactly as on screen.

fpdf2's core fonts are Latin-1, which covers English text; anything outside it is replaced
rather than failing the export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fpdf import FPDF
from fpdf.outline import OutlineSection

from services.casework.case import CaseFile
from services.casework.present import (
    detail_lines,
    fact_lines,
    headline,
    item_time,
    local_time,
)
from services.casework.provenance import Provenance

__all__ = ["Application", "BundleRequest", "render_bundle"]

_NO_PROVENANCE = "not yet in the archived audit log (archive, then export again)"
_PER_CONTENTS_PAGE = 30


class Application(StrEnum):
    """The civil applications a bundle supports."""

    COMMUNITY_PROTECTION_NOTICE = "community_protection_notice"
    CIVIL_INJUNCTION = "civil_injunction"
    CLOSURE_ORDER = "closure_order"
    CRIMINAL_BEHAVIOUR_ORDER = "criminal_behaviour_order"


@dataclass(frozen=True)
class BundleRequest:
    """Who is exporting, for which application, and when."""

    application: Application
    prepared_by: str
    prepared_at: datetime
    area_name: str


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


class _Bundle(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self._title = title
        self.set_title(title)
        self.set_author("asbx")
        self.set_auto_page_break(auto=True, margin=18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, _latin1(f"{self._title} - page {self.page_no()} of {{nb}}"), align="C")


def _contents(pdf: FPDF, outline: list[OutlineSection]) -> None:
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    for section in outline:
        link = pdf.add_link(page=section.page_number)
        pdf.cell(170, 5.5, _latin1(section.name)[:110], link=link)
        pdf.cell(0, 5.5, str(section.page_number), align="R", new_x="LMARGIN", new_y="NEXT")


def _line(pdf: FPDF, label: str, value: str, *, mono: bool = False) -> None:
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(40, 5, _latin1(label))
    pdf.set_font("Courier" if mono else "Helvetica", size=8 if mono else 9)
    pdf.multi_cell(0, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")


def render_bundle(
    case: CaseFile, provenance: Mapping[str, Provenance], request: BundleRequest
) -> bytes:
    """The bundle as PDF bytes."""
    title = f"Evidence bundle: {request.application.value.replace('_', ' ')}"
    pdf = _Bundle(title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 22)
    pdf.multi_cell(0, 12, "Chronological evidence bundle", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for label, value in (
        ("Application", request.application.value.replace("_", " ").capitalize()),
        ("Area", request.area_name),
        ("Victim", case.victim.label),
        ("Alleged perpetrators", ", ".join(p.label for p in case.perpetrators) or "none named"),
        ("Prepared by", request.prepared_by),
        ("Prepared at", local_time(request.prepared_at)),
        ("Shown as", f"{case.audience.value} audience (data-sharing agreement applied)"),
        ("Entries", str(len(case.items))),
    ):
        _line(pdf, label, value)
    pdf.ln(6)
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(
        0,
        5,
        "Each entry lists the partner events behind it with their source partner, event id and "
        "provenance hash: the RFC 6962 leaf hash (SHA-256 of 0x00 and the record) of the audit "
        "record that published the event. Check it against the archived audit log with "
        "'asbx audit verify' and the log's public key. Detail the recipient's audience may not "
        "see under the data-sharing agreement is marked as not shared.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.add_page()
    pdf.insert_toc_placeholder(_contents, pages=max(1, -(-len(case.items) // _PER_CONTENTS_PAGE)))
    for number, item in enumerate(case.items, start=1):
        heading = f"{number}. {item_time(item)} - {headline(item)}"
        if pdf.get_y() > 240:
            pdf.add_page()
        pdf.start_section(_latin1(heading))
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(0, 6, _latin1(heading), new_x="LMARGIN", new_y="NEXT")
        if item.people:
            _line(pdf, "People", ", ".join(item.people))
        for entry in item.sources:
            held = provenance.get(entry.event_id)
            _line(pdf, "Source partner", entry.partner)
            _line(pdf, "Event id", entry.event_id, mono=True)
            _line(pdf, "Provenance hash", held.leaf_hash if held else _NO_PROVENANCE, mono=True)
            if held:
                _line(pdf, "Audit record", f"#{held.index} {held.record_id}", mono=True)
            for label, value in fact_lines(entry) + detail_lines(entry):
                _line(pdf, label, value)
            pdf.ln(1)
        pdf.ln(3)
    return bytes(pdf.output())
