"""Waiting for the Kafka cluster at start-up, with exponential backoff.

Services are started by an orchestrator that does not order them after the broker (or the
broker restarts while they restart): a service that cannot reach Kafka yet says so, clearly and
at a bounded rate, and keeps trying instead of crashing into a restart loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from typing import Any

import structlog
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

__all__ = ["backoff_delays", "wait_for_kafka"]

log = structlog.get_logger(__name__)


def backoff_delays(
    first: float = 0.5, ceiling: float = 30.0, factor: float = 2.0
) -> Iterator[float]:
    """Delays ``first``, ``first * factor``, ... capped at ``ceiling``, for ever."""
    delay = first
    while True:
        yield delay
        delay = min(ceiling, delay * factor)


async def _reachable(bootstrap: str, client_config: dict[str, Any]) -> str | None:
    """None if the cluster answers a metadata request, else why not."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **client_config)
    try:
        await client.bootstrap()
        if not client.cluster.brokers():
            return "no broker registered yet"
        return None
    except (KafkaError, OSError) as exc:
        text = str(exc)
        name = type(exc).__name__
        return text if text.startswith(name) else f"{name}: {text}"
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def wait_for_kafka(
    bootstrap: str,
    client_config: dict[str, Any] | None = None,
    *,
    first: float = 0.5,
    ceiling: float = 10.0,
    service: str = "asbx",
) -> int:
    """Return once ``bootstrap`` answers; returns how many attempts failed before it did."""
    for failures, delay in enumerate(backoff_delays(first, ceiling)):
        problem = await _reachable(bootstrap, dict(client_config or {}))
        if problem is None:
            if failures:
                log.info("kafka.reachable", bootstrap=bootstrap, service=service, after=failures)
            return failures
        wait = round(delay * random.uniform(0.8, 1.2), 1)  # noqa: S311 - jitter, not security
        log.warning(
            f"waiting for Kafka at {bootstrap}, retry in {wait}s",
            event_name="kafka.waiting",
            service=service,
            attempt=failures + 1,
            problem=problem,
        )
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - backoff_delays never ends
