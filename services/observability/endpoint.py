"""Operability for a running service: the health/metrics endpoint and the lag watcher together.

``ASBX_HTTP_PORT`` turns it on (unset: no endpoint, nothing polled). Each service is run in its
own process in production, so each gets its own port; ``asbx serve`` wires this around the
service's run loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from services.observability.http import HealthServer
from services.observability.lag import LagProbe, Watched, watch
from services.observability.metrics import READY

__all__ = ["operability"]


@contextlib.asynccontextmanager
async def operability(
    service: str,
    *,
    port: int | None,
    bootstrap: str,
    groups: Watched,
    ready: Callable[[], bool],
    client_config: dict[str, Any] | None = None,
    interval: float = 5.0,
) -> AsyncIterator[HealthServer | None]:
    """Serve ``/livez``, ``/readyz``, ``/metrics`` and poll consumer lag while the block runs."""
    if port is None:
        yield None
        return
    READY.labels(service).set(0)
    server = HealthServer(port, ready).start()
    stop = asyncio.Event()
    probe = LagProbe(service, bootstrap, groups, client_config)
    watcher = asyncio.create_task(watch(probe, ready, stop, interval), name=f"{service}-lag")
    try:
        yield server
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await watcher
        server.stop()
