"""The AsyncAPI 3.0 document of every asbx service, generated from the FastStream brokers.

Built from the same subscriber and publisher declarations the services run, so the document
cannot describe a topic or payload the code does not use. Written to
``contracts/asyncapi/asbx.asyncapi.json``; a test fails if it drifts.
"""

from __future__ import annotations

import json
from pathlib import Path

from faststream.specification import AsyncAPI

from contracts.envelope import SCHEMA_VERSION
from services.partners.registry import all_adapters
from services.settings import Settings

__all__ = ["ASYNCAPI_PATH", "render_asyncapi", "write_asyncapi"]

ASYNCAPI_PATH = (
    Path(__file__).resolve().parents[1] / "contracts" / "asyncapi" / "asbx.asyncapi.json"
)
#: What the document states about connecting: SASL/SCRAM-SHA-512 over TLS (see README, "Security
#: at the broker"). Fixed here, so the document does not depend on the machine that renders it.
DOCUMENTED_SECURITY = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512"}


def render_asyncapi() -> str:
    """The document as stable, pretty-printed JSON."""
    from services.normalise.app import build_normaliser  # noqa: PLC0415 - keep import light

    settings = Settings(KAFKA_BOOTSTRAP_SERVERS="kafka:9092")
    brokers = [
        build_normaliser(adapter, settings, DOCUMENTED_SECURITY).broker
        for adapter in all_adapters()
    ]
    spec = AsyncAPI(
        *brokers,
        title="asbx partner data exchange",
        version=SCHEMA_VERSION,
        description="Partner normalisers, canonical events, rejections, audit and alerts for "
        "the ASB Case Review (community trigger).",
        schema_version="3.0.0",
    )
    doc = spec.to_specification().to_jsonable()
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def write_asyncapi(path: Path = ASYNCAPI_PATH) -> Path:
    """Write the document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_asyncapi())
    return path
