"""The compose file's Kafka node and jobs, rehearsed without Docker.

No machine that runs these tests has a Docker engine, so ``docker compose up`` never runs here.
What goes wrong in the broker's part of such a stack is mostly configuration: a property the
image renders other than the file meant, a keystore or JAAS file the credentials job writes
wrongly, SCRAM users missing at format time, ACLs the topics job cannot apply, a service whose
credentials file does not get it in. This module runs those parts for real:

- the secrets, written by the credentials job's own code (``deploy.security.compose_secrets``);
- ``server.properties``, rendered from the ``kafka`` service's environment by the Kafka image's
  rules (apache/kafka ``docker/resources/utility``: ``render-properties`` with
  ``kafka-propertiesSpec.json``), with the keystore password sourced as the command does;
- the storage, formatted with the same properties and ``--add-scram`` arguments as the
  service's command; then a broker from this project's Kafka jars with the JVM options the
  file gives (``KAFKA_OPTS``: the JAAS file; ``KAFKA_HEAP_OPTS``).

Only what the container network and volumes provide is replaced: the host ``kafka`` and the
fixed ports become localhost and free ports; ``/secrets``, ``/app/var/keys`` and the data
volume become directories. Not rehearsed: the images themselves (the Dockerfile build; the
Kafka image is 4.1, the jars here 4.3), file ownership between containers, Docker's health
checks and restart policies.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

from deploy.local_kafka import ADMIN_PRINCIPAL, KAFKA_DIR, LIB_DIR, LocalKafka, probe_broker
from deploy.security.compose_secrets import write_compose_secrets
from services.settings import REPO_ROOT

__all__ = [
    "ComposeBroker",
    "ImageInstall",
    "image_properties",
    "property_name",
    "service_environment",
]

#: Variables the image never renders as properties (``kafka-propertiesSpec.json``, verbatim:
#: note ``KAFKA_HEAP_OPT`` without the S, so ``KAFKA_HEAP_OPTS`` becomes ``heap.opts``, which
#: the broker ignores).
IMAGE_EXCLUDES = frozenset(
    {
        "KAFKA_VERSION",
        "KAFKA_HEAP_OPT",
        "KAFKA_LOG4J_OPTS",
        "KAFKA_OPTS",
        "KAFKA_JMX_OPTS",
        "KAFKA_JVM_PERFORMANCE_OPTS",
        "KAFKA_GC_LOG_OPTS",
        "KAFKA_LOG4J_ROOT_LOGLEVEL",
        "KAFKA_LOG4J_LOGGERS",
        "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    }
)
_SINGLE = re.compile(r"[^_]_[^_]")


def property_name(variable: str) -> str:
    """The image's ``ConvertKey``: ``_`` → ``.``, ``__`` → ``_``, ``___`` → ``-``, lower case."""
    single = _SINGLE.sub(lambda m: m.group().replace("_", "."), variable)
    return single.replace("___", "-").replace("__", "_").lower()


def image_properties(env: Mapping[str, str]) -> dict[str, str]:
    """What the image renders into ``server.properties`` from its environment.

    The image reads its environment by splitting each ``NAME=value`` at every ``=`` and keeps
    only pairs of exactly two parts (``ListToMap``): a value holding ``=`` is dropped without a
    word, so it is refused here.
    """
    properties: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith("KAFKA_") or name in IMAGE_EXCLUDES:
            continue
        if "=" in value:
            raise ValueError(f"{name}: the Kafka image silently drops a value holding '='")
        properties[property_name(name[len("KAFKA_") :])] = value
    return properties


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _sourced(path: Path) -> dict[str, str]:
    """The variables a file of ``export NAME='value'`` lines sets when sourced."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"] and len(words) == 2:
            name, _, value = words[1].partition("=")
            found[name] = value
    return found


def service_environment(
    compose: Mapping[str, Any], service: str, replace: Mapping[str, str]
) -> dict[str, str]:
    """A service's environment from the compose file, container names replaced."""
    env = _environment(compose["services"][service])
    for old, new in replace.items():
        env = {k: v.replace(old, new) for k, v in env.items()}
    return env


