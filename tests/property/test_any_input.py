"""Any bytes, any headers, any nesting or size: every normaliser answers without an exception."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.vocab import Partner, RejectReason
from services.normalise.outcome import Rejected
from services.normalise.pipeline import Normaliser
from tests.property.harness import MAX_BYTES, PARTNERS, check, good_examples, process
from tests.property.strategies import deep_json, deep_xml

NormaliserFor = Callable[[Partner], Normaliser]
CONTENT_TYPES = st.sampled_from(
    [
        "",
        "application/json",
        "application/fhir+json",
        "application/fhir+xml",
        "application/xml",
        "application/octet-stream",
        "text/plain",
        "application/json; charset=utf-16",
        "\x00\xff",
    ]
)


@pytest.mark.parametrize("partner", PARTNERS, ids=str)
@given(raw=st.binary(max_size=2048), content_type=CONTENT_TYPES)
def test_arbitrary_bytes_are_refused_with_a_reason(
    normaliser_for: NormaliserFor, partner: Partner, raw: bytes, content_type: str
) -> None:
    """Random bytes with any content type end as a reasoned refusal, never an exception."""
    headers = {"content-type": content_type} if content_type else {}
    check(process(normaliser_for(partner), raw, headers))


@pytest.mark.parametrize("partner", PARTNERS, ids=str)
@given(prefix=st.sampled_from([b"{", b"[", b"<", b'{"schema":', b"<?xml version='1.0'?>"]))
def test_truncated_documents_are_not_parseable(
    normaliser_for: NormaliserFor, partner: Partner, prefix: bytes
) -> None:
    """A document cut short is refused, whatever its first bytes promised."""
    outcome = check(process(normaliser_for(partner), prefix))
    assert isinstance(outcome, Rejected)


@pytest.mark.parametrize("partner", PARTNERS, ids=str)
@given(depth=st.integers(1, 20_000), kind=st.sampled_from(["list", "dict", "xml"]))
def test_deep_nesting_is_refused_not_crashed(
    normaliser_for: NormaliserFor, partner: Partner, depth: int, kind: str
) -> None:
    """JSON or XML nested up to 20,000 levels is refused (no RecursionError escapes)."""
    raw = deep_xml(depth) if kind == "xml" else deep_json(depth, kind)
    outcome = check(process(normaliser_for(partner), raw))
    assert isinstance(outcome, Rejected)


@pytest.mark.parametrize("partner", PARTNERS, ids=str)
@given(extra=st.integers(1, 4096), filler=st.sampled_from([b" ", b"\n", b"x", b"\x00"]))
def test_oversized_messages_are_refused_as_too_large(
    normaliser_for: NormaliserFor, partner: Partner, extra: int, filler: bytes
) -> None:
    """A valid example padded past the limit is refused as payload_too_large, before parsing."""
    _name, raw = good_examples(partner)[0]
    padded = raw + filler * (MAX_BYTES - len(raw) + extra)
    outcome = check(process(normaliser_for(partner), padded))
    assert isinstance(outcome, Rejected)
    assert outcome.rejection.reason is RejectReason.PAYLOAD_TOO_LARGE


@pytest.mark.parametrize("partner", PARTNERS, ids=str)
@given(headers=st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=5))
def test_arbitrary_headers_never_break_a_good_message(
    normaliser_for: NormaliserFor, partner: Partner, headers: dict[str, str]
) -> None:
    """Odd header names and values lead to acceptance or a reasoned refusal."""
    _name, raw = good_examples(partner)[0]
    check(process(normaliser_for(partner), raw, headers))
