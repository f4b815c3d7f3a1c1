"""A small HTTP endpoint per service: ``/livez``, ``/readyz`` and ``/metrics`` (Prometheus).

It runs in a daemon thread (standard library server) so a busy or blocked event loop cannot
stop Prometheus from scraping, and liveness keeps answering while the service works. Readiness
is a callable evaluated on request; it must only read state (it runs off the event loop).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

__all__ = ["HealthServer"]

log = structlog.get_logger(__name__)


class HealthServer:
    """Serves liveness, readiness and metrics on ``host:port`` until stopped."""

    def __init__(self, port: int, ready: Callable[[], bool], host: str = "0.0.0.0") -> None:  # noqa: S104 - probes come from outside the container
        self._ready = ready
        server_ready = ready

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/livez":
                    self._send(200, b"ok\n", "text/plain")
                elif path == "/readyz":
                    ok = _safe(server_ready)
                    self._send(
                        200 if ok else 503, b"ready\n" if ok else b"not ready\n", "text/plain"
                    )
                elif path == "/metrics":
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Scrapes are not worth a log line each."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="asbx-health", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        """Start serving in the background."""
        self._thread.start()
        log.info("health.serving", port=self.port)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
