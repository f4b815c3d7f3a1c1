"""The web UI under test: an app on a free port, Debian's Chromium driven by Playwright.

Fixtures live in this plain module so that the end-to-end test beside the broker fixtures
(``tests/integration``) can import them as well as ``tests/web/conftest.py``.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (installed by
``make test``) with a fresh profile per test. Screenshots go to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright

from services.settings import REPO_ROOT
from services.web.app import create_app
from services.web.ig.source import AuditSource
from services.web.settings import WebSettings

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path(os.environ.get("ASBX_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"


@pytest.fixture
def web_settings(tmp_path: Path) -> WebSettings:
    """Settings with this test's own state, keys and audit archive."""
    return WebSettings(
        ASBX_WEB_STATE_DIR=tmp_path / "web",
        ASBX_KEYS_DIR=tmp_path / "keys",
        ASBX_AUDIT_LOG=tmp_path / "audit" / "audit.jsonl",
    )


def password_of(settings: WebSettings, user: str) -> str:
    """The generated local password of ``user``."""
    for line in (settings.state_dir / "local-passwords.txt").read_text().splitlines():
        name, _role, password = line.split("\t")
        if name == user:
            return password
    raise KeyError(user)


@dataclass
class LiveServer:
    """An app served by uvicorn in a background thread."""

    app: FastAPI
    settings: WebSettings
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def password(self, user: str) -> str:
        """The local password of ``user``."""
        return password_of(self.settings, user)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(settings: WebSettings, source: AuditSource | None = None) -> LiveServer:
    """Start the app on a free port and wait until it accepts connections."""
    app = create_app(settings, source=source)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="web-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web app did not start")
        time.sleep(0.05)
    return LiveServer(app, settings, f"http://127.0.0.1:{port}", server, thread)


def stop(live: LiveServer) -> None:
    """Stop a server started by :func:`serve`."""
    live.server.should_exit = True
    live.thread.join(timeout=10)


@pytest.fixture
def live_server(web_settings: WebSettings) -> Iterator[LiveServer]:
    """The app with an empty archive, served on a free port."""
    live = serve(web_settings)
    try:
        yield live
    finally:
        stop(live)


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium, which ``make test`` installs."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    return CHROMIUM


@pytest_asyncio.fixture(loop_scope="session")
async def page(tmp_path: Path, chromium: Path) -> AsyncIterator[Page]:
    """A page in Debian's headless Chromium with a fresh profile; downloads accepted."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            user_data_dir=tmp_path / "chromium-profile",
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            accept_downloads=True,
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def log_in(page: Page, live: LiveServer, user: str, path: str = "/") -> None:
    """Sign in through the login form."""
    await page.goto(live.url + path)
    await page.get_by_label("User name").fill(user)
    await page.get_by_label("Password").fill(live.password(user))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
