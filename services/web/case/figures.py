"""The yearly case-review figures page: for lead officers, and for IG staff, who publish them.

The figures are counts and dates only, read from the casework topic; no sealed field is opened,
so the page is safe for roles that hold no audience key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from services.casework.figures import year_containing, yearly_figures
from services.web.auth import require
from services.web.case.wiring import casework_service
from services.web.pages import render
from services.web.users import Role, User

__all__ = ["router"]

FiguresUser = Annotated[User, Depends(require(Role.LEAD_OFFICER, Role.IG_OFFICER, Role.ADMIN))]
router = APIRouter(prefix="/figures")
YEARS_SHOWN = 3


@router.get("", response_class=HTMLResponse)
async def figures_page(
    request: Request, user: FiguresUser, year: int | None = None
) -> HTMLResponse:
    """The figures the Act requires (s.104(11)) for the latest financial years."""
    start = date(year, 4, 1) if year else year_containing(datetime.now(UTC).date())
    events = await casework_service(request).store.read()
    figures = [yearly_figures(events, date(start.year - n, 4, 1)) for n in range(YEARS_SHOWN)]
    return render(request, "case/figures.html", {"figures": figures, "year": start.year})
