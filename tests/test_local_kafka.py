"""The Docker-free broker behaves like a service you can rely on, and topics match the contracts.

A second broker on its own ports and home (under tmp_path) is used for stop/start so the
session's broker keeps running for the other tests.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts.topics import (
    DAY_MS,
    MAX_PARTNER_RECORD_BYTES,
    PARTNERS,
    TOPICS,
    KeyKind,
    TopicSpec,
    inbound_topic,
    seen_topic,
)
from deploy.kafka_client import client_config_from_env
from deploy.local_kafka import LocalKafka, LocalKafkaConfig, probe_broker
from deploy.topics import ensure_topics
from tests.kafka_fixture import Broker, broker_client_config

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def spare_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    home: Path = tmp_path_factory.mktemp("spare-kafka")
    kafka = LocalKafka(LocalKafkaConfig(home=home, port=39092, controller_port=39093))
    yield kafka
    kafka.stop()
    assert not kafka.status().running


def _throwaway(name: str, retention_ms: int = 7 * DAY_MS) -> TopicSpec:
    return TopicSpec(
        name=f"asbx.test.{name}.{uuid.uuid4().hex[:8]}",
        purpose="test",
        key=KeyKind.MESSAGE_DIGEST,
        partitions=1,
        retention_ms=retention_ms,
    )


async def _topic_configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **broker_client_config())
    await admin.start()
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        responses = await admin.describe_configs(resources)
    finally:
        await admin.close()
    resources = [res for response in responses for res in response.resources]
    assert [(res[3], res[0]) for res in resources if res[0]] == []  # no per-topic errors
    return {res[3]: {e[0]: e[1] for e in res[4]} for res in resources}


def test_start_is_idempotent(spare_kafka: LocalKafka) -> None:
    bootstrap = spare_kafka.start()
    pid = spare_kafka.status().pid
    began = time.monotonic()
    again = LocalKafka(spare_kafka.config).start()  # a new handle finds it through the pid file
    assert time.monotonic() - began < 2
    assert again == bootstrap == "127.0.0.1:39092"
    status = spare_kafka.status()
    assert (status.running, status.ready, status.pid) == (True, True, pid)
    assert (status.version or "").startswith("4.")


def _trusting(kafka: LocalKafka) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(kafka.ca_file))


def test_node_logs_in_principals_only_with_their_password(spare_kafka: LocalKafka) -> None:
    """The probe's SCRAM login over TLS succeeds with a generated password, fails with another."""
    spare_kafka.start()
    host, port = spare_kafka.config.host, spare_kafka.config.port
    password = spare_kafka.credentials()["housing"]
    tls = _trusting(spare_kafka)
    assert probe_broker(host, port, credentials=("housing", password), ssl_context=tls) >= 1
    with pytest.raises(ConnectionError, match="authentication failed"):
        probe_broker(host, port, credentials=("housing", password + "x"), ssl_context=tls)
    with pytest.raises(ConnectionError, match=r"closed|reset"):
        probe_broker(host, port)  # no TLS at all: the listener answers nothing


def test_node_listens_with_tls_only(spare_kafka: LocalKafka) -> None:
    """The client listener is SASL_SSL with the node's own certificate; the controller is local."""
    spare_kafka.start()
    props = spare_kafka.server_properties()
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
    assert props["advertised.listeners"].startswith("CLIENT://")  # no controller for clients
    assert props["ssl.keystore.type"] == "PEM"
    assert spare_kafka.ca_file.stat().st_mode & 0o077 == 0


def test_principal_added_later_gets_credentials(
    spare_kafka: LocalKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A principal added after the storage was formatted can log in after the next start."""
    spare_kafka.start()
    names = [*LocalKafka.principals(), "newcomer"]
    monkeypatch.setattr(LocalKafka, "principals", staticmethod(lambda: names))
    spare_kafka.start()  # already running: only the new user is added
    password = spare_kafka.credentials()["newcomer"]
    config = spare_kafka.config
    login = ("newcomer", password)
    tls = _trusting(spare_kafka)
    assert probe_broker(config.host, config.port, credentials=login, ssl_context=tls) >= 1


def test_stop_when_not_running_is_harmless(tmp_path: Path) -> None:
    kafka = LocalKafka(LocalKafkaConfig(home=tmp_path, port=39192, controller_port=39193))
    assert kafka.stop() is False
    assert not kafka.status().running


async def test_data_survives_stop_and_start(spare_kafka: LocalKafka) -> None:
    bootstrap = await asyncio.to_thread(spare_kafka.start)
    admin = client_config_from_env({"ASBX_KAFKA_CREDENTIALS": str(spare_kafka.credentials_file)})
    spec = _throwaway("restart")
    assert await ensure_topics(bootstrap, [spec], admin) == [spec.name]
    value = uuid.uuid4().bytes
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **admin)
    await producer.start()
    try:
        await producer.send_and_wait(spec.name, value, key=b"k")
    finally:
        await producer.stop()

    assert await asyncio.to_thread(spare_kafka.stop) is True
    assert not spare_kafka.status().running
    assert await asyncio.to_thread(spare_kafka.start) == bootstrap

    consumer = AIOKafkaConsumer(
        spec.name,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **admin,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"k", value)


async def test_ensure_topics_is_idempotent_and_applies_config(kafka_broker: Broker) -> None:
    bootstrap = kafka_broker.bootstrap
    assert await ensure_topics(bootstrap, client_config=broker_client_config()) == []
    configs = await _topic_configs(bootstrap, [spec.name for spec in TOPICS])
    assert set(configs) == {spec.name for spec in TOPICS}
    for partner in PARTNERS:
        inbound = configs[inbound_topic(partner)]
        assert int(inbound["retention.ms"]) >= 184 * DAY_MS
        assert int(inbound["max.message.bytes"]) == MAX_PARTNER_RECORD_BYTES
        assert configs[seen_topic(partner)]["cleanup.policy"] == "compact"


async def test_ensure_topics_repairs_drifted_config(kafka_broker: Broker) -> None:
    bootstrap, config = kafka_broker.bootstrap, broker_client_config()
    spec = _throwaway("drift", retention_ms=7 * DAY_MS)
    assert await ensure_topics(bootstrap, [spec], config) == [spec.name]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **config)
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, spec.name, {"retention.ms": "1000"})]
        )
        assert await ensure_topics(bootstrap, [spec], config) == []
        got = await _topic_configs(bootstrap, [spec.name])
        assert got[spec.name]["retention.ms"] == str(7 * DAY_MS)
    finally:
        await admin.delete_topics([spec.name])
        await admin.close()
