"""Correlator settings: which area policy, which topics, which consumer groups.

``ASBX_CORRELATOR_ID`` names one correlator deployment: its consumer groups, transactional ids
and internal topics all derive from it, so a second deployment (another area, or a test) never
shares state with the first. Instances with the same id are members of one deployment and split
its partitions.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topics import ALERTS, CANONICAL_EVENTS
from services.correlator.domain.policy import DEFAULT_POLICY_FILE
from services.settings import REPO_ROOT

__all__ = ["CorrelatorSettings"]


class CorrelatorSettings(BaseSettings):
    """Settings read once by ``asbx serve correlator``."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    correlator_id: str = Field(
        default="asbx-correlator",
        pattern=r"^[a-z0-9][a-z0-9.-]{0,80}$",
        validation_alias="ASBX_CORRELATOR_ID",
    )
    policy_file: Path = Field(default=DEFAULT_POLICY_FILE, validation_alias="ASBX_AREA_POLICY")
    input_topic: str = Field(default=CANONICAL_EVENTS.name, validation_alias="ASBX_CANONICAL_TOPIC")
    alerts_topic: str = Field(default=ALERTS.name, validation_alias="ASBX_ALERTS_TOPIC")
    #: Partitions of the internal topics if the canonical topic does not exist yet; otherwise
    #: they follow the canonical topic's (``CorrelatorService.prepare``).
    partitions: int = Field(
        default=CANONICAL_EVENTS.partitions, ge=1, le=256, validation_alias="ASBX_PARTITIONS"
    )
    #: Days the expiry clock runs behind stream time. Stream time races ahead when a backlog is
    #: read whose partitions are far apart in event time (a first deployment over months of
    #: canonical events): set this to the backlog's span so nothing is forgotten early.
    expiry_grace_days: int = Field(
        default=0, ge=0, le=3660, validation_alias="ASBX_EXPIRY_GRACE_DAYS"
    )
    #: Local state files (one SQLite file per stage and partition, checkpointed against the
    #: changelog); an empty value keeps state in memory and restores it in full on start.
    state_dir: Path | None = Field(
        default=REPO_ROOT / "var" / "state", validation_alias="ASBX_STATE_DIR"
    )
    #: Decoded states each stage partition keeps in memory (the rest stay on disk).
    state_cache: int = Field(default=2_000, ge=0, validation_alias="ASBX_STATE_CACHE")
    #: This instance's static group membership (``group.instance.id``), e.g. its host name:
    #: after a crash the restarted instance takes its partitions back at once, instead of
    #: waiting out the dead member's session (10 s). Unique per running instance (a second
    #: instance with the same value is fenced off). The price, as with any static member: a
    #: clean shutdown does not leave the group, so with several instances the stopped one's
    #: partitions wait for its session to expire before moving. Empty: dynamic membership.
    instance_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$",
        validation_alias="ASBX_INSTANCE_ID",
    )

    @field_validator("state_dir", "instance_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value
