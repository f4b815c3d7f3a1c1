"""Compact, deterministic binary encoding of state dataclasses (changelog format 2).

JSON state spent most of its bytes on things that carry no information: field names repeated
in every fact, keyed tokens written as 43 base64 characters plus their kind (``name_dob:…``),
the same token written several times in one record (the state key, a facet's block and its
keys), ISO timestamps and enum names. This encoding is driven by the type annotations:

* a dataclass is a positional MessagePack array of its fields, in declaration order
  (``Literal`` discriminator fields are left out; a union of dataclasses is ``[index, ...]``);
* ``datetime`` is microseconds since the epoch (``[micros, offset seconds]`` off UTC);
  ``date`` is its proleptic ordinal; enums are their index in :data:`ENUM_TABLES`;
* a string ending in a 32-byte keyed token (43 base64url characters) is the raw token with its
  prefix as a code from :data:`PREFIXES`; a token seen earlier in the same record is a back
  reference; a canonical UUID string is its 16 bytes. Everything else stays a string.

Format 3 (the one written now) adds three things, all of them read alongside format 2's:

* the record's changelog key is *known* to both sides (:func:`pack`'s ``known``), so its token
  is never written in the value: its first use there is already a back reference;
* a back reference to one of the first 256 tokens is 4 bytes instead of 6;
* a UTC time on a whole second is 6 bytes (seconds, 32 bits) instead of 9.

:func:`pack_key` writes a changelog key ending in a token as 34 bytes instead of its text.

Nothing is dropped or added: state holds tokens and metadata only, and so does its encoding.
The tables are part of formats 2 and 3: change one (or an enum they list) and the format
changes (``tests/correlator/test_packing.py`` pins them).
"""

from __future__ import annotations

import base64
import dataclasses
import re
import types
import uuid
import weakref
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from functools import cache, lru_cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import msgpack

from contracts.vocab import (
    AlertRule,
    AsbCategory,
    InterventionType,
    Partner,
    PersonRole,
    RiskLevel,
    TokenKind,
    VictimType,
)

__all__ = ["ENUM_TABLES", "PREFIXES", "pack", "pack_key", "unpack", "unpack_key"]

#: Enums as small integers: their members in declaration order, as format 2 fixed them.
ENUM_TABLES: dict[type[Enum], tuple[str, ...]] = {
    enum: tuple(member.value for member in enum)
    for enum in (
        AlertRule,
        AsbCategory,
        InterventionType,
        Partner,
        PersonRole,
        RiskLevel,
        TokenKind,
        VictimType,
    )
}

#: Record kinds of ``fact_from_event`` record keys, with the token kind of their reference.
_RECORD_KINDS = (
    ("incident", TokenKind.INCIDENT_REF),
    ("intervention", TokenKind.INTERVENTION_REF),
    ("flag_raised", TokenKind.FLAG_REF),
    ("flag_ended", TokenKind.FLAG_REF),
    ("referral", TokenKind.REFERRAL_REF),
)
#: Prefixes of token strings (token kinds, partner person ids, record keys), as one-byte codes.
PREFIXES: tuple[str, ...] = (
    "",
    *(f"{kind.value}:" for kind in TokenKind),
    *(f"{p.value}:{k.value}:" for p in Partner for k in TokenKind),
    *(f"{p.value}:{rk}:{k.value}:" for p in Partner for rk, k in _RECORD_KINDS),
)
_PREFIX_CODE = {prefix: code for code, prefix in enumerate(PREFIXES)}
_LITERAL_PREFIX = 255  # the prefix follows as UTF-8 instead of a code

# MessagePack extension types: 1-3 since format 2, 4-5 since format 3 (a format-2 record
# never holds them, so one reader serves both).
_UUID, _TOKEN, _TOKEN_REF, _SHORT_REF, _SECONDS = 1, 2, 3, 4, 5
#: First byte of a packed changelog key (text keys never start with NUL; one that did would
#: be written as this, ``_TEXT_KEY`` and its UTF-8).
_PACKED_KEY, _TEXT_KEY = b"\x00", 0xFF
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_-]{43}\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO, _ZERO = timedelta(microseconds=1), timedelta(0)
_SECONDS_LIMIT = 1 << 32  # 2106-02-07: later whole-second times take the 9-byte form
_NONE = type(None)

assert len(PREFIXES) < _LITERAL_PREFIX, "prefix codes must fit in one byte"


