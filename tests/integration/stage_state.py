"""What the correlator's person and place stages hold once caught up, read from their changelogs.

The keyed stages take a mention from its topic or, when its key falls in the router's own
partition, straight from the router inside the same transaction, so the mention topics no longer
show everything the stages were given. Their state does: each key keeps the facts applied to it
and the alerts it raised, in the changelog partition its key belongs to. Checks over it need no
knowledge of the order in which mentions met:

- every alert published is one a key's state raised, and every alert a state raised was
  published (a transaction that committed one without the other would show);
- every fact the router's replay routes to a key is in that key's state, unless the domain's
  own expiry would have dropped it by the partition's stream time; and no other fact is;
- every key is held by the partition its key is sent to (a mention handed over inside a task
  must only ever be one for the task's own partition).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from services.correlator.app import CorrelatorService
from services.correlator.domain.expiry import expire
from services.correlator.domain.facts import Fact
from services.correlator.domain.mentions import read_mention
from services.correlator.domain.state import PersonState, PlaceState
from services.correlator.keyed import CLOCK_KEY, KeyedRules, StreamClock
from services.correlator.router import MentionRouter
from services.kafka.reader import read_all
from services.streams.store import PartitionStore

__all__ = ["StageState", "check_stages_hold_what_was_routed", "raised_alert_ids", "stage_state"]

State = PersonState | PlaceState


@dataclass
class StageState:
    """One keyed stage's final state: each key's state and the partition that holds it."""

    states: dict[str, State] = field(default_factory=dict)
    holder: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    clocks: dict[int, datetime | None] = field(default_factory=dict)


def _processor(service: CorrelatorService, stage: str) -> KeyedRules[Any]:
    kind: type[PersonState] | type[PlaceState] = PersonState if stage == "person" else PlaceState
    return KeyedRules(kind, service.policy, "alerts", "test")


async def stage_state(service: CorrelatorService, stage: str) -> StageState:
    """The latest value of every key of ``stage`` ("person" or "place") in its changelog."""
    processor = _processor(service, stage)
    found = StageState()
    records = await read_all(service.bootstrap, service.topics.changelog(stage))
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        key = processor.decode_key(record.key or b"")
        if key == CLOCK_KEY:
            if record.value is not None:
                clock = processor.decode(key, record.value)
                assert isinstance(clock, StreamClock)
                found.clocks[record.partition] = clock.at
            continue
        if record.value is None:
            found.states.pop(key, None)
            found.holder[key].discard(record.partition)
            continue
        value = processor.decode(key, record.value)
        assert isinstance(value, PersonState | PlaceState)
        found.states[key] = value
        found.holder[key].add(record.partition)
    return found


async def raised_alert_ids(service: CorrelatorService) -> set[str]:
    """Every alert id the person and place states say they raised."""
    ids: set[str] = set()
    for stage in ("person", "place"):
        for state in (await stage_state(service, stage)).states.values():
            ids |= set(state.raised)
    return ids


async def _routed(service: CorrelatorService) -> dict[str, dict[str, list[Fact]]]:
    """Facts by stage and key, as a replay of the canonical topic through the router sends them
    (per partition, in offset order: its routing state decides what a correction re-sends)."""
    router = MentionRouter(service.policy, service.topics)
    stores: dict[int, PartitionStore[Any]] = {}
    routed: dict[str, dict[str, list[Fact]]] = {
        "person": defaultdict(list),
        "place": defaultdict(list),
    }
    records = await read_all(service.bootstrap, service.input_topic)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        store = stores.setdefault(record.partition, PartitionStore(record.partition))
        for out in router.process(store, record):
            stage = "person" if out.topic == service.topics.person_mentions else "place"
            fact = read_mention(out.value)[1]
            assert fact is not None, "a mention without a fact"
            routed[stage][out.key.decode()].append(fact)
    return routed


async def check_stages_hold_what_was_routed(
    service: CorrelatorService, expiry_grace: timedelta = timedelta(0)
) -> set[str]:
    """Assert the fact checks of the module docstring; return the event ids the stages hold."""
    routed = await _routed(service)
    held_events: set[str] = set()
    partitioner = DefaultPartitioner()
    for stage, by_key in routed.items():
        final = await stage_state(service, stage)
        every = list(range(service.topics.partitions))

        def own(key: str, every: list[int] = every) -> int:
            partition: int = partitioner(key.encode(), every, every)
            return partition

        for key, holders in final.holder.items():
            if key in final.states:
                assert holders == {own(key)}, f"{stage} {key} in {holders}, not in {own(key)}"
        unexpected = set(final.states) - set(by_key)
        assert not unexpected, f"{len(unexpected)} {stage} key(s) nothing was routed to"
        for key, facts in by_key.items():
            state = final.states.get(key)
            held = set(state.facts) if state is not None else set()
            sent = {f.event_id for f in facts}
            assert held <= sent, f"{stage} key {key} holds facts never routed to it"
            survivor = _fresh(stage, key, facts)
            clock = final.clocks.get(own(key))
            if clock is not None:
                expire(survivor, service.policy, clock - expiry_grace)
            lost = set(survivor.facts) - held
            assert not lost, f"{stage} key {key} lost {len(lost)} fact(s) it should still hold"
            held_events |= held
    return held_events


def _fresh(stage: str, key: str, facts: list[Fact]) -> State:
    state: State = PersonState(key=key) if stage == "person" else PlaceState(key=key)
    for fact in facts:
        state.apply(fact)
    return state
