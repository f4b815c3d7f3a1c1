"""First-run secrets for the Docker Compose deployment (the ``credentials`` one-shot service).

Why a generator and not files in the repository: passwords are made on the machine that runs the
stack, into the private ``asbx-secrets`` volume, and kept across restarts (an existing file is
reused, so the broker's SCRAM users and the services always agree). It writes:

    credentials.json          every principal's password (the admin tooling reads it)
    users/<principal>.json    one principal's password: what each service container is pointed at
    kafka_server_jaas.conf    the broker's own logins (SCRAM to itself, PLAIN to the controller)
    scram-args                ``--add-scram`` arguments for formatting the broker's storage
    admin.properties          client settings for Kafka's shell tools (the health check)

    python -m deploy.security.compose_secrets /secrets
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from deploy.local_kafka import ADMIN_PRINCIPAL, SCRAM_MECHANISM, LocalKafka
from deploy.security.credentials import ensure_credentials

__all__ = ["write_compose_secrets"]

_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def _write(path: Path, text: str, mode: int = 0o640) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def write_compose_secrets(directory: Path) -> dict[str, str]:
    """Create (or complete) the secrets in ``directory``; returns principal to password."""
    users = ensure_credentials(directory / "credentials.json", LocalKafka.principals())
    admin = users[ADMIN_PRINCIPAL]
    login = f'username="{ADMIN_PRINCIPAL}" password="{admin}"'
    for name, password in users.items():
        _write(
            directory / "users" / f"{name}.json",
            f'{{"mechanism": "{SCRAM_MECHANISM}", "users": {{"{name}": "{password}"}}}}\n',
        )
    _write(
        directory / "kafka_server_jaas.conf",
        f"internal.KafkaServer {{\n  {_SCRAM} required {login};\n}};\n"
        f"host.KafkaServer {{\n  {_SCRAM} required {login};\n}};\n"
        f"controller.KafkaServer {{\n  {_PLAIN} required {login}\n"
        f'  user_{ADMIN_PRINCIPAL}="{admin}";\n}};\n',
    )
    _write(
        directory / "scram-args",
        " ".join(
            f"--add-scram {SCRAM_MECHANISM}=[name={name},password={password}]"
            for name, password in users.items()
        )
        + "\n",
    )
    _write(
        directory / "admin.properties",
        "security.protocol=SASL_PLAINTEXT\n"
        f"sasl.mechanism={SCRAM_MECHANISM}\n"
        f"sasl.jaas.config={_SCRAM} required {login};\n",
    )
    return users


def main(argv: list[str] | None = None) -> int:
    """Write the secrets into the directory given as the only argument."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m deploy.security.compose_secrets DIRECTORY\n")
        return 2
    users = write_compose_secrets(Path(args[0]))
    sys.stdout.write(f"credentials ready for {len(users)} principal(s) in {args[0]}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