class _Tokens:
    """The tokens of one record in order of first appearance (encoding and decoding alike),
    after those of the strings both sides already know (the record's key)."""

    def __init__(self, known: tuple[str, ...] = ()) -> None:
        self.index: dict[bytes, int] = {}
        self.seen: list[bytes] = []
        for text in known:
            found = _split(text)
            if found is not None:
                self.add(found[0])

    def add(self, raw: bytes) -> int | None:
        """Remember ``raw``; its earlier position if it was already seen."""
        if raw in self.index:
            return self.index[raw]
        self.index[raw] = len(self.seen)
        self.seen.append(raw)
        return None


def _prefix_bytes(prefix: str) -> bytes:
    code = _PREFIX_CODE.get(prefix)
    return bytes([code]) if code is not None else bytes([_LITERAL_PREFIX]) + prefix.encode()


def _prefix_from(payload: bytes, at: int) -> str:
    code = payload[0]
    return payload[at:].decode() if code == _LITERAL_PREFIX else PREFIXES[code]


#: Last characters of a canonical 43-character encoding of 32 bytes (its 2 spare bits zero).
_LAST = frozenset("AEIMQUYcgkosw048")


def _token(text: str) -> tuple[str, bytes] | None:
    """(prefix, raw 32 bytes) when ``text`` ends in a keyed token that round-trips exactly."""
    if len(text) < 43 or text[-1] not in _LAST or not _TOKEN_TAIL.match(text, len(text) - 43):
        return None
    return text[:-43], base64.urlsafe_b64decode(text[-43:] + "=")


@lru_cache(maxsize=16_384)
def _split(text: str) -> tuple[bytes, bytes] | None:
    """(raw token, prefix bytes) of a string ending in a keyed token, else None.

    Remembered for the recently packed strings: every change to a key writes its whole state,
    so the same tokens are split over and over. A least-recently-used bound keeps the strings
    of the states being worked on and lets go of the rest (a long-running correlator meets
    millions of distinct tokens)."""
    token = _token(text)
    return None if token is None else (token[1], _prefix_bytes(token[0]))


class _Token:
    """A keyed token met while building a record's structure: (raw 32 bytes, prefix bytes).

    Whether it is written whole or as a back reference depends on the tokens before it in the
    record, so that choice is left to the packer's ``default`` hook (see :func:`pack`), which
    meets tokens in the order they are written. Everything else in a fact's structure is
    context-free, which is what lets :func:`_cached` reuse it.
    """

    __slots__ = ("prefix", "raw")

    def __init__(self, raw: bytes, prefix: bytes) -> None:
        self.raw, self.prefix = raw, prefix


def _write_token(tokens: _Tokens) -> Callable[[Any], msgpack.ExtType]:
    def default(value: Any) -> msgpack.ExtType:
        if type(value) is not _Token:
            raise TypeError(f"state packing cannot write {type(value).__name__}")
        raw, prefix = value.raw, value.prefix
        earlier = tokens.add(raw)
        if earlier is not None and earlier < 256:
            return msgpack.ExtType(_SHORT_REF, bytes([earlier]) + prefix)
        if earlier is not None and earlier < 65536:
            return msgpack.ExtType(_TOKEN_REF, earlier.to_bytes(2, "big") + prefix)
        return msgpack.ExtType(_TOKEN, raw + prefix)

    return default


def _str(text: str, _tokens: _Tokens | None = None) -> str | msgpack.ExtType | _Token:
    found = _split(text)
    if found is not None:
        return _Token(*found)
    if len(text) == 36 and text[8] == "-":
        try:
            parsed = uuid.UUID(text)
        except ValueError:
            return text
        if str(parsed) == text:
            return msgpack.ExtType(_UUID, parsed.bytes)
    return text


def _ext_hook(tokens: _Tokens) -> Any:
    def hook(code: int, payload: bytes) -> str | int:
        if code == _UUID:
            return str(uuid.UUID(bytes=payload))
        if code == _SECONDS:
            return int.from_bytes(payload, "big") * 1_000_000  # what _from_moment reads
        if code == _TOKEN:
            raw = payload[:32]
            tokens.add(raw)
            prefix = _prefix_from(payload[32:], 1)
        elif code == _SHORT_REF:
            raw = tokens.seen[payload[0]]
            prefix = _prefix_from(payload[1:], 1)
        elif code == _TOKEN_REF:
            raw = tokens.seen[int.from_bytes(payload[:2], "big")]
            prefix = _prefix_from(payload[2:], 1)
        else:
            raise ValueError(f"unknown state extension type {code}")
        return prefix + base64.urlsafe_b64encode(raw)[:-1].decode()

    return hook


