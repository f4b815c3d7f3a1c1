"""``asbx audit``: archive the audit topic into the tamper-evident log, and verify it offline.

The audit topic is where services write; the archive is what IG staff keep and check. ``archive``
appends every committed audit record not yet archived (the topic has one partition, so order is
the topic's order) and signs a checkpoint; ``verify`` needs only the two files and the public key.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from contracts.topics import AUDIT
from deploy.kafka_client import client_config_from_env
from deploy.security.acls import AUDIT_ARCHIVER
from services.audit.archive import archive_topic
from services.audit.log import CheckpointSigner, checkpoints_path_for
from services.audit.verify import verify
from services.settings import REPO_ROOT, Settings

__all__ = ["audit_app"]

audit_app = typer.Typer(help="The tamper-evident audit log for information governance.")
DEFAULT_LOG = REPO_ROOT / "var" / "audit" / "audit.jsonl"


@audit_app.command("archive")
def archive(log: Path = DEFAULT_LOG) -> None:
    """Append new audit records from the audit topic to the log and sign a checkpoint."""
    settings = Settings()
    result = asyncio.run(
        archive_topic(
            settings.kafka_bootstrap_servers,
            log,
            settings.keys_dir,
            client_config_from_env(principal=AUDIT_ARCHIVER),
        )
    )
    checkpoint, added, malformed = result.checkpoint, result.added, result.malformed_offsets
    assert checkpoint is not None
    typer.echo(f"archived {added} new record(s); size {checkpoint.size}, root {checkpoint.root}")
    if malformed:
        typer.echo(
            f"skipped {len(malformed)} record(s) that are not audit records, at offsets "
            f"{malformed[:20]} of {AUDIT.name}: investigate the producer",
            err=True,
        )


@audit_app.command("public-key")
def public_key() -> None:
    """Print the checkpoint-signing public key (PEM) that verifiers need."""
    typer.echo(CheckpointSigner.load_or_create(Settings().keys_dir).public_key_pem().decode())


@audit_app.command("verify")
def verify_log(public_key_file: Path, log: Path = DEFAULT_LOG) -> None:
    """Check signatures, inclusion and consistency offline; name every bad record."""
    report = verify(log, checkpoints_path_for(log), public_key_file.read_bytes())
    for problem in report.problems:
        where = f"record {problem.index}" if problem.index is not None else "log"
        typer.echo(f"{problem.kind}: {where} {problem.record_id or ''} {problem.detail}".strip())
    typer.echo(
        f"{'OK' if report.ok else 'FAILED'}: {report.checked_records} record(s), "
        f"{report.checked_checkpoints} checkpoint(s) checked"
    )
    if not report.ok:
        raise typer.Exit(1)
