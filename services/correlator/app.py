"""The correlator service: three transactional stages over the canonical events.

    canonical events ──► routes stage ──► person mentions ──► person stage ──┐
                                     └──► place mentions  ──► place stage  ──┴─► alerts (+ audit)

Each stage is a :class:`TransactionalEngine` in its own consumer group; an instance runs all
three, and more instances with the same ``ASBX_CORRELATOR_ID`` split the partitions. FastStream
is not used here: its subscribers commit offsets on their own, while these stages must commit
input offsets inside the Kafka transaction that carries their output and state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import timedelta
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
from services.kafka.waiting import wait_for_kafka
from services.observability.metrics import MeteredProcessor, StateKeysMeter
from services.protection.keys import LocalKeyStore
from services.settings import Settings
from services.streams.engine import EngineConfig, TransactionalEngine

__all__ = ["METRICS_SERVICE", "CorrelatorService", "build_correlator"]

log = structlog.get_logger(__name__)

#: The ``service`` label of the correlator's metrics.
METRICS_SERVICE = "correlator"


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
        exist yet). Topics left from an earlier layout that would break that are refused.
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
    def groups(self) -> dict[str, str]:
        """Each stage's consumer group and the topic it reads (for lag)."""
        return {e.config.group_id: e.config.input_topic for e in self.engines}

    def ready(self) -> bool:
        """Every stage owns partitions and has claimed (restored the state of) all it was given."""
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
    keys = LocalKeyStore(keys_dir or Settings().keys_dir)
    grace = timedelta(days=settings.expiry_grace_days)

    def config(stage: str, input_topic: str) -> EngineConfig:
        return EngineConfig(
            name=stage,
            bootstrap=bootstrap,
            input_topic=input_topic,
            changelog_topic=topics.changelog(stage),
            group_id=f"{settings.correlator_id}.{stage}",
            dead_letter_topic=topics.dead_letter,
            client_config=client_config,
            state_dir=settings.state_dir,
            cache_size=settings.state_cache,
            group_instance_id=settings.instance_id,
        )

    engines: list[TransactionalEngine[Any]] = [
        TransactionalEngine(
            config("routes", settings.input_topic),
            MeteredProcessor(MentionRouter(policy, topics, expiry_grace=grace), METRICS_SERVICE),
            StateKeysMeter(METRICS_SERVICE, settings.input_topic),
        ),
        TransactionalEngine(
            config("person", topics.person_mentions),
            MeteredProcessor(
                KeyedRules(
                    PersonState, policy, settings.alerts_topic, actor, keys, expiry_grace=grace
                ),
                METRICS_SERVICE,
            ),
            StateKeysMeter(METRICS_SERVICE, topics.person_mentions),
        ),
        TransactionalEngine(
            config("place", topics.place_mentions),
            MeteredProcessor(
                KeyedRules(
                    PlaceState, policy, settings.alerts_topic, actor, keys, expiry_grace=grace
                ),
                METRICS_SERVICE,
            ),
            StateKeysMeter(METRICS_SERVICE, topics.place_mentions),
        ),
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
