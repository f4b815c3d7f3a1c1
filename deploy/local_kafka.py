"""A single-node Apache Kafka 4.x broker (KRaft, broker and controller in one JVM) without Docker.

Why: developers and CI machines without a Docker engine still need a *real* broker, because the
services' guarantees (redelivery, compaction, 16-32 MiB partner records, consumer groups) are
broker behaviour that no in-memory fake reproduces. The broker jars come from Maven Central
(``deploy/kafka/pom.xml``) and the broker runs as a detached JVM whose whole state lives under one
home directory, so it survives ``stop``/``start`` and is removed with ``rm -rf``:

    cluster.id          KRaft cluster id, generated once
    server.properties   rewritten from LocalKafkaConfig on every start
    data/               log.dirs; ``data/meta.properties`` means "storage already formatted"
    logs/server.log     broker log (deploy/kafka/log4j2.yaml)
    kafka.out           JVM stdout/stderr (what happens before logging starts)
    kafka.pid
    credentials.json    SCRAM-SHA-512 password of every principal, generated at first run (0600)
    tls/                the node's own CA and server certificate, generated at first run (0700)
    admin-client.properties   Kafka's shell tools log in as admin with it (TLS included, 0600)

The node requires authentication over TLS: the one client listener is SASL_SSL (SCRAM-SHA-512
inside TLS with a server certificate for ``localhost``/``127.0.0.1`` signed by the node's own CA,
``deploy.security.tls``), the broker reaches its own controller with SASL/PLAIN, and
``StandardAuthorizer`` denies everything no ACL allows (``admin`` is the only super user;
``deploy.security`` derives and applies the ACLs). Readiness is a protocol check (TLS handshake
trusting only the node's CA, ApiVersions, SCRAM login as ``admin``, then Metadata listing at
least one unfenced broker), not a sleep. Stdlib only apart from the principal list and the
certificate generation.

    python -m deploy.local_kafka start|stop|status
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.security.credentials import CREDENTIALS_FILE, ensure_credentials, read_credentials

__all__ = [
    "ADMIN_PRINCIPAL",
    "CA_FILE",
    "SCRAM_MECHANISM",
    "TLS_DIR",
    "LocalKafka",
    "LocalKafkaConfig",
    "LocalKafkaError",
    "LocalKafkaStatus",
    "main",
    "probe_broker",
    "scram_login",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Where under a broker home its TLS material lives (see ``deploy.security.tls``).
TLS_DIR = "tls"
CA_FILE = "ca.pem"
KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
LIB_DIR = KAFKA_DIR / "lib"
MIN_JAVA = 17
#: Largest record the broker accepts: rejected-topic records wrap a 16 MiB partner message.
MAX_RECORD_BYTES = 32 * 1024 * 1024
#: A produce request carries batch and protocol overhead on top of the largest record.
MAX_REQUEST_BYTES = 100 * 1024 * 1024

_MARKER = ".complete"
_API_VERSIONS, _METADATA, _SASL_HANDSHAKE, _SASL_AUTHENTICATE = 18, 3, 17, 36
#: The broker's super user: topic and ACL set-up, inter-broker and controller connections.
ADMIN_PRINCIPAL = "admin"
SCRAM_MECHANISM = "SCRAM-SHA-512"

log = logging.getLogger(__name__)


class LocalKafkaError(RuntimeError):
    """The local broker could not be prepared, started, stopped or reached."""


@dataclass(frozen=True)
class LocalKafkaConfig:
    """Where the broker keeps its state and which loopback ports it listens on."""

    home: Path = REPO_ROOT / "var" / "kafka"
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093

    @property
    def bootstrap(self) -> str:
        """The address clients connect to."""
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalKafkaConfig:
        """Read ``ASBX_KAFKA_HOME``, ``ASBX_KAFKA_PORT`` and ``ASBX_KAFKA_CONTROLLER_PORT``."""
        env = os.environ if env is None else env
        default = cls()
        return cls(
            home=Path(env.get("ASBX_KAFKA_HOME") or default.home),
            port=int(env.get("ASBX_KAFKA_PORT") or default.port),
            controller_port=int(env.get("ASBX_KAFKA_CONTROLLER_PORT") or default.controller_port),
        )


@dataclass(frozen=True)
class LocalKafkaStatus:
    """What ``status`` found: a live process, and whether it answers the Kafka protocol."""

    running: bool
    ready: bool
    pid: int | None
    bootstrap: str
    version: str | None
    home: Path


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return bytes(buf)


def _exchange(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    """Send one request (header v1, non-flexible) and return the response body."""
    client_id = b"asbx-probe"
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    payload = _recv_exact(sock, size)
    if struct.unpack_from(">i", payload)[0] != corr:
        raise ConnectionError("response does not match the request")
    return payload[4:]


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _sasl_step(sock: socket.socket, corr: int, message: bytes) -> bytes:
    """One SaslAuthenticate v0 round trip; the server's reply bytes, or ``ConnectionError``."""
    body = _exchange(sock, _SASL_AUTHENTICATE, 0, corr, struct.pack(">i", len(message)) + message)
    error, msg_len = struct.unpack_from(">hh", body)
    offset = 4 + max(msg_len, 0)
    if error:
        text = body[4:offset].decode(errors="replace") if msg_len > 0 else ""
        raise ConnectionError(f"SASL authentication failed (error {error}) {text}".strip())
    (size,) = struct.unpack_from(">i", body, offset)
    return body[offset + 4 : offset + 4 + size]


