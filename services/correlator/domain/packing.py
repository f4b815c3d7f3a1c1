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

Nothing is dropped or added: state holds tokens and metadata only, and so does its encoding.
The tables are part of format 2: change one (or an enum they list) and the format changes
(``tests/correlator/test_packing.py`` pins them).
"""

from __future__ import annotations

import base64
import dataclasses
import re
import types
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from functools import cache
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

__all__ = ["ENUM_TABLES", "PREFIXES", "pack", "unpack"]

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

_UUID, _TOKEN, _TOKEN_REF = 1, 2, 3  # MessagePack extension types
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_-]{43}\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NONE = type(None)

assert len(PREFIXES) < _LITERAL_PREFIX, "prefix codes must fit in one byte"


class _Tokens:
    """The tokens of one record in order of first appearance (encoding and decoding alike)."""

    def __init__(self) -> None:
        self.index: dict[bytes, int] = {}
        self.seen: list[bytes] = []

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


def _token(text: str) -> tuple[str, bytes] | None:
    """(prefix, raw 32 bytes) when ``text`` ends in a keyed token that round-trips exactly."""
    if len(text) < 43 or not _TOKEN_TAIL.match(text, len(text) - 43):
        return None
    tail = text[-43:]
    raw = base64.urlsafe_b64decode(tail + "=")
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != tail:
        return None
    return text[:-43], raw


def _str(text: str, tokens: _Tokens) -> str | msgpack.ExtType:
    found = _token(text)
    if found is not None:
        prefix, raw = found
        earlier = tokens.add(raw)
        if earlier is None:
            return msgpack.ExtType(_TOKEN, raw + _prefix_bytes(prefix))
        if earlier < 65536:
            ref = earlier.to_bytes(2, "big")
            return msgpack.ExtType(_TOKEN_REF, ref + _prefix_bytes(prefix))
        return msgpack.ExtType(_TOKEN, raw + _prefix_bytes(prefix))
    if len(text) == 36:
        try:
            parsed = uuid.UUID(text)
        except ValueError:
            return text
        if str(parsed) == text:
            return msgpack.ExtType(_UUID, parsed.bytes)
    return text


def _ext_hook(tokens: _Tokens) -> Any:
    def hook(code: int, payload: bytes) -> str:
        if code == _UUID:
            return str(uuid.UUID(bytes=payload))
        if code == _TOKEN:
            raw = payload[:32]
            tokens.add(raw)
            prefix = _prefix_from(payload[32:], 1)
        elif code == _TOKEN_REF:
            raw = tokens.seen[int.from_bytes(payload[:2], "big")]
            prefix = _prefix_from(payload[2:], 1)
        else:
            raise ValueError(f"unknown state extension type {code}")
        return prefix + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

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


def _plain(value: Any, tp: Any, tokens: _Tokens) -> Any:  # noqa: PLR0911 - one case per type
    tp = _strip(tp)
    if value is None:
        return None
    members = _union(tp)
    if members is not None:
        options = [m for m in members if m is not _NONE]
        if len(options) == 1:
            return _plain(value, options[0], tokens)
        index = next(i for i, m in enumerate(options) if isinstance(value, m))
        return [index, *_plain(value, options[index], tokens)]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return [_plain(getattr(value, name), ftp, tokens) for name, ftp in _fields(tp)]
    if isinstance(tp, type) and issubclass(tp, Enum):
        return ENUM_TABLES[tp].index(value.value)
    if tp is datetime:
        offset = value.utcoffset()
        micros = (value - _EPOCH) // timedelta(microseconds=1)
        return micros if offset == timedelta(0) else [micros, int(offset.total_seconds())]
    if tp is date:
        return value.toordinal()
    if tp is str:
        return _str(value, tokens)
    if get_origin(tp) is Literal:
        return value
    origin, args = get_origin(tp), get_args(tp)
    if origin in (tuple, list, set, frozenset):
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            return [_plain(v, a, tokens) for v, a in zip(value, args, strict=True)]
        items = sorted(value) if origin in (set, frozenset) else value
        return [_plain(v, args[0], tokens) for v in items]
    if tp in (int, bool, float):
        return value
    raise TypeError(f"state packing does not know type {tp!r}")


def _typed(data: Any, tp: Any) -> Any:  # noqa: PLR0911 - one case per type
    tp = _strip(tp)
    if data is None:
        return None
    members = _union(tp)
    if members is not None:
        options = [m for m in members if m is not _NONE]
        if len(options) == 1:
            return _typed(data, options[0])
        return _typed(data[1:], options[data[0]])
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        fields = _fields(tp)
        return tp(**{name: _typed(v, ftp) for (name, ftp), v in zip(fields, data, strict=True)})
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(ENUM_TABLES[tp][data])
    if tp is datetime:
        if isinstance(data, list):
            micros, offset = data
            zone = timezone(timedelta(seconds=offset))
            return (_EPOCH + timedelta(microseconds=micros)).astimezone(zone)
        return _EPOCH + timedelta(microseconds=data)
    if tp is date:
        return date.fromordinal(data)
    origin, args = get_origin(tp), get_args(tp)
    if origin in (tuple, list, set, frozenset):
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            return tuple(_typed(v, a) for v, a in zip(data, args, strict=True))
        return origin(_typed(v, args[0]) for v in data)
    return data


def pack(value: Any, tp: Any) -> bytes:
    """``value`` (an instance of the annotated type ``tp``) as format-2 bytes."""
    return bytes(msgpack.packb(_plain(value, tp, _Tokens()), use_bin_type=True))


def unpack(raw: bytes, tp: Any) -> Any:
    """The ``tp`` value :func:`pack` encoded as ``raw``."""
    return _typed(msgpack.unpackb(raw, ext_hook=_ext_hook(_Tokens()), use_list=True), tp)
