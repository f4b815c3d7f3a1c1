"""aiokafka connection settings from the environment, shared by services and deployment tools.

Why: the same code runs against the local authenticated node and a partner-facing cluster that
requires TLS and SASL; only environment variables differ, and secrets never live in code.

Two sources, in order:

1. An external cluster: ``KAFKA_SECURITY_PROTOCOL`` (or ``KAFKA_SASL_USERNAME``) is set, and the
   ``KAFKA_*`` variables say everything. Each deployed service is given its own credentials.
2. The local node (or the compose broker): its generated credentials file
   (``ASBX_KAFKA_CREDENTIALS``, else ``credentials.json`` in ``ASBX_KAFKA_HOME``, default
   ``var/kafka``) exists, and the client logs in with SCRAM-SHA-512 as the ``principal`` it asks
   for (``admin`` if it names none) over TLS, trusting only the node's own CA
   (``ASBX_KAFKA_CAFILE``, else ``tls/ca.pem`` beside the credentials file) and checking the
   broker's host name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

from deploy.local_kafka import ADMIN_PRINCIPAL, CA_FILE, SCRAM_MECHANISM, TLS_DIR, LocalKafkaConfig
from deploy.security.credentials import CREDENTIALS_FILE, CredentialsError, read_credentials

__all__ = ["client_config_from_env", "local_ca_file", "local_credentials_file"]


def local_credentials_file(env: Mapping[str, str] | None = None) -> Path:
    """Where the local node's generated credentials are read from."""
    env = os.environ if env is None else env
    if explicit := env.get("ASBX_KAFKA_CREDENTIALS"):
        return Path(explicit)
    return LocalKafkaConfig.from_env(env).home / CREDENTIALS_FILE


def local_ca_file(env: Mapping[str, str] | None = None) -> Path:
    """The CA certificate the local node's clients trust (and nothing else)."""
    env = os.environ if env is None else env
    if explicit := env.get("ASBX_KAFKA_CAFILE"):
        return Path(explicit)
    return local_credentials_file(env).parent / TLS_DIR / CA_FILE


def _local_config(env: Mapping[str, str], principal: str | None) -> dict[str, Any]:
    path = local_credentials_file(env)
    if not path.exists():
        return {}
    name = principal or ADMIN_PRINCIPAL
    users = read_credentials(path)
    if name not in users:
        raise CredentialsError(f"{path} has no credentials for principal {name!r}")
    cafile = local_ca_file(env)
    if not cafile.is_file():
        raise CredentialsError(
            f"no broker CA certificate at {cafile}: the node makes it at its first start "
            "(asbx broker start); set ASBX_KAFKA_CAFILE if it lives elsewhere"
        )
    return {
        "security_protocol": "SASL_SSL",
        "ssl_context": create_ssl_context(cafile=str(cafile)),
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": name,
        "sasl_plain_password": users[name],
    }


def client_config_from_env(
    env: Mapping[str, str] | None = None, principal: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for aiokafka clients connecting as ``principal``.

    External cluster: ``KAFKA_SECURITY_PROTOCOL`` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL),
    ``KAFKA_SASL_MECHANISM`` / ``KAFKA_SASL_USERNAME`` / ``KAFKA_SASL_PASSWORD``, and
    ``KAFKA_SSL_CAFILE`` / ``KAFKA_SSL_CERTFILE`` / ``KAFKA_SSL_KEYFILE`` (``principal`` is then
    ignored: the variables name the identity). Otherwise the local node's credentials for
    ``principal``; no credentials file means a PLAINTEXT broker.
    """
    env = os.environ if env is None else env
    protocol = env.get("KAFKA_SECURITY_PROTOCOL", "").strip().upper()
    if not protocol and "KAFKA_SASL_USERNAME" not in env:
        return _local_config(env, principal)
    config: dict[str, Any] = {}
    if protocol:
        config["security_protocol"] = protocol
    if mechanism := env.get("KAFKA_SASL_MECHANISM", "").strip().upper():
        config["sasl_mechanism"] = mechanism
    if "KAFKA_SASL_USERNAME" in env:
        config["sasl_plain_username"] = env["KAFKA_SASL_USERNAME"]
    if "KAFKA_SASL_PASSWORD" in env:
        config["sasl_plain_password"] = env["KAFKA_SASL_PASSWORD"]
    cafile, certfile, keyfile = (
        env.get(f"KAFKA_SSL_{name}") or None for name in ("CAFILE", "CERTFILE", "KEYFILE")
    )
    if protocol.endswith("SSL") or cafile or certfile:
        config["ssl_context"] = create_ssl_context(
            cafile=cafile, certfile=certfile, keyfile=keyfile
        )
    return config
