"""The one thing services need from a publisher, as a Protocol (FastStream's satisfy it)."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["RecordPublisher"]


class RecordPublisher(Protocol):
    """Publishes a record to the publisher's topic and waits for the cluster's acknowledgement."""

    async def publish(
        self, message: Any, *, key: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        """Send one record."""
        ...
