"""Reading health partner bytes: FHIR R4 resources as JSON or XML, validated by ``fhir.resources``.

The syntax comes from the ``content-type`` header (``application/fhir+json`` or
``application/fhir+xml``, plus their plain ``json``/``xml`` aliases); with no header, or an
``application/octet-stream`` one, it is sniffed from the first non-space byte.

Models are ``fhir.resources.R4B``: fhir.resources 8 ships R5 as its default and no longer ships
R4, and R4B (4.3) is wire-compatible with R4 (4.0.1, which UK Core profiles) for the resources
accepted here. Everything is checked *before* the models see it: XML through ``defusedxml`` with
DTDs forbidden (billion laughs, external entities), nesting depth in both syntaxes, and the
resource types, so an unknown type is refused as such rather than as a confusing model error.
Refusal texts name locations and kinds of problem, never values from the message.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException
from fhir.resources.R4B import get_fhir_model_class
from lxml import etree  # type: ignore[import-untyped]
from pydantic import ValidationError

from contracts.vocab import RejectReason
from services.normalise.port import Refusal
from services.normalise.refusals import refusal_from_json_error, refusal_from_validation

__all__ = ["ACCEPTED_TYPES", "FHIR_NS", "MAX_DEPTH", "Syntax", "load_resource", "syntax_of"]

Syntax = Literal["json", "xml"]

FHIR_NS = "http://hl7.org/fhir"
#: Resource types accepted at the top level or as Bundle entries (MessageHeader: message Bundles).
ACCEPTED_TYPES = frozenset({"Bundle", "Patient", "Flag", "ServiceRequest", "Encounter"})
_ENTRY_TYPES = (ACCEPTED_TYPES - {"Bundle"}) | {"MessageHeader"}
#: Deeper than any real UK Core resource (nested extensions reach about 10).
MAX_DEPTH = 64

_JSON_TYPES = {"application/fhir+json", "application/json", "application/json+fhir", "text/json"}
_XML_TYPES = {"application/fhir+xml", "application/xml", "application/xml+fhir", "text/xml"}
_SNIFF_TYPES = {"", "application/octet-stream"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def syntax_of(raw: bytes, headers: Mapping[str, str]) -> Syntax:
    """JSON or XML, from the content type or (when none is given) the first non-space byte."""
    media = _header(headers, "content-type").split(";", 1)[0].strip().lower()
    if media in _JSON_TYPES:
        return "json"
    if media in _XML_TYPES:
        return "xml"
    if media not in _SNIFF_TYPES:
        shown = media[:80] if media.isprintable() else "(unprintable)"
        raise Refusal(
            RejectReason.UNSUPPORTED_CONTENT_TYPE,
            f"content type {shown!r} is not accepted; send application/fhir+json "
            "or application/fhir+xml",
        )
    start = raw.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if start == b"{":
        return "json"
    if start == b"<":
        return "xml"
    raise Refusal(RejectReason.NOT_PARSEABLE, "message is neither FHIR JSON nor FHIR XML")


def _unknown_type(name: object, where: str) -> Refusal:
    shown = repr(name) if isinstance(name, str) and _NAME.match(name) else "a non-FHIR name"
    return Refusal(
        RejectReason.UNKNOWN_RESOURCE_TYPE,
        f"resource type {shown} at {where} is not accepted from health "
        f"(accepted: {', '.join(sorted(ACCEPTED_TYPES))})",
    )


def _check_types(root: object, entries: Sequence[tuple[int, object]]) -> str:
    if root not in ACCEPTED_TYPES:
        raise _unknown_type(root, "the message root")
    for index, entry_type in entries:
        # A JSON entry's resourceType may be a list or object: unhashable, never a FHIR name.
        if root != "Bundle" or not isinstance(entry_type, str) or entry_type not in _ENTRY_TYPES:
            raise _unknown_type(entry_type, f"Bundle.entry[{index}].resource")
    return str(root)


def _too_deep(root: Any, children: Any) -> bool:
    """Iterative depth check (recursion here would be the very attack it guards against)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children(node))
    return False


