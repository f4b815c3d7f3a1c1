"""Deferred retention keys: made in memory, written together before anything they sealed is
published (a normaliser's one fsync per Kafka commit instead of one per new subject)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from contracts.protected import SealedField
from contracts.vocab import Audience
from services.protection.keys import KeyNotFoundError, LocalKeyStore, persist_new_keys_off_loop
from services.protection.retention import RetentionScope, subject_scope
from services.protection.sealing import FieldSealer, Opener, ShreddedError

SUBJECT_A = "nhs_number:" + "A" * 43
SUBJECT_B = "nhs_number:" + "B" * 43


def _seal(keys: LocalKeyStore, event_id: str, subject: str) -> SealedField:
    scope = RetentionScope(period="2026-03", subject=subject)
    return FieldSealer(keys, event_id, scope).seal(
        "narrative", "narrative", "noise", [Audience.POLICE]
    )


def _rows(directory: Path) -> int:
    with sqlite3.connect(directory / "retention" / "retention.sqlite") as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM retention_keys").fetchone()
    return int(count)


def test_new_keys_are_written_only_by_persist_all_in_one_go(tmp_path: Path) -> None:
    keys = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    a, b = _seal(keys, "e1", SUBJECT_A), _seal(keys, "e2", SUBJECT_B)
    assert _rows(tmp_path / "keys") == 0
    reader = LocalKeyStore(tmp_path / "keys")  # another service on the machine
    with pytest.raises(KeyNotFoundError):
        reader.retention_key(a.retention_kids[1])
    assert Opener(keys, Audience.POLICE).open(a, "e1") == "noise"  # its maker can open it

    assert keys.persist_new_keys() == 3  # the month's key and two subjects'
    assert keys.persist_new_keys() == 0
    assert _rows(tmp_path / "keys") == 3
    assert Opener(reader, Audience.POLICE).open(a, "e1") == "noise"
    assert Opener(reader, Audience.POLICE).open(b, "e2") == "noise"
    assert _seal(keys, "e3", SUBJECT_A).retention_kids == a.retention_kids  # no new key


def test_an_existing_live_key_is_used_not_a_new_one(tmp_path: Path) -> None:
    written = _seal(LocalKeyStore(tmp_path / "keys"), "e1", SUBJECT_A)
    deferred = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    assert _seal(deferred, "e2", SUBJECT_A).retention_kids == written.retention_kids
    assert deferred.persist_new_keys() == 0


def test_two_services_making_a_key_for_the_same_new_subject_both_keep_theirs(
    tmp_path: Path,
) -> None:
    """No run fails over the race: both keys are live, and erasure destroys both."""
    one = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    two = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    a1, a2 = _seal(one, "e1", SUBJECT_A), _seal(two, "e2", SUBJECT_A)
    assert a1.retention_kids[1] != a2.retention_kids[1]
    one.persist_new_keys()
    two.persist_new_keys()
    reader = LocalKeyStore(tmp_path / "keys")
    opener = Opener(reader, Audience.POLICE)
    assert (opener.open(a1, "e1"), opener.open(a2, "e2")) == ("noise", "noise")

    result = reader.retention.shred_subject(SUBJECT_A)
    assert set(result.destroyed) == {a1.retention_kids[1], a2.retention_kids[1]}
    for field, event_id in ((a1, "e1"), (a2, "e2")):
        with pytest.raises(ShreddedError):
            opener.open(field, event_id)


def test_a_shred_in_the_same_service_destroys_an_unwritten_key_too(tmp_path: Path) -> None:
    keys = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    before = _seal(keys, "e1", SUBJECT_A)
    keys.retention.shred(subject_scope(SUBJECT_A))
    keys.persist_new_keys()  # writes the month's key, not the destroyed subject key
    with pytest.raises(ShreddedError):
        Opener(LocalKeyStore(tmp_path / "keys"), Audience.POLICE).open(before, "e1")
    after = _seal(keys, "e2", SUBJECT_A)  # new processing gets a new key
    assert after.retention_kids[1] != before.retention_kids[1]
    keys.persist_new_keys()
    assert Opener(LocalKeyStore(tmp_path / "keys"), Audience.POLICE).open(after, "e2") == "noise"


def test_a_failed_persist_keeps_the_keys_for_the_next_one(tmp_path: Path) -> None:
    keys = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    field = _seal(keys, "e1", SUBJECT_A)
    store = keys.retention
    real = store._open()

    class DiskFull:
        def executemany(self, *_args: Any) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        def rollback(self) -> None:
            real.rollback()

    store._writer = DiskFull()  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        keys.persist_new_keys()
    store._writer = real
    assert keys.persist_new_keys() == 2
    assert Opener(LocalKeyStore(tmp_path / "keys"), Audience.POLICE).open(field, "e1") == "noise"


class _HeldWrite:
    """The persisting connection, stopped inside its write until ``release`` is set."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real, self.writing, self.release = real, threading.Event(), threading.Event()

    def executemany(self, *args: Any) -> sqlite3.Cursor:
        self.writing.set()
        assert self.release.wait(10)
        return self.real.executemany(*args)

    def commit(self) -> None:
        self.real.commit()

    def rollback(self) -> None:
        self.real.rollback()


