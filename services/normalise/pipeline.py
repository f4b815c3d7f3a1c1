"""Normalising one partner message: size check, parse, redelivery check, map, protect.

No Kafka here. The pipeline turns an :class:`InboundRecord` into an :class:`Outcome`; the Kafka
edge (``services.normalise.app``) publishes it. Every failure, expected or not, becomes a
rejection with a reason code: a normaliser never crashes on input and never drops it silently.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from pydantic import ValidationError

from contracts.rejection import ErrorDetail, RejectedMessage
from contracts.vocab import Audience, Partner, RejectReason
from services.identifiers.errors import InvalidIdentifierError
from services.normalise.context import MappingContext
from services.normalise.outcome import Accepted, Duplicate, InboundRecord, Outcome, Rejected
from services.normalise.port import PartnerAdapter, Refusal
from services.normalise.refusals import refusal_from_validation
from services.normalise.seen import SeenStore, message_key
from services.observability.tracing import child_of
from services.protection.keys import KeyStore
from services.protection.retention import RetentionScope, period_of
from services.protection.sealing import FieldSealer
from services.protection.tokens import Tokeniser
from services.sharing.agreements import AgreementSet
from services.sharing.changes import AgreementObserver

__all__ = ["Normaliser"]

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Normaliser:
    """One partner's normalising pipeline."""

    def __init__(
        self,
        adapter: PartnerAdapter,
        *,
        keys: KeyStore,
        agreements: Callable[[], AgreementSet],
        seen: SeenStore,
        max_message_bytes: int,
        clock: Clock = _utcnow,
    ) -> None:
        self.adapter = adapter
        self.partner: Partner = adapter.partner
        self._keys = keys
        self._tokeniser = Tokeniser(keys)
        self._agreements = agreements
        self._seen = seen
        self._max_bytes = max_message_bytes
        self._clock = clock
        self._agreement_observer = AgreementObserver(
            f"normaliser:{self.partner.value}", self.partner.value
        )

    @property
    def keys(self) -> KeyStore:
        """The keys it seals under (their new retention keys are written before each commit)."""
        return self._keys

    def process(self, record: InboundRecord) -> Outcome:
        """Decide what ``record`` becomes. Never raises for anything the partner sent."""
        digest = hashlib.sha256(record.value).hexdigest()
        traceparent = child_of(record.headers.get("traceparent"))
        structlog.contextvars.bind_contextvars(
            partner=self.partner.value, offset=record.offset, message_sha256=digest[:16]
        )
        message_id: str | None = None
        try:
            if len(record.value) > self._max_bytes:
                raise Refusal(
                    RejectReason.PAYLOAD_TOO_LARGE,
                    f"message is {len(record.value)} bytes; the limit is {self._max_bytes}",
                )
            parsed = self.adapter.parse(record.value, record.headers)
            message_id = parsed.message_id
            key = message_key(self.partner.value, parsed.message_id)
            seen = self._seen.get(key)
            if seen is not None and seen.content_sha256 == digest:
                return Duplicate(parsed.message_id, digest, seen.event_ids, traceparent)
            if seen is not None:
                raise Refusal(
                    RejectReason.MESSAGE_ID_REUSED,
                    "message id was already used for a message with different content; "
                    "send a correction under a new message id",
                )
            recorded_at = self._clock()
            agreement = self._agreements().for_partner(self.partner)
            ctx = MappingContext(
                partner=self.partner,
                source_system=parsed.source_system,
                message_id=parsed.message_id,
                message_digest=digest,
                recorded_at=recorded_at,
                agreement=agreement,
                tokeniser=self._tokeniser,
                keys=self._keys,
                traceparent=traceparent,
            )
            result = self.adapter.to_canonical(parsed, ctx)
        except Refusal as refused:
            return self._reject(record, digest, traceparent, message_id, refused)
        except InvalidIdentifierError as exc:
            return self._reject(
                record, digest, traceparent, message_id, Refusal(exc.reason, str(exc))
            )
        except ValidationError as exc:
            invalid = refusal_from_validation(exc, "message content")
            return self._reject(record, digest, traceparent, message_id, invalid)
        except Exception as exc:  # a mapping bug must not lose the message or stop the service
            return self.failed(record, exc, message_id)
        return Accepted(
            partner=self.partner.value,
            message_id=parsed.message_id,
            message_key=key,
            digest=digest,
            source_system=parsed.source_system,
            events=tuple(result.events),
            dropped=tuple(result.dropped),
            traceparent=traceparent,
            policy_changes=tuple(
                r for r in [self._agreement_observer.observe(agreement, recorded_at, digest)] if r
            ),
        )

    def not_committed(self) -> None:
        """The last outcome's records never became visible: its policy record must be re-made."""
        self._agreement_observer.forget()

    def failed(
        self, record: InboundRecord, exc: Exception, message_id: str | None = None
    ) -> Rejected:
        """The rejection of a record whose processing raised unexpectedly: kept, never lost."""
        log.exception("normaliser.internal_error", error_type=type(exc).__name__)
        refusal = Refusal(
            RejectReason.INTERNAL_ERROR,
            f"asbx could not process this message ({type(exc).__name__}); it is kept and "
            "the asbx team has been alerted",
        )
        digest = hashlib.sha256(record.value).hexdigest()
        traceparent = child_of(record.headers.get("traceparent"))
        return self._reject(record, digest, traceparent, message_id, refusal)

    def _reject(
        self,
        record: InboundRecord,
        digest: str,
        traceparent: str,
        message_id: str | None,
        refusal: Refusal,
    ) -> Rejected:
        reject_id = str(
            uuid.uuid5(
                uuid.NAMESPACE_URL, f"asbx:reject:{record.topic}:{record.partition}:{record.offset}"
            )
        )
        # The original may hold personal data: seal it for the sending partner alone, bound to
        # the month it arrived in so that retention ends for rejected data too.
        received_at = self._clock()
        retention = RetentionScope(period=period_of(received_at))
        original = FieldSealer(self._keys, reject_id, retention).seal(
            "original", "original_message", record.value, [Audience(self.partner.value)]
        )
        rejection = RejectedMessage(
            reject_id=reject_id,
            partner=self.partner,
            reason=refusal.reason,
            message=refusal.message[:500],
            errors=refusal.errors
            or (ErrorDetail(location="(message)", problem=refusal.message[:300]),),
            partner_message_id=message_id[:200] if message_id else None,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            received_at=received_at,
            original_sha256=digest,
            original_size=len(record.value),
            original=original,
        )
        return Rejected(rejection, traceparent)
