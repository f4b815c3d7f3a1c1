"""Key rotation and shredding from the command line, each one a KEY_CHANGED audit record."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.audit import AuditAction
from contracts.vocab import Audience
from services.cli.main import app
from services.protection.keys import LocalKeyStore
from services.protection.retention import RetentionScope
from services.protection.sealing import FieldSealer, Opener, ShreddedError
from tests.integration.exchange import audit_records_by
from tests.kafka_fixture import Broker

pytestmark = pytest.mark.kafka


async def test_rotation_and_shredding_are_audited_and_take_effect(
    kafka_broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotate: old and new fields open; shred a month: its fields are gone; both audited."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("ASBX_KEYS_DIR", str(tmp_path / "keys"))
    keys = LocalKeyStore(tmp_path / "keys")
    old = FieldSealer(keys, "e1", RetentionScope(period="2019-05")).seal(
        "narrative", "narrative", "old", [Audience.POLICE]
    )
    actor = f"ig-officer-{uuid.uuid4().hex[:6]}"
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    rotated = await asyncio.to_thread(
        run, "keys", "rotate", "police", "--actor", actor, "--justification", "annual rotation"
    )
    assert "aud-police-v2" in rotated
    new = FieldSealer(keys, "e2", RetentionScope(period="2026-11")).seal(
        "narrative", "narrative", "new", [Audience.POLICE]
    )
    assert new.keys[0].kid == "aud-police-v2"
    opener = Opener(keys, Audience.POLICE)
    assert (opener.open(old, "e1"), opener.open(new, "e2")) == ("old", "new")

    await asyncio.to_thread(
        run,
        "keys",
        "shred-before",
        "2020-01",
        "--actor",
        actor,
        "--justification",
        "retention of six years ended",
    )
    with pytest.raises(ShreddedError):
        opener.open(old, "e1")
    assert opener.open(new, "e2") == "new"

    records = await audit_records_by(kafka_broker.bootstrap, actor)
    assert [r.action for r in records] == [AuditAction.KEY_CHANGED] * 2
    assert records[0].key_ids == ("aud-police-v2",)
    assert records[0].justification == "annual rotation"
    assert records[1].key_ids == ("period-2019-05-v1",)
    assert records[1].outcome == "shredded 1 month(s) before 2020-01"
