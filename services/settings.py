"""Service settings, read once in each entrypoint from the environment (12-factor).

Environment variables, in one place:
- ``KAFKA_BOOTSTRAP_SERVERS`` — the cluster (default: the local broker ``deploy`` starts);
  ``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``, ``KAFKA_SSL_*`` for a secured cluster.
- ``ASBX_KEYS_DIR`` — local key directory (generated at first run, never committed).
- ``ASBX_AGREEMENTS_FILE`` — data-sharing agreements.
- ``ASBX_MAX_MESSAGE_BYTES`` — largest partner message a normaliser will parse.
- ``ASBX_NORMALISER_BATCH_RECORDS`` / ``ASBX_NORMALISER_BATCH_BYTES`` — most partner records
  (and bytes of them) a normaliser commits in one Kafka transaction.
- ``ASBX_FETCH_LINGER_MS`` — longest a busy consumer's fetch waits at the broker for more
  records, so that a poll carries more of them (``services/kafka/fetch_pacing.py``; 0: off).
- ``ASBX_NORMALISER_NICENESS`` — CPU niceness a normaliser runs at, so that on shared cores
  the correlator after it gets a core first (``services/cpu_priority.py``; 0: as started).
- ``ASBX_PARTITIONS`` — partitions of the partner, canonical-event and alert topics when they
  are first created (unset: as declared in ``contracts.topics``); see ``partitions`` below.
- ``ASBX_LOG_FORMAT`` (json / console / auto) and ``ASBX_LOG_LEVEL``.
- the web UI's own (users, state, audit archive, alerts topic): ``services/web/settings.py``.
- ``ASBX_HTTP_PORT`` — port of the ``/livez``, ``/readyz`` and ``/metrics`` endpoint of the
  service ``asbx serve`` runs (unset: no endpoint).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["REPO_ROOT", "Settings"]

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Settings shared by the asbx services."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    keys_dir: Path = Field(default=REPO_ROOT / "var" / "keys", validation_alias="ASBX_KEYS_DIR")
    agreements_file: Path = Field(
        default=REPO_ROOT / "deploy" / "config" / "agreements.yaml",
        validation_alias="ASBX_AGREEMENTS_FILE",
    )
    max_message_bytes: int = Field(
        default=1024 * 1024, ge=1024, validation_alias="ASBX_MAX_MESSAGE_BYTES"
    )
    normaliser_batch_records: int = Field(
        default=250, ge=1, le=10_000, validation_alias="ASBX_NORMALISER_BATCH_RECORDS"
    )
    normaliser_batch_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, validation_alias="ASBX_NORMALISER_BATCH_BYTES"
    )
    fetch_linger_ms: int = Field(default=50, ge=0, le=500, validation_alias="ASBX_FETCH_LINGER_MS")
    normaliser_niceness: int = Field(
        default=10, ge=0, le=19, validation_alias="ASBX_NORMALISER_NICENESS"
    )
    http_port: int | None = Field(default=None, ge=0, le=65535, validation_alias="ASBX_HTTP_PORT")
    #: Partitions for the topics instances of a service share out, when first created: the most
    #: instances of one service that will ever run side by side. Each partition is committed in
    #: transactions of its own, so partitions no instance needs make every transaction smaller
    #: and the broker busier; Kafka cannot take partitions away later. ``None``: as declared.
    partitions: int | None = Field(default=None, ge=1, le=256, validation_alias="ASBX_PARTITIONS")
