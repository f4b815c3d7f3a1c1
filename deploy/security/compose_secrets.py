"""First-run secrets for the Docker Compose deployment (the ``credentials`` one-shot service).

Why a generator and not files in the repository: passwords are made on the machine that runs the
stack, into the private ``asbx-secrets`` volume, and kept across restarts (an existing file is
reused, so the broker's SCRAM users and the services always agree). It writes:

    credentials.json          every principal's password (the admin tooling reads it)
    users/<principal>.json    one principal's password: what each service container is pointed at
    kafka_server_jaas.conf    the broker's own logins (SCRAM to itself, PLAIN to the controller)
    scram-args                ``--add-scram`` arguments for formatting the broker's storage
    admin.properties          client settings for Kafka's shell tools (the health check)
    tls/ca.pem                the stack's own CA: what every client trusts (world-readable)
    tls/ca-key.pem            the CA's key (stays with the credentials job)
    tls/server.pem, server-key.pem   the broker's certificate (kafka, localhost, 127.0.0.1)
    tls/server.p12            the same key and chain as a PKCS#12 keystore for the broker
    tls/broker-tls.env        the keystore password, sourced by the broker's start command

The broker reads a PKCS#12 keystore because the Kafka image builds its configuration from
environment variables, where a multi-line PEM value does not fit; its password lives in a file
the start command sources, so the compose file names no secret.

    python -m deploy.security.compose_secrets /secrets
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from deploy.local_kafka import ADMIN_PRINCIPAL, SCRAM_MECHANISM, LocalKafka
from deploy.security.credentials import ensure_credentials
from deploy.security.tls import TlsFiles, ensure_tls

__all__ = ["BROKER_HOSTS", "write_compose_secrets"]

#: The names clients reach the compose broker by: services inside the network, the host's port.
BROKER_HOSTS = ("kafka", "localhost", "127.0.0.1")

_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def _write(path: Path, text: str, mode: int = 0o640) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _write_keystore(files: TlsFiles) -> None:
    """The server key and chain as PKCS#12 under a generated password (kept if present)."""
    env_file = files.directory / "broker-tls.env"
    keystore = files.directory / "server.p12"
    if (
        env_file.is_file()
        and keystore.is_file()
        and keystore.stat().st_mtime >= (files.chain.stat().st_mtime)
    ):
        return
    password = secrets.token_urlsafe(24)
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    cert, *cas = x509.load_pem_x509_certificates(files.chain.read_bytes())
    data = pkcs12.serialize_key_and_certificates(
        b"kafka",
        key,  # type: ignore[arg-type]  # the EC key ensure_tls writes
        cert,
        cas,
        serialization.BestAvailableEncryption(password.encode()),
    )
    keystore.unlink(missing_ok=True)
    fd = os.open(keystore, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    _write(
        env_file,
        "".join(f"export KAFKA_SSL_{name}_PASSWORD='{password}'\n" for name in ("KEYSTORE", "KEY")),
        mode=0o600,
    )


def write_compose_secrets(directory: Path) -> dict[str, str]:
    """Create (or complete) the secrets in ``directory``; returns principal to password."""
    files = ensure_tls(directory / "tls", BROKER_HOSTS)
    _write_keystore(files)
    directory.joinpath("tls").chmod(0o755)  # the CA certificate is for every container
    files.ca.chmod(0o644)
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
        "security.protocol=SASL_SSL\n"
        f"sasl.mechanism={SCRAM_MECHANISM}\n"
        f"sasl.jaas.config={_SCRAM} required {login};\n"
        f"ssl.truststore.type=PEM\nssl.truststore.location={files.ca}\n",
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
