"""Hypothesis strategies for hostile and broken partner input, built from the partners' examples.

Structured-but-wrong messages start from a documented example and change one thing at a time
(a value of the wrong type or shape, a missing or extra member, a duplicated entry), so most of
them get past the syntax check and exercise validation and mapping rather than the JSON parser.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "deep_json",
    "deep_xml",
    "json_values",
    "mutated",
    "paths",
    "wrong_encoding",
]

#: JSON leaves and small containers, including the awkward ones (huge ints, odd floats, controls).
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "9999999999", "2026-02-30T25:61:00Z", "1e309", "-0"]),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (tuple of keys and indexes) to a node of ``document``."""
    found: list[tuple[Any, ...]] = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutated(draw: st.DrawFn, document: Any, max_changes: int = 3) -> Any:
    """``document`` with one to ``max_changes`` structural changes."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, max_changes))):
        path = draw(st.sampled_from([p for p in paths(doc) if p]))
        parent = _parent(doc, path)
        key = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "wrap", "extra"]))
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "wrap":
            parent[key] = [parent[key]] if draw(st.booleans()) else {"value": parent[key]}
        elif action == "extra" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    return doc


def deep_json(depth: int, kind: str = "list") -> bytes:
    """A JSON document nested ``depth`` levels deep (arrays or objects)."""
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def deep_xml(depth: int) -> bytes:
    """A FHIR-namespaced XML document nested ``depth`` elements deep."""
    opening = b'<Bundle xmlns="http://hl7.org/fhir">' + b"<extension>" * depth
    return opening + b"</extension>" * depth + b"</Bundle>"


ENCODINGS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252", "utf-8-sig")


@st.composite
def wrong_encoding(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` (UTF-8 text) re-encoded, given a stray BOM, or with invalid UTF-8 spliced in."""
    text = raw.decode("utf-8")
    how = draw(st.sampled_from([*ENCODINGS, "bom-utf16-on-utf8", "invalid-utf8", "latin1-name"]))
    if how == "bom-utf16-on-utf8":
        return b"\xff\xfe" + raw
    if how == "invalid-utf8":
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]))
        return raw[:at] + junk + raw[at:]
    if how == "latin1-name":
        # A name with an accent, sent as Latin-1 bytes inside otherwise UTF-8 JSON.
        return raw.replace(b'"Marsh"', '"Marsh\u00e9"'.encode("latin-1"))
    return text.encode(how, errors="replace")


def dumps(document: Any) -> bytes:
    """JSON bytes for a (possibly mutated) document."""
    return json.dumps(document, ensure_ascii=False).encode()
