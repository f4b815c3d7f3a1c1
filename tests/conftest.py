"""Test session set-up: the real Kafka broker, and the services running against it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.kafka_fixture import USED_BROKERS, describe_broker, make_broker_fixture

kafka_broker = make_broker_fixture()


@pytest.fixture(scope="session", autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Correlators started by tests keep their state files in this session's temporary dir."""
    if "ASBX_STATE_DIR" in os.environ:
        yield
        return
    os.environ["ASBX_STATE_DIR"] = str(tmp_path_factory.mktemp("correlator-state"))
    yield
    del os.environ["ASBX_STATE_DIR"]


def pytest_report_header() -> str:
    """Name the Kafka broker (and version) this session runs against."""
    return describe_broker()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Close the run by naming the broker the Kafka tests really ran against."""
    for broker in USED_BROKERS:
        terminalreporter.write_line(
            f"Kafka tests ran against {broker.version} at {broker.bootstrap}"
        )