class ComposeBroker:
    """The compose file's ``kafka`` service, its secrets written by the credentials job."""

    def __init__(self, root: Path, compose: Mapping[str, Any]) -> None:
        self.compose = compose
        self.root = root
        self.secrets = root / "secrets"
        self.data = root / "data"
        self.home = root / "broker"
        self.keys = root / "keys"
        self.internal, self.controller, self.host = _free_port(), _free_port(), _free_port()
        self.bootstrap = f"localhost:{self.internal}"
        self.host_bootstrap = f"localhost:{self.host}"
        #: Container names → names on this machine (longest first: they overlap).
        self.replace = {
            "${ASBX_KAFKA_HOST_PORT:-9094}": str(self.host),
            "kafka:9092": self.bootstrap,
            "kafka:9093": f"localhost:{self.controller}",
            "://:9092": f"://:{self.internal}",
            "://:9093": f"://:{self.controller}",
            "://:9094": f"://:{self.host}",
            "/secrets/": f"{self.secrets}/",
            "/var/lib/kafka/data": str(self.data),
            "/app/var/keys": str(self.keys),
            "/app/var/": f"{root / 'app-var'}/",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.users: dict[str, str] = {}

    def environment(self) -> dict[str, str]:
        """The ``kafka`` service's environment once its command has sourced the TLS password."""
        env = service_environment(self.compose, "kafka", self.replace)
        return {**env, **_sourced(self.secrets / "tls" / "broker-tls.env")}

    def _java(self, *args: str, jvm: tuple[str, ...] = ()) -> list[str]:
        java = shutil.which("java")
        assert java is not None, "Java runs the local broker"
        return [
            java,
            *jvm,
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp",
            str(LIB_DIR / "*"),
            *args,
        ]

    def start(self, timeout: float = 180) -> None:
        """Secrets, properties, format, start; returns once admin can log in over TLS."""
        LocalKafka().ensure_jars()
        self.users = write_compose_secrets(self.secrets)
        env = self.environment()
        self.home.mkdir(parents=True, exist_ok=True)
        properties = self.home / "server.properties"
        properties.write_text(
            "".join(f"{k}={v}\n" for k, v in sorted(image_properties(env).items()))
        )
        # The command's format step: the properties its printf writes, its own arguments.
        format_properties = self.home / "format.properties"
        format_properties.write_text(self._format_properties(env))
        formatted = subprocess.run(
            self._java("kafka.tools.StorageTool", *self._format_arguments(env, format_properties)),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert formatted.returncode == 0, formatted.stdout + formatted.stderr
        jvm = (*shlex.split(env["KAFKA_HEAP_OPTS"]), *shlex.split(env["KAFKA_OPTS"]))
        with (self.home / "kafka.out").open("ab") as out:
            self.process = subprocess.Popen(
                self._java("kafka.Kafka", str(properties), jvm=jvm),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)

    def _format_properties(self, env: Mapping[str, str]) -> str:
        """What the ``kafka`` service's command writes for formatting (its ``printf``)."""
        found = re.search(r"printf '([^']*)'((?: \"\$\$\w+\")*) >", self._script())
        assert found is not None, "the kafka command no longer writes its format properties"
        names = re.findall(r"\$\$(\w+)", found.group(2))
        text = found.group(1).replace("\\n", "\n") % tuple(env[name] for name in names)
        for old, new in self.replace.items():
            text = text.replace(old, new)
        return text

    def _script(self) -> str:
        command = self.compose["services"]["kafka"]["command"]
        return command[-1] if isinstance(command, list) else str(command)

    def _format_arguments(self, env: Mapping[str, str], properties: Path) -> list[str]:
        """The arguments the command gives ``kafka-storage.sh``, as the shell expands them."""
        line = next(x for x in self._script().splitlines() if "kafka-storage.sh" in x)
        scram_args = (self.secrets / "scram-args").read_text().strip()
        line = (
            line.replace('"$$CLUSTER_ID"', shlex.quote(env["CLUSTER_ID"]))
            .replace("/tmp/format.properties", str(properties))
            .replace("$$(cat /secrets/scram-args)", scram_args)
        )
        assert "$$" not in line, f"unexpanded in the format command: {line}"
        return shlex.split(line)[1:]  # after the script's path

    def _wait_ready(self, timeout: float) -> None:
        context = create_ssl_context(cafile=str(self.secrets / "tls" / "ca.pem"))
        admin = (ADMIN_PRINCIPAL, self.users[ADMIN_PRINCIPAL])
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the compose broker exited:\n{self.log_tail()}")
            try:
                if probe_broker("localhost", self.internal, credentials=admin, ssl_context=context):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the compose broker was not ready:\n{self.log_tail()}")
            time.sleep(0.5)

    def kafka_tool(self, main_class: str, *args: str) -> subprocess.CompletedProcess[str]:
        """One of Kafka's command-line tools, run from the jars."""
        return subprocess.run(
            self._java(main_class, *args), capture_output=True, text=True, timeout=300, check=False
        )

    def log_tail(self, lines: int = 40) -> str:
        """The end of the broker's output."""
        path = self.home / "kafka.out"
        text = path.read_text(errors="replace") if path.is_file() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ImageInstall:
    """asbx as ``deploy/Dockerfile`` installs it, without building the image.

    Only the files the Dockerfile copies, installed with ``pip install .`` (not editable, the
    dependencies taken from this environment), with the Dockerfile's ``ENV`` settings. In the
    image the package is read-only to the ``asbx`` user: here it is made read-only too, and
    :meth:`written` lists anything a service wrote into it anyway (a default path that points
    into the installed package). A file the package needs but the Dockerfile does not copy
    fails here as it would in the container.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.app = root / "app"  # WORKDIR
        self.site = root / "site-packages"
        dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text()
        self.lines = _instructions(dockerfile)
        self._installed: set[Path] = set()

    def install(self) -> None:
        """Copy what the Dockerfile copies, install it, make it read-only."""
        for words in self.lines:
            if words[0] != "COPY":
                continue
            *sources, target = words[1:]
            destination = self.app / target.removeprefix("./")
            for source in sources:
                for path in sorted(REPO_ROOT.glob(source)):
                    if path.is_dir():
                        shutil.copytree(
                            path,
                            destination,
                            dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"),
                        )
                    else:
                        destination.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, destination / path.name)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(self.site),
             str(self.app)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        self._installed = set(self.site.rglob("*"))
        for path in [self.site, *self._installed]:
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    def written(self) -> list[Path]:
        """Files created inside the installed package since it was installed (as root, which
        the read-only bits do not stop, a write there would go unnoticed otherwise)."""
        return sorted(
            p for p in set(self.site.rglob("*")) - self._installed if "__pycache__" not in p.parts
        )

    def environment(self) -> dict[str, str]:
        """The Dockerfile's ``ENV`` settings."""
        env: dict[str, str] = {}
        for words in self.lines:
            if words[0] == "ENV":
                for word in words[1:]:
                    name, _, value = word.partition("=")
                    env[name] = value
        return env

    @property
    def command(self) -> tuple[str, ...]:
        """How the image runs ``asbx`` (its console script; the working directory is not on
        the import path, so the installed copy is what runs)."""
        return (sys.executable, str(self.site / "bin" / "asbx"))

    def uninstall(self) -> None:
        """Make the copy writable again, so the temporary directory can go."""
        for path in [self.site, *self.site.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _instructions(dockerfile: str) -> list[list[str]]:
    """Each instruction's words, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [
        shlex.split(line)
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
