"""Whether an aiokafka consumer's group coordination has ended for good.

aiokafka does not recover from some coordinator errors: a ``GroupAuthorizationFailedError``
(the group's ACL missing, even for a moment while an operator re-applies grants) ends the
coordinator's task, and every later poll raises the same error. FastStream logs it on every
poll and goes on, so a normaliser would stay up, look ready and consume nothing. This tells the
service, which then reports not ready and exits, so that its supervisor restarts it (a new
consumer rejoins the group once the grant is back).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["coordination_failure"]


def coordination_failure(consumer: Any) -> BaseException | None:
    """The error that ended ``consumer``'s group coordination, or None while it runs.

    Reads aiokafka internals (there is no public accessor), defensively: anything unexpected
    counts as running.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    task = getattr(coordinator, "_coordination_task", None)
    if not isinstance(task, asyncio.Future) or not task.done() or task.cancelled():
        return None
    return task.exception()
