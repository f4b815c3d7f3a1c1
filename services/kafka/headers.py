"""Record headers: CloudEvents (Kafka protocol binding, binary mode) and W3C trace context.

Also a parser that decodes partner-supplied headers leniently: a header that is not valid UTF-8
is hostile or broken input, and must lead to a rejection, not to a consumer stuck in a loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.message import StreamMessage

from contracts.envelope import CanonicalEvent

__all__ = ["cloudevent_headers", "lenient_parser", "raw_decoder"]


def cloudevent_headers(event: CanonicalEvent, traceparent: str | None) -> dict[str, str]:
    """``ce_*`` headers for a canonical event, so tools can route without reading the value."""
    headers = {
        "ce_specversion": event.specversion,
        "ce_id": event.id,
        "ce_source": event.source,
        "ce_type": event.type,
        "ce_time": event.time.isoformat(),
        "ce_subject": event.subject,
        "ce_dataschema": event.dataschema,
        "content-type": event.datacontenttype,
    }
    if traceparent:
        headers["traceparent"] = traceparent
    return headers


def _lenient(record: Any) -> Any:
    headers = [
        (name, (value or b"").decode("utf-8", errors="replace").encode())
        for name, value in (record.headers or ())
    ]
    return dataclasses.replace(record, headers=headers)


async def lenient_parser(
    record: Any, original: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """FastStream parser for partner records: header values that are not UTF-8 are replaced.

    FastStream's default parser decodes every header strictly; one bad byte would fail before the
    handler runs, and the record would be redelivered for ever. A batch subscriber hands over a
    tuple of records; each is treated alike.
    """
    if isinstance(record, tuple):
        return await original(tuple(_lenient(r) for r in record))
    return await original(_lenient(record))


async def raw_decoder(message: StreamMessage[Any], _original: Any = None) -> bytes | list[bytes]:
    """FastStream decoder that never interprets the body: partner bytes go to the adapter as-is.

    FastStream's default decoder parses ``application/json`` bodies before the handler runs, so a
    partner's broken JSON would fail outside the handler and be redelivered for ever instead of
    being rejected with a reason. (For a batch, the body is the list of record values.)
    """
    return message.body
