"""Coverage-guided fuzzing of the three partner normalisers (atheris / libFuzzer), bounded.

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python tests/fuzz/fuzz_normalisers.py --runs 200000 --seconds 300

Each input's first byte picks the partner and the content-type header; the rest is the message.
The corpus is seeded with every example under ``services/partners/*/examples`` (good and bad)
under every header choice. A finding is an input that raised out of ``Normaliser.process``, ended
as ``internal_error`` (a mapper bug caught by the pipeline's last net), or was accepted with an
event that does not round-trip through the contract. Findings are saved under
``var/fuzz/findings`` and counted; the run goes on, and the closing summary gives runs, execs/s,
outcomes by reason and findings. Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(include=["services", "contracts"]):
    from contracts.envelope import CanonicalEvent
    from contracts.vocab import Partner, RejectReason
    from services.normalise.outcome import Accepted, Duplicate, InboundRecord, Rejected
    from services.normalise.pipeline import Normaliser
    from services.normalise.seen import InMemorySeenStore
    from services.observability.logging import configure_logging
    from services.partners.registry import adapter_for
    from services.protection.keys import LocalKeyStore
    from services.sharing.agreements import load

PARTNERS = (Partner.HOUSING, Partner.HEALTH, Partner.POLICE)
CONTENT_TYPES = (
    None,
    "application/json",
    "application/fhir+json",
    "application/fhir+xml",
    "application/octet-stream",
    "text/plain",
)
MAX_BYTES = 256 * 1024


class Harness:
    """One normaliser per partner, and the tally of what the inputs became."""

    def __init__(self, keys_dir: Path, findings: Path, runs: int, seconds: float) -> None:
        keys = LocalKeyStore(keys_dir)
        self.normalisers = {
            p: Normaliser(
                adapter_for(p),
                keys=keys,
                agreements=load,
                seen=InMemorySeenStore(),
                max_message_bytes=MAX_BYTES,
            )
            for p in PARTNERS
        }
        self.findings_dir = findings
        self.runs, self.seconds = runs, seconds
        self.outcomes: Counter[str] = Counter()
        self.findings: Counter[str] = Counter()
        self.executed = 0
        self.started = time.monotonic()

    def one(self, data: bytes) -> None:
        """libFuzzer's entry point: normalise one input and check what it became."""
        if not data:
            return
        partner = PARTNERS[data[0] % len(PARTNERS)]
        content_type = CONTENT_TYPES[(data[0] // len(PARTNERS)) % len(CONTENT_TYPES)]
        headers = {"content-type": content_type} if content_type else {}
        record = InboundRecord(f"asbx.inbound.{partner}.v1", 0, 0, None, data[1:], headers)
        self.executed += 1
        try:
            outcome = self.normalisers[partner].process(record)
            problem = _problem(outcome)
            self.outcomes[_label(outcome)] += 1
        except Exception as exc:
            problem = f"raised {type(exc).__name__}: {exc}"
        if problem:
            self._record(data, partner, problem)
        if self.executed >= self.runs or time.monotonic() - self.started >= self.seconds:
            self.finish()

    def _record(self, data: bytes, partner: Partner, problem: str) -> None:
        self.findings[problem.split(":", 1)[0]] += 1
        self.findings_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(data).hexdigest()[:16]
        (self.findings_dir / f"{partner}-{name}.bin").write_bytes(data)
        (self.findings_dir / f"{partner}-{name}.txt").write_text(problem + "\n")

    def summary(self) -> dict[str, Any]:
        """Figures for the closing note."""
        elapsed = time.monotonic() - self.started
        return {
            "runs": self.executed,
            "seconds": round(elapsed, 1),
            "execs_per_second": round(self.executed / elapsed, 1) if elapsed else 0,
            "outcomes": dict(self.outcomes.most_common()),
            "findings": sum(self.findings.values()),
            "finding_kinds": dict(self.findings),
        }

    def finish(self) -> None:
        """Print the summary and end the process (libFuzzer never returns to Python)."""
        sys.stdout.write(json.dumps(self.summary(), indent=2) + "\n")
        sys.stdout.flush()
        os._exit(1 if self.findings else 0)


def _label(outcome: object) -> str:
    if isinstance(outcome, Rejected):
        return f"rejected:{outcome.rejection.reason.value}"
    if isinstance(outcome, Duplicate):
        return "duplicate"
    return "accepted"


def _problem(outcome: object) -> str | None:
    if isinstance(outcome, Rejected):
        rejection = outcome.rejection
        if rejection.reason is RejectReason.INTERNAL_ERROR:
            return f"internal_error: {rejection.message}"
        if not rejection.message.strip() or not rejection.errors:
            return "unexplained refusal: no message or error details"
        return None
    if isinstance(outcome, Accepted):
        for event in outcome.events:
            if CanonicalEvent.model_validate_json(event.model_dump_json()) != event:
                return "event does not round-trip: through the CanonicalEvent contract"
        return None
    if isinstance(outcome, Duplicate):
        return None
    return f"unknown outcome: {type(outcome).__name__}"


def seed_corpus(corpus: Path) -> int:
    """Write every partner example, under every header choice, into ``corpus``."""
    corpus.mkdir(parents=True, exist_ok=True)
    count = 0
    for index, partner in enumerate(PARTNERS):
        folder = ROOT / "services" / "partners" / partner.value / "examples"
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            for choice in range(len(CONTENT_TYPES)):
                selector = bytes([index + choice * len(PARTNERS)])
                (corpus / f"{partner}-{path.stem}-{choice}").write_bytes(
                    selector + path.read_bytes()
                )
                count += 1
    return count


def main() -> None:
    """Parse the bounds, seed the corpus and fuzz."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000, help="stop after this many inputs")
    parser.add_argument("--seconds", type=float, default=300, help="stop after this long")
    parser.add_argument("--corpus", type=Path, default=ROOT / "var" / "fuzz" / "corpus")
    parser.add_argument("--findings", type=Path, default=ROOT / "var" / "fuzz" / "findings")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed")
    args, libfuzzer_args = parser.parse_known_args()

    configure_logging(fmt="json", level="CRITICAL")
    logging.disable(logging.CRITICAL)
    seeds = seed_corpus(args.corpus)
    sys.stderr.write(f"seeded {seeds} corpus inputs into {args.corpus}\n")
    harness = Harness(
        Path(tempfile.mkdtemp(prefix="asbx-fuzz-keys-")), args.findings, args.runs, args.seconds
    )
    argv = [
        sys.argv[0],
        str(args.corpus),
        f"-seed={args.seed}",
        f"-max_len={MAX_BYTES + 1024}",
        f"-max_total_time={int(args.seconds) + 60}",
        "-print_final_stats=1",
        *libfuzzer_args,
    ]
    atheris.Setup(argv, harness.one)
    atheris.Fuzz()
    harness.finish()  # reached only if libFuzzer returns (e.g. its own -runs bound)


if __name__ == "__main__":
    main()
