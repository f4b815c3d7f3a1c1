"""The lead officer's pages: alerts to open, the case view (OSARA), recording work, the evidence
bundle and the provenance of each entry (the yearly figures are in ``figures.py``).

A lead officer reads sealed fields as the audience their account names, and only as far as the
data-sharing agreement sealed each field for that audience. Opening a case asks for a purpose
and a justification first; every rendering of the case and every bundle export is then a
disclosure on the audit topic, committed before the response is sent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from contracts.alert_envelope import AlertEnvelope
from contracts.casework import ApplicationRoute, ResponseOutcome
from contracts.vocab import Audience, Purpose
from services.casework.bundle import Application
from services.casework.case import CaseNotFoundError
from services.casework.osara import case_record
from services.casework.records import CaseContext, Recorder, case_id_for_alert
from services.casework.service import Viewer
from services.kafka.reader import read_all
from services.web.auth import require, verify_csrf
from services.web.case.view import case_page
from services.web.case.wiring import casework_service
from services.web.pages import flash, render
from services.web.users import Role, User

__all__ = ["router"]

log = structlog.get_logger(__name__)
LeadUser = Annotated[User, Depends(require(Role.LEAD_OFFICER, Role.ADMIN))]
router = APIRouter(prefix="/cases")
_ACCESS = "case_access"
_MIN_JUSTIFICATION = 10


def _audience(user: User) -> Audience:
    if user.audience is None:
        raise HTTPException(403, "Your account names no audience under the sharing agreement.")
    return user.audience


async def _alerts(request: Request, audience: Audience) -> list[AlertEnvelope]:
    """Alerts the audience receives, newest first."""
    service = casework_service(request)
    found = []
    for raw in await read_all(service.bootstrap, request.app.state.settings.alerts_topic,
                              service.client_config):  # fmt: skip
        try:
            alert = AlertEnvelope.model_validate_json(raw.value or b"")
        except ValidationError:
            continue
        if audience in alert.data.audiences:
            found.append(alert)
    unique = {a.id: a for a in found}
    return sorted(unique.values(), key=lambda a: a.time, reverse=True)


def _event_ids(alert: AlertEnvelope) -> frozenset[str]:
    """The events an alert counted: they say whose case it is when namesakes share its subject."""
    return frozenset(e for incident in alert.data.incidents for e in incident.event_ids)


async def _alert_for(request: Request, case_id: str, audience: Audience) -> AlertEnvelope:
    for alert in await _alerts(request, audience):
        if case_id_for_alert(alert.id) == case_id:
            return alert
    raise HTTPException(404, "No alert sent to your audience opens this case.")


def _granted(request: Request, case_id: str) -> dict[str, str] | None:
    held = request.session.get(_ACCESS, {}).get(case_id)
    return held if isinstance(held, dict) else None


def _viewer(user: User, access: dict[str, str]) -> Viewer:
    return Viewer(user.name, _audience(user), access["purpose"], access["justification"])


@router.get("", response_class=HTMLResponse)
async def alerts_page(request: Request, user: LeadUser) -> HTMLResponse:
    """The alerts sent to the officer's audience, each opening its case."""
    audience = _audience(user)
    rows = [(a, case_id_for_alert(a.id)) for a in await _alerts(request, audience)]
    return render(request, "case/alerts.html", {"rows": rows, "audience": audience})


@router.get("/provenance/{event_id}", response_class=HTMLResponse)
async def provenance_page(
    request: Request, user: LeadUser, event_id: str, case: str | None = None
) -> HTMLResponse:
    """Where an entry came from: its publication record in the archived audit log."""
    held = casework_service(request).provenance().get(event_id)
    return render(
        request, "case/provenance.html", {"event_id": event_id, "p": held, "case_id": case}
    )


@router.get("/{case_id}/open", response_class=HTMLResponse)
async def open_form(request: Request, user: LeadUser, case_id: str) -> HTMLResponse:
    """Ask why the case is being opened: every view is a disclosure with a purpose."""
    alert = await _alert_for(request, case_id, _audience(user))
    return render(
        request,
        "case/open.html",
        {"alert": alert, "case_id": case_id, "purposes": list(Purpose), "errors": {}},
    )


