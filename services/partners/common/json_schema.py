"""Publishing a partner format's JSON Schema from its pydantic models.

Each partner's ``schema/*.schema.json`` is generated, never hand-edited, so the published
contract cannot drift from what the adapter accepts; a test compares the file with the models.
Housing and police publish the same way (2020-12, a ``urn:asbx:partner:`` id, their own title),
so the wrapping and the file layout are written once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

__all__ = ["published_schema", "write_schema"]


def published_schema(
    model: type[BaseModel], schema_id: str, title: str, description: str
) -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``model``, titled for publication as ``schema_id``."""
    body = model.model_json_schema()
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:asbx:partner:{schema_id}",
        "title": title,
        "description": description,
        **body,
    }


def write_schema(path: Path, schema: dict[str, Any]) -> None:
    """Write ``schema`` as the published file (two-space indent, final newline)."""
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(schema, indent=2) + "\n")
