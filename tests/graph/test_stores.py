"""MemoryStore and SQLiteStore: the same contract, plus SQLite's durability details."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rxchronos.graph import (
    Checkpoint,
    CheckpointStore,
    CheckpointStoreError,
    MemoryStore,
    Runner,
    SQLiteStore,
    StateSerializationError,
)

from .helpers import approval_graph, assert_failed, chain, one_node, record


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        async with SQLiteStore(tmp_path / "runs.db") as sqlite_store:
            yield sqlite_store


def checkpoint(cid: str, session: str, step: int, **state: object) -> Checkpoint:
    return Checkpoint(cid, session, "run", step, state, "next", False, None, 1.5)


async def test_store_contract(store: CheckpointStore) -> None:
    assert isinstance(store, CheckpointStore)
    assert await store.latest("s") is None
    assert await store.list_checkpoints("s") == []
    assert await store.get("c1") is None
    await store.put(checkpoint("c1", "s", 1, x=1))
    await store.put(checkpoint("c2", "other", 1, y=2))
    await store.put(checkpoint("c3", "s", 2, x=2, nested={"a": [1, 2]}))
    assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == ["c1", "c3"]
    latest = await store.latest("s")
    assert latest == checkpoint("c3", "s", 2, x=2, nested={"a": [1, 2]})
    got = await store.get("c2")
    assert got is not None and got.session_id == "other" and got.state == {"y": 2}


async def test_runs_resume_through_either_store(store: CheckpointStore) -> None:
    runner = Runner(approval_graph().compile(), store)
    await runner.run("s", {"note": "ünïcode"})
    result = await runner.resume("s", update={"answer": "yes"})
    assert result.state["published"] is True
    assert result.state["note"] == "ünïcode"


async def test_sqlite_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with SQLiteStore(path) as first:
        await Runner(approval_graph().compile(), first).run("s", {})
    async with SQLiteStore(path) as second:
        latest = await second.latest("s")
        assert latest is not None and latest.paused and latest.next_node == "review"
        with pytest.raises(TypeError):
            latest.state["text"] = "x"  # type: ignore[index]
        result = await Runner(approval_graph().compile(), second).resume("s")
        assert result.state["published"] is False


async def test_sqlite_uses_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with SQLiteStore(path) as store:
        await store.put(checkpoint("c1", "s", 1))
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert raw.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        raw.close()


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version VALUES (99)")
    raw.close()
    async with SQLiteStore(path) as store:
        with pytest.raises(CheckpointStoreError, match="schema version 99"):
            await store.latest("s")


async def test_sqlite_works_off_the_event_loop_thread(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        seen: list[int] = []
        original = store._put

        def spy(cp: Checkpoint) -> None:
            seen.append(threading.get_ident())
            original(cp)

        store._put = spy  # type: ignore[method-assign]
        await store.put(checkpoint("c1", "s", 1))
        assert seen and seen[0] != threading.get_ident()


async def test_unserialisable_state_names_the_key_and_fails_the_run(tmp_path: Path) -> None:
    graph = chain(("ok", lambda s: {"fine": 1}), ("bad", lambda s: {"conn": object()}))
    async with SQLiteStore(tmp_path / "runs.db") as store:
        runner = Runner(graph, store)
        seen = record(runner)
        with pytest.raises(StateSerializationError, match="state key 'conn'") as info:
            await runner.run("s", {})
        assert info.value.key == "conn"
        state = assert_failed(info.value.run_state, seen, "bad")
        assert (state.steps, state.session_id) == (2, "s")
        assert state.error is not None and state.error.startswith("StateSerializationError: ")
        history = await store.list_checkpoints("s")
        assert [c.next_node for c in history] == ["bad"]  # the bad one was never written
        assert state.checkpoint_id == history[-1].checkpoint_id  # the latest good one


async def test_closed_store_says_so(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "runs.db")
    store.close()
    store.close()  # idempotent
    with pytest.raises(CheckpointStoreError, match="is closed"):
        await store.latest("s")


def test_sqlite_rejects_a_bad_synchronous_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "x.db", synchronous="OFF")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("update", "key", "path", "where", "why"),
    [
        (
            {"cfg": {"hosts": ["a", object()]}},
            "cfg",
            ("cfg", "hosts", 1),
            "state['cfg']['hosts'][1]",
            "object is not JSON-serialisable",
        ),
        (
            {"counts": {"ok": {1: "one"}}},
            "counts",
            ("counts", "ok"),
            "state['counts']['ok']",
            "its key 1 is a int: JSON object keys are strings (it would come back as '1')",
        ),
        (
            {"seen": {("a", 1): True}},
            "seen",
            ("seen",),
            "state['seen']",
            "its key ('a', 1) is a tuple",
        ),
        ({"tags": {"x", "y"}}, "tags", ("tags",), "state['tags']", "frozenset is not JSON"),
    ],
)
async def test_unserialisable_nested_values_are_named_by_their_path(
    tmp_path: Path,
    update: dict[str, object],
    key: str,
    path: tuple[object, ...],
    where: str,
    why: str,
) -> None:
    graph = one_node(lambda s: update)
    async with SQLiteStore(tmp_path / "runs.db") as store:
        with pytest.raises(StateSerializationError) as info:
            await Runner(graph, store).run("s", {"fine": [1, {"deep": "ok"}]})
        assert await store.list_checkpoints("s") == []
    assert (info.value.key, info.value.path) == (key, path)
    assert f"state key {key!r} cannot be serialised to JSON: at {where}, {why}" in str(info.value)


async def test_shared_values_nan_and_unicode_round_trip_through_sqlite(tmp_path: Path) -> None:
    shared = [{"x": 1}]
    graph = one_node(lambda s: {"one": shared, "two": shared, "nan": float("nan"), "é": "ü"})
    async with SQLiteStore(tmp_path / "runs.db") as store:
        await Runner(graph, store).run("s", {})
        latest = await store.latest("s")
    assert latest is not None
    assert latest.state["one"] == latest.state["two"] == [{"x": 1}]
    assert latest.state["nan"] != latest.state["nan"]  # NaN, as stored
    assert latest.state["é"] == "ü"


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


async def test_sqlite_errors_after_opening_are_checkpoint_store_errors(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with SQLiteStore(path) as store:
        await store.put(checkpoint("c1", "s", 1))
        with pytest.raises(CheckpointStoreError, match="failed: IntegrityError") as info:
            await store.put(checkpoint("c1", "s", 2))  # the same id twice
        assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
        assert [c.step for c in await store.list_checkpoints("s")] == [1]  # rolled back


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
        assert_failed(info.value.run_state, seen, "a")
        assert "CheckpointStoreError" in (seen[-1].error or "")
    finally:
        await store.aclose()
