"""Metric wrappers and the health endpoint, without Kafka."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.observability.http import HealthServer
from services.observability.metrics import MeteredProcessor, NormaliserMeter, StateKeysMeter
from services.streams.engine import Output
from services.streams.store import PartitionStore


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Publisher:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    async def publish(
        self, message: Any, *, key: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        if self.fail:
            raise ConnectionError("cluster away")


def test_normaliser_meter_counts_committed_outputs_and_failed_commits() -> None:
    """Outputs count as out only once committed; a failed commit counts as a publish error."""
    meter = NormaliserMeter("unit")
    before = sample("asbx_messages_out_total", service="unit", topic="t")
    errors = sample("asbx_errors_total", service="unit", kind="publish")
    meter.published([Output("t", b"k", b"v"), Output("t", b"k", b"w")])
    meter.commit_failed()
    assert sample("asbx_messages_out_total", service="unit", topic="t") == before + 2
    assert sample("asbx_errors_total", service="unit", kind="publish") == errors + 1


class Echo:
    def process(self, store: PartitionStore[str], record: Any) -> list[Output]:
        if record.value == b"bad":
            raise ValueError("bad record")
        return [Output("out", b"k", record.value)]

    def encode(self, key: str, value: str) -> bytes:
        return value.encode()

    def decode(self, key: str, raw: bytes) -> str:
        return raw.decode()

    def encode_key(self, key: str) -> bytes:
        return key.encode()

    def decode_key(self, raw: bytes) -> str:
        return raw.decode()


class Record:
    def __init__(self, value: bytes) -> None:
        self.topic, self.value = "in", value


def test_metered_processor_counts_in_out_latency_and_errors() -> None:
    """A stage record counts in, its outputs out, its time observed; a raise counts an error."""
    processor: MeteredProcessor[str] = MeteredProcessor(Echo(), "unit-stage")
    store: PartitionStore[str] = PartitionStore(0)
    processor.process(store, Record(b"ok"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bad record"):
        processor.process(store, Record(b"bad"))  # type: ignore[arg-type]
    assert sample("asbx_messages_in_total", service="unit-stage", topic="in") == 2
    assert sample("asbx_messages_out_total", service="unit-stage", topic="out") == 1
    assert sample("asbx_errors_total", service="unit-stage", kind="dead_letter") == 1
    assert sample("asbx_processing_seconds_count", service="unit-stage") == 2
    assert processor.decode("k", processor.encode("k", "v")) == "v"
    assert processor.decode_key(processor.encode_key("k")) == "k"


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_health_server_answers_liveness_readiness_and_metrics() -> None:
    """Liveness is always 200; readiness follows the check (503 if it raises); metrics are text."""
    state = {"ready": False}

    def ready() -> bool:
        if state.get("boom"):
            raise RuntimeError("check failed")
        return state["ready"]

    server = HealthServer(0, ready, host="127.0.0.1").start()
    try:
        assert get(server.port, "/livez")[0] == 200
        assert get(server.port, "/readyz")[0] == 503
        state["ready"] = True
        assert get(server.port, "/readyz") == (200, b"ready\n")
        state["boom"] = True
        assert get(server.port, "/readyz")[0] == 503
        status, body = get(server.port, "/metrics")
        assert status == 200
        assert b"asbx_consumer_lag" in body
        assert get(server.port, "/nothing")[0] == 404
    finally:
        server.stop()


def test_state_keys_meter_sets_the_gauge_per_partition_after_a_commit() -> None:
    """The engine calls it once per committed batch with the partition's store."""
    meter = StateKeysMeter("unit-stage", "mentions")
    store: PartitionStore[str] = PartitionStore(4)
    store.put("a", "x")
    store.put("b", "y")
    meter(store, 10)
    assert sample("asbx_state_keys", service="unit-stage", topic="mentions", partition="4") == 2
