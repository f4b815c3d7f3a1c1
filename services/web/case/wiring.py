"""The casework service the case pages use, built once per app from its settings.

Tests may put a ready service on ``app.state.casework`` before the first request.
"""

from __future__ import annotations

from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.kafka_client import client_config_from_env
from deploy.security.acls import WEB
from services.casework.service import CaseworkService
from services.casework.store import CaseworkStore
from services.correlator.domain.policy import DEFAULT_POLICY_FILE, load_policy
from services.protection.keys import LocalKeyStore
from services.web.settings import WebSettings

__all__ = ["casework_service"]


class _PolicySetting(BaseSettings):
    """The area policy the case pages count the threshold by (the correlator's own)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")
    policy_file: str = Field(default=str(DEFAULT_POLICY_FILE), validation_alias="ASBX_AREA_POLICY")


def casework_service(request: Request) -> CaseworkService:
    """The app's casework service (created on first use)."""
    held: CaseworkService | None = getattr(request.app.state, "casework", None)
    if held is None:
        settings: WebSettings = request.app.state.settings
        config = client_config_from_env(principal=WEB)  # least privilege, not admin
        held = CaseworkService(
            bootstrap=settings.kafka_bootstrap_servers,
            keys=LocalKeyStore(settings.keys_dir),
            policy=load_policy(_PolicySetting().policy_file),
            audit_log=settings.audit_log,
            store=CaseworkStore(settings.kafka_bootstrap_servers, config),
            client_config=config,
        )
        request.app.state.casework = held
    return held