def scram_login(sock: socket.socket, username: str, password: str) -> None:
    """Authenticate ``sock`` with SASL/SCRAM-SHA-512 (RFC 5802), verifying the server too."""
    body = _exchange(sock, _SASL_HANDSHAKE, 1, 10, _string(SCRAM_MECHANISM))
    (error,) = struct.unpack_from(">h", body)
    if error:
        raise ConnectionError(f"broker refused {SCRAM_MECHANISM} (error {error})")
    nonce = base64.b64encode(os.urandom(24)).decode()
    first_bare = f"n={username},r={nonce}"
    server_first = _sasl_step(sock, 11, f"n,,{first_bare}".encode()).decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    if not fields.get("r", "").startswith(nonce):
        raise ConnectionError("SCRAM server nonce does not extend the client nonce")
    salted = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
    )
    client_key = hmac.digest(salted, b"Client Key", "sha512")
    final_bare = f"c={base64.b64encode(b'n,,').decode()},r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{final_bare}".encode()
    signature = hmac.digest(hashlib.sha512(client_key).digest(), auth_message, "sha512")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
    server_final = _sasl_step(sock, 12, f"{final_bare},p={proof.decode()}".encode()).decode()
    server_key = hmac.digest(salted, b"Server Key", "sha512")
    expected = base64.b64encode(hmac.digest(server_key, auth_message, "sha512")).decode()
    if server_final != f"v={expected}":
        raise ConnectionError("SCRAM server signature does not verify")


