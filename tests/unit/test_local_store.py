"""On-disk partition state: the PartitionStore API, commit-then-write, checkpoint and wipes."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.streams.local_store import LocalPartitionStore, record_crc


def _store(path: Path, cache: int = 100, partition: int = 0) -> LocalPartitionStore[dict[str, int]]:
    return LocalPartitionStore(
        partition,
        path / "s.sqlite",
        "changelog",
        encode=lambda _key, v: json.dumps(v, sort_keys=True).encode(),
        decode=lambda _key, raw: json.loads(raw),
        cache_size=cache,
    )


def _commit(store: LocalPartitionStore[dict[str, int]], offset: int) -> None:
    key, raw = store.take_encoded()[-1]
    store.committed(offset, record_crc(key.encode(), raw))


def test_api_behaves_like_the_memory_store(tmp_path: Path) -> None:
    """get/put/delete/len/items/take_dirty answer as the in-memory store does."""
    store = _store(tmp_path)
    store.put("a", {"n": 1})
    store.put("b", {"n": 2})
    assert store.get("a") == {"n": 1}
    assert len(store) == 2
    assert [k for k, _ in store.take_dirty()] == ["a", "b"]
    store.committed(2, None)
    store.delete("a")
    assert store.get("a") is None
    assert len(store) == 1
    assert dict(store.items()) == {"b": {"n": 2}}
    assert list(store.take_dirty()) == [("a", None)]


def test_committed_changes_survive_reopening(tmp_path: Path) -> None:
    """What was committed is read back from the file, with its checkpoint, no changelog needed."""
    store = _store(tmp_path)
    store.put("a", {"n": 1})
    store.put("b", {"n": 2})
    _commit(store, 7)
    store.delete("b")
    _commit(store, 9)
    store.close()
    again = _store(tmp_path)
    assert again.get("a") == {"n": 1}
    assert again.get("b") is None
    assert len(again) == 1
    assert again.checkpoint.offset == 9


def test_uncommitted_changes_never_reach_the_file(tmp_path: Path) -> None:
    """Taken for the changelog but not committed (kill -9 or abort): the file lags, never leads."""
    store = _store(tmp_path)
    store.put("a", {"n": 1})
    _commit(store, 3)
    store.put("a", {"n": 2})
    store.put("c", {"n": 3})
    store.take_encoded()  # sent in a transaction that never commits
    store.close()
    again = _store(tmp_path)
    assert again.get("a") == {"n": 1}
    assert again.get("c") is None
    assert again.checkpoint.offset == 3


def test_discard_forgets_a_failed_batch(tmp_path: Path) -> None:
    """After a failed transaction the cached, changed values give way to the file's."""
    store = _store(tmp_path)
    store.put("a", {"n": 1})
    _commit(store, 1)
    value = store.get("a")
    assert value is not None
    value["n"] = 99  # the failed batch changed the cached object in place
    store.put("a", value)
    store.take_encoded()
    store.discard()
    assert store.get("a") == {"n": 1}


def test_cache_is_bounded_and_evicted_values_come_back(tmp_path: Path) -> None:
    """Only ``cache_size`` values stay decoded; the others are read from the file or the batch."""
    store = _store(tmp_path, cache=2)
    for n in range(5):
        store.put(f"k{n}", {"n": n})
    assert len(store._cache) == 2
    assert {k: v["n"] for k, v in store.items()} == {f"k{n}": n for n in range(5)}
    store.take_encoded()  # in flight: evicted values are still readable
    assert [store.get(f"k{n}") for n in range(5)] == [{"n": n} for n in range(5)]
    store.committed(5, None)
    assert dict(store.items()) == {f"k{n}": {"n": n} for n in range(5)}


def test_recovery_writes_encoded_records_and_checkpoint(tmp_path: Path) -> None:
    """Changelog records load as bytes (no decoding) and set the checkpoint."""
    store = _store(tmp_path)
    store.load_encoded([("a", b'{"n": 1}'), ("b", b'{"n": 2}'), ("a", None)])
    store.restored(12, 42)
    assert dict(store.items()) == {"b": {"n": 2}}
    assert (store.checkpoint.offset, store.checkpoint.tail) == (12, 42)


def test_a_keys_last_record_in_a_restored_batch_wins(tmp_path: Path) -> None:
    """Rows go in key order, but a put after a tombstone of the same key still stands."""
    store = _store(tmp_path)
    store.load_encoded(
        [("b", b'{"n": 1}'), ("b", None), ("a", b'{"n": 2}'), ("b", b'{"n": 3}'), ("a", None)]
    )
    store.restored(5, None)
    assert dict(store.items()) == {"b": {"n": 3}}
    assert len(store) == 1


