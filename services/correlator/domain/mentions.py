"""What the router sends the person and place stages: the fact an event states, not the event.

A canonical event carries sealed personal data the rules never read (names, addresses, free
text, each encrypted for the audiences that may open it). The stages need only the fact (tokens
and metadata, see ``facts``) and the event's time, which drives their stream clock. Sending
just that, packed like state (``packing`` format 3), keeps sealed personal data off the
internal mention topics (data minimisation: a mention holds nothing the rules do not use), and
spares each stage validating the whole event's JSON again and the broker a few kilobytes per
mention: one event has two to four mentions.

Mentions written by earlier versions (the canonical event's JSON as it was) are still read, so
a mention topic written across an upgrade is consumed as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from contracts.envelope import CanonicalEvent
from services.correlator.domain.facts import Fact, FactUnion, fact_from_event
from services.correlator.domain.packing import pack, unpack

__all__ = ["mention_bytes", "read_mention"]

#: First bytes of a packed mention: a letter and the packing format.
_HEADER = b"M\x03"
_FACTS = get_args(Fact)


@dataclass
class _Mention:
    occurred_at: datetime
    fact: FactUnion


def mention_bytes(occurred_at: datetime, fact: Fact) -> bytes:
    """A mention of ``fact``, stated by an event that occurred at ``occurred_at``."""
    return _HEADER + pack(_Mention(occurred_at, fact), _Mention)


def read_mention(raw: bytes) -> tuple[datetime, Fact | None]:
    """(the event's time, its fact) of a mention in either form; ``None``: no fact to apply."""
    if raw[:1] == b"{":  # written before mentions were packed: the canonical event itself
        event = CanonicalEvent.model_validate_json(raw)
        return event.occurred_at, fact_from_event(event)
    if raw[: len(_HEADER)] != _HEADER:
        raise ValueError(
            f"mention starts {raw[:2]!r}: neither a packed mention nor a canonical event"
        )
    try:
        mention: _Mention = unpack(raw[len(_HEADER) :], _Mention)
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        # Damaged bytes fail deep in the decoder; say what was being read (the stage
        # dead-letters the record with this reason).
        raise ValueError(f"packed mention could not be read: {exc!r}") from exc
    if not isinstance(mention.occurred_at, datetime) or not isinstance(mention.fact, _FACTS):
        raise ValueError("packed mention does not hold an event time and a fact")
    return mention.occurred_at, mention.fact