def probe_broker(
    host: str,
    port: int,
    timeout: float = 2.0,
    credentials: tuple[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """Return how many unfenced brokers a listener reports; raise ``OSError`` if none.

    With ``ssl_context`` the connection is TLS first (checking the certificate against ``host``).
    ApiVersions v0 is answered by every Kafka release, before authentication too; with
    ``credentials`` (user, password) the connection then logs in with SCRAM-SHA-512. Metadata is
    sent at a version the broker supports (4-8 share one simple layout) asking for no topics. A
    broker that accepts connections but has not joined its cluster yet reports no brokers, so
    callers can wait on it.
    """
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
        if ssl_context is not None:
            sock = stack.enter_context(ssl_context.wrap_socket(sock, server_hostname=host))
        sock.settimeout(timeout)
        body = _exchange(sock, _API_VERSIONS, 0, 1, b"")
        error, count = struct.unpack_from(">hi", body)
        if error:
            raise ConnectionError(f"ApiVersions failed with error code {error}")
        versions = {
            key: (lo, hi) for key, lo, hi in struct.iter_unpack(">hhh", body[6 : 6 + 6 * count])
        }
        if credentials is not None:
            scram_login(sock, *credentials)
        lo, hi = versions.get(_METADATA, (0, -1))
        version = max(lo, 4)
        if version > min(hi, 8):
            raise ConnectionError(f"no usable Metadata version (broker supports {lo}-{hi})")
        request = struct.pack(">ib", 0, 0) + (b"\0\0" if version >= 8 else b"")
        _throttle, brokers = struct.unpack_from(
            ">ii", _exchange(sock, _METADATA, version, 2, request)
        )
    if brokers < 1:
        raise ConnectionError("broker is up but not yet registered (fenced)")
    return int(brokers)


def _java() -> str:
    """The ``java`` to run (``$JAVA_HOME/bin/java`` or PATH), refusing anything older than 17."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise LocalKafkaError(
            f"Java {MIN_JAVA}+ is required to run Kafka 4.x: set JAVA_HOME or put java on PATH"
        )
    out = subprocess.run(  # noqa: S603 - argv list, no shell
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise LocalKafkaError(f"cannot tell the version of {java}: {out.stderr.strip()}")
    major = int(match[1]) if match[1] != "1" else int(match[2] or 0)
    if major < MIN_JAVA:
        raise LocalKafkaError(f"Kafka 4.x needs Java {MIN_JAVA}+, but {java} is Java {major}")
    return java


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} not readable)"


def _port_in_use(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


class LocalKafka:
    """Start, stop and inspect one local KRaft broker; every method is safe to repeat."""

    def __init__(self, config: LocalKafkaConfig | None = None) -> None:
        self.config = config or LocalKafkaConfig.from_env()
        home = self.config.home.resolve()
        self.home = home
        self.data_dir = home / "data"
        self.logs_dir = home / "logs"
        self.properties_file = home / "server.properties"
        self.pid_file = home / "kafka.pid"
        self.stdout_file = home / "kafka.out"
        self.credentials_file = home / CREDENTIALS_FILE
        self.tls_dir = home / TLS_DIR
        self.ca_file = self.tls_dir / CA_FILE
        self._proc: subprocess.Popen[bytes] | None = None

    # -- jars ---------------------------------------------------------------------------------

    def ensure_jars(self) -> Path:
        """Resolve the broker jars with Maven unless a completed download matches the pom.

        The marker holds a digest of the pom and is written last, so an interrupted download
        or a version bump in the pom both lead to a clean re-download.
        """
        pom = KAFKA_DIR / "pom.xml"
        marker = LIB_DIR / _MARKER
        with pom.open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another home may be resolving the same jars
            digest = hashlib.sha256(pom.read_bytes()).hexdigest()
            if marker.is_file() and marker.read_text().strip() == digest:
                return LIB_DIR
            mvn = shutil.which("mvn")
            if mvn is None:
                raise LocalKafkaError("Maven (mvn) is required once, to download the Kafka jars")
            shutil.rmtree(LIB_DIR, ignore_errors=True)
            log.info("resolving Kafka jars with Maven into %s", LIB_DIR)
            cmd = [
                mvn,
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DoutputDirectory=lib",
                "-DincludeScope=runtime",
            ]
            done = subprocess.run(  # noqa: S603 - argv list, no shell
                cmd, cwd=KAFKA_DIR, capture_output=True, text=True, timeout=1800, check=False
            )
            if done.returncode != 0 or not any(LIB_DIR.glob("kafka_2.13-*.jar")):
                output = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
                raise LocalKafkaError(f"Maven could not resolve the Kafka jars:\n{output}")
            marker.write_text(digest + "\n")
        return LIB_DIR

    def version(self) -> str | None:
        """The Kafka version of the resolved jars (``None`` before the first download)."""
        for jar in LIB_DIR.glob("kafka_2.13-*.jar"):
            match = re.fullmatch(r"kafka_2\.13-(.+)\.jar", jar.name)
            if match:
                return match[1]
        return None

    # -- process ------------------------------------------------------------------------------

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our zombie child: reaped, so gone
                return False
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _running_pid(self) -> int | None:
        """The pid from the pid file if that process is alive and is this home's broker."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not self._alive(pid):
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists():  # guard against a recycled pid (Linux only; elsewhere trust it)
            with contextlib.suppress(OSError):
                if str(self.properties_file).encode() not in cmdline.read_bytes():
                    return None
        return pid

    def _ready(self) -> bool:
        try:
            admin = (ADMIN_PRINCIPAL, read_credentials(self.credentials_file)[ADMIN_PRINCIPAL])
            context = ssl.create_default_context(cafile=str(self.ca_file))
            probe_broker(self.config.host, self.config.port, credentials=admin, ssl_context=context)
        except (OSError, struct.error, KeyError, ValueError, RuntimeError):
            return False
        return True

    # -- principals ---------------------------------------------------------------------------

    @staticmethod
    def principals() -> Sequence[str]:
        """Every principal the node gets SCRAM credentials for (admin, partners, services)."""
        from contracts.topics import PARTNERS  # noqa: PLC0415 - keeps the CLI import light
        from deploy.security.acls import principals  # noqa: PLC0415

        return principals(PARTNERS)

    def credentials(self) -> dict[str, str]:
        """Principal to password; generated into ``credentials.json`` on first use."""
        return ensure_credentials(self.credentials_file, self.principals())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # -- storage and configuration ------------------------------------------------------------

    def _cluster_id(self) -> str:
        meta = self.data_dir / "meta.properties"
        if meta.is_file():
            match = re.search(r"^cluster\.id=(\S+)", meta.read_text(), re.MULTILINE)
            if match:
                return match[1]
        path = self.home / "cluster.id"
        if path.is_file():
            return path.read_text().strip()
        cluster_id = "-"
        while cluster_id.startswith("-"):  # Kafka avoids ids that look like a CLI flag
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        path.write_text(cluster_id + "\n")
        return cluster_id

    def server_properties(self) -> dict[str, str]:
        """The broker configuration: one combined KRaft node sized for partner records."""
        c = self.config
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{c.host}:{c.controller_port}",
            "listeners": f"CLIENT://{c.host}:{c.port},CONTROLLER://{c.host}:{c.controller_port}",
            "advertised.listeners": f"CLIENT://{c.host}:{c.port}",
            "listener.security.protocol.map": "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "CLIENT",
            **self._security_properties(),
            **self._tls_properties(),
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "message.max.bytes": str(MAX_RECORD_BYTES),
            "replica.fetch.max.bytes": str(MAX_RECORD_BYTES),
            "socket.request.max.bytes": str(MAX_REQUEST_BYTES),
        }

    def _security_properties(self) -> dict[str, str]:
        """SCRAM for clients and the broker itself, PLAIN to the controller, ACLs enforced.

        KRaft controllers cannot check SCRAM (the credentials live in the metadata they serve),
        hence PLAIN with the admin password on the loopback controller listener.
        """
        password = self.credentials()[ADMIN_PRINCIPAL]
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        login = f'username="{ADMIN_PRINCIPAL}" password="{password}"'
        return {
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            "listener.name.client.sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "listener.name.client.scram-sha-512.sasl.jaas.config": f"{scram} required {login};",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": (
                f'{plain} required {login} user_{ADMIN_PRINCIPAL}="{password}";'
            ),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN_PRINCIPAL}",
            "allow.everyone.if.no.acl.found": "false",
        }

    def tls_hosts(self) -> list[str]:
        """The names the server certificate is issued for: how local clients reach the node."""
        return list(dict.fromkeys(["localhost", "127.0.0.1", self.config.host]))

    def _tls_properties(self) -> dict[str, str]:
        """TLS on the client listener: the node's PEM certificate chain and key, its CA trusted.

        The certificate and key are given as values (Kafka's ``ssl.keystore.certificate.chain``
        and ``ssl.keystore.key``), which lets the PKCS#8 key stay unencrypted in an owner-only
        file instead of carrying a password beside it. The broker's own connection to itself
        (inter-broker, on the client listener) trusts the same CA and checks the host name.
        The controller listener stays SASL_PLAINTEXT: it is bound to the loopback address, only
        this JVM connects to it, and KRaft's controller cannot check SCRAM, so it carries the
        admin's PLAIN login only and never a client's record.
        """
        from deploy.security.tls import ensure_tls  # noqa: PLC0415 - cryptography only here

        files = ensure_tls(self.tls_dir, self.tls_hosts())

        def inline(path: Path) -> str:  # a properties value: newlines escaped
            return path.read_text().strip().replace("\n", "\\n")

        return {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.certificate.chain": inline(files.chain),
            "ssl.keystore.key": inline(files.key),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(files.ca),
            "ssl.client.auth": "none",
            "ssl.endpoint.identification.algorithm": "https",
        }

    def client_properties(self, principal: str = ADMIN_PRINCIPAL) -> str:
        """Settings for Kafka's own Java tools connecting as ``principal`` (SASL_SSL)."""
        password = self.credentials()[principal]
        return (
            f"security.protocol=SASL_SSL\nsasl.mechanism={SCRAM_MECHANISM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule "
            f'required username="{principal}" password="{password}";\n'
            f"ssl.truststore.type=PEM\nssl.truststore.location={self.ca_file}\n"
        )

    def _rendered_properties(self) -> str:
        lines = [f"{key}={value}" for key, value in self.server_properties().items()]
        return "# Written by deploy/local_kafka.py\n" + "\n".join(lines) + "\n"

    def _outdated(self) -> bool:
        """Whether the running broker was started with other settings (e.g. before TLS)."""
        try:
            return self.properties_file.read_text() != self._rendered_properties()
        except OSError:
            return True

    def _java_command(self, java: str, main_class: str, *args: str) -> list[str]:
        return [
            java,
            "-Xms256m",
            "-Xmx1g",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            str(LIB_DIR / "*"),
            main_class,
            *args,
        ]

    def _prepare(self, java: str) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        formatted = (self.data_dir / "meta.properties").is_file()
        if formatted and not self.credentials_file.exists():
            # Storage from before the node required authentication has no SCRAM users, and
            # KRaft adds the first ones only at format time: keep it aside, start afresh.
            aside = self.home / f"data.unauthenticated.{int(time.time())}"
            log.warning("storage predates authentication; moved to %s", aside)
            self.data_dir.rename(aside)
            (self.home / "cluster.id").unlink(missing_ok=True)
            formatted = False
        text = self._rendered_properties()
        self.properties_file.unlink(missing_ok=True)  # recreated owner-only: it holds secrets
        fd = os.open(self.properties_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        if formatted:
            return
        cluster_id = self._cluster_id()
        log.info("formatting KRaft storage in %s (cluster id %s)", self.data_dir, cluster_id)
        cmd = self._java_command(
            java,
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            cluster_id,
            "-c",
            str(self.properties_file),
            *(
                arg
                for name, password in self.credentials().items()
                for arg in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]")
            ),
        )
        done = subprocess.run(  # noqa: S603 - argv list, no shell
            cmd, capture_output=True, text=True, timeout=300, check=False
        )
        if done.returncode != 0:
            raise LocalKafkaError(f"formatting storage failed:\n{done.stdout}{done.stderr}")
        self._registered_file.write_text("\n".join(self.credentials()) + "\n")

    @property
    def _registered_file(self) -> Path:
        """Principals whose SCRAM credentials the broker holds (format time or added later)."""
        return self.data_dir / "asbx-scram-users"

    @property
    def admin_client_properties(self) -> Path:
        """Kafka's shell tools log in as admin with ``--command-config`` this file."""
        return self.home / "admin-client.properties"

    def _write_admin_client_properties(self) -> Path:
        path = self.admin_client_properties
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.client_properties())
        return path

    def _register_new_users(self) -> None:
        """Give principals added since the storage was formatted their SCRAM credentials.

        Only format time can create the first users in KRaft; later ones are added through the
        running broker as admin (AlterUserScramCredentials, via Kafka's ConfigCommand).
        """
        users = self.credentials()
        path = self._registered_file
        known = set(path.read_text().split()) if path.is_file() else set()
        missing = [name for name in users if name not in known]
        if not missing:
            return
        java = _java()
        client = self._write_admin_client_properties()
        for name in missing:
            log.info("adding SCRAM credentials for new principal %s", name)
            cmd = self._java_command(
                java,
                "kafka.admin.ConfigCommand",
                "--bootstrap-server",
                self.config.bootstrap,
                "--command-config",
                str(client),
                "--alter",
                "--entity-type",
                "users",
                "--entity-name",
                name,
                "--add-config",
                f"{SCRAM_MECHANISM}=[password={users[name]}]",
            )
            done = subprocess.run(  # noqa: S603 - argv list, no shell
                cmd, capture_output=True, text=True, timeout=300, check=False
            )
            if done.returncode != 0:
                raise LocalKafkaError(f"adding user {name} failed:\n{done.stdout}{done.stderr}")
            known.add(name)
            path.write_text("\n".join(sorted(known)) + "\n")

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> str:
        """Start the broker (or find it running) and return its bootstrap address once ready."""
        deadline = time.monotonic() + timeout
        with self._locked():
            pid = self._running_pid()
            if pid is not None and self._outdated():
                log.warning("broker pid %s runs with older settings; restarting it", pid)
                self._stop_pid(pid, timeout=60)
                pid = None
            if pid is None:
                pid = self._launch()
            elif not self._ready():
                log.info("broker pid %s is running but not ready yet; waiting", pid)
            self._wait_ready(pid, deadline)
            self._register_new_users()
            self._write_admin_client_properties()
        return self.config.bootstrap

    def _launch(self) -> int:
        java = _java()
        for port in (self.config.port, self.config.controller_port):
            if _port_in_use(self.config.host, port):
                raise LocalKafkaError(
                    f"{self.config.host}:{port} is already in use by something other than the "
                    f"broker in {self.home}; stop it or choose other ports"
                )
        self.ensure_jars()
        self._prepare(java)
        cmd = self._java_command(java, "kafka.Kafka", str(self.properties_file))
        log.info("starting Kafka %s on %s", self.version(), self.config.bootstrap)
        with self.stdout_file.open("ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
                cmd,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        return self._proc.pid

    def _wait_ready(self, pid: int, deadline: float) -> None:
        while not self._ready():
            if not self._alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise LocalKafkaError(f"the broker exited during start-up:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self._stop_pid(pid, timeout=30)
                raise LocalKafkaError(f"the broker was not ready in time:\n{self._log_tail()}")
            time.sleep(0.2)

    def _log_tail(self) -> str:
        return (
            f"--- {self.stdout_file} ---\n{_tail(self.stdout_file, 15)}\n"
            f"--- {self.logs_dir / 'server.log'} ---\n{_tail(self.logs_dir / 'server.log')}"
        )

    def stop(self, timeout: float = 60) -> bool:
        """Stop the broker: controlled shutdown, SIGKILL after ``timeout``. False if not running."""
        with self._locked():
            pid = self._running_pid()
            if pid is None:
                self.pid_file.unlink(missing_ok=True)
                return False
            self._stop_pid(pid, timeout)
            return True

    def _stop_pid(self, pid: int, timeout: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            log.warning("broker pid %s ignored SIGTERM for %ss; killing it", pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)
        self.pid_file.unlink(missing_ok=True)
        self._proc = None

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def status(self) -> LocalKafkaStatus:
        """Whether this home's broker runs and answers, without changing anything."""
        pid = self._running_pid()
        return LocalKafkaStatus(
            running=pid is not None,
            ready=pid is not None and self._ready(),
            pid=pid,
            bootstrap=self.config.bootstrap,
            version=self.version(),
            home=self.home,
        )


def main(argv: list[str] | None = None) -> int:
    """``python -m deploy.local_kafka start|stop|status`` (configured by ``ASBX_KAFKA_*``)."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local_kafka",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    kafka = LocalKafka(LocalKafkaConfig.from_env())
    try:
        if args.command == "start":
            bootstrap = kafka.start(timeout=args.timeout)
            pid = kafka.status().pid
            sys.stdout.write(
                f"Apache Kafka {kafka.version()} (KRaft) ready at {bootstrap} "
                f"(pid {pid}, home {kafka.home})\n"
            )
        elif args.command == "stop":
            stopped = kafka.stop(timeout=args.timeout)
            sys.stdout.write("stopped\n" if stopped else "not running\n")
        else:
            st = kafka.status()
            state = (
                "ready" if st.ready else "starting (not answering yet)" if st.running else "stopped"
            )
            sys.stdout.write(
                f"Apache Kafka {st.version or '(jars not downloaded)'} at "
                f"{st.bootstrap}: {state}"
                + (f" (pid {st.pid})" if st.pid else "")
                + f", home {st.home}\n"
            )
            return 0 if st.ready else 3
    except LocalKafkaError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