def test_a_full_restore_cut_short_is_wiped_on_open(tmp_path: Path) -> None:
    """Rows written by a full restore that never finished are not trusted, whatever they hold."""
    store = _store(tmp_path)
    store.begin_full_restore()
    store.load_encoded([("a", b'{"n": 1}')])
    store.close()  # the process stops before restored()
    again = _store(tmp_path)
    assert len(again) == 0
    assert again.checkpoint.offset == 0


def test_a_finished_full_restore_is_kept(tmp_path: Path) -> None:
    """Once restored, the file is synced and trusted on the next open, with its row count."""
    store = _store(tmp_path)
    store.begin_full_restore()
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "off"
    store.load_encoded([("a", b'{"n": 1}'), ("b", b'{"n": 2}')])
    store.restored(2, 7)
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    again = _store(tmp_path)
    assert dict(again.items()) == {"a": {"n": 1}, "b": {"n": 2}}
    assert (again.checkpoint.offset, again.checkpoint.tail) == (2, 7)


def test_file_for_another_partition_is_wiped(tmp_path: Path) -> None:
    """A file made for another changelog partition is not trusted: it is emptied."""
    store = _store(tmp_path, partition=0)
    store.put("a", {"n": 1})
    _commit(store, 4)
    store.close()
    other = _store(tmp_path, partition=1)
    assert len(other) == 0
    assert other.checkpoint.offset == 0


def test_corrupt_file_is_wiped(tmp_path: Path) -> None:
    """A file that is not SQLite is replaced by an empty store (full restore follows)."""
    (tmp_path / "s.sqlite").write_bytes(b"not a database" * 100)
    store = _store(tmp_path)
    assert len(store) == 0
    assert store.checkpoint.offset == 0


def test_reset_empties_the_store(tmp_path: Path) -> None:
    """``reset`` drops the file's values and checkpoint."""
    store = _store(tmp_path)
    store.put("a", {"n": 1})
    _commit(store, 4)
    store.reset("test")
    assert store.get("a") is None
    assert store.checkpoint.offset == 0


_KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _KEYS),
        st.tuples(st.just("delete"), _KEYS),
        st.tuples(st.just("take"), st.just("")),
        st.tuples(st.just("commit"), st.just("")),
        st.tuples(st.just("discard"), st.just("")),
        st.tuples(st.just("len"), st.just("")),
    ),
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS)
def test_len_is_kept_exact_through_changes_commits_and_discards(
    tmp_path: Path, steps: list[tuple[str, str]]
) -> None:
    """``len`` is a kept count, not a table scan: it must still match the keys held, always."""
    folder = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
    store = _store(folder)
    committed: dict[str, int] = {}
    sent: dict[str, int | None] = {}
    changed: dict[str, int | None] = {}
    for number, (step, key) in enumerate(steps):
        if step == "put":
            store.put(key, {"n": number})
            changed[key] = number
        elif step == "delete":
            store.delete(key)
            changed[key] = None
        elif step == "take":
            store.take_encoded()
            sent.update(changed)
            changed.clear()
        elif step == "commit":
            store.committed(number, None)
            committed.update({k: v for k, v in sent.items() if v is not None})
            for k in [k for k, v in sent.items() if v is None]:
                committed.pop(k, None)
            sent.clear()
        elif step == "discard":
            store.discard()
            sent.clear()
            changed.clear()
        else:
            len(store)  # counted here, then kept
        held = {**committed}
        for k, v in {**sent, **changed}.items():
            if v is None:
                held.pop(k, None)
            else:
                held[k] = v
        assert len(store) == len(held)
    store.close()


def test_len_after_a_commit_does_not_scan_the_table(tmp_path: Path) -> None:
    """The state-keys gauge reads ``len`` after every batch: it must not count a million rows."""
    store = _store(tmp_path)
    for n in range(20):
        store.put(f"k{n}", {"n": n})
    _commit(store, 20)
    assert len(store) == 20
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    for n in range(20, 30):
        store.put(f"k{n}", {"n": n})
        store.delete(f"k{n - 20}")
        _commit(store, n + 1)
        assert len(store) == 20
    assert not [s for s in statements if "count(*) FROM state" in s and "WHERE" not in s]
    store.close()
