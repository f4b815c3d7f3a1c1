"""Create the topics declared in ``contracts.topics`` on a cluster, idempotently.

Why: the broker refuses to auto-create topics (``auto.create.topics.enable=false``) so a typo in a
topic name fails loudly instead of silently creating a topic with default retention and a 1 MiB
record limit. Running this again is safe: existing topics are kept and only their configuration
is brought back to what the contracts declare (partition counts are never changed here, since
that would move keys between partitions; a mismatch is logged). New topics that instances share
out take ``ASBX_PARTITIONS`` partitions when it is set (``contracts.topics.sized_for``).

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python -m deploy.topics
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from contracts.topics import TopicSpec, sized_for
from deploy.kafka_client import client_config_from_env

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "TopicError",
    "declared_topics",
    "ensure_topics",
    "main",
    "partition_counts",
]

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
_TOPIC_ALREADY_EXISTS = 36

log = logging.getLogger(__name__)


class TopicError(RuntimeError):
    """The cluster refused to create or reconfigure a topic, or did not settle in time."""


def _check(error_code: int, topic: str, action: str, message: str | None = None) -> None:
    if error_code:
        name = for_code(error_code).__name__
        raise TopicError(f"{action} {topic} failed: {name} ({error_code}) {message or ''}".strip())


async def _settle(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    """Wait until the broker serves what the controller has committed.

    In KRaft the controller answers CreateTopics/AlterConfigs before every broker has applied
    the change, so an immediate Metadata or DescribeConfigs can still miss it; callers of
    ``ensure_topics`` are promised they can use the topics as soon as it returns.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TopicError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.2)


def declared_topics() -> tuple[TopicSpec, ...]:
    """Every declared topic, sized for this deployment (``ASBX_PARTITIONS``)."""
    from services.settings import Settings  # noqa: PLC0415 - pydantic-settings only here

    return sized_for(Settings().partitions)


async def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec] | None = None,
    client_config: dict[str, Any] | None = None,
) -> list[str]:
    """Create missing topics, align the configuration of existing ones; return names created.

    ``specs``: the topics to ensure (default: :func:`declared_topics`).
    """
    wanted = {spec.name: spec for spec in (declared_topics() if specs is None else specs)}
    if client_config is None:
        client_config = client_config_from_env()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config)
    await admin.start()
    try:
        existing = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
        missing = [spec for name, spec in wanted.items() if name not in existing]
        created = await _create(admin, missing) if missing else []
        for name, count in existing.items():
            if name in wanted and count != wanted[name].partitions:
                log.warning(
                    "%s has %d partitions, %d asked for; left as is",
                    name,
                    count,
                    wanted[name].partitions,
                )
        await _align_configs(admin, [spec for spec in wanted.values() if spec.name not in created])
        return created
    finally:
        await admin.close()


async def partition_counts(
    bootstrap: str, topics: Iterable[str], client_config: dict[str, Any] | None = None
) -> dict[str, int | None]:
    """How many partitions each topic has on the cluster (``None``: it does not exist yet)."""
    if client_config is None:
        client_config = client_config_from_env()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) if t["error_code"] == 0 else None for t in described}


async def _create(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    response = await admin.create_topics(
        [
            NewTopic(
                spec.name, spec.partitions, spec.replication_factor, topic_configs=spec.config()
            )
            for spec in specs
        ]
    )
    created = []
    for topic, code, *rest in response.topic_errors:
        if code != _TOPIC_ALREADY_EXISTS:  # otherwise another creator won the race: fine
            _check(code, topic, "creating", rest[0] if rest else None)
            created.append(topic)
    log.info("created topics: %s", ", ".join(created) or "none")

    async def visible() -> bool:
        topics = await admin.describe_topics([spec.name for spec in specs])
        return all(
            t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
            for t in topics
        )

    await _settle(visible, "new topics to have leaders")
    return created


async def _stale(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[TopicSpec]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, s.name, s.config()) for s in specs]
    current: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for code, message, _type, name, entries, *_ in response.resources:
            _check(code, name, "describing", message)
            current[name] = {entry[0]: entry[1] for entry in entries}
    return [s for s in specs if current.get(s.name) != s.config()]


async def _align_configs(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Bring topic configs in line with the contracts, touching only topics that differ.

    AlterConfigs replaces a topic's whole set of overrides, which is what we want: the contracts
    are the single source of truth for topic settings.
    """
    stale = await _stale(admin, specs) if specs else []
    if not stale:
        return
    log.info("updating configuration of: %s", ", ".join(s.name for s in stale))
    altered = [ConfigResource(ConfigResourceType.TOPIC, s.name, s.config()) for s in stale]
    for response in await admin.alter_configs(altered):
        for code, message, _type, name, *_ in response.resources:
            _check(code, name, "configuring", message)

    async def applied() -> bool:
        return not await _stale(admin, stale)

    await _settle(applied, "configuration changes to apply")


def main() -> int:
    """Create asbx topics on ``KAFKA_BOOTSTRAP_SERVERS`` (default ``127.0.0.1:9092``)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
    try:
        created = asyncio.run(ensure_topics(bootstrap, client_config=client_config_from_env()))
    except TopicError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    declared = len(declared_topics())
    sys.stdout.write(f"{len(created)} topic(s) created, {declared} declared, on {bootstrap}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
