"""The real Kafka broker a test session uses, chosen once and started at most once.

Why a real broker: redelivery, compaction, consumer groups and 16-32 MiB records are broker
behaviour, so `kafka`-marked tests run against Apache Kafka itself. Where it comes from, in order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` is set: that cluster (with ``KAFKA_SECURITY_PROTOCOL`` etc.).
2. A Docker engine answers ``docker info``: an ``apache/kafka`` container via testcontainers.
3. Otherwise: a local KRaft JVM (``deploy.local_kafka``) in ``var/test-kafka`` on ports
   29092/29093, so a demo broker on 9092 is left alone. It is stopped at session end only if
   this session started it; an already-running test broker is reused as is. It requires
   SCRAM-SHA-512 logins over TLS and enforces ACLs like the demo node: the session points
   ``ASBX_KAFKA_CREDENTIALS`` at its generated credentials (services started by tests, in process
   or as child processes, then connect as their own principals, trusting the node's CA in
   ``tls/ca.pem`` beside the credentials) and applies the derived ACLs,
   plus grants for the correlator on the tests' own canonical and alert topics.

Use it from ``conftest.py`` (import this module as ``tests.kafka_fixture`` everywhere so there is
one session state)::

    from tests.kafka_fixture import describe_broker, make_broker_fixture

    kafka_broker = make_broker_fixture()

    def pytest_report_header() -> str:
        return describe_broker()
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest_asyncio

from deploy.kafka_client import client_config_from_env
from deploy.local_kafka import REPO_ROOT, LocalKafka, LocalKafkaConfig, probe_broker
from deploy.security.acls import (
    CORRELATOR,
    DEFAULT_CORRELATOR_IDS,
    WEB,
    Acl,
    Operation,
    Pattern,
    Resource,
)
from deploy.security.apply import ensure_local_acls
from deploy.topics import ensure_topics

__all__ = [
    "DOCKER_IMAGE",
    "TEST_KAFKA",
    "USED_BROKERS",
    "Broker",
    "broker_bootstrap",
    "broker_client_config",
    "client_config_as",
    "describe_broker",
    "make_broker_fixture",
    "release_broker",
]

DOCKER_IMAGE = "apache/kafka:4.1.0"
#: Every broker this session connected to, for the closing summary line.
USED_BROKERS: list[Broker] = []
#: ``ASBX_TEST_KAFKA_PORT`` moves the test node (and its controller, one port up), so several
#: checkouts on one machine can each run their tests against a broker of their own.
_TEST_PORT = int(os.environ.get("ASBX_TEST_KAFKA_PORT") or 29092)
TEST_KAFKA = LocalKafkaConfig(
    home=REPO_ROOT / "var" / "test-kafka", port=_TEST_PORT, controller_port=_TEST_PORT + 1
)


class Broker(NamedTuple):
    """The session's broker: where to connect, and which Kafka it is."""

    bootstrap: str
    version: str


Cleanup = Callable[[], object] | None


@dataclass
class _Session:
    """The one broker of this test session (module state, shared by every fixture instance)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    broker: Broker | None = None
    client_config: dict[str, Any] = field(default_factory=dict)
    cleanup: Cleanup = None
    topics_ready: bool = False


_session = _Session()


def _env_bootstrap() -> str | None:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None


@functools.cache
def _docker_available() -> bool:
    """Whether a Docker engine answers (asked once per session: it can take seconds)."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _plan() -> str:
    if _env_bootstrap():
        return "env"
    return "docker" if _docker_available() else "local"


def describe_broker() -> str:
    """One line for ``pytest_report_header``: the broker in use, or the one that would be used."""
    if (broker := _session.broker) is not None:
        return f"kafka: {broker.version} at {broker.bootstrap}"
    plan = _plan()
    if plan == "env":
        return f"kafka: KAFKA_BOOTSTRAP_SERVERS={_env_bootstrap()} (external, not started here)"
    if plan == "docker":
        return f"kafka: {DOCKER_IMAGE} via testcontainers (started on first kafka test)"
    version = LocalKafka(TEST_KAFKA).version() or "(jars not downloaded yet)"
    return (
        f"kafka: local KRaft node, Apache Kafka {version} at {TEST_KAFKA.bootstrap} "
        "(started on first kafka test)"
    )


def _use_env(bootstrap: str) -> tuple[Broker, Cleanup]:
    config = client_config_from_env()
    _session.client_config = config
    version = "Kafka (version not exposed by the Kafka protocol)"
    if not config:  # a PLAINTEXT cluster can at least be checked before the tests run
        host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
        with contextlib.suppress(OSError):
            version += f", {probe_broker(host, int(port), timeout=5)} live broker(s)"
    return Broker(bootstrap, f"{version} from KAFKA_BOOTSTRAP_SERVERS"), None


def _put_file(container: Any, path: str, content: bytes) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mtime = len(content), int(time.time())
        tar.addfile(info, io.BytesIO(content))
    container.get_wrapped_container().put_archive("/", archive.getvalue())


