"""W3C Trace Context (``traceparent``) carried in Kafka headers.

A partner may send a ``traceparent`` header; asbx continues that trace, otherwise it starts one.
Every record asbx writes carries a child span id, so one partner message can be followed through
every service with any OpenTelemetry-aware tool.
"""

from __future__ import annotations

import re
import secrets

__all__ = ["child_of", "trace_id"]

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def child_of(parent: str | None) -> str:
    """A ``traceparent`` for a new span: same trace as ``parent`` if valid, else a new trace."""
    match = _TRACEPARENT.match(parent or "")
    trace = match.group(1) if match and match.group(1) != "0" * 32 else secrets.token_hex(16)
    flags = match.group(3) if match else "01"
    return f"00-{trace}-{secrets.token_hex(8)}-{flags}"


def trace_id(traceparent: str) -> str:
    """The trace id part of a ``traceparent``."""
    match = _TRACEPARENT.match(traceparent)
    return match.group(1) if match else ""
