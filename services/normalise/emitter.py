"""The records a normalising outcome becomes, written with the input offset in one transaction.

Canonical events (or the rejection), the audit records and the seen-message entry are returned
as one list; the Kafka edge publishes them and commits the partner record's offset in a single
Kafka transaction (:mod:`services.kafka.transactions`). A crash anywhere before the commit means
none of them is visible and the partner record is read again; after the commit it is never read
again. So each partner message yields its events, its rejection and its audit records once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from services.audit.records import audit_records
from services.kafka.headers import cloudevent_headers
from services.normalise.outcome import Accepted, Duplicate, Outcome, Rejected
from services.streams.engine import Output

__all__ = ["OutcomeEmitter"]

log = structlog.get_logger(__name__)


def _headers(headers: dict[str, str]) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, value.encode()) for name, value in headers.items())


@dataclass
class OutcomeEmitter:
    """Turns outcomes into records for the canonical, rejected, audit and seen topics."""

    actor: str
    canonical_topic: str
    rejected_topic: str
    audit_topic: str
    seen_topic: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def outputs(self, outcome: Outcome) -> list[Output]:
        """Every record ``outcome`` must publish, in order."""
        out: list[Output] = []
        if isinstance(outcome, Accepted):
            for event in outcome.events:
                out.append(
                    Output(
                        self.canonical_topic,
                        event.subject.encode(),
                        event.model_dump_json().encode(),
                        _headers(cloudevent_headers(event, outcome.traceparent)),
                    )
                )
        elif isinstance(outcome, Rejected):
            rejection = outcome.rejection
            headers = {
                "content-type": "application/json",
                "asbx_reason": rejection.reason.value,
                "traceparent": outcome.traceparent,
            }
            out.append(
                Output(
                    self.rejected_topic,
                    rejection.original_sha256.encode(),
                    rejection.model_dump_json().encode(),
                    _headers(headers),
                )
            )
        audit_headers = {"content-type": "application/json", "traceparent": outcome.traceparent}
        for record in audit_records(self.actor, self.clock(), outcome):
            out.append(
                Output(
                    self.audit_topic,
                    self.actor.encode(),
                    record.model_dump_json().encode(),
                    _headers(audit_headers),
                )
            )
        if isinstance(outcome, Accepted):
            out.append(
                Output(self.seen_topic, outcome.message_key.encode(), outcome.seen_entry.to_bytes())
            )
        return out

    def report(self, outcome: Outcome) -> None:
        """Log what was published (once it is committed)."""
        if isinstance(outcome, Accepted):
            for event in outcome.events:
                log.info("canonical.published", event_id=event.id, event_type=event.type)
            for drop in outcome.dropped:
                log.info("fact.dropped", fact=drop.fact_key, what=drop.what, why=drop.why)
        elif isinstance(outcome, Rejected):
            rejection = outcome.rejection
            log.warning(
                "inbound.rejected", reason=rejection.reason.value, message=rejection.message
            )
        elif isinstance(outcome, Duplicate):
            log.info("inbound.duplicate", event_ids=list(outcome.event_ids))
