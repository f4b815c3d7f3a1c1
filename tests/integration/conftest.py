"""The three partner normalisers, running in the test session against the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from contracts.vocab import Partner
from services.normalise.app import build_normaliser
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.settings import Settings
from tests.integration.exchange import Exchange
from tests.kafka_fixture import Broker


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
