"""The login and logout pages, and the home page that sends each role to its first section."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.auth import current_user, verify_csrf
from services.web.pages import render
from services.web.users import UserDirectory

__all__ = ["router"]

router = APIRouter()
log = structlog.get_logger(__name__)


def _safe_next(target: str | None) -> str:
    """Only a local path: never redirect off site after login."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/", response_model=None)
async def home(request: Request) -> Response:
    """The first section the user may open, or the login page."""
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    for section in request.app.state.sections:
        if user.role in section.roles:
            return RedirectResponse(section.links[0][1], status_code=303)
    return render(request, "home.html")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form."""
    return render(request, "login.html", {"next": _safe_next(next), "errors": {}})


@router.post("/login", response_model=None, dependencies=[Depends(verify_csrf)])
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; on success start a fresh session for the user."""
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = "Enter your user name"
    if not password:
        errors["password"] = "Enter your password"  # noqa: S105 - a message
    directory: UserDirectory = request.app.state.users
    user = directory.authenticate(username.strip(), password) if not errors else None
    if user is None:
        if not errors:
            errors["password"] = "The user name or password is not right"  # noqa: S105
            log.warning("web.login_failed", user=username.strip()[:64])
        context = {"next": _safe_next(next), "errors": errors, "username": username}
        return render(request, "login.html", context, status=400)
    request.session.clear()  # a new session on login: no fixation of a pre-login cookie
    request.session["user"] = user.name
    log.info("web.login", user=user.name, role=user.role.value)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(verify_csrf)])
async def logout(request: Request) -> RedirectResponse:
    """End the session."""
    user = current_user(request)
    request.session.clear()
    if user is not None:
        log.info("web.logout", user=user.name)
    return RedirectResponse("/login", status_code=303)
