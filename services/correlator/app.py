"""The correlator service: three stages over the canonical events, one transaction per task.

    canonical events ──► routes stage ──► person mentions ──► person stage ──┐
                                     └──► place mentions  ──► place stage  ──┴─► alerts (+ audit)

The three stages run in one :class:`TransactionalEngine`, as tasks: task *n* owns partition *n*
of the canonical events and of both mention topics, the three stages' state for it, and one
transactional producer. A mention whose key falls in the router's own partition goes straight to
the person or place stage, in the same transaction; only mentions for other partitions travel
through the mention topics. With one partition (``ASBX_PARTITIONS=1``, one instance) a partner
message reaches its rules without a second trip through Kafka. More instances with the same
``ASBX_CORRELATOR_ID`` split the tasks. FastStream is not used here: its subscribers commit
offsets on their own, while these stages must commit input offsets inside the Kafka transaction
that carries their output and state.

Until this layout the stages ran in three consumer groups (``<id>.routes``, ``<id>.person``,
``<id>.place``); a task starts each stage where that group left off. Stop every instance of
the older layout before starting this one: their producers' transactional ids differ, so they
are not fenced by it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import structlog

from deploy.kafka_client import client_config_from_env
from deploy.security.acls import CORRELATOR
from deploy.topics import TopicError, ensure_topics, partition_counts
from services.correlator.domain.policy import AreaPolicy, load_policy
from services.correlator.domain.state import PersonState, PlaceState
from services.correlator.keyed import KeyedRules
from services.correlator.router import MentionRouter
from services.correlator.settings import CorrelatorSettings
from services.correlator.topics import CorrelatorTopics
from services.kafka.fetch_pacing import FetchPacing
from services.kafka.waiting import wait_for_kafka
from services.observability.metrics import MeteredProcessor, StateKeysMeter
from services.protection.keys import LocalKeyStore, persist_new_keys_off_loop
from services.settings import Settings
from services.streams.engine import EngineConfig, Stage, TransactionalEngine

__all__ = ["METRICS_SERVICE", "CorrelatorService", "build_correlator", "correlator_group"]

log = structlog.get_logger(__name__)

#: The ``service`` label of the correlator's metrics.
METRICS_SERVICE = "correlator"


def correlator_group(correlator_id: str) -> str:
    """The consumer group of a correlator deployment's tasks."""
    return f"{correlator_id}.tasks"