@contextmanager
def _persisting(keys: LocalKeyStore) -> Iterator[_HeldWrite]:
    """``persist_new_keys`` running in another thread, held mid-write for the block."""
    held = _HeldWrite(keys.retention._open())
    keys.retention._writer = held  # type: ignore[assignment]
    writer = threading.Thread(target=keys.persist_new_keys)
    writer.start()
    assert held.writing.wait(10)
    try:
        yield held
    finally:
        held.release.set()
        writer.join(10)


def test_lookups_go_on_while_keys_are_written(tmp_path: Path) -> None:
    """A service writes its new keys in a worker thread (the correlator just before each
    commit): its event loop must be able to seal meanwhile, with old and new subjects alike."""
    keys = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    first = _seal(keys, "e1", SUBJECT_A)
    with _persisting(keys):
        again = _seal(keys, "e2", SUBJECT_A)  # a key being written
        other = _seal(keys, "e3", SUBJECT_B)  # a key made after the write began
    assert again.retention_kids == first.retention_kids
    assert _rows(tmp_path / "keys") == 2  # the month's key and A's; B's waits for the next
    assert keys.persist_new_keys() == 1
    reader = Opener(LocalKeyStore(tmp_path / "keys"), Audience.POLICE)
    assert [reader.open(f, e) for f, e in ((first, "e1"), (other, "e3"))] == ["noise"] * 2


def test_a_shred_waits_for_a_write_under_way_and_destroys_what_it_wrote(tmp_path: Path) -> None:
    """Erasure must not lose a race with the write: a key copied for writing before the shred
    was asked for is destroyed once it is on disk, not left live after the shred."""
    keys = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    field = _seal(keys, "e1", SUBJECT_A)
    with _persisting(keys) as held:
        shredding = threading.Thread(target=keys.retention.shred, args=(subject_scope(SUBJECT_A),))
        shredding.start()
        shredding.join(0.2)
        assert shredding.is_alive()  # waits for the write
        held.release.set()
        shredding.join(10)
    with pytest.raises(ShreddedError):
        Opener(LocalKeyStore(tmp_path / "keys"), Audience.POLICE).open(field, "e1")


def test_keys_are_written_off_the_event_loop_and_only_when_some_are_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both the normalisers and the correlator call this before every commit: most commits
    made no new key, and those must not pay for a worker thread."""
    keys = LocalKeyStore(tmp_path / "keys", defer_new_retention_keys=True)
    _seal(keys, "e1", SUBJECT_A)
    assert keys.has_new_keys()
    assert asyncio.run(persist_new_keys_off_loop(keys)) == 2
    assert not keys.has_new_keys()
    assert _rows(tmp_path / "keys") == 2

    def no_thread(*_args: Any) -> None:
        raise AssertionError("a worker thread for nothing")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    assert asyncio.run(persist_new_keys_off_loop(keys)) == 0
