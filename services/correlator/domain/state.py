"""Per-key state the stream layer keeps, writes to a compacted changelog and restores.

A :class:`PersonState` belongs to one blocking key (see ``linkage.blocking_key``) and a
:class:`PlaceState` to one linked-location key (see ``rules.place_key``). Each holds every fact
routed to it, de-duplicated by event id (a redelivered event changes nothing), the alerts already
raised from it, and for people the unlink decisions made by humans. Facts are a set: applying
them in any order gives equal state, and :func:`evaluate` works on occurred times only.

The stream layer's loop, per fact and routing key::

    if state.apply(fact):
        drafts = evaluate(policy, state, now_hint=stream_time)
        publish(alert_event(d, policy) for d in drafts)   # same transaction as ...
        state.mark_raised(drafts)                          # ... the changelog write
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import TypeAdapter

from services.correlator.domain.alerts import AlertDraft, RaisedAlert, alert_event
from services.correlator.domain.facts import Fact, FactUnion
from services.correlator.domain.packing import pack, unpack
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.rules import evaluate_people, evaluate_place
from services.correlator.domain.views import current_facts

__all__ = ["JSON_FORMAT", "STATE_FORMAT", "PersonState", "PlaceState", "alert_event", "evaluate"]

#: Version of the changelog bytes (``to_bytes``); bump it (and migrate in ``_load``) on any
#: change to the state's fields or to ``packing``'s tables. Format 3 leaves out what the
#: changelog record already says: the key (its token is known to the packer, see ``packing``)
#: and the kind (one header byte).
STATE_FORMAT = 3
#: Format 2: the key and kind inside the packed value; still read.
_KEYED_FORMAT = 2
#: The readable JSON form (``to_json``), format 1: still read from changelogs written before 2.
JSON_FORMAT = 1
#: First byte of a packed record (JSON records start with ``{``); the format byte follows, and
#: in format 3 the kind.
_HEADER = b"S"
_KIND_BYTES: dict[str, bytes] = {"person": b"p", "place": b"l"}


@dataclass
class _Snapshot:
    format: int
    kind: Literal["person", "place"]
    key: str
    facts: list[FactUnion]
    raised: list[RaisedAlert]
    unlinked: list[tuple[str, str]]


_SNAPSHOT = TypeAdapter(_Snapshot)


@dataclass
class _Body:
    """A format-3 record's packed part: the snapshot without format, kind and key."""

    facts: list[FactUnion]
    raised: list[RaisedAlert]
    unlinked: list[tuple[str, str]]


@dataclass
class _KeyedState:
    key: str
    facts: dict[str, Fact] = field(default_factory=dict)
    raised: dict[str, RaisedAlert] = field(default_factory=dict)

    def apply(self, fact: Fact) -> bool:
        """Add a fact; ``False`` when its event id is already held (a redelivery)."""
        if fact.event_id in self.facts:
            return False
        self.facts[fact.event_id] = fact
        return True

    def current(self) -> list[Fact]:
        """The latest version of each record, oldest first."""
        return current_facts(self.facts.values())

    def mark_raised(self, drafts: Iterable[AlertDraft]) -> None:
        """Remember alerts once they are published, so they are never raised again."""
        for draft in drafts:
            self.raised[draft.alert_id] = RaisedAlert.of(draft)

    def _body(self, unlinked: list[tuple[str, str]]) -> _Body:
        """Facts, alerts and unlink decisions in a deterministic order."""
        return _Body(
            facts=[self.facts[e] for e in sorted(self.facts)],
            raised=[self.raised[a] for a in sorted(self.raised)],
            unlinked=sorted(unlinked),
        )

    def _bytes(self, kind: Literal["person", "place"], unlinked: list[tuple[str, str]]) -> bytes:
        body = pack(self._body(unlinked), _Body, known=(self.key,))
        return _HEADER + bytes([STATE_FORMAT]) + _KIND_BYTES[kind] + body

    def _json(self, kind: Literal["person", "place"], unlinked: list[tuple[str, str]]) -> str:
        body = self._body(unlinked)
        snapshot = _Snapshot(JSON_FORMAT, kind, self.key, body.facts, body.raised, body.unlinked)
        return _SNAPSHOT.dump_json(snapshot).decode()


