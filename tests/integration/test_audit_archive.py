"""IG's audit trail: archive the audit topic into the signed log, verify it, catch tampering."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from contracts.vocab import Partner
from services.cli.main import app
from tests.integration.exchange import Exchange, example

pytestmark = pytest.mark.kafka


async def test_archive_verify_and_name_an_altered_record(
    exchange: Exchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records archived from the topic verify; an edited record is named and verify fails."""
    await exchange.send(example(Partner.POLICE, "07-incident-stairwell.json"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", exchange.bootstrap)
    monkeypatch.setenv("ASBX_KEYS_DIR", str(tmp_path / "keys"))
    log, key = tmp_path / "audit.jsonl", tmp_path / "audit.pub.pem"
    runner = CliRunner()
    archived = await _run(runner, ["audit", "archive", "--log", str(log)])
    assert "archived" in archived.output
    key.write_text((await _run(runner, ["audit", "public-key"])).output)
    assert "OK" in (await _run(runner, ["audit", "verify", str(key), "--log", str(log)])).output

    lines = log.read_text().splitlines()
    assert len(lines) >= 2  # one accepted message: its acceptance and its publication
    lines[1] = lines[1].replace('"actor":"', '"actor":"x', 1)
    log.write_text("\n".join(lines) + "\n")
    failed = await _run(runner, ["audit", "verify", str(key), "--log", str(log)], code=1)
    assert "altered: record 1" in failed.output


async def _run(runner: CliRunner, args: list[str], code: int = 0) -> Result:
    """Invoke the CLI off the event loop (its commands run their own asyncio loop)."""
    result = await asyncio.to_thread(runner.invoke, app, args)
    assert result.exit_code == code, result.output
    return result
