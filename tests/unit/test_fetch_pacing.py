"""Adaptive fetch batching: fetches linger while a consumer is busy, and only then."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import structlog

from services.kafka.fetch_pacing import FetchPacer, FetchPacing

PACING = FetchPacing(linger_ms=20, min_bytes=65536, idle_after=0.05)


def _consumer(min_bytes: int = 1, max_wait_ms: int = 500) -> Any:
    fetcher = SimpleNamespace(_fetch_min_bytes=min_bytes, _fetch_max_wait_ms=max_wait_ms)
    return SimpleNamespace(_fetcher=fetcher)


def _settings(consumer: Any) -> tuple[int, int]:
    return consumer._fetcher._fetch_min_bytes, consumer._fetcher._fetch_max_wait_ms


async def test_records_make_fetches_linger_until_the_consumer_is_idle_again() -> None:
    consumer = _consumer()
    pacer = FetchPacer(consumer, PACING)

    pacer.saw_records()
    assert pacer.busy
    assert _settings(consumer) == (65536, 20)

    await asyncio.sleep(0.4)
    assert not pacer.busy
    assert _settings(consumer) == (1, 500)  # the consumer's own settings, as configured


async def test_each_poll_with_records_puts_off_going_idle() -> None:
    consumer = _consumer()
    pacer = FetchPacer(consumer, FetchPacing(linger_ms=20, min_bytes=65536, idle_after=10))
    loop = asyncio.get_running_loop()
    pacer.saw_records()
    first = pacer.idle_at
    assert first is not None
    assert first >= loop.time() + 9
    await asyncio.sleep(0.02)
    pacer.saw_records()
    later = pacer.idle_at
    assert later is not None
    assert later > first
    assert _settings(consumer) == (65536, 20)
    pacer.close()


async def test_no_linger_leaves_the_consumer_as_configured() -> None:
    consumer = _consumer(min_bytes=7, max_wait_ms=90)
    pacer = FetchPacer(consumer, FetchPacing(linger_ms=0))
    pacer.saw_records()
    assert not pacer.busy
    assert _settings(consumer) == (7, 90)


async def test_a_consumer_not_started_yet_is_paced_once_it_is() -> None:
    consumer = SimpleNamespace(_fetcher=None)
    pacer = FetchPacer(consumer, PACING)
    pacer.saw_records()
    assert not pacer.busy

    consumer._fetcher = _consumer()._fetcher
    pacer.saw_records()
    assert _settings(consumer) == (65536, 20)
    pacer.close()
    assert _settings(consumer) == (1, 500)


async def test_close_restores_the_settings_and_leaves_no_timer() -> None:
    consumer = _consumer()
    pacer = FetchPacer(consumer, PACING)
    pacer.saw_records()
    pacer.close()
    assert not pacer.busy
    assert _settings(consumer) == (1, 500)
    await asyncio.sleep(0.4)  # the cancelled timer does not fire later
    assert _settings(consumer) == (1, 500)


async def test_a_client_without_those_settings_is_left_alone_and_said_so_once() -> None:
    consumer = SimpleNamespace(_fetcher=SimpleNamespace(other=1))
    pacer = FetchPacer(consumer, PACING)
    with structlog.testing.capture_logs() as logs:
        pacer.saw_records()
        pacer.saw_records()
    assert not pacer.busy
    assert vars(consumer._fetcher) == {"other": 1}
    assert [e["event"] for e in logs] == ["fetch_pacing.unavailable"]
