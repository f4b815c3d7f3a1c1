"""CPU cost of each stage without Kafka: the pure normaliser pipeline and the correlator stages.

Runs the population through ``Normaliser.process`` (parse, map, tokenise, seal), then the
canonical events through the router and keyed rule processors with in-memory stores, and prints
CPU time per record per stage (process time, so other work on a shared machine matters less
than for wall time). With ``--profile`` it writes a pyinstrument HTML profile per stage
to ``var/bench/``. This is where the service CPU goes, apart from Kafka client work.

    python -m tests.benchmarks.cpu --messages 3000 [--profile]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord

from contracts.vocab import Partner
from services.correlator.domain.policy import load_policy
from services.correlator.domain.state import PersonState, PlaceState
from services.correlator.keyed import KeyedRules
from services.correlator.router import MentionRouter
from services.correlator.settings import CorrelatorSettings
from services.correlator.topics import CorrelatorTopics
from services.kafka.headers import cloudevent_headers
from services.normalise.batch import BatchLimits
from services.normalise.outcome import Accepted, InboundRecord
from services.normalise.pipeline import Normaliser
from services.normalise.seen import InMemorySeenStore
from services.partners.registry import adapter_for
from services.protection.keys import LocalKeyStore
from services.settings import Settings
from services.sharing.agreements import AgreementFile
from services.streams.engine import Output
from services.streams.store import PartitionStore
from tests.benchmarks.population import population

OUT_DIR = Path(__file__).resolve().parents[2] / "var" / "bench"


def _record(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
    return ConsumerRecord(topic, 0, 0, 0, 0, key, value, None, len(key), len(value), headers)


def _timed(name: str, count: int, profile: bool, work: Callable[[], Any]) -> Any:
    profiler = None
    if profile:
        from pyinstrument import Profiler  # noqa: PLC0415 - dev-only dependency

        profiler = Profiler(interval=0.0005)
        profiler.start()
    began, cpu = time.perf_counter(), time.process_time()
    result = work()
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    if profiler is not None:
        profiler.stop()
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / f"cpu-{name}.html").write_text(profiler.output_html())
        (OUT_DIR / f"cpu-{name}.txt").write_text(profiler.output_text(unicode=False))
    print(
        f"{name:<11} {count:>7} records  wall {took:6.2f} s  CPU {cpu:6.2f} s  "
        f"{cpu / count * 1000:6.2f} ms CPU per record  {count / cpu:7.0f} per CPU-second"
    )
    return result


def main() -> None:
    """Run each stage over the population and print per-stage rates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    messages = population(args.messages, tag=f"C{int(time.time())}")
    # As the normaliser service keeps them: new retention keys written once per run of records.
    keys = LocalKeyStore(Path(tempfile.mkdtemp()) / "keys", defer_new_retention_keys=True)
    agreements = AgreementFile(Settings().agreements_file)
    normalisers = {
        p: Normaliser(
            adapter_for(p.value),
            keys=keys,
            agreements=agreements,
            seen=InMemorySeenStore(),
            max_message_bytes=1024 * 1024,
        )
        for p in Partner
    }

    run = BatchLimits().max_records

    def normalise() -> list[Any]:
        fates: Counter[str] = Counter()
        canonical = []
        for i, m in enumerate(messages):
            headers = {"traceparent": m.traceparent}
            outcome = normalisers[m.partner].process(
                InboundRecord(f"asbx.inbound.{m.partner.value}.v1", 0, i, m.key, m.value, headers)
            )
            fates[type(outcome).__name__] += 1
            if i % run == run - 1 or i == len(messages) - 1:
                keys.persist_new_keys()
            if isinstance(outcome, Accepted):
                for event in outcome.events:
                    value = event.model_dump_json().encode()
                    hdrs = [
                        (k, v.encode())
                        for k, v in cloudevent_headers(event, outcome.traceparent).items()
                    ]
                    canonical.append(_record("canonical", event.subject.encode(), value, hdrs))
            elif hasattr(outcome, "rejection"):
                fates[outcome.rejection.reason.value] += 1
        print(f"outcomes: {dict(fates)}")
        return canonical

    canonical = _timed("normalise", len(messages), args.profile, normalise)
    settings = CorrelatorSettings()
    policy = load_policy(settings.policy_file)
    topics = CorrelatorTopics("bench", 1)
    router = MentionRouter(policy, topics)

    def route() -> list[Output]:
        store: PartitionStore[Any] = PartitionStore(0)
        out: list[Output] = []
        for record in canonical:
            out += router.process(store, record)
        return out

    mentions = _timed("route", len(canonical), args.profile, route)
    for kind, state_type in (("person", PersonState), ("place", PlaceState)):
        topic = topics.person_mentions if kind == "person" else topics.place_mentions
        mine = [
            _record(o.topic, o.key, o.value, list(o.headers)) for o in mentions if o.topic == topic
        ]
        rules: KeyedRules[Any] = KeyedRules(state_type, policy, "alerts", "bench", keys)

        def keyed(rules: KeyedRules[Any] = rules, mine: list[Any] = mine) -> int:
            store: PartitionStore[Any] = PartitionStore(0)
            alerts = 0
            for record in mine:
                alerts += sum(o.topic == "alerts" for o in rules.process(store, record))
                for key, value in store.take_dirty():
                    if value is not None:
                        rules.encode(key, value)
            return alerts

        alerts = _timed(kind, len(mine), args.profile, keyed)
        print(f"  {kind} alerts: {alerts}")


if __name__ == "__main__":
    main()
