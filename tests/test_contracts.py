"""Published contracts match the code: JSON Schemas and the AsyncAPI document are up to date."""

from __future__ import annotations

import json

from contracts.schema_export import CONTRACTS, SCHEMA_DIR, render_schemas
from services.asyncapi_doc import ASYNCAPI_PATH, render_asyncapi


def test_json_schemas_match_models() -> None:
    """Every contract's schema file equals what the model generates (run `make contracts`)."""
    for file_name, text in render_schemas().items():
        path = SCHEMA_DIR / file_name
        assert path.exists(), f"{file_name} missing: run `make contracts`"
        assert path.read_text() == text, f"{file_name} drifted from its model: run `make contracts`"
    assert len(list(SCHEMA_DIR.glob("*.schema.json"))) == len(CONTRACTS)


def test_schemas_declare_2020_12() -> None:
    """Schemas state their dialect, so validators pick the right rules."""
    for path in SCHEMA_DIR.glob("*.schema.json"):
        assert json.loads(path.read_text())["$schema"].endswith("2020-12/schema")


def test_asyncapi_matches_services() -> None:
    """The AsyncAPI 3.0 document is what the services' FastStream declarations generate."""
    assert ASYNCAPI_PATH.read_text() == render_asyncapi(), "AsyncAPI drifted: run `make contracts`"
    doc = json.loads(ASYNCAPI_PATH.read_text())
    assert doc["asyncapi"].startswith("3.0")
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert {
        "asbx.inbound.health.v1",
        "asbx.canonical.events.v1",
        "asbx.rejected.police.v1",
    } <= addresses
