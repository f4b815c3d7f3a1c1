"""Wrong encodings, byte-order marks, duplicates and message-id reuse, for every normaliser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.vocab import Partner, RejectReason
from services.normalise.outcome import Accepted, Duplicate, Rejected
from services.normalise.pipeline import Normaliser
from tests.property.harness import (
    PARTNERS,
    check,
    content_type,
    decoded,
    good_examples,
    personal_strings,
    process,
)
from tests.property.strategies import dumps, wrong_encoding

NormaliserFor = Callable[[Partner], Normaliser]
ALL_GOOD = [(p, n, raw) for p in PARTNERS for n, raw in good_examples(p)]
IDS = [f"{p}-{n}" for p, n, _ in ALL_GOOD]


@pytest.mark.parametrize(("partner", "name", "raw"), ALL_GOOD, ids=IDS)
@given(data=st.data())
def test_wrong_encodings_are_canonical_or_refused(
    normaliser_for: NormaliserFor, partner: Partner, name: str, raw: bytes, data: st.DataObject
) -> None:
    """UTF-16/32, Latin-1, stray BOMs and invalid UTF-8 end canonical or refused with a reason."""
    garbled = data.draw(wrong_encoding(raw))
    document = decoded(raw)
    secrets = personal_strings(document) if document is not None else set()
    check(process(normaliser_for(partner), garbled, content_type(name)), secrets)


@pytest.mark.parametrize(("partner", "name", "raw"), ALL_GOOD, ids=IDS)
def test_utf8_bom_is_tolerated(
    normaliser_for: NormaliserFor, partner: Partner, name: str, raw: bytes
) -> None:
    """A UTF-8 byte-order mark in front of a good example does not change the outcome's kind."""
    plain = process(normaliser_for(partner), raw, content_type(name))
    with_bom = process(normaliser_for(partner), b"\xef\xbb\xbf" + raw, content_type(name))
    check(with_bom)
    assert type(with_bom) is type(plain) or isinstance(with_bom, Rejected)


@pytest.mark.parametrize(("partner", "name", "raw"), ALL_GOOD, ids=IDS)
def test_redelivery_is_duplicate_and_id_reuse_is_refused(
    normaliser_for: NormaliserFor, partner: Partner, name: str, raw: bytes
) -> None:
    """The same bytes again are a duplicate; other bytes under the same id are refused."""
    normaliser = normaliser_for(partner)
    first = check(process(normaliser, raw, content_type(name)))
    assert isinstance(first, Accepted)
    asyncio.run(normaliser._seen.put(first.message_key, first.seen_entry))
    again = check(process(normaliser, raw, content_type(name), offset=1))
    assert isinstance(again, Duplicate)
    assert again.event_ids == tuple(e.id for e in first.events)
    changed = raw.replace(b"\n", b"\n ", 1) if b"\n" in raw else raw + b" "
    reused = check(process(normaliser, changed, content_type(name), offset=2))
    assert isinstance(reused, Rejected)
    assert reused.rejection.reason is RejectReason.MESSAGE_ID_REUSED


@pytest.mark.parametrize("partner", [Partner.HOUSING, Partner.POLICE], ids=str)
@given(data=st.data())
def test_duplicated_json_members_are_canonical_or_refused(
    normaliser_for: NormaliserFor, partner: Partner, data: st.DataObject
) -> None:
    """A JSON object repeating a member (last one wins in Python) is still checked in full."""
    name, raw = data.draw(st.sampled_from(good_examples(partner)))
    document = decoded(raw)
    key = data.draw(st.sampled_from(sorted(document)))
    other = data.draw(st.sampled_from([None, 1, "x", [], {}]))
    text = dumps(document).decode()
    doubled = "{" + f'"{key}": {dumps(other).decode()}, ' + text[1:]
    check(process(normaliser_for(partner), doubled.encode(), content_type(name)))