@cache
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, type) of the fields a dataclass encodes (``Literal`` defaults, the
    discriminators, left out: the union index says which class it is)."""
    hints = get_type_hints(cls)
    return tuple(
        (f.name, hints[f.name])
        for f in dataclasses.fields(cls)
        if not (get_origin(hints[f.name]) is Literal and f.default is not dataclasses.MISSING)
    )


def _union(tp: Any) -> tuple[Any, ...] | None:
    origin = get_origin(tp)
    return get_args(tp) if origin is Union or origin is types.UnionType else None


def _strip(tp: Any) -> Any:
    """``Annotated[X, ...]`` → ``X``."""
    while hasattr(tp, "__metadata__"):
        tp = get_args(tp)[0]
    return tp


Encoder = Callable[[Any, _Tokens], Any]
Decoder = Callable[[Any], Any]


def _same(value: Any, _tokens: _Tokens | None = None) -> Any:
    return value


def _moment(value: datetime, _tokens: _Tokens) -> int | list[int] | msgpack.ExtType:
    offset = value.utcoffset()
    micros = (value - _EPOCH) // _MICRO
    if offset != _ZERO:
        return [micros, int(offset.total_seconds())]  # type: ignore[union-attr]
    seconds, fraction = divmod(micros, 1_000_000)
    if fraction == 0 and 0 <= seconds < _SECONDS_LIMIT:
        return msgpack.ExtType(_SECONDS, seconds.to_bytes(4, "big"))
    return micros


def _from_moment(data: int | list[int]) -> datetime:
    if isinstance(data, list):
        micros, offset = data
        return (_EPOCH + timedelta(microseconds=micros)).astimezone(
            timezone(timedelta(seconds=offset))
        )
    return _EPOCH + timedelta(microseconds=data)


class _Remembered(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a packed fact that knows its key in :data:`_STRUCTURES`."""

    __slots__ = ("key",)
    key: int


def _forget(ref: _Remembered) -> None:
    entry = _STRUCTURES.get(ref.key)
    if entry is not None and entry[0] is ref:
        del _STRUCTURES[ref.key]


#: id → (weak reference, structure) of the packed immutable facts and alerts still alive. A
#: key's whole state is written on every change, so without this a key with many facts rebuilt
#: every fact's structure each time (most of the correlator's CPU). An entry goes when its fact
#: is collected (before its id can be reused), so the table holds the structures of the facts
#: in memory (the decoded-state cache and the records in flight) and nothing more: a strong
#: reference would keep every fact of every expired state alive until a size bound cleared it.
_STRUCTURES: dict[int, tuple[_Remembered, list[Any]]] = {}


def _cached(build: Encoder) -> Encoder:
    """``build``, remembered per frozen dataclass instance (its structure never changes)."""

    def cached(v: Any, t: _Tokens) -> list[Any]:
        key = id(v)
        hit = _STRUCTURES.get(key)
        if hit is not None and hit[0]() is v:
            return hit[1]
        structure: list[Any] = build(v, t)
        ref = _Remembered(v, _forget)
        ref.key = key
        _STRUCTURES[key] = (ref, structure)
        return structure

    return cached


@cache
def _encoder(tp: Any) -> Encoder:  # noqa: PLR0911 - one case per type, built once
    """A function packing values of ``tp`` (built once per type: the hot path only calls)."""
    tp = _strip(tp)
    members = _union(tp)
    if members is not None:
        options = [m for m in members if m is not _NONE]
        if len(options) == 1:
            inner = _encoder(options[0])
            return lambda v, t: None if v is None else inner(v, t)
        by_class = {cls: (i, _encoder(cls)) for i, cls in enumerate(options)}

        def union(v: Any, t: _Tokens) -> Any:
            if v is None:
                return None
            index, inner = by_class[type(v)]
            return [index, *inner(v, t)]

        return union
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        pairs = [(name, _encoder(ftp)) for name, ftp in _fields(tp)]

        def fields(v: Any, t: _Tokens) -> list[Any]:
            return [enc(getattr(v, name), t) for name, enc in pairs]

        frozen = tp.__dataclass_params__.frozen  # type: ignore[attr-defined]
        return _cached(fields) if frozen else fields
    if isinstance(tp, type) and issubclass(tp, Enum):
        codes = {tp(value): code for code, value in enumerate(ENUM_TABLES[tp])}
        return lambda v, t: None if v is None else codes[v]
    if tp is datetime:
        return _moment
    if tp is date:
        return lambda v, t: v.toordinal()
    if tp is str:
        return _str
    if get_origin(tp) is Literal or tp in (int, bool, float):
        return _same
    origin, args = get_origin(tp), get_args(tp)
    if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
        encs = [_encoder(a) for a in args]
        return lambda v, t: [enc(x, t) for enc, x in zip(encs, v, strict=True)]
    if origin in (tuple, list):
        item = _encoder(args[0])
        return lambda v, t: [item(x, t) for x in v]
    if origin in (set, frozenset):
        item = _encoder(args[0])
        return lambda v, t: [item(x, t) for x in sorted(v)]
    raise TypeError(f"state packing does not know type {tp!r}")