def _json_children(node: Any) -> Any:
    if isinstance(node, dict):
        return node.values()
    return node if isinstance(node, list) else ()


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in JSON")


def _load_json(raw: bytes) -> Any:
    try:
        doc = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise refusal_from_json_error(exc) from None
    except ValueError:
        raise Refusal(RejectReason.NOT_PARSEABLE, "JSON holds NaN or Infinity") from None
    if _too_deep(doc, _json_children):
        raise Refusal(RejectReason.HOSTILE_CONTENT, f"JSON nests deeper than {MAX_DEPTH} levels")
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
        raise Refusal(
            RejectReason.SCHEMA_VIOLATION, "message is not a FHIR resource (no resourceType)"
        )
    entries = doc.get("entry") if doc["resourceType"] == "Bundle" else None
    found = [
        (i, e["resource"].get("resourceType"))
        for i, e in enumerate(entries if isinstance(entries, list) else [])
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    model_class = get_fhir_model_class(_check_types(doc["resourceType"], found))
    return _validated(lambda: model_class.model_validate(doc), doc["resourceType"])


def _local(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _load_xml(raw: bytes) -> Any:
    try:
        tree = DefusedET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise Refusal(
            RejectReason.HOSTILE_CONTENT, "XML with a DTD or entity declarations is refused"
        ) from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise Refusal(
            RejectReason.NOT_PARSEABLE,
            f"message is not well-formed XML (line {line}, column {column})",
        ) from None
    except (ValueError, LookupError):  # expat: a declared multi-byte or unknown encoding
        raise Refusal(
            RejectReason.NOT_PARSEABLE,
            "the XML declaration names an encoding that is not supported; send UTF-8",
        ) from None
    if _too_deep(tree, list):
        raise Refusal(RejectReason.HOSTILE_CONTENT, f"XML nests deeper than {MAX_DEPTH} levels")
    if not tree.tag.startswith(f"{{{FHIR_NS}}}"):
        raise Refusal(
            RejectReason.SCHEMA_VIOLATION, f"root element is not in the FHIR namespace {FHIR_NS}"
        )
    found = [
        (i, _local(resource[0]))
        for i, entry in enumerate(tree.findall(f"{{{FHIR_NS}}}entry"))
        for resource in entry.findall(f"{{{FHIR_NS}}}resource")
        if len(resource)
    ]
    root_type = _check_types(_local(tree), found)
    model_class = get_fhir_model_class(root_type)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    return _validated(lambda: model_class.model_validate_xml(raw, xmlparser=parser), root_type)


def _validated(validate: Any, root_type: str) -> Any:
    """Run a model validation, turning every failure into a schema refusal."""
    try:
        return validate()
    except ValidationError as exc:
        raise refusal_from_validation(exc, f"FHIR {root_type}") from None
    except KeyError as exc:  # fhir.resources' XML reader: an element the model does not define
        name = exc.args[0] if exc.args else None
        shown = f" <{name}>" if isinstance(name, str) and _NAME.match(name) else ""
        raise Refusal(
            RejectReason.SCHEMA_VIOLATION, f"XML element{shown} is not defined by FHIR R4"
        ) from None
    except (ValueError, TypeError, AttributeError, etree.LxmlError) as exc:
        raise Refusal(
            RejectReason.SCHEMA_VIOLATION,
            f"FHIR {root_type} does not follow FHIR R4 ({type(exc).__name__})",
        ) from None


def load_resource(raw: bytes, headers: Mapping[str, str]) -> tuple[Any, Syntax]:
    """The validated FHIR model of the message, and the syntax it came in."""
    syntax = syntax_of(raw, headers)
    return (_load_json(raw) if syntax == "json" else _load_xml(raw)), syntax
