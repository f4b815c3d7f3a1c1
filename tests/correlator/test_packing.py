"""Compact state encoding (format 3, and format 2 still read): exact round trips,
determinism, size, packed changelog keys and refusals."""

from __future__ import annotations

import base64
import gc
import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.vocab import Partner, PersonRole, TokenKind
from services.correlator.domain import packing
from services.correlator.domain.alerts import RaisedAlert
from services.correlator.domain.facts import (
    IncidentReport,
    InterventionFact,
    PersonFacet,
    PlaceFacet,
    ReferralFact,
    TenancyFact,
    VulnerabilityFact,
)
from services.correlator.domain.packing import (
    ENUM_TABLES,
    PREFIXES,
    pack,
    pack_key,
    unpack,
    unpack_key,
)
from services.correlator.domain.routing import RecordRoutes, _Routes
from services.correlator.domain.state import PersonState, PlaceState, _Snapshot

_raw = st.binary(min_size=32, max_size=32)
_prefixes = st.sampled_from(["", "name_dob:", "police:incident:incident_ref:", "odd prefix#"])
tokens = st.builds(
    lambda prefix, raw: prefix + base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
    _prefixes,
    _raw,
)
texts = st.one_of(tokens, st.uuids().map(str), st.text(max_size=60))
moments = st.builds(
    lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.sampled_from([0, 0, 60, -330]),
)
dates = st.dates()
places = st.builds(
    PlaceFacet,
    uprn=st.none() | tokens,
    address=st.none() | tokens,
    postcode=st.none() | texts,
)
people = st.builds(
    PersonFacet,
    record_id=texts,
    block=tokens,
    birth_year=st.none() | st.integers(1850, 2100),
    keys=st.lists(st.tuples(st.sampled_from(TokenKind), tokens), min_size=1, max_size=5).map(tuple),
)
common = {"event_id": texts, "record_key": texts, "recorded_at": moments}
facts = st.one_of(
    st.builds(
        IncidentReport,
        **common,
        incident_ref=texts,
        occurred_at=moments,
        reported_at=moments,
        people=st.lists(people, max_size=3).map(tuple),
        location=st.none() | places,
    ),
    st.builds(
        InterventionFact,
        **common,
        issued_on=dates,
        effective_from=dates,
        expires_on=st.none() | dates,
        duration_days=st.none() | st.integers(0, 10_000),
        subject=st.none() | people,
        premises=st.none() | places,
        related_incidents=st.lists(texts, max_size=3).map(tuple),
    ),
    st.builds(VulnerabilityFact, **common, flag_ref=texts, person=people, on=dates),
    st.builds(
        TenancyFact,
        **common,
        event_type=texts,
        effective_on=dates,
        people=st.lists(people, max_size=2).map(tuple),
        property=places,
    ),
    st.builds(ReferralFact, **common, person=people, referred_on=dates, status=texts),
)
raised = st.builds(
    RaisedAlert,
    alert_id=texts,
    ordinal=st.integers(0, 1_000),
    reason_code=texts,
    subject=tokens,
    window_start=moments,
    window_end=moments,
    met_at=moments,
    event_ids=st.lists(texts, max_size=4).map(tuple),
    scope=st.none() | texts,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(facts, max_size=4), st.lists(raised, max_size=2), tokens)
def test_person_state_round_trips_exactly(fact_list, alerts, key) -> None:  # type: ignore[no-untyped-def]
    """Any facts and alerts come back equal, with the same time zones, and encode identically."""
    state = PersonState(
        key=key,
        facts={f.event_id: f for f in fact_list},
        raised={a.alert_id: a for a in alerts},
        unlinked={(key, key + "x")},
    )
    back = PersonState.from_bytes(state.to_bytes(), key)
    assert back == state
    for fact in back.facts.values():
        assert fact.recorded_at.utcoffset() == state.facts[fact.event_id].recorded_at.utcoffset()
    assert back.to_bytes() == state.to_bytes()


@settings(max_examples=100, deadline=None)
@given(st.lists(facts, max_size=3), tokens)
def test_place_state_round_trips_and_reads_json(fact_list, key) -> None:  # type: ignore[no-untyped-def]
    """Place state round-trips in every form: format 3, format 2 and the older JSON."""
    state = PlaceState(key=key, facts={f.event_id: f for f in fact_list})
    assert PlaceState.from_bytes(state.to_bytes(), key) == state
    assert PlaceState.from_bytes(_format_2(state, "place"), key) == state
    assert PlaceState.from_bytes(_format_2(state, "place")) == state
    assert PlaceState.from_bytes(state.to_json().encode()) == state


