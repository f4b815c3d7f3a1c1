"""The three partner normalisers, running in the test session against the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from contracts.topics import KeyKind, TopicSpec
from contracts.vocab import Partner
from deploy.security.acls import DEFAULT_CORRELATOR_IDS
from deploy.security.apply import ensure_local_acls
from deploy.topics import ensure_topics
from services.correlator.app import CorrelatorService, build_correlator
from services.correlator.settings import CorrelatorSettings
from services.normalise.app import build_normaliser
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.settings import Settings
from tests.integration.exchange import Exchange
from tests.integration.faults import ThrowawayBroker, prepare_keys
from tests.kafka_fixture import TEST_CORRELATOR_PREFIX, TEST_GRANTS, Broker


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys for this session only: generated on first use, like a first run."""
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def keys(keys_dir: Path) -> LocalKeyStore:
    """The key store the services use (tests open sealed fields with it)."""
    return LocalKeyStore(keys_dir)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def exchange(kafka_broker: Broker, keys_dir: Path) -> AsyncIterator[Exchange]:
    """Housing, health and police normalisers consuming their inbound topics."""
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap, ASBX_KEYS_DIR=keys_dir)
    services = [build_normaliser(adapter_for(p), settings) for p in Partner]
    for service in services:
        await service.start()
    try:
        yield Exchange(kafka_broker.bootstrap)
    finally:
        for service in services:
            await service.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def correlator(kafka_broker: Broker, keys_dir: Path) -> AsyncIterator[CorrelatorService]:
    """A correlator deployment of its own (fresh id, own alerts topic) for this session."""
    service = await start_correlator(kafka_broker.bootstrap, "default", keys_dir=keys_dir)
    try:
        yield service
    finally:
        await stop_correlator(service)


_RUNNING: dict[int, tuple[asyncio.Event, asyncio.Task[None]]] = {}


async def start_correlator(
    bootstrap: str, name: str, policy_file: Path | None = None, keys_dir: Path | None = None
) -> CorrelatorService:
    """Start a correlator with its own id and alerts topic; stop it with stop_correlator."""
    correlator_id = f"test-{name}-{uuid.uuid4().hex[:8]}"
    alerts_topic = f"asbx.test.alerts.{correlator_id}"
    await ensure_topics(
        bootstrap, [TopicSpec(name=alerts_topic, purpose="test alerts", key=KeyKind.SUBJECT_TOKEN)]
    )
    settings = CorrelatorSettings(
        ASBX_CORRELATOR_ID=correlator_id,
        ASBX_ALERTS_TOPIC=alerts_topic,
        **({"ASBX_AREA_POLICY": policy_file} if policy_file else {}),
    )
    service = build_correlator(bootstrap, settings, keys_dir)
    await service.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    _RUNNING[id(service)] = (stop, task)
    return service


async def stop_correlator(service: CorrelatorService) -> None:
    """Stop a correlator started by start_correlator."""
    stop, task = _RUNNING.pop(id(service))
    stop.set()
    await task


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fault_node(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ThrowawayBroker]:
    """A broker of its own for the fault tests, which kill it and the services on it.

    It has SCRAM logins and ACLs like every local node, with credentials of its own: while it is
    being set up (and during each fault test, see ``fault_broker``) the environment points
    clients at its credentials instead of the session broker's.
    """
    broker = ThrowawayBroker(tmp_path_factory.mktemp("fault-kafka"))
    await asyncio.to_thread(broker.start)
    with broker.credentials_in_env():
        await ensure_topics(broker.bootstrap)
        await ensure_local_acls(
            broker.bootstrap, [*DEFAULT_CORRELATOR_IDS, TEST_CORRELATOR_PREFIX], TEST_GRANTS
        )
        await broker.warm_up()
    try:
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)


@pytest.fixture
def fault_broker(fault_node: ThrowawayBroker, monkeypatch: pytest.MonkeyPatch) -> ThrowawayBroker:
    """The fault tests' broker, with this test's clients and services logging in to it."""
    monkeypatch.setenv("ASBX_KAFKA_CREDENTIALS", str(fault_node.kafka.credentials_file))
    return fault_node


@pytest.fixture(scope="session")
def fault_keys(keys_dir: Path) -> Path:
    """The session's keys, every one created before service processes start."""
    prepare_keys(keys_dir)
    return keys_dir
