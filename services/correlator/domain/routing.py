"""Where the stream layer sends each fact: person states by blocking key, places by location.

A correction can move a record to another key (a corrected date of birth changes the blocking
key; a corrected UPRN changes the place). The superseded version then sits in a state the new
version would never reach, and would keep counting. :class:`RecordRoutes` remembers, per record
key, every key its versions went to, so the correction is sent there too and replaces the old
version (the rules ignore facets and places that do not belong to the state's own key). Keep it
as state keyed by ``fact.record_key``, ahead of the person and place states.

A record's routes are needed as long as its versions can still be held by those states, so each
remembers ``relevant_until``: the latest relevance end of its versions (``expiry.relevance_ends``
of the version alone). :meth:`RecordRoutes.expired` says when the stream layer may forget it.
Judged on the version alone, an incident report behind a still-active warning may outlive its
routes in a person state; a correction moving such a report to another key then leaves the old
version there until the warning's horizon passes (it can only widen the warning's baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import TypeAdapter

from services.correlator.domain.expiry import relevance_ends, retention_cutoff
from services.correlator.domain.facts import Fact
from services.correlator.domain.packing import pack, unpack
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.rules import place_key
from services.correlator.domain.views import people_of

__all__ = ["RecordRoutes", "person_keys", "place_keys"]


def person_keys(fact: Fact) -> tuple[str, ...]:
    """The blocking keys of everyone a fact names (one mention per key)."""
    return tuple(sorted({p.block for p in people_of(fact)}))


def place_keys(fact: Fact, policy: AreaPolicy) -> tuple[str, ...]:
    """The linked-location key of an incident (empty for other facts or without a place)."""
    key = place_key(fact, policy)
    return (key,) if key else ()


@dataclass
class RecordRoutes:
    """Every key the versions of one record were routed to."""

    record_key: str
    person: set[str] = field(default_factory=set)
    place: set[str] = field(default_factory=set)
    relevant_until: datetime | None = None

    def route(self, fact: Fact, policy: AreaPolicy) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Person and place keys to send ``fact`` to: its own plus every earlier version's."""
        self.person.update(person_keys(fact))
        self.place.update(place_keys(fact, policy))
        end = relevance_ends([fact], policy)[fact.record_key]
        self.relevant_until = max(end, self.relevant_until) if self.relevant_until else end
        return tuple(sorted(self.person)), tuple(sorted(self.place))

    def to_bytes(self) -> bytes:
        """Compact bytes for the changelog under :attr:`record_key` (``packing`` format 3,
        after a header; the record key is the changelog key's, so it is not written again)."""
        body = _Body(sorted(self.person), sorted(self.place), self.relevant_until)
        return _HEADER + pack(body, _Body)

    def expired(self, policy: AreaPolicy, now: datetime) -> bool:
        """No state can hold a version of the record any more at stream time ``now``.

        Routes are kept ``allowed_lateness_days`` beyond the keyed states' cutoff, because the
        person and place partitions run on their own stream time, which may lag this one.
        """
        if self.relevant_until is None:
            return False
        margin = timedelta(days=policy.allowed_lateness_days)
        return self.relevant_until < retention_cutoff(policy, now) - margin

    def to_json(self) -> str:
        """Readable JSON (the form written before format 2, still read)."""
        return _ROUTES.dump_json(
            _Routes(self.record_key, sorted(self.person), sorted(self.place), self.relevant_until)
        ).decode()

    @classmethod
    def from_bytes(cls, raw: str | bytes, record_key: str | None = None) -> RecordRoutes:
        """Restore from :meth:`to_bytes` (given the changelog key) or :meth:`to_json` output."""
        data = raw.encode() if isinstance(raw, str) else raw
        if data[:1] == b"{":
            routes = _ROUTES.validate_json(data)
        elif data[: len(_HEADER)] == _HEADER and record_key is not None:
            body = unpack(data[len(_HEADER) :], _Body)
            routes = _Routes(record_key, body.person, body.place, body.relevant_until)
        elif data[: len(_HEADER)] == _HEADER:
            raise ValueError("routes of format 3 are read with their changelog key")
        elif data[: len(_KEYED_HEADER)] == _KEYED_HEADER:
            routes = unpack(data[len(_KEYED_HEADER) :], _Routes)
        else:
            raise ValueError(
                f"changelog record of routes starts {data[:2]!r}, not a format this version "
                "reads (JSON, format 2 or 3). Operator action: run the version that wrote it, "
                "or rebuild this state by replaying the canonical topics."
            )
        return cls(routes.record_key, set(routes.person), set(routes.place), routes.relevant_until)

    from_json = from_bytes


@dataclass
class _Routes:
    record_key: str
    person: list[str]
    place: list[str]
    relevant_until: datetime | None = None


@dataclass
class _Body:
    """A format-3 record: routes without their record key (the changelog key says it)."""

    person: list[str]
    place: list[str]
    relevant_until: datetime | None = None


_ROUTES = TypeAdapter(_Routes)
#: First bytes of a routes record: a letter and the format (3, or 2 with the record key inside).
_HEADER, _KEYED_HEADER = b"R\x03", b"R\x02"