def _load(raw: str | bytes, kind: Literal["person", "place"], key: str | None) -> _Snapshot:
    """Any form of a changelog record; anything else is refused, never guessed at.

    ``key`` is the record's changelog key, which format 3 needs (its value leaves it out).
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if data[:1] == b"{":
        snapshot = _SNAPSHOT.validate_json(data)
        expected = JSON_FORMAT
    elif data[:1] == _HEADER and data[1:2] == bytes([STATE_FORMAT]):
        return _load_body(data, kind, key)
    elif data[:1] == _HEADER and data[1:2] == bytes([_KEYED_FORMAT]):
        snapshot = unpack(data[2:], _Snapshot)
        expected = _KEYED_FORMAT
    else:
        found = data[1] if data[:1] == _HEADER and len(data) > 1 else "unknown"
        raise ValueError(
            f"changelog record is {kind} state in format {found}, this version reads formats "
            f"{JSON_FORMAT} (JSON), {_KEYED_FORMAT} and {STATE_FORMAT}. Operator action: run "
            "the version that wrote it, or rebuild this state by replaying the canonical topics."
        )
    if snapshot.format != expected or snapshot.kind != kind:
        raise ValueError(
            f"changelog record is {snapshot.kind} state format {snapshot.format}, expected "
            f"{kind} format {expected}. Operator action: rebuild this state by replaying "
            "the canonical topics."
        )
    return snapshot


def _load_body(data: bytes, kind: Literal["person", "place"], key: str | None) -> _Snapshot:
    written = next((k for k, b in _KIND_BYTES.items() if b == data[2:3]), "unknown")
    if written != kind:
        raise ValueError(
            f"changelog record is {written} state format {STATE_FORMAT}, expected {kind} "
            f"format {STATE_FORMAT}. Operator action: rebuild this state by replaying the "
            "canonical topics."
        )
    if key is None:
        raise ValueError(f"{kind} state of format {STATE_FORMAT} is read with its changelog key")
    body = unpack(data[3:], _Body, known=(key,))
    return _Snapshot(STATE_FORMAT, kind, key, body.facts, body.raised, body.unlinked)


@dataclass
class PersonState(_KeyedState):
    """Facts and alerts for the people of one blocking key."""

    unlinked: set[tuple[str, str]] = field(default_factory=set)

    def unlink(self, a: str, b: str) -> bool:
        """Record that two person records are different people; ``False`` if already known."""
        pair = (min(a, b), max(a, b))
        if pair in self.unlinked:
            return False
        self.unlinked.add(pair)
        return True

    def to_bytes(self) -> bytes:
        """Deterministic compact bytes for the changelog under :attr:`key` (format 3)."""
        return self._bytes("person", list(self.unlinked))

    def to_json(self) -> str:
        """Deterministic readable JSON (format 1)."""
        return self._json("person", list(self.unlinked))

    @classmethod
    def from_bytes(cls, raw: str | bytes, key: str | None = None) -> PersonState:
        """Restore from :meth:`to_bytes` (given the changelog ``key``) or :meth:`to_json`."""
        snap = _load(raw, "person", key)
        return cls(
            key=snap.key,
            facts={f.event_id: f for f in snap.facts},
            raised={r.alert_id: r for r in snap.raised},
            unlinked=set(snap.unlinked),
        )

    from_json = from_bytes


@dataclass
class PlaceState(_KeyedState):
    """Facts and alerts for one linked location."""

    def to_bytes(self) -> bytes:
        """Deterministic compact bytes for the changelog under :attr:`key` (format 3)."""
        return self._bytes("place", [])

    def to_json(self) -> str:
        """Deterministic readable JSON (format 1)."""
        return self._json("place", [])

    @classmethod
    def from_bytes(cls, raw: str | bytes, key: str | None = None) -> PlaceState:
        """Restore from :meth:`to_bytes` (given the changelog ``key``) or :meth:`to_json`."""
        snap = _load(raw, "place", key)
        return cls(
            key=snap.key,
            facts={f.event_id: f for f in snap.facts},
            raised={r.alert_id: r for r in snap.raised},
        )

    from_json = from_bytes


def evaluate(
    policy: AreaPolicy, state: PersonState | PlaceState, now_hint: datetime | None = None
) -> list[AlertDraft]:
    """New alerts the state's facts call for, given what it has already raised.

    ``now_hint`` is the stream time (the newest event time the caller has seen), never the wall
    clock: it only moves the lateness horizon forward for keys that have been quiet for long.
    """
    raised = list(state.raised.values())
    if isinstance(state, PersonState):
        return evaluate_people(
            policy, state.current(), state.key, raised, unlinked=state.unlinked, now_hint=now_hint
        )
    return evaluate_place(policy, state.current(), state.key, raised, now_hint)
