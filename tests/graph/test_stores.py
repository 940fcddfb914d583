"""SQLiteStore's own details (the contract every store shares is in test_store_conformance.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from rxchronos import ArgumentTypeError
from rxchronos import InvalidArgumentError
from rxchronos.graph import Checkpoint
from rxchronos.graph import CheckpointStoreError
from rxchronos.graph import Runner
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateSerializationError

from .helpers import assert_failed
from .helpers import one_node
from .helpers import record


def checkpoint(cid: str, session: str, step: int, **state: object) -> Checkpoint:
    return Checkpoint(cid, session, "run", step, state, "next", False, None, 1.5)


async def test_sqlite_uses_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with SQLiteStore(path) as store:
        await store.put(checkpoint("c1", "s", 1))
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert raw.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
        raw.close()


async def test_sqlite_upgrades_a_version_1_database_in_place(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as raw:  # the version 1 schema, with one checkpoint in it
        raw.executescript(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);"
            "INSERT INTO schema_version VALUES (1);"
            "CREATE TABLE checkpoints (seq INTEGER PRIMARY KEY AUTOINCREMENT, checkpoint_id TEXT "
            "NOT NULL UNIQUE, session_id TEXT NOT NULL, run_id TEXT NOT NULL, step INTEGER NOT "
            "NULL, state TEXT NOT NULL, next_node TEXT, paused INTEGER NOT NULL, parent_id TEXT, "
            "created_at REAL NOT NULL);"
            "INSERT INTO checkpoints (checkpoint_id, session_id, run_id, step, state, next_node, "
            "paused, parent_id, created_at) VALUES ('old', 's', 'r', 1, '{\"x\": 1}', 'b', 0, "
            "NULL, 0.0);"
        )
    raw.close()
    async with SQLiteStore(path) as store:
        old = await store.get("old")
        assert old is not None and old.branches is None and dict(old.state) == {"x": 1}
        await store.put(checkpoint("c2", "s", 2))
        assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == ["old", "c2"]
        await store.put_writes("c2", 0, {"y": 2})  # version 3 keeps pending writes
        assert await store.get_writes("c2") == {0: {"y": 2}}
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
    raw.close()


async def test_sqlite_upgrades_a_version_2_database_in_place(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with SQLiteStore(path) as store:
        await store.put(checkpoint("c1", "s", 1))
    with sqlite3.connect(path) as raw:  # back to version 2: no pending_writes table
        raw.executescript("DROP TABLE pending_writes; UPDATE schema_version SET version = 2;")
    raw.close()
    async with SQLiteStore(path) as store:
        assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == ["c1"]
        await store.put_writes("c1", 1, {"z": [1]})
        assert await store.get_writes("c1") == {1: {"z": [1]}}
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
    raw.close()


async def test_closing_twice_is_fine_and_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "runs.db")
    store.close()
    store.close()  # idempotent
    with pytest.raises(CheckpointStoreError, match="is closed"):
        await store.latest("s")


def test_sqlite_rejects_a_bad_synchronous_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "x.db", synchronous="OFF")  # type: ignore[arg-type]


def test_sqlite_refuses_a_path_that_cannot_work_at_once(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a database, just notes")
    cases = {
        tmp_path / "missing" / "runs.db": "folder .* does not exist",
        a_file / "runs.db": "folder .* does not exist",
        tmp_path: "is a directory",
        a_file: "exists and is not an SQLite database",
    }
    for path, message in cases.items():
        with pytest.raises(CheckpointStoreError, match=message):
            SQLiteStore(path)


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        (123, ArgumentTypeError, "path must be a str or os.PathLike .* got int 123"),
        (None, ArgumentTypeError, "path must be a str or os.PathLike .* got NoneType None"),
        ("", InvalidArgumentError, "path is empty: SQLite gives each connection its own"),
        (b"", InvalidArgumentError, "path is empty"),
        ("a\x00b.db", InvalidArgumentError, r"path 'a\\x00b.db' contains a NUL character"),
        (b"a\x00b.db", InvalidArgumentError, "contains a NUL character"),
    ],
)
def test_sqlite_refuses_a_path_that_is_no_file_path_at_once(
    path: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SQLiteStore(path)


async def test_sqlite_in_memory_keeps_its_checkpoints_for_as_long_as_the_store() -> None:
    async with SQLiteStore(":memory:") as store:
        await Runner(one_node(lambda s: {"x": 1}), store).run("s", {})
        assert [dict(c.state) for c in await store.list_checkpoints("s")] == [{"x": 1}]


async def test_a_database_spoilt_after_the_store_was_made_fails_the_run_clearly(
    tmp_path: Path,
) -> None:
    graph = one_node(lambda s: {"x": 1})
    path = tmp_path / "runs.db"
    store = SQLiteStore(path)
    path.write_bytes(b"garbage written after the store was made")
    try:
        runner = Runner(graph, store)
        seen = record(runner)
        with pytest.raises(
            CheckpointStoreError, match=r"cannot use '.*runs\.db' as a checkpoint"
        ) as info:
            await runner.run("s", {})
        # the run's first use of the store is taking the session's lease: it fails before "a"
        state = assert_failed(info.value.run_state, seen, None)  # type: ignore[arg-type]
        assert (state.steps, [e.type for e in seen]) == (0, ["error"])
        assert "CheckpointStoreError" in (seen[-1].error or "")
    finally:
        await store.aclose()


async def test_sqlite_writes_the_pending_writes_of_one_loop_turn_together(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        trips: list[int] = []
        original = store._put_writes

        def spy(rows: list[Any]) -> list[Exception | None]:
            trips.append(len(rows))
            return original(rows)

        store._put_writes = spy  # type: ignore[method-assign]
        outcomes = await asyncio.gather(
            store.put_writes("c1", 0, {"a": 1}),
            store.put_writes("c1", 1, {"bad": object()}),
            store.put_writes("c1", 2, {"c": [3]}),
            return_exceptions=True,
        )
        assert trips == [3]  # one trip to the worker thread, one transaction
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], StateSerializationError) and outcomes[1].key == "bad"
        assert await store.get_writes("c1") == {0: {"a": 1}, 2: {"c": [3]}}
        await store.put_writes("c1", 1, {"b": 2})  # a later turn: a trip of its own
        assert trips == [3, 1]
        assert await store.get_writes("c1") == {0: {"a": 1}, 1: {"b": 2}, 2: {"c": [3]}}
        waiting = asyncio.ensure_future(store.put_writes("c2", 0, {"x": 1}))
        other = asyncio.ensure_future(store.put_writes("c2", 1, {"y": 1}))
        await asyncio.sleep(0)
        waiting.cancel()  # one caller gone: the batch is still written for the other
        await other
        assert await store.get_writes("c2") == {0: {"x": 1}, 1: {"y": 1}}
    with pytest.raises(CheckpointStoreError, match="is closed"):
        await store.put_writes("c3", 0, {})


async def test_a_completed_run_releases_its_lease_with_its_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        released: list[tuple[str, str]] = []
        release = store.release_lease

        async def counted(session_id: str, owner: str) -> None:
            released.append((session_id, owner))
            await release(session_id, owner)

        monkeypatch.setattr(store, "release_lease", counted)
        result = await Runner(one_node(lambda s: {"x": 1}), store=store).run("s", {})
        assert result.state == {"x": 1} and released == []  # no trip of its own
        assert (await store.acquire_lease("s", "next", 30)).owner == "next"


async def test_a_run_whose_last_checkpoint_fails_still_releases_its_lease(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        runner = Runner(one_node(lambda s: {"x": object()}), store=store)
        with pytest.raises(StateSerializationError):
            await runner.run("s", {})
        assert (await store.acquire_lease("s", "next", 30)).owner == "next"
