"""Messages shaped like each partner's format but wrong in places: canonical or refused, never lost.

Every good example (housing and police JSON, health FHIR JSON and XML) is mutated a few members
at a time; the bad examples are mutated too. Whatever survives validation must map to canonical
events carrying none of the message's names, contacts or identifiers in clear.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.vocab import Partner
from services.normalise.outcome import Accepted
from services.normalise.pipeline import Normaliser
from tests.property.harness import (
    PARTNERS,
    bad_examples,
    check,
    content_type,
    decoded,
    good_examples,
    personal_strings,
    process,
)
from tests.property.strategies import dumps, mutated

NormaliserFor = Callable[[Partner], Normaliser]

JSON_EXAMPLES = [
    (partner, name, raw)
    for partner in PARTNERS
    for name, raw in (*good_examples(partner), *bad_examples(partner))
    if name.endswith(".json") and decoded(raw) is not None
]
XML_EXAMPLES = [
    (name, raw)
    for name, raw in (*good_examples(Partner.HEALTH), *bad_examples(Partner.HEALTH))
    if name.endswith(".xml")
]


@pytest.mark.parametrize(
    ("partner", "name", "raw"), JSON_EXAMPLES, ids=[f"{p}-{n}" for p, n, _ in JSON_EXAMPLES]
)
@given(data=st.data())
def test_mutated_json_is_canonical_or_refused(
    normaliser_for: NormaliserFor, partner: Partner, name: str, raw: bytes, data: st.DataObject
) -> None:
    """A partner JSON example with members replaced, removed, duplicated or wrapped."""
    original = decoded(raw)
    document = data.draw(mutated(original))
    secrets = personal_strings(original) & personal_strings(document)
    check(process(normaliser_for(partner), dumps(document), content_type(name)), secrets)


_VALUE = re.compile(rb'value="([^"]*)"')
ENCODING_NAMES = ["utf-16", "utf-32", "latin-1", "ascii", "ebcdic", "utf-3", ""]


@pytest.mark.parametrize(("name", "raw"), XML_EXAMPLES, ids=[n for n, _ in XML_EXAMPLES])
@given(data=st.data())
def test_mutated_fhir_xml_is_canonical_or_refused(
    normaliser_for: NormaliserFor, name: str, raw: bytes, data: st.DataObject
) -> None:
    """FHIR XML with attribute values replaced, elements cut or repeated, or bytes spliced."""
    doc = raw
    for _ in range(data.draw(st.integers(1, 3))):
        how = data.draw(st.sampled_from(["value", "cut", "repeat", "splice", "declaration"]))
        spans = list(_VALUE.finditer(doc))
        if how == "value" and spans:
            span = data.draw(st.sampled_from(spans))
            text = data.draw(st.text(max_size=30)).encode("utf-8", errors="replace")
            doc = doc[: span.start(1)] + text + doc[span.end(1) :]
        elif how == "declaration":
            encoding = data.draw(st.sampled_from(ENCODING_NAMES) | st.text(max_size=8))
            doc = doc.replace(b"encoding='utf-8'", f"encoding='{encoding}'".encode(), 1)
        elif how in ("cut", "repeat"):
            lines = doc.split(b"\n")
            at = data.draw(st.integers(0, len(lines) - 1))
            lines[at : at + 1] = [] if how == "cut" else [lines[at], lines[at]]
            doc = b"\n".join(lines)
        else:
            at = data.draw(st.integers(0, len(doc)))
            doc = doc[:at] + data.draw(st.binary(max_size=8)) + doc[at:]
    check(process(normaliser_for(Partner.HEALTH), doc, content_type(name)))


@pytest.mark.parametrize("partner", PARTNERS, ids=str)
@given(data=st.data())
def test_generated_names_never_reach_canonical_events(
    normaliser_for: NormaliserFor, partner: Partner, data: st.DataObject
) -> None:
    """Names and contacts drawn at random are sealed or tokenised, never copied in clear."""
    name, raw = data.draw(
        st.sampled_from([e for e in good_examples(partner) if e[0].endswith(".json")])
    )
    original = decoded(raw)
    fresh = st.from_regex(r"\AQz[a-z]{6,12}\Z")
    replaced = _replace_personal(original, lambda _old: data.draw(fresh))
    outcome = check(
        process(normaliser_for(partner), dumps(replaced), content_type(name)),
        personal_strings(replaced) - personal_strings(original),
    )
    assert isinstance(outcome, Accepted)


def _replace_personal(node: object, new: Callable[[str], str]) -> object:
    """``node`` with every given/family name string replaced by ``new(old)``."""
    names = {"given_name", "family_name", "given", "family", "organisation_name"}
    if isinstance(node, dict):
        return {
            k: (_swap(v, new) if k in names else _replace_personal(v, new)) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_replace_personal(item, new) for item in node]
    return node


def _swap(value: object, new: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return new(value)
    if isinstance(value, list):
        return [new(v) if isinstance(v, str) else v for v in value]
    return value
