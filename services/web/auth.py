"""Login, logout, roles and CSRF for the web UI.

The session is a signed cookie (Starlette's ``SessionMiddleware``, itsdangerous): it holds the
user name and a per-session CSRF token, nothing else. Every POST form carries that token and is
refused without it. A page declares who may see it with ``Depends(require(Role...))``: someone
not logged in is sent to the login page, someone logged in without the role gets 403.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import HTTPException, Request

from services.web.users import Role, User, UserDirectory

__all__ = ["LoginRequiredError", "csrf_token", "current_user", "require", "verify_csrf"]

CSRF_FIELD = "csrf_token"


class LoginRequiredError(Exception):
    """Nobody is logged in; the app answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def csrf_token(request: Request) -> str:
    """This session's CSRF token, created on first use."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


async def verify_csrf(request: Request) -> None:
    """Refuse a POST whose form does not carry this session's CSRF token."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(CSRF_FIELD)
    if not (isinstance(sent, str) and isinstance(expected, str)):
        raise HTTPException(403, "The form has expired. Go back, reload the page and try again.")
    if not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "The form has expired. Go back, reload the page and try again.")


def current_user(request: Request) -> User | None:
    """The logged-in user, if the session names one that is still configured."""
    name = request.session.get("user")
    directory: UserDirectory = request.app.state.users
    return directory.get(name) if isinstance(name, str) else None


def require(*roles: Role) -> Callable[[Request], Awaitable[User]]:
    """A dependency admitting only logged-in users holding one of ``roles``."""

    async def dependency(request: Request) -> User:
        user = current_user(request)
        if user is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequiredError(quote(path, safe="/?=&"))
        if user.role not in roles:
            raise HTTPException(403, "Your role does not give you access to this page.")
        return user

    return dependency
