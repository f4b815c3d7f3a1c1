"""The compose stack's broker, credentials and topics job, run for real without Docker.

``tests/test_docker_compose.py`` checks the file's wiring statically; this starts what the file
describes (see :mod:`tests.integration.compose_rehearsal` for what is replaced and what is not)
and checks that it holds together: the broker starts authenticated from the generated secrets,
Kafka's own tools log in with the health check's settings, the topics job creates the topics
and ACLs, each service gets in with only its own password file and becomes ready, a partner's
message comes out canonical, and the denials hold on this broker too.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.envelope import CanonicalEvent
from contracts.topics import ALERTS, CANONICAL_EVENTS, CASEWORK, inbound_topic
from contracts.vocab import Partner
from deploy.kafka_client import client_config_from_env
from deploy.local_kafka import ADMIN_PRINCIPAL
from deploy.security.acls import partner_principal
from deploy.topics import partition_counts
from services.demo.scenario import scenario
from services.settings import REPO_ROOT
from tests.integration.acl_checks import can_read_with
from tests.integration.compose_rehearsal import (
    ComposeBroker,
    ImageInstall,
    image_properties,
    property_name,
    service_environment,
)
from tests.integration.faults import ServiceProcess, free_port

pytestmark = pytest.mark.kafka

#: Compose service → ``asbx serve`` name: every long-running service of the file.
SERVICES = {
    "housing-normaliser": "housing",
    "health-normaliser": "health",
    "police-normaliser": "police",
    "correlator": "correlator",
}


def test_variable_names_become_the_properties_the_image_renders() -> None:
    assert property_name("SSL_KEYSTORE_LOCATION") == "ssl.keystore.location"
    assert property_name("LISTENER_NAME_CONTROLLER_SASL_ENABLED_MECHANISMS") == (
        "listener.name.controller.sasl.enabled.mechanisms"
    )
    assert property_name("SOME__UNDERSCORE___DASH") == "some_underscore-dash"
    with pytest.raises(ValueError, match="drops"):
        image_properties({"KAFKA_SASL_JAAS_CONFIG": "x required a=b;"})
    assert image_properties({"KAFKA_OPTS": "-Da=b", "CLUSTER_ID": "x"}) == {}


def test_normalisers_give_way_to_the_correlator_in_containers_too(compose: dict[str, Any]) -> None:
    """Niceness weighs processes within a cgroup; each container is one: shares weigh those."""
    shares = {s: compose["services"][s].get("cpu_shares", 1024) for s in SERVICES}
    assert shares.pop("correlator") == 1024
    assert set(shares.values()) == {128}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture
def image(tmp_path: Path) -> Iterator[ImageInstall]:
    install = ImageInstall(tmp_path / "image")
    try:
        install.install()
        yield install
    finally:
        install.uninstall()


@pytest.fixture
def broker(tmp_path: Path, compose: dict[str, Any]) -> Iterator[ComposeBroker]:
    node = ComposeBroker(tmp_path, compose)
    try:
        node.start()
        yield node
    finally:
        node.stop()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


async def _wait_ready(services: dict[str, tuple[ServiceProcess, int]], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    waiting = dict(services)
    while waiting:
        for name, (process, port) in list(waiting.items()):
            assert process.running(), f"{name} exited:\n{process.log_file.read_text()[-3000:]}"
            if await asyncio.to_thread(_ready, port):
                del waiting[name]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not ready in {timeout}s: {sorted(waiting)}")
        await asyncio.sleep(0.5)


def _as(principal: str, broker: ComposeBroker) -> dict[str, Any]:
    env = {
        "ASBX_KAFKA_CREDENTIALS": str(broker.secrets / "credentials.json"),
        "ASBX_KAFKA_CAFILE": str(broker.secrets / "tls" / "ca.pem"),
    }
    return client_config_from_env(env, principal=principal)


async def _canonical_from(broker: ComposeBroker, partner: Partner) -> CanonicalEvent:
    consumer = AIOKafkaConsumer(
        CANONICAL_EVENTS.name,
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **_as(ADMIN_PRINCIPAL, broker),
    )
    await consumer.start()
    try:
        async with asyncio.timeout(120):
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        event = CanonicalEvent.model_validate_json(record.value or b"")
                        if event.partner is partner:
                            return event
    finally:
        await consumer.stop()


async def test_the_compose_broker_runs_authenticated_and_the_stack_gets_in(
    broker: ComposeBroker, image: ImageInstall, compose: dict[str, Any], tmp_path: Path
) -> None:
    def container_env(service: str, **extra: str) -> dict[str, str]:
        """A clean environment: the image's ENV, then the service's compose environment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ASBX_", "KAFKA_"))}
        for name, value in image.environment().items():
            env[name] = _replaced(value, broker.replace)
        return {
            **env,
            **service_environment(compose, service, broker.replace),
            "PYTHONPATH": str(image.site),
            **extra,
        }

    # The health check's client settings work with Kafka's own (Java) tools.
    described = broker.kafka_tool(
        "kafka.admin.ConfigCommand",
        "--bootstrap-server",
        broker.bootstrap,
        "--command-config",
        str(broker.secrets / "admin.properties"),
        "--describe",
        "--entity-type",
        "users",
    )
    assert described.returncode == 0, described.stdout + described.stderr
    for principal in ("normaliser-housing", "correlator", partner_principal("housing")):
        assert principal in described.stdout  # SCRAM users made at format time

    # The topics job: topics and ACLs, as admin, from its compose environment.
    topics = await asyncio.create_subprocess_exec(
        *image.command,
        *compose["services"]["topics"]["command"][1:],
        env=container_env("topics"),
        cwd=image.app,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await topics.communicate()
    assert topics.returncode == 0, output.decode()
    # One instance of each service: the shared topics were made with one partition each.
    counts = await partition_counts(
        broker.bootstrap,
        [inbound_topic("housing"), CANONICAL_EVENTS.name, ALERTS.name, CASEWORK.name],
        _as(ADMIN_PRINCIPAL, broker),
    )
    assert counts == {
        inbound_topic("housing"): 1,
        CANONICAL_EVENTS.name: 1,
        ALERTS.name: 1,
        CASEWORK.name: CASEWORK.partitions,
    }

    served = {
        n for n, d in compose["services"].items() if d.get("command", [])[:2] == ["asbx", "serve"]
    }
    assert served == set(SERVICES)
    # Each service with its own password file only (and an empty keys volume, as on a first
    # start); every one becomes ready.
    running: dict[str, tuple[ServiceProcess, int]] = {}
    try:
        for service, name in SERVICES.items():
            env = service_environment(compose, service, broker.replace)
            assert _principals_in(env["ASBX_KAFKA_CREDENTIALS"]) == {_principal(service)}
            # The health check asks the port the service serves on; each container has its
            # own network, so on this one machine every service gets a free port instead.
            assert "ASBX_HTTP_PORT" in env, f"{service} serves no health endpoint"
            health = " ".join(compose["services"][service]["healthcheck"]["test"])
            assert f"127.0.0.1:{env['ASBX_HTTP_PORT']}/readyz" in health
            port = free_port()
            process = ServiceProcess(
                name,
                container_env(service, ASBX_HTTP_PORT=str(port), ASBX_LOG_LEVEL="INFO"),
                tmp_path,
                command=image.command,
                cwd=image.app,
            )
            process.start()
            running[service] = (process, port)
        await _wait_ready(running, timeout=180)
        # On shared cores the normalisers give way to the correlator (services/cpu_priority.py).
        ours = os.nice(0)
        for service, (process, _) in running.items():
            assert process.process is not None
            niceness = os.getpriority(os.PRIO_PROCESS, process.process.pid)
            assert niceness == (ours if service == "correlator" else max(ours, 10)), service

        # A housing message, sent with the housing partner's password, comes out canonical.
        message = next(m for m in scenario() if m.partner is Partner.HOUSING)
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.host_bootstrap,  # the port the host publishes
            acks="all",
            **_as(partner_principal("housing"), broker),
        )
        await producer.start()
        try:
            await producer.send_and_wait(inbound_topic("housing"), message.value, key=b"k")
        finally:
            await producer.stop()
        event = await _canonical_from(broker, Partner.HOUSING)
        assert event.source.startswith("/partners/housing/")
    finally:
        for process, _ in running.values():
            process.close()
    assert image.written() == [], "services wrote into the installed package"
    assert list((tmp_path / "app-var" / "state").glob("*.sqlite")), "no state files on the volume"

    # The ACLs hold here too: the partner may not read the canonical topic.
    assert not await _can_read(broker, partner_principal("housing"), CANONICAL_EVENTS.name)
    assert await _can_read(broker, ADMIN_PRINCIPAL, CANONICAL_EVENTS.name)


async def _can_read(broker: ComposeBroker, principal: str, topic: str) -> bool:
    return await can_read_with(broker.bootstrap, _as(principal, broker), topic)


def _replaced(value: str, replace: dict[str, str]) -> str:
    for old, new in replace.items():
        value = value.replace(old, new)
    return value


def _principals_in(credentials_file: str) -> set[str]:
    return set(json.loads(Path(credentials_file).read_text())["users"])


def _principal(service: str) -> str:
    return "correlator" if service == "correlator" else f"normaliser-{SERVICES[service]}"
