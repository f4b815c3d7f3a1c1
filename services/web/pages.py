"""Rendering a page: the template plus what the layout needs (user, navigation, CSRF token)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.web.auth import csrf_token, current_user

__all__ = ["flash", "render"]


def flash(request: Request, message: str, *, ok: bool = True) -> None:
    """A message for the next page rendered in this session (a notification banner)."""
    request.session["flash"] = {"message": message, "ok": ok}


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render ``template`` inside the GOV.UK layout."""
    user = current_user(request)
    sections = request.app.state.sections
    nav = [
        {"label": label, "href": href, "current": _current(request.url.path, href)}
        for section in sections
        if user is not None and user.role in section.roles
        for label, href in section.links
    ]
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "nav": nav,
            "csrf_token": csrf_token(request),
            "flash": request.session.pop("flash", None),
            **(context or {}),
        },
        status_code=status,
    )
    return response


def _current(path: str, href: str) -> bool:
    if href == path:
        return True
    return href.count("/") > 1 and path.startswith(href + "/")
