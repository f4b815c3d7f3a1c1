"""Local state files under kill -9: restored from the file plus the changelog tail, or in full.

The correlator runs as real processes with its own state directory. After ``kill -9`` it must
start from its files' checkpoints (reading only the changelog after them); with the files
deleted it must restore everything from the changelog. Either way every alert is published
exactly once, and the files end up holding exactly what the compacted changelog holds.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from services.correlator.domain.packing import unpack_key
from services.kafka.reader import read_all
from services.settings import REPO_ROOT
from tests.integration.correlation import publish_canonical, wait_caught_up
from tests.integration.test_correlator_crash import Deployment, _check
from tests.integration.workload import reference_alert_ids, workload
from tests.kafka_fixture import Broker

pytestmark = pytest.mark.kafka

STAGES = ("routes", "person", "place")


class LocalDeployment(Deployment):
    """A deployment whose processes keep state in ``state_dir`` and log to a file."""

    def __init__(self, bootstrap: str, state_dir: Path) -> None:
        super().__init__(bootstrap, "local")
        self.state_dir = state_dir
        self.log = state_dir.parent / "correlator.log"
        self.env |= {"ASBX_STATE_DIR": str(state_dir), "ASBX_LOG_LEVEL": "INFO"}

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            out.write(b'{"event": "test.started"}\n')
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "serve", "correlator"],
                env=self.env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=out,
            )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()

    def last_run(self, event: str) -> list[dict[str, object]]:
        """The log lines named ``event`` since the last start."""
        runs = self.log.read_text().split('{"event": "test.started"}\n')
        lines = [json.loads(line) for line in runs[-1].splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("event") == event]

    async def claimed_all(self, timeout: float = 120) -> None:
        """Wait until the last started process has claimed every task (partition), each with
        the state of every stage."""
        for _ in range(int(timeout * 2)):
            if len(self.last_run("stream.partition_claimed")) >= 6:
                return
            await asyncio.sleep(0.5)
        raise AssertionError("the correlator did not claim its partitions")

    async def files_match_changelogs(self) -> None:
        """Each file holds exactly the latest committed changelog value of every key."""
        for stage in STAGES:
            topic = self.service.topics.changelog(stage)
            latest: dict[tuple[int, bytes], bytes | None] = {}
            for record in await read_all(self.bootstrap, topic):
                latest[(record.partition, record.key)] = record.value
            for partition in range(6):
                path = self.state_dir / f"{topic}-{partition}.sqlite"
                with sqlite3.connect(path) as db:
                    rows = dict(db.execute("SELECT key, value FROM state").fetchall())
                wanted = {unpack_key(k): v for (p, k), v in latest.items() if p == partition and v}
                assert {k: bytes(v) for k, v in rows.items()} == wanted, (stage, partition)


async def test_restart_reads_the_tail_and_a_deleted_file_restores_in_full(
    kafka_broker: Broker, tmp_path: Path
) -> None:
    """kill -9 → file + changelog tail; files deleted → full restore; alerts exactly once."""
    tag = "".join(random.Random(5).choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(5))
    events = workload(4_000, seed=77, tag=tag + random.choice("QWERTY"))
    first, second = events[:2_500], events[2_500:]
    deployment = LocalDeployment(kafka_broker.bootstrap, tmp_path / "state")
    try:
        await deployment.prepare(first)
        process = deployment.start()
        await wait_caught_up(deployment.service, timeout=300)
        deployment.kill(process)

        # Restart on the files: every partition resumes from its checkpoint.
        process = deployment.start()
        await publish_canonical(
            deployment.bootstrap, second[:700], topic=deployment.env["ASBX_CANONICAL_TOPIC"]
        )
        await deployment.claimed_all()
        await asyncio.sleep(random.Random(3).uniform(0.5, 3))
        caught = deployment.last_run("stream.local_state_caught_up")
        assert caught, "no partition was restored from a local file"
        assert all(line["from_offset"] > 0 for line in caught if line["to_offset"])
        deployment.kill(process)  # mid-stream this time

        process = deployment.start()
        await wait_caught_up(deployment.service, timeout=300)
        deployment.kill(process)

        # Files deleted: a full restore from the changelogs, then the rest of the events.
        for path in (tmp_path / "state").iterdir():
            path.unlink()
        await publish_canonical(
            deployment.bootstrap, second[700:], topic=deployment.env["ASBX_CANONICAL_TOPIC"]
        )
        process = deployment.start()
        await wait_caught_up(deployment.service, timeout=300)
        first: dict[tuple[object, object], object] = {}
        for line in deployment.last_run("stream.local_state_caught_up"):
            first.setdefault((line["changelog"], line["partition"]), line["from_offset"])
        # A rebalance in the same run may claim a partition again, from the new file.
        assert len(first) == 6 * len(STAGES)
        assert set(first.values()) == {0}
        assert deployment.last_run("stream.local_state_new")
        await _check(deployment, events, reference_alert_ids(events, deployment.service.policy))
        deployment.stop_all()
        await deployment.files_match_changelogs()
    finally:
        deployment.stop_all()
