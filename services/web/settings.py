"""Settings of the web UI, read once in its entrypoint (``asbx web``).

Environment variables:
- ``ASBX_WEB_USERS_FILE`` — who may log in, with which role (``deploy/config/web_users.yaml``).
- ``ASBX_WEB_STATE_DIR`` — generated local passwords, their hashes and the session-signing key
  (``var/web``, owner-only, never committed).
- ``ASBX_AUDIT_LOG`` — the archived tamper-evident audit log (``var/audit/audit.jsonl``).
- ``ASBX_ALERTS_TOPIC`` — where alerts are read from for their metadata (``asbx.alerts.v1``).
- ``ASBX_WEB_ASSETS_DIR`` — govuk-frontend's ``dist/govuk`` (installed by ``make install``).
- plus the shared ``KAFKA_BOOTSTRAP_SERVERS`` and ``ASBX_KEYS_DIR`` (:class:`Settings`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.topics import ALERTS
from services.settings import REPO_ROOT, Settings

__all__ = ["WebSettings"]


class WebSettings(Settings):
    """Settings of the web UI."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    users_file: Path = Field(
        default=REPO_ROOT / "deploy" / "config" / "web_users.yaml",
        validation_alias="ASBX_WEB_USERS_FILE",
    )
    state_dir: Path = Field(
        default=REPO_ROOT / "var" / "web", validation_alias="ASBX_WEB_STATE_DIR"
    )
    audit_log: Path = Field(
        default=REPO_ROOT / "var" / "audit" / "audit.jsonl", validation_alias="ASBX_AUDIT_LOG"
    )
    alerts_topic: str = Field(default=ALERTS.name, validation_alias="ASBX_ALERTS_TOPIC")
    assets_dir: Path = Field(
        default=REPO_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk",
        validation_alias="ASBX_WEB_ASSETS_DIR",
    )
    secure_cookies: bool = Field(default=False, validation_alias="ASBX_WEB_SECURE_COOKIES")