def _wait_for_container_broker(container: Any, host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe_broker(host, port)
        except OSError:
            wrapped = container.get_wrapped_container()
            wrapped.reload()  # refresh the cached status
            if wrapped.status == "exited" or time.monotonic() > deadline:
                logs = wrapped.logs(tail=40).decode(errors="replace")
                raise RuntimeError(f"{DOCKER_IMAGE} did not become ready:\n{logs}") from None
            time.sleep(0.5)
        else:
            return


def _start_container() -> tuple[Broker, Cleanup]:
    """An apache/kafka KRaft container; its advertised address is only known once it runs.

    testcontainers' KafkaContainer is built for Confluent images, so the official image is run
    as a plain container whose start script waits for the advertised listeners to be written.
    """
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415 - only with Docker

    listeners_file = "/tmp/asbx-advertised-listeners"  # inside the container
    env = {
        "CLUSTER_ID": "asbxTestcontainerKafkA",
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,BROKER://:19092,CONTROLLER://:9093",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": ",".join(
            f"{name}:PLAINTEXT" for name in ("PLAINTEXT", "BROKER", "CONTROLLER")
        ),
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_MESSAGE_MAX_BYTES": "33554432",
        "KAFKA_REPLICA_FETCH_MAX_BYTES": "33554432",
    }
    os.environ["KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"  # not the local node's credentials
    container = DockerContainer(DOCKER_IMAGE).with_exposed_ports(9092)
    for key, value in env.items():
        container.with_env(key, value)
    container.with_command(
        [
            "sh",
            "-c",
            f"while [ ! -f {listeners_file} ]; do sleep 0.1; done; "
            f'export KAFKA_ADVERTISED_LISTENERS="$(cat {listeners_file})"; '
            "exec /etc/kafka/docker/run",
        ]
    )
    container.start()
    try:
        host, port = container.get_container_host_ip(), int(container.get_exposed_port(9092))
        listeners = f"PLAINTEXT://{host}:{port},BROKER://localhost:19092"
        _put_file(container, listeners_file, listeners.encode())
        _wait_for_container_broker(container, host, port, timeout=120)
        jars = container.exec(["sh", "-c", "ls /opt/kafka/libs/kafka_2.13-*.jar"]).output
        found = jars.decode().strip().rsplit("kafka_2.13-", 1)[-1].removesuffix(".jar")
        version = found if found and "/" not in found else DOCKER_IMAGE.rsplit(":", 1)[-1]
    except BaseException:
        container.stop()
        raise
    return Broker(
        f"{host}:{port}", f"Apache Kafka {version} ({DOCKER_IMAGE} container)"
    ), container.stop


def _start_local() -> tuple[Broker, Cleanup]:
    kafka = LocalKafka(TEST_KAFKA)
    already_running = kafka.status().running
    bootstrap = kafka.start()
    os.environ["ASBX_KAFKA_CREDENTIALS"] = str(kafka.credentials_file)
    _session.client_config = client_config_from_env()  # the node's admin
    origin = "local KRaft node, SASL_SSL + SCRAM + ACLs" + (", reused" if already_running else "")
    cleanup = None if already_running else kafka.stop
    return Broker(bootstrap, f"Apache Kafka {kafka.version()} ({origin})"), cleanup


def broker_bootstrap() -> Broker:
    """Decide and, if needed, start the session's broker; later calls return the same one."""
    with _session.lock:
        if _session.broker is None:
            env = _env_bootstrap()
            if env:
                _session.broker, _session.cleanup = _use_env(env)
            elif _docker_available():
                _session.broker, _session.cleanup = _start_container()
            else:
                _session.broker, _session.cleanup = _start_local()
            USED_BROKERS.append(_session.broker)
        return _session.broker


def broker_client_config() -> dict[str, Any]:
    """aiokafka keyword arguments for the session broker, as its admin (super user)."""
    return dict(_session.client_config)


def client_config_as(principal: str) -> dict[str, Any]:
    """aiokafka keyword arguments to connect to the session broker as ``principal``."""
    return client_config_from_env(principal=principal)


#: Correlator deployments started by tests are named ``test-...`` and use their own topics.
TEST_CORRELATOR_PREFIX = "test-"
TEST_GRANTS = (
    *(
        Acl(CORRELATOR, Resource.TOPIC, "asbx.test.canonical.", Pattern.PREFIXED, op)
        for op in (Operation.READ, Operation.DESCRIBE)
    ),
    *(
        Acl(CORRELATOR, Resource.TOPIC, "asbx.test.alerts.", Pattern.PREFIXED, op)
        for op in (Operation.WRITE, Operation.DESCRIBE)
    ),
    # The web process reads the alerts of the correlators tests start.
    *(
        Acl(WEB, Resource.TOPIC, "asbx.test.alerts.", Pattern.PREFIXED, op)
        for op in (Operation.READ, Operation.DESCRIBE)
    ),
)


def release_broker() -> None:
    """Stop the broker if this session started it; safe to call more than once."""
    with _session.lock:
        cleanup, _session.cleanup = _session.cleanup, None
        _session.broker, _session.topics_ready = None, False
        _session.client_config = {}
    if cleanup is not None:
        cleanup()


def make_broker_fixture(name: str = "kafka_broker") -> Any:
    """A session fixture called ``name`` yielding the :class:`Broker`, with all topics created."""

    @pytest_asyncio.fixture(scope="session", loop_scope="session", name=name)
    async def _kafka_broker() -> AsyncIterator[Broker]:
        broker = await asyncio.to_thread(broker_bootstrap)
        if not _session.topics_ready:
            await ensure_topics(broker.bootstrap, client_config=broker_client_config())
            await ensure_local_acls(
                broker.bootstrap, [*DEFAULT_CORRELATOR_IDS, TEST_CORRELATOR_PREFIX], TEST_GRANTS
            )
            _session.topics_ready = True
        yield broker
        await asyncio.to_thread(release_broker)

    return _kafka_broker