def _format_2(state: PersonState | PlaceState, kind: str) -> bytes:
    """What the previous version wrote: the key and kind inside the value, no known tokens."""
    unlinked = sorted(getattr(state, "unlinked", ()))
    facts = [state.facts[e] for e in sorted(state.facts)]
    raised_ = [state.raised[a] for a in sorted(state.raised)]
    snapshot = _Snapshot(2, kind, state.key, facts, raised_, unlinked)  # type: ignore[arg-type]
    return b"S\x02" + pack(snapshot, _Snapshot)


@settings(max_examples=100, deadline=None)
@given(st.lists(facts, max_size=3), st.lists(raised, max_size=2), tokens)
def test_format_3_leaves_the_key_out_and_is_smaller(fact_list, alerts, key) -> None:  # type: ignore[no-untyped-def]
    """Format 3 never writes the key's token (the changelog key holds it), so it is smaller
    than format 2, and it reads back only with its key."""
    state = PersonState(
        key=key, facts={f.event_id: f for f in fact_list}, raised={a.alert_id: a for a in alerts}
    )
    raw = state.to_bytes()
    token = base64.urlsafe_b64decode(key[-43:] + "=")
    assert token not in raw
    assert len(raw) < len(_format_2(state, "person"))
    assert PersonState.from_bytes(_format_2(state, "person"), key) == state
    with pytest.raises(ValueError, match="read with its changelog key"):
        PersonState.from_bytes(raw)


@given(st.lists(tokens, max_size=3), st.lists(tokens, max_size=2), texts)
def test_routes_round_trip(person, place, record_key) -> None:  # type: ignore[no-untyped-def]
    """Routes come back from format 3 (with their key), format 2 and JSON."""
    routes = RecordRoutes(record_key, set(person), set(place))
    assert RecordRoutes.from_bytes(routes.to_bytes(), record_key) == routes
    older = b"R\x02" + pack(_Routes(record_key, sorted(person), sorted(place)), _Routes)
    assert RecordRoutes.from_bytes(older) == routes
    assert RecordRoutes.from_bytes(older, record_key) == routes
    assert RecordRoutes.from_bytes(routes.to_json()) == routes
    with pytest.raises(ValueError, match="read with their changelog key"):
        RecordRoutes.from_bytes(routes.to_bytes())


@given(st.one_of(tokens, st.text(max_size=60), st.just("\x00odd"), st.just("~stream-time")))
def test_changelog_keys_round_trip(key) -> None:  # type: ignore[no-untyped-def]
    """Every key comes back from its packed form; older changelogs' text keys read as text."""
    assert unpack_key(pack_key(key)) == key
    if not key.startswith("\x00"):
        assert unpack_key(key.encode()) == key


def test_a_token_key_packs_to_34_bytes() -> None:
    """A key ending in a token with a known prefix is NUL, its prefix code and the token."""
    token = base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()
    for prefix in ("name_dob:", "uprn:", "police:incident:incident_ref:"):
        assert len(pack_key(prefix + token)) == 34
    assert pack_key("~stream-time") == b"~stream-time"
    assert pack_key("odd prefix#" + token) == ("odd prefix#" + token).encode()
    with pytest.raises(ValueError, match="34"):
        unpack_key(b"\x00\x01short")


def test_repeated_tokens_are_stored_once() -> None:
    """A token written a second time costs a back reference (4 bytes), not its 36 bytes; a
    known token (the record's key) is never written at all."""
    token = base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()
    once = pack(["name_dob:" + token], list[str])
    thrice = pack(["name_dob:" + token, "uprn:" + token, token], list[str])
    assert len(thrice) - len(once) == 2 * 4
    assert unpack(thrice, list[str]) == ["name_dob:" + token, "uprn:" + token, token]
    known = ("name_dob:" + token,)
    seeded = pack(["name_dob:" + token, "uprn:" + token, token], list[str], known=known)
    assert len(seeded) == len(thrice) - 32
    assert unpack(seeded, list[str], known=known) == unpack(thrice, list[str])


def test_back_references_beyond_256_tokens_round_trip() -> None:
    """From the 257th distinct token on, a back reference takes the longer form."""
    many = [_token(n) for n in range(300)]
    values = many + many[::-1]
    assert unpack(pack(values, list[str]), list[str]) == values


def test_uuid_and_plain_strings_round_trip() -> None:
    """UUIDs pack to 16 bytes; non-canonical look-alikes and other text stay as written."""
    ident = str(uuid.UUID(int=7))
    values = [ident, ident.upper(), "x" * 43, "probe-1", ""]
    assert unpack(pack(values, list[str]), list[str]) == values


def test_unknown_format_is_refused_with_operator_action() -> None:
    """A record of a newer format is refused, saying what to do, never guessed at."""
    raw = bytearray(PersonState(key="k").to_bytes())
    raw[1] = 9
    with pytest.raises(ValueError, match=r"format 9.*Operator action"):
        PersonState.from_bytes(bytes(raw), "k")
    with pytest.raises(ValueError, match="Operator action"):
        RecordRoutes.from_bytes(b"\x00garbage")