@dataclass
class CorrelatorService:
    """One correlator instance: its policy, topics and stage engines."""

    policy: AreaPolicy
    topics: CorrelatorTopics
    bootstrap: str
    input_topic: str
    alerts_topic: str
    engines: list[TransactionalEngine[Any]]
    client_config: dict[str, Any] = field(default_factory=dict)

    async def prepare(self) -> None:
        """Create the internal topics (idempotent), partition for partition with the input.

        Each stage keeps the state of its input partition *n* in changelog partition *n*, and
        the mention topics are sized like the canonical topic, so the layout follows the
        canonical topic as it exists on the cluster (``ASBX_PARTITIONS`` only if it does not
        exist yet). Topics left from an earlier layout that would break that are refused: a
        changelog sized unlike its input, or a mention topic sized unlike the canonical topic
        (a task owns partition *n* of each).
        """
        inputs = {
            "routes": self.input_topic,
            "person": self.topics.person_mentions,
            "place": self.topics.place_mentions,
        }
        changelogs = {stage: self.topics.changelog(stage) for stage in inputs}
        found = await partition_counts(
            self.bootstrap, [*inputs.values(), *changelogs.values()], self.client_config
        )
        canonical = found[self.input_topic]
        if canonical is not None and canonical != self.topics.partitions:
            self.topics = replace(self.topics, partitions=canonical)
        # What each topic will have once the missing ones are created at the topics' size.
        sized = {n: count or self.topics.partitions for n, count in found.items()}
        for stage in ("person", "place"):
            mentions = inputs[stage]
            if sized[mentions] != sized[self.input_topic]:
                raise TopicError(
                    f"{mentions} has {sized[mentions]} partitions but {self.input_topic} has "
                    f"{sized[self.input_topic]}: task n owns partition n of both (a new "
                    "ASBX_CORRELATOR_ID starts a deployment with a matching layout)"
                )
        for stage, source in inputs.items():
            changelog = changelogs[stage]
            if found[source] is not None and sized[changelog] != sized[source]:
                raise TopicError(
                    f"{changelog} has {sized[changelog]} partitions but {source} has "
                    f"{sized[source]}: the {stage} stage keeps each input partition's state in "
                    "the changelog partition of the same number (a new ASBX_CORRELATOR_ID "
                    "starts a deployment with a matching layout)"
                )
        await ensure_topics(self.bootstrap, self.topics.specs(), client_config=self.client_config)

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for Kafka, then run every stage until ``stop`` is set."""
        await wait_for_kafka(self.bootstrap, self.client_config, service="correlator")
        await self.prepare()
        log.info(
            "correlator.started", area=self.policy.area_id, correlator_id=self.topics.correlator_id
        )
        await asyncio.gather(*(engine.run(stop) for engine in self.engines))

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """The consumer group and the topics it reads (for lag)."""
        return {e.config.group_id: tuple(s.input_topic for s in e.stages) for e in self.engines}

    def ready(self) -> bool:
        """The instance owns tasks and has claimed (restored every stage's state of) all it was
        given."""
        return all(engine.partitions and not engine.claiming for engine in self.engines)

    @property
    def processed(self) -> int:
        """Records processed by all stages of this instance."""
        return sum(engine.processed for engine in self.engines)


def build_correlator(
    bootstrap: str, settings: CorrelatorSettings | None = None, keys_dir: Path | None = None
) -> CorrelatorService:
    """Wire the stages. An invalid area policy fails here, naming the bad field."""
    settings = settings or CorrelatorSettings()
    policy = load_policy(settings.policy_file)
    topics = CorrelatorTopics(settings.correlator_id, settings.partitions)
    client_config = client_config_from_env(principal=CORRELATOR)
    actor = f"correlator:{policy.area_id}"
    # Alerts' details are sealed under retention keys: new ones are made in memory and written
    # in a worker thread just before the transaction that publishes them commits, one sync per
    # commit instead of one on the event loop per new key (each stalled every stage meanwhile).
    shared = Settings()
    keys = LocalKeyStore(keys_dir or shared.keys_dir, defer_new_retention_keys=True)

    grace = timedelta(days=settings.expiry_grace_days)

    def stage(name: str, input_topic: str, processor: Any) -> Stage:
        return Stage(
            name,
            input_topic,
            topics.changelog(name),
            MeteredProcessor(processor, METRICS_SERVICE),
            StateKeysMeter(METRICS_SERVICE, input_topic),
            adopt_offsets_of=f"{settings.correlator_id}.{name}",
        )

    def rules(state: type[PersonState] | type[PlaceState]) -> KeyedRules[Any]:
        return KeyedRules(state, policy, settings.alerts_topic, actor, keys, expiry_grace=grace)

    routes = stage(
        "routes", settings.input_topic, MentionRouter(policy, topics, expiry_grace=grace)
    )
    config = EngineConfig(
        name="correlator",
        bootstrap=bootstrap,
        input_topic=routes.input_topic,
        changelog_topic=routes.changelog_topic,
        group_id=correlator_group(settings.correlator_id),
        dead_letter_topic=topics.dead_letter,
        client_config=client_config,
        state_dir=settings.state_dir,
        cache_size=settings.state_cache,
        group_instance_id=settings.instance_id,
        fetch_pacing=FetchPacing(linger_ms=shared.fetch_linger_ms),
    )
    engines: list[TransactionalEngine[Any]] = [
        TransactionalEngine(
            config,
            routes.processor,
            routes.on_commit,
            adopt_offsets_of=routes.adopt_offsets_of,
            before_commit=partial(persist_new_keys_off_loop, keys),
            also=(
                stage("person", topics.person_mentions, rules(PersonState)),
                stage("place", topics.place_mentions, rules(PlaceState)),
            ),
        )
    ]
    return CorrelatorService(
        policy,
        topics,
        bootstrap,
        settings.input_topic,
        settings.alerts_topic,
        engines,
        client_config,
    )
