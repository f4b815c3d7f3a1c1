"""A normaliser whose consumer's group coordination ended reports it, stops being ready, and
stops (to be restarted) instead of staying up and consuming nothing."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka.errors import GroupAuthorizationFailedError

from services.kafka.consumer_failure import coordination_failure
from services.normalise.app import NormaliserService


async def _ended_with(exc: BaseException | None) -> asyncio.Task[None]:
    async def coordinate() -> None:
        if exc is not None:
            raise exc

    task = asyncio.create_task(coordinate())
    await asyncio.wait({task})
    return task


def _consumer(task: asyncio.Future[None] | None) -> Any:
    return SimpleNamespace(
        _coordinator=SimpleNamespace(_coordination_task=task), assignment=lambda: {"tp"}
    )


async def test_a_running_or_unknown_coordinator_is_not_a_failure() -> None:
    running: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    assert coordination_failure(_consumer(running)) is None
    assert coordination_failure(SimpleNamespace()) is None  # not an aiokafka consumer
    assert coordination_failure(_consumer(await _ended_with(None))) is None


async def test_a_coordinator_ended_by_an_error_is_reported() -> None:
    error = GroupAuthorizationFailedError("asbx-health-normaliser")
    assert coordination_failure(_consumer(await _ended_with(error))) is error


async def test_the_normaliser_is_not_ready_and_stops_once_its_consumer_failed() -> None:
    healthy = _consumer(asyncio.get_running_loop().create_future())
    exits: list[bool] = []
    service = NormaliserService(
        app=SimpleNamespace(exit=lambda: exits.append(True)),  # type: ignore[arg-type]
        broker=SimpleNamespace(subscribers=[SimpleNamespace(consumer=healthy)]),  # type: ignore[arg-type]
        seen=None,  # type: ignore[arg-type]
        settings=None,  # type: ignore[arg-type]
        transactions=None,  # type: ignore[arg-type]
        client_config={},
        handler=None,  # type: ignore[arg-type]
    )
    assert service.ready()
    watch = asyncio.create_task(service.watch_consumer(interval=0.01))
    await asyncio.sleep(0.05)
    assert not watch.done()

    failed = await _ended_with(GroupAuthorizationFailedError("asbx-health-normaliser"))
    healthy._coordinator._coordination_task = failed
    await asyncio.wait_for(watch, 5)
    assert exits == [True]
    assert not service.ready()
    assert isinstance(service.consumer_failure(), GroupAuthorizationFailedError)
