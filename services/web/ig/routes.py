"""The IG review pages: exchanges, disclosures by subject, alert provenance, verify, reports.

Every page reads audit metadata only. Nothing here holds a key that opens a sealed field, so an
IG officer cannot be shown personal data by any bug in these pages.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.auth import require, verify_csrf
from services.web.ig import reports
from services.web.ig.charts import bar_chart
from services.web.ig.readmodel import (
    Period,
    alert_provenance,
    alert_summaries,
    exchanges,
    sharing_about,
    totals,
)
from services.web.ig.source import AuditSource
from services.web.pages import flash, render
from services.web.users import Role, User

__all__ = ["router"]

log = structlog.get_logger(__name__)
IGUser = Annotated[User, Depends(require(Role.IG_OFFICER, Role.ADMIN))]
router = APIRouter(prefix="/ig")
ALERTS_SHOWN = 200


def _source(request: Request) -> AuditSource:
    source: AuditSource = request.app.state.source
    return source


def _dates(start: str | None, end: str | None) -> tuple[date | None, date | None, dict[str, str]]:
    """Parse the period filter; errors keyed by field id for the error summary."""
    errors: dict[str, str] = {}
    parsed: list[date | None] = []
    for name, text in (("start", start), ("end", end)):
        if not text:
            parsed.append(None)
            continue
        try:
            parsed.append(date.fromisoformat(text))
        except ValueError:
            errors[name] = f"The {name} date must be a real date, like 2025-04-01"
            parsed.append(None)
    first, last = parsed
    if first and last and first > last:
        errors["end"] = "The end date must be the same as or after the start date"
    return first, last, errors


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    user: IGUser,
    period: Period = Period.MONTH,
    start: str | None = None,
    end: str | None = None,
) -> HTMLResponse:
    """Exchanges per partner, purpose, action and period, as charts with their data tables."""
    first, last, errors = _dates(start, end)
    records = _source(request).records()
    counts = exchanges(records, period, start=first, end=last) if not errors else []
    groups = []
    for by, title in (
        ("partner", "Exchanges by partner"),
        ("purpose", "Exchanges by purpose"),
        ("period", f"Exchanges by {period.value}"),
        ("action", "Exchanges by action"),
    ):
        items = totals(counts, by)
        groups.append({"by": by, "title": title, "rows": items, "chart": bar_chart(title, items)})
    context = {
        "period": period.value,
        "periods": [p.value for p in Period],
        "start": start or "",
        "end": end or "",
        "errors": errors,
        "groups": groups,
        "counts": counts,
        "total": sum(c.count for c in counts),
        "archived": len(records),
    }
    return render(request, "ig/dashboard.html", context, status=400 if errors else 200)


@router.post("/refresh", dependencies=[Depends(verify_csrf)])
async def refresh(
    request: Request, user: IGUser, back: Annotated[str, Form()] = "/ig"
) -> RedirectResponse:
    """Archive new audit records from the topic and re-read the alerts, then go back."""
    try:
        outcome = await _source(request).refresh()
    except Exception as exc:  # shown to the user: the broker may be down
        log.warning("web.refresh_failed", error=str(exc)[:200])
        flash(request, f"Could not refresh from the broker: {str(exc)[:200]}", ok=False)
    else:
        log.info("web.refresh", user=user.name, archived=outcome.archived, alerts=outcome.alerts)
        flash(
            request,
            f"Archived {outcome.archived} new audit record(s); the archive holds "
            f"{outcome.archive_size}. {outcome.alerts} alert(s) read.",
        )
    target = back if back.startswith("/ig") and "//" not in back else "/ig"
    return RedirectResponse(target, status_code=303)


@router.get("/disclosures", response_class=HTMLResponse)
async def disclosures(
    request: Request, user: IGUser, subject: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    """Every disclosure, sealed publication and alert naming a subject token."""
    errors: dict[str, str] = {}
    found = None
    token = (subject or "").strip()
    if subject is not None:
        if not token:
            errors["subject"] = "Enter a subject token"
        else:
            found = sharing_about(_source(request).records(), token)
    context = {"subject": token, "found": found, "errors": errors}
    return render(request, "ig/disclosures.html", context, status=400 if errors else 200)


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(
    request: Request, user: IGUser, subject: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    """The newest alerts (optionally about one subject token)."""
    source = _source(request)
    found = alert_summaries(source.records(), source.alerts())
    token = (subject or "").strip()
    if token:
        found = [a for a in found if a.subject == token]
    context = {"alerts": found[:ALERTS_SHOWN], "total": len(found), "subject": token}
    return render(request, "ig/alerts.html", context)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
async def provenance(request: Request, user: IGUser, alert_id: str) -> HTMLResponse:
    """Which partner events, which rule, who read it."""
    source = _source(request)
    found = alert_provenance(alert_id, source.records(), source.alerts())
    if found is None:
        raise HTTPException(404, "No alert with that id is in the audit archive.")
    return render(request, "ig/provenance.html", {"p": found})


@router.get("/verify", response_class=HTMLResponse)
async def verify_form(request: Request, user: IGUser) -> HTMLResponse:
    """Explain verification and offer to run it."""
    return render(request, "ig/verify.html", {"report": None})


@router.post("/verify", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
async def verify_run(request: Request, user: IGUser) -> HTMLResponse:
    """Verify the archive against its signed checkpoints and name every bad record."""
    report = _source(request).verify()
    log.info("web.verify", user=user.name, ok=report.ok, problems=len(report.problems))
    return render(request, "ig/verify.html", {"report": report})


@router.get("/reports", response_class=HTMLResponse)
async def reports_form(
    request: Request,
    user: IGUser,
    period: Period = Period.MONTH,
    start: str | None = None,
    end: str | None = None,
) -> HTMLResponse:
    """Choose the period of a report and download it as CSV or PDF."""
    _, _, errors = _dates(start, end)
    context = {
        "period": period.value,
        "periods": [p.value for p in Period],
        "start": start or "",
        "end": end or "",
        "errors": errors,
    }
    return render(request, "ig/reports.html", context, status=400 if errors else 200)


def _report(request: Request, period: Period, start: str | None, end: str | None) -> reports.Report:
    first, last, errors = _dates(start, end)
    if errors:
        raise HTTPException(400, " ".join(errors.values()))
    return reports.build_report(_source(request).records(), period, first, last)


@router.get("/reports/exchanges.csv")
async def exchanges_csv(
    request: Request,
    user: IGUser,
    period: Period = Period.MONTH,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """Exchange counts as CSV."""
    report = _report(request, period, start, end)
    return _download(reports.exchanges_csv(report), "text/csv", f"asbx-exchanges-{report.slug}.csv")


@router.get("/reports/disclosures.csv")
async def disclosures_csv(
    request: Request,
    user: IGUser,
    period: Period = Period.MONTH,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """Disclosure records as CSV."""
    report = _report(request, period, start, end)
    name = f"asbx-disclosures-{report.slug}.csv"
    return _download(reports.disclosures_csv(report), "text/csv", name)


@router.get("/reports/report.pdf")
async def report_pdf(
    request: Request,
    user: IGUser,
    period: Period = Period.MONTH,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """The IG report (exchanges and disclosures) as a paginated PDF."""
    report = _report(request, period, start, end)
    log.info("web.report", user=user.name, period=report.slug)
    return _download(reports.report_pdf(report), "application/pdf", f"asbx-ig-{report.slug}.pdf")


def _download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
