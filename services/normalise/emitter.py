"""Publishing a normalising outcome, in the order that makes redelivery safe.

Canonical events and audit records first, then the seen-message entry; the handler returns
(and FastStream commits the input offset) only after all of those were acknowledged by the
cluster. The events and audit records of one outcome are sent together and their
acknowledgements awaited together (one round trip, not one per record); the seen entry is sent
only once they are all acknowledged, because a durable seen entry turns a redelivery into a
duplicate and so must never exist for events that were not written. A crash anywhere before
the commit means the partner record is read again: the seen entry (if written) turns it into a
duplicate, and if not, the events are rebuilt with the same deterministic ids, which downstream
consumers de-duplicate.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from services.audit.records import audit_records
from services.kafka.headers import cloudevent_headers
from services.kafka.publishing import RecordPublisher
from services.normalise.outcome import Accepted, Duplicate, Outcome, Rejected
from services.normalise.seen import SeenStore

__all__ = ["OutcomeEmitter"]

log = structlog.get_logger(__name__)


@dataclass
class OutcomeEmitter:
    """Writes outcomes to the canonical, rejected and audit topics."""

    actor: str
    canonical: RecordPublisher
    rejected: RecordPublisher
    audit: RecordPublisher
    seen: SeenStore
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def emit(self, outcome: Outcome) -> None:
        """Publish ``outcome``; returns once every record is acknowledged."""
        pending: list[Any] = []  # delivery futures, awaited together before the seen entry
        if isinstance(outcome, Accepted):
            for event in outcome.events:
                pending.append(
                    await self.canonical.publish(
                        event.model_dump_json().encode(),
                        key=event.subject.encode(),
                        headers=cloudevent_headers(event, outcome.traceparent),
                        no_confirm=True,
                    )
                )
                log.info("canonical.published", event_id=event.id, event_type=event.type)
            for drop in outcome.dropped:
                log.info("fact.dropped", fact=drop.fact_key, what=drop.what, why=drop.why)
        elif isinstance(outcome, Rejected):
            rejection = outcome.rejection
            pending.append(
                await self.rejected.publish(
                    rejection.model_dump_json().encode(),
                    key=rejection.original_sha256.encode(),
                    headers={
                        "content-type": "application/json",
                        "asbx_reason": rejection.reason.value,
                        "traceparent": outcome.traceparent,
                    },
                    no_confirm=True,
                )
            )
            log.warning(
                "inbound.rejected", reason=rejection.reason.value, message=rejection.message
            )
        elif isinstance(outcome, Duplicate):
            log.info("inbound.duplicate", event_ids=list(outcome.event_ids))
        for record in audit_records(self.actor, self.clock(), outcome):
            pending.append(
                await self.audit.publish(
                    record.model_dump_json().encode(),
                    key=self.actor.encode(),
                    headers={
                        "content-type": "application/json",
                        "traceparent": outcome.traceparent,
                    },
                    no_confirm=True,
                )
            )
        # Raises if any record was not acknowledged: the input is then retried, never skipped.
        await asyncio.gather(*(p for p in pending if inspect.isawaitable(p)))
        if isinstance(outcome, Accepted):
            await self.seen.put(outcome.message_key, outcome.seen_entry)
