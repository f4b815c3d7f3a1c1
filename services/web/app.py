"""The web UI's composition root: ``create_app(settings)`` wires users, sessions, assets, pages.

The app serves the real govuk-frontend (installed by ``make install`` with ``npm ci``) from
``/assets`` (fonts, images) and ``/govuk`` (CSS, JS), so pages look and behave as the GOV.UK
Design System intends without any asset build step.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from services.web.auth import LoginRequiredError
from services.web.ig.source import AuditSource
from services.web.login import router as login_router
from services.web.nav import SECTIONS, Section
from services.web.pages import render
from services.web.settings import WebSettings
from services.web.users import UserDirectory

__all__ = ["create_app"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SESSION_KEY_FILE = "session-signing.key"
SESSION_SECONDS = 8 * 60 * 60  # one working day


def _session_secret(state_dir: Path) -> str:
    """The cookie-signing key, generated at first start (owner-only file)."""
    path = state_dir / SESSION_KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("x", encoding="utf-8") as f:
            path.chmod(0o600)
            f.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def create_app(
    settings: WebSettings,
    sections: tuple[Section, ...] = SECTIONS,
    source: AuditSource | None = None,
) -> FastAPI:
    """The web application for ``settings``; ``source`` replaces the audit data (tests)."""
    if not (settings.assets_dir / "govuk-frontend.min.css").exists():
        raise FileNotFoundError(
            f"govuk-frontend not found in {settings.assets_dir}: run `make install` (npm ci)"
        )
    app = FastAPI(title="asbx information-governance review", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.users = UserDirectory.load(settings.users_file, settings.state_dir)
    app.state.sections = sections
    app.state.templates = Jinja2Templates(directory=TEMPLATES_DIR)
    app.state.source = source or AuditSource.from_settings(settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=_session_secret(settings.state_dir),
        session_cookie="asbx_session",
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=settings.secure_cookies,
    )
    app.mount("/assets", StaticFiles(directory=settings.assets_dir / "assets"), name="assets")
    app.mount("/govuk", StaticFiles(directory=settings.assets_dir), name="govuk")
    app.include_router(login_router)
    for section in sections:
        app.include_router(section.router)

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Audit metadata must not be framed, sniffed, cached or leaked in a Referer."""
        response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith(("/assets", "/govuk")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(LoginRequiredError)
    async def _to_login(request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _error_page(request: Request, exc: HTTPException) -> HTMLResponse:
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "detail": exc.detail},
            status=exc.status_code,
        )

    return app