def test_place_record_is_not_read_as_person() -> None:
    """The kind is checked: place bytes are refused as person state."""
    with pytest.raises(ValueError, match="place state"):
        PersonState.from_bytes(PlaceState(key="k").to_bytes(), "k")
    with pytest.raises(ValueError, match="place state"):
        PersonState.from_bytes(_format_2(PlaceState(key="k"), "place"), "k")


def test_format_two_tables_are_pinned() -> None:
    """Enum and prefix tables are part of formats 2 and 3: changing them needs a new format."""
    enums = repr(sorted((enum.__name__, table) for enum, table in ENUM_TABLES.items()))
    assert len(PREFIXES) == 84
    assert hashlib.sha256(repr(PREFIXES).encode()).hexdigest() == (
        "3a5594c4c992d98efa6dd2d7cb39125ae1ba43c238d49dd69d7860b8c1740d68"
    ), "prefix table changed: bump STATE_FORMAT and read format 2 with the old table"
    assert hashlib.sha256(enums.encode()).hexdigest() == (
        "932fe88376f45bf813c3400972625facaaebc61ac3436c02fb522afbd0d42bb3"
    ), "an enum in ENUM_TABLES changed: bump STATE_FORMAT and read format 2 with the old table"


def test_utc_moments_pack_small() -> None:
    """A UTC time on a whole second is 6 bytes; with microseconds, one 9-byte integer."""
    at = datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert unpack(pack(at, datetime), datetime) == at
    assert len(pack(at, datetime)) == 6
    finer = at.replace(microsecond=5)
    assert unpack(pack(finer, datetime), datetime) == finer
    assert len(pack(finer, datetime)) == 9
    for edge in (datetime(1970, 1, 1, tzinfo=UTC), datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC)):
        assert unpack(pack(edge, datetime), datetime) == edge
    assert unpack(b"\xcf\x00\x06\x47\x4f\xd1\x51\x04\x00", datetime) == datetime(
        2026, 1, 1, 9, tzinfo=UTC
    ), "format 2's integer microseconds are still read"


@settings(max_examples=100, deadline=None)
@given(st.lists(facts, min_size=1, max_size=4), st.lists(raised, max_size=2), tokens)
def test_remembered_fact_structures_write_the_same_bytes(fact_list, alerts, key) -> None:  # type: ignore[no-untyped-def]
    """Facts packed before (their structure reused) give the bytes a fresh packing gives, even
    when their tokens are first seen in a different place of the new record."""
    earlier = PersonState(key=key, facts={f.event_id: f for f in fact_list[::-1]})
    earlier.to_bytes()  # remembers each fact's structure
    state = PersonState(
        key=key, facts={f.event_id: f for f in fact_list}, raised={a.alert_id: a for a in alerts}
    )
    remembered = state.to_bytes()
    packing._STRUCTURES.clear()
    packing._split.cache_clear()
    assert remembered == state.to_bytes()
    assert PersonState.from_bytes(remembered, key) == state


def _token(n: int, prefix: str = "name_dob:") -> str:
    digest = hashlib.sha256(str(n).encode()).digest()
    return prefix + base64.urlsafe_b64encode(digest)[:-1].decode()


def _packed_state(first: int) -> tuple[bytes, int]:
    """A person state of fresh facts, packed; and the structure table's size while it lives."""
    facts = [
        VulnerabilityFact(
            event_id=str(uuid.uuid4()),
            partner=Partner.HEALTH,
            record_key=_token(n, "health:flag:"),
            recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
            flag_ref=_token(n, "health:flag_ref:"),
            person=PersonFacet(
                record_id=_token(n, "health:person:"),
                role=PersonRole.VICTIM,
                block=_token(first),
                keys=((TokenKind.NHS_NUMBER, _token(n, "nhs_number:")),),
            ),
            raised=True,
            on=date(2026, 1, 1),
        )
        for n in range(first, first + 3)
    ]
    state = PersonState(key=_token(first), facts={f.event_id: f for f in facts})
    return state.to_bytes(), len(packing._STRUCTURES)


def test_a_remembered_structure_goes_with_its_fact() -> None:
    """The structure table holds only facts still alive: a long-running correlator would
    otherwise keep every fact of every expired state in memory."""
    gc.collect()
    before = len(packing._STRUCTURES)
    written, while_alive = _packed_state(1)
    assert while_alive == before + 6  # three facts, each with its person facet
    gc.collect()
    assert len(packing._STRUCTURES) == before
    assert PersonState.from_bytes(written, _token(1)).to_bytes() == written


def test_the_token_split_cache_is_bounded() -> None:
    """Distinct tokens beyond the bound push the oldest out instead of growing the table."""
    packing._split.cache_clear()
    bound = packing._split.cache_info().maxsize
    assert bound is not None
    for n in range(bound + 100):
        packing._split(_token(n))
    assert packing._split.cache_info().currsize == bound
