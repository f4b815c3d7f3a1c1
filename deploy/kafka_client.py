"""aiokafka connection settings from the environment, shared by services and deployment tools.

Why: the same code runs against a PLAINTEXT development broker and a partner-facing cluster that
requires TLS and SASL; only environment variables differ, and secrets never live in code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aiokafka.helpers import create_ssl_context

__all__ = ["client_config_from_env"]


def client_config_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for aiokafka clients from optional ``KAFKA_*`` variables.

    ``KAFKA_SECURITY_PROTOCOL`` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL),
    ``KAFKA_SASL_MECHANISM`` / ``KAFKA_SASL_USERNAME`` / ``KAFKA_SASL_PASSWORD``, and
    ``KAFKA_SSL_CAFILE`` / ``KAFKA_SSL_CERTFILE`` / ``KAFKA_SSL_KEYFILE``. Unset means default.
    """
    env = os.environ if env is None else env
    config: dict[str, Any] = {}
    protocol = env.get("KAFKA_SECURITY_PROTOCOL", "").strip().upper()
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