@cache
def _decoder(tp: Any) -> Decoder:  # noqa: PLR0911 - one case per type, built once
    """A function unpacking values of ``tp``."""
    tp = _strip(tp)
    members = _union(tp)
    if members is not None:
        options = [m for m in members if m is not _NONE]
        if len(options) == 1:
            inner = _decoder(options[0])
            return lambda d: None if d is None else inner(d)
        decs = [_decoder(cls) for cls in options]
        return lambda d: None if d is None else decs[d[0]](d[1:])
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        cls: Any = tp
        pairs = [(name, _decoder(ftp)) for name, ftp in _fields(tp)]

        def build(d: list[Any]) -> Any:
            # A record written before trailing fields with defaults were added is shorter: the
            # missing fields take their defaults. A longer one comes from a newer version.
            if len(d) > len(pairs):
                raise ValueError(
                    f"state record has {len(d)} fields for {cls.__name__}, which has "
                    f"{len(pairs)}: written by a newer version"
                )
            return cls(**{name: dec(x) for (name, dec), x in zip(pairs, d, strict=False)})

        return build
    if isinstance(tp, type) and issubclass(tp, Enum):
        members_ = [tp(value) for value in ENUM_TABLES[tp]]
        return lambda d: None if d is None else members_[d]
    if tp is datetime:
        return _from_moment
    if tp is date:
        return date.fromordinal
    if get_origin(tp) is Literal or tp in (int, bool, float, str):
        return _same
    origin, args = get_origin(tp), get_args(tp)
    if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
        decs_ = [_decoder(a) for a in args]
        return lambda d: tuple(dec(x) for dec, x in zip(decs_, d, strict=True))
    if origin in (tuple, list, set, frozenset):
        item = _decoder(args[0])
        return lambda d: origin(item(x) for x in d)
    raise TypeError(f"state packing does not know type {tp!r}")


def pack(value: Any, tp: Any, *, known: tuple[str, ...] = ()) -> bytes:
    """``value`` (an instance of the annotated type ``tp``) as format-3 bytes.

    The tokens of ``known`` (the changelog key the value is stored under) are not written:
    the reader passes the same ``known`` and finds them by back reference.
    """
    structure = _encoder(tp)(value, _Tokens())
    writer = _write_token(_Tokens(known))
    return bytes(msgpack.packb(structure, use_bin_type=True, default=writer))


def unpack(raw: bytes, tp: Any, *, known: tuple[str, ...] = ()) -> Any:
    """The ``tp`` value :func:`pack` encoded as ``raw`` (format 2 records: no ``known``)."""
    hook = _ext_hook(_Tokens(known))
    return _decoder(tp)(msgpack.unpackb(raw, ext_hook=hook, use_list=True))


def pack_key(key: str) -> bytes:
    """A changelog key: NUL, its prefix code and its raw token when it ends in one (34 bytes
    instead of 50-80 characters), else its UTF-8 text (as every key was before format 3)."""
    found = _split(key)
    if found is not None and found[1][0] != _LITERAL_PREFIX:
        return _PACKED_KEY + found[1] + found[0]
    if key.startswith("\x00"):
        return _PACKED_KEY + bytes([_TEXT_KEY]) + key.encode()
    return key.encode()


def unpack_key(raw: bytes) -> str:
    """The key :func:`pack_key` wrote as ``raw`` (or a text key of an older changelog)."""
    if raw[:1] != _PACKED_KEY:
        return raw.decode()
    if raw[1] == _TEXT_KEY:
        return raw[2:].decode()
    if len(raw) != 34:
        raise ValueError(f"packed changelog key of {len(raw)} bytes, expected 34")
    return PREFIXES[raw[1]] + base64.urlsafe_b64encode(raw[2:])[:-1].decode()