@router.post("/{case_id}/open", dependencies=[Depends(verify_csrf)], response_model=None)
async def open_case(request: Request, user: LeadUser, case_id: str) -> Response:
    """Record the purpose and justification for this session's views of the case."""
    alert = await _alert_for(request, case_id, _audience(user))
    form = await request.form()
    purpose = str(form.get("purpose", ""))
    justification = str(form.get("justification", "")).strip()
    errors = {}
    if purpose not in {p.value for p in Purpose}:
        errors["purpose"] = "Select the purpose for opening this case"
    if len(justification) < _MIN_JUSTIFICATION:
        errors["justification"] = "Say why you need to see this case (at least 10 characters)"
    if errors:
        context = {"alert": alert, "case_id": case_id, "purposes": list(Purpose),
                   "errors": errors, "justification": justification}  # fmt: skip
        return render(request, "case/open.html", context, status=400)
    access = dict(request.session.get(_ACCESS, {}))
    access[case_id] = {"purpose": purpose, "justification": justification[:500]}
    request.session[_ACCESS] = access
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/{case_id}", response_class=HTMLResponse, response_model=None)
async def case_view(request: Request, user: LeadUser, case_id: str) -> Response:
    """The case view: chronology, analysis, OSARA and the evidence bundle."""
    access = _granted(request, case_id)
    if access is None:
        return RedirectResponse(f"/cases/{case_id}/open", status_code=303)
    viewer = _viewer(user, access)
    alert = await _alert_for(request, case_id, viewer.audience)
    service = casework_service(request)
    try:
        case = await service.open_case(
            alert.subject, viewer, (alert.id,), event_ids=_event_ids(alert)
        )
    except CaseNotFoundError as error:
        raise HTTPException(404, str(error)) from None
    record = case_record(await service.casework(case_id), case_id, viewer.audience, service.keys)
    context = case_page(case, record, service.provenance(), datetime.now(UTC).date())
    context.update(alert=alert, case_id=case_id, access=access, owners=list(Audience),
                   outcomes=list(ResponseOutcome), routes=list(ApplicationRoute),
                   applications=list(Application), today=datetime.now(UTC).date())  # fmt: skip
    return render(request, "case/case.html", context)


def _recorder(request: Request, user: User, alert: AlertEnvelope, case_id: str) -> Recorder:
    context = CaseContext(
        case_id=case_id,
        case_subject=alert.subject,
        area=alert.area,
        audiences=alert.data.audiences,
        user=user.name,
        acting_for=_audience(user),
    )
    return Recorder(context, casework_service(request).keys)


def _day(form: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(form.get(name, "")))
    except ValueError:
        raise HTTPException(
            400, f"The {name.replace('_', ' ')} must be a date like 2026-06-26"
        ) from None


@router.post("/{case_id}/record/{what}", dependencies=[Depends(verify_csrf)])
async def record_work(request: Request, user: LeadUser, case_id: str, what: str) -> Response:
    """Record one piece of case-review or OSARA work as a casework event."""
    alert = await _alert_for(request, case_id, _audience(user))
    rec, form, now = (
        _recorder(request, user, alert, case_id),
        await request.form(),
        datetime.now(UTC),
    )
    text = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        match what:
            case "application":
                event = rec.application_received(
                    now, received_on=_day(form, "received_on"),
                    route=ApplicationRoute(text.get("route", "asbx_alert")), alert_id=alert.id,
                )  # fmt: skip
            case "threshold":
                event = rec.threshold_decided(
                    now, decided_on=_day(form, "decided_on"), met=text.get("met") == "yes",
                    reason=text.get("reason"),
                )  # fmt: skip
            case "review":
                event = rec.review_held(
                    now, held_on=_day(form, "held_on"),
                    recommendations=text.get("recommendations", "").splitlines(),
                )  # fmt: skip
            case "objective":
                event = rec.objective_set(
                    now, set_on=now.date(), objective=text.get("objective", "")
                )
            case "response":
                event = rec.response_agreed(
                    now, owner=Audience(text.get("owner", "")), agreed_on=_day(form, "agreed_on"),
                    working_days=int(text.get("working_days", "0") or 0),
                    description=text.get("description", ""),
                )  # fmt: skip
            case "assessment":
                event = rec.response_assessed(
                    now, response_id=text.get("response_id", ""),
                    assessed_on=_day(form, "assessed_on"),
                    outcome=ResponseOutcome(text.get("outcome", "")), notes=text.get("notes"),
                )  # fmt: skip
            case _:
                raise HTTPException(404, "There is nothing of that kind to record.")
    except (ValueError, ValidationError) as error:
        flash(request, f"Not recorded: {str(error).splitlines()[0]}", ok=False)
        return RedirectResponse(f"/cases/{case_id}#osara", status_code=303)
    await casework_service(request).record(event)
    log.info("casework_recorded", case_id=case_id, kind=event.data.kind, user=user.name)
    flash(request, f"{event.data.kind.replace('_', ' ').capitalize()} recorded")
    return RedirectResponse(f"/cases/{case_id}#osara", status_code=303)


@router.post("/{case_id}/bundle", dependencies=[Depends(verify_csrf)])
async def bundle(request: Request, user: LeadUser, case_id: str) -> Response:
    """The chronological evidence bundle (PDF); the export is audited before it is sent."""
    access = _granted(request, case_id)
    if access is None:
        return RedirectResponse(f"/cases/{case_id}/open", status_code=303)
    viewer = _viewer(user, access)
    alert = await _alert_for(request, case_id, viewer.audience)
    form = await request.form()
    try:
        application = Application(str(form.get("application", "")))
    except ValueError:
        raise HTTPException(400, "Select the application the bundle supports") from None
    _case, pdf = await casework_service(request).evidence_bundle(
        alert.subject, viewer, application, alert.area, (alert.id,), event_ids=_event_ids(alert)
    )
    name = f"evidence-bundle-{application.value}-{case_id[5:13]}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
