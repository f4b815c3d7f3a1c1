"""The one thing services need from a publisher, as a Protocol (FastStream's satisfy it)."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["RecordPublisher"]


class RecordPublisher(Protocol):
    """Publishes a record to the publisher's topic and waits for the cluster's acknowledgement.

    With ``no_confirm=True`` it returns once the record is queued, with the future of its
    acknowledgement, so that several records can be in flight at once.
    """

    async def publish(
        self,
        message: Any,
        *,
        key: Any = None,
        headers: dict[str, str] | None = None,
        no_confirm: bool = False,
    ) -> Any:
        """Send one record."""
        ...
