"""Building FastStream brokers the same way for every service.

Producers are set for no data loss: ``acks=all`` and idempotence, so a retried send after a lost
acknowledgement cannot duplicate or reorder records. Connection security comes from the
environment (``deploy.kafka_client``), so the same service runs against the local PLAINTEXT node
and a TLS/SASL cluster unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from contracts.topics import MAX_REJECTED_RECORD_BYTES
from deploy.kafka_client import client_config_from_env

__all__ = ["MAX_RECORD_BYTES", "build_broker", "faststream_security"]

#: Producers must be able to write a rejected record wrapping a 16 MiB original.
MAX_RECORD_BYTES = MAX_REJECTED_RECORD_BYTES


def faststream_security(config: dict[str, Any]) -> BaseSecurity | None:
    """FastStream's security object for aiokafka-style settings (None for PLAINTEXT)."""
    protocol = config.get("security_protocol", "PLAINTEXT")
    ssl_context = config.get("ssl_context")
    if protocol == "PLAINTEXT" and ssl_context is None:
        return None
    if protocol.startswith("SASL"):
        mechanism = config.get("sasl_mechanism", "PLAIN")
        cls = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
        if mechanism not in cls:
            raise ValueError(f"unsupported KAFKA_SASL_MECHANISM {mechanism}")
        return cls[mechanism](
            config.get("sasl_plain_username", ""),
            config.get("sasl_plain_password", ""),
            ssl_context=ssl_context,
            use_ssl=protocol == "SASL_SSL",
        )
    return BaseSecurity(ssl_context=ssl_context, use_ssl=True)


def build_broker(
    bootstrap: str,
    client_id: str,
    principal: str | None = None,
    client_config: dict[str, Any] | None = None,
    **overrides: Any,
) -> KafkaBroker:
    """A FastStream Kafka broker with safe producer settings, connecting as ``principal``.

    ``client_config`` replaces the environment's settings (e.g. to document a fixed security
    scheme); by default they come from :func:`client_config_from_env` for ``principal``.
    """
    if client_config is None:
        client_config = client_config_from_env(principal=principal)
    settings: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "max_request_size": MAX_RECORD_BYTES + 1024 * 1024,
        "client_id": client_id,
        "security": faststream_security(client_config),
        # FastStream's access log goes through the process's structlog set-up, at its level.
        "logger": logging.getLogger("asbx.faststream"),
    }
    settings.update(overrides)
    return KafkaBroker(bootstrap, **settings)
