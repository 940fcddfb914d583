"""SQLiteStore's small writes on the event loop's own thread: which thread a write runs on, the
fall-back to the worker thread when the database is locked, the WAL checkpoints that the worker
runs for them, errors on that path, and a lease raced for by two stores on one file.

Every store here is a real SQLiteStore on a real file; ``Traced`` only records the thread (and the
outcome) of each write transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from rxchronos.graph import Checkpoint
from rxchronos.graph import CheckpointStoreError
from rxchronos.graph import Runner
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateSerializationError

from .helpers import one_node

LOOP = threading.current_thread().name
"""The test's thread (each test's event loop runs on it)."""


def checkpoint(cid: str, session: str, step: int, **state: object) -> Checkpoint:
    return Checkpoint(cid, session, "run", step, state, "next", False, None, 1.5)


class Traced(SQLiteStore):
    """Records ``(transaction, thread name, outcome)`` for every write transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trace: list[tuple[str, str, str]] = []

    def _traced(self, what: str, run: Callable[[], Any]) -> Any:
        thread = threading.current_thread().name
        try:
            result = run()
        except Exception as exc:
            self.trace.append((what, thread, type(exc).__name__))
            raise
        self.trace.append((what, thread, "committed"))
        return result

    def _insert(self, connection: sqlite3.Connection, row: Any, releasing: str | None) -> None:
        self._traced("insert", lambda: super(Traced, self)._insert(connection, row, releasing))

    def _change(self, connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Any:
        return self._traced("change", lambda: super(Traced, self)._change(connection, sql, params))

    def _acquire_lease(self, connection: sqlite3.Connection, *args: Any) -> Any:
        return self._traced(
            "acquire", lambda: super(Traced, self)._acquire_lease(connection, *args)
        )

    def threads(self) -> list[str]:
        return [thread for _, thread, _ in self.trace]


async def ready(store: SQLiteStore) -> None:
    """The store's first call: the worker thread sets the database up (writes on the loop's
    thread can start only after that)."""
    assert await store.latest("nobody") is None


def every_write(store: SQLiteStore) -> list[Callable[[], Awaitable[object]]]:
    """One call of each write that may run on the loop's thread."""
    return [
        lambda: store.put(checkpoint("c1", "s", 1, x=1)),
        lambda: store.acquire_lease("s", "me", 30.0),
        lambda: store.renew_lease("s", "me", 30.0),
        lambda: store.request_cancel("s"),
        lambda: store.release_lease("s", "me"),
        lambda: store.acquire_lease("s", "me", 30.0),
        lambda: store.put_and_release(checkpoint("c2", "s", 2, x=2), "me"),
    ]


async def test_a_small_checkpoint_is_written_on_the_loop_and_a_large_one_on_the_worker(
    tmp_path: Path,
) -> None:
    async with Traced(tmp_path / "runs.db", inline_limit=100) as store:
        await store.put(checkpoint("first", "s", 0))  # sets the database up: on the worker
        await store.put(checkpoint("small", "s", 1, x="é" * 46))  # {"x":"é…"}: 100 bytes
        await store.put(checkpoint("large", "s", 2, x="é" * 47))  # 102 bytes in 55 characters
        worker = store.threads()[0]
        assert worker.startswith("rxchronos-sqlite") and store.threads() == [worker, LOOP, worker]
        assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == [
            "first",
            "small",
            "large",
        ]
        assert (await store.get("large")).state == {"x": "é" * 47}  # type: ignore[union-attr]


@pytest.mark.parametrize("inline_limit", [100, 0])
async def test_a_checkpoint_deletes_its_parents_pending_writes_on_the_loop_and_on_the_worker(
    tmp_path: Path, inline_limit: int
) -> None:
    path = tmp_path / "runs.db"

    def left() -> list[tuple[str, int]]:
        with closing(sqlite3.connect(path)) as raw:
            query = "SELECT checkpoint_id, task FROM pending_writes ORDER BY 1, 2"
            return raw.execute(query).fetchall()

    def after(parent: str | None, number: int, **state: object) -> Checkpoint:
        return Checkpoint(f"c{number}", "s", "run", number, state, "n", False, parent, 1.5)

    async with Traced(path, inline_limit=inline_limit) as store:
        await ready(store)
        chain: list[Callable[[], Awaitable[None]]] = [
            lambda: store.put(after(None, 1)),
            lambda: store.put(after("c1", 2, x=1)),
            lambda: store.put(after("c2", 3, x="y" * 200)),  # over the limit of 100 bytes
            lambda: store.put_and_release(after("c3", 4), "me"),
        ]
        for number, put in enumerate(chain, start=1):
            await put()
            assert left() == []  # the step after the parent ended: its writes went with it
            await store.put_writes(f"c{number}", 0, {"x": number})
            await store.put_writes(f"c{number}", 1, {"x": number})
            assert left() == [(f"c{number}", 0), (f"c{number}", 1)]
        worker = store.threads()[2]
        assert worker.startswith("rxchronos-sqlite")
        expected = [LOOP, LOOP, worker, LOOP] if inline_limit else [worker] * 4
        assert store.threads() == expected


async def test_every_small_write_runs_on_the_loop_once_the_database_is_set_up(
    tmp_path: Path,
) -> None:
    async with Traced(tmp_path / "runs.db") as store:
        await ready(store)
        outcomes = [await write() for write in every_write(store)]
        assert store.threads() == [LOOP] * 7
        lease, renewal, flagged = outcomes[1:4]
        assert (lease.owner, renewal, flagged) == ("me", "held", True)  # type: ignore[attr-defined]
        assert (await store.acquire_lease("s", "next", 30.0)).owner == "next"  # released


@pytest.mark.parametrize(
    "options",
    [{"inline_limit": 0}, {"synchronous": "FULL"}, {"memory": True}],
    ids=["inline_limit=0", "synchronous=FULL", "memory"],
)
async def test_no_write_runs_on_the_loop_when_the_inline_path_is_off(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    path = ":memory:" if options.pop("memory", False) else tmp_path / "runs.db"
    async with Traced(path, **options) as store:
        await ready(store)
        for write in every_write(store):
            await write()
        assert len(store.trace) == 7 and LOOP not in store.threads()
        assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == ["c1", "c2"]


@pytest.mark.parametrize(
    "write",
    ["put", "put_and_release", "acquire_lease", "renew_lease", "release_lease", "request_cancel"],
)
async def test_a_locked_database_sends_the_write_to_the_worker_and_the_loop_runs_on(
    tmp_path: Path, write: str
) -> None:
    path = tmp_path / "runs.db"
    async with Traced(path) as store:
        await store.acquire_lease("s", "me", 30.0)  # on the worker: it sets the database up
        store.trace.clear()
        loop = asyncio.get_running_loop()
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
            released = loop.create_future()
            ticks = 0

            def release() -> None:
                other.execute("COMMIT")
                released.set_result(ticks)

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.005)

            ticking = asyncio.ensure_future(ticker())
            loop.call_later(0.1, release)  # a loop timer: fires only if the loop is not blocked
            calls = {
                "put": lambda: store.put(checkpoint("c1", "s", 1)),
                "put_and_release": lambda: store.put_and_release(checkpoint("c1", "s", 1), "me"),
                "acquire_lease": lambda: store.acquire_lease("s", "me", 30.0),
                "renew_lease": lambda: store.renew_lease("s", "me", 30.0),
                "release_lease": lambda: store.release_lease("s", "me"),
                "request_cancel": lambda: store.request_cancel("s"),
            }
            outcome = await calls[write]()
            ticking.cancel()
            assert released.done() and released.result() >= 2  # released while the write waited
        worker = store.threads()[1]
        assert store.trace == [
            (store.trace[0][0], LOOP, "OperationalError"),  # rolled back at once: busy
            (store.trace[0][0], worker, "committed"),
        ]
        assert worker.startswith("rxchronos-sqlite")
        if write == "renew_lease":
            assert outcome == "held"
        if write == "request_cancel":
            assert outcome is True
        if write.startswith("put"):
            assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == ["c1"]
        store.trace.clear()
        await store.put(checkpoint("after", "s", 9))  # the lock is free: back on the loop
        assert store.threads() == [LOOP]


async def test_the_worker_checkpoints_the_wal_so_it_does_not_grow_without_bound(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.db"
    wal = tmp_path / "runs.db-wal"
    async with Traced(path) as store:
        await ready(store)
        for i in range(100):
            await store.put(checkpoint(f"c{i}", "s", i, x=i))
        hundred = wal.stat().st_size  # 100 commits, none checkpointed yet
        for i in range(100, 2000):
            await store.put(checkpoint(f"c{i}", "s", i, x=i))
            if i % 100 == 99:
                await store.latest("s")  # a read: the worker has run what was queued before it
        committed = [thread for _, thread, outcome in store.trace if outcome == "committed"]
        assert len(committed) == 2000 and committed.count(LOOP) > 1000
        # the rest found the database busy (a checkpoint starting the WAL over holds the write
        # lock for a moment) and were written by the worker
        assert {outcome for _, _, outcome in store.trace} <= {"committed", "OperationalError"}
        assert len(await store.list_checkpoints("s")) == 2000
        # without checkpoints the WAL would hold 2000 commits (20 x the first 100); after one,
        # the next commit starts the WAL over, so it holds at most a few hundred
        assert wal.stat().st_size < 6 * hundred
    assert not wal.exists()  # every connection closed: the last one removed the WAL


class FailingCheckpoints(SQLiteStore):
    """A WAL checkpoint that fails as SQLite does on a bad disk."""

    def _checkpoint_wal(self) -> None:
        raise sqlite3.OperationalError("disk I/O error")


async def worker_idle(store: SQLiteStore) -> None:
    """Wait until the worker thread has run everything queued (the WAL checkpoint included)."""
    await asyncio.get_running_loop().run_in_executor(store._executor, lambda: None)


async def test_a_failed_wal_checkpoint_is_raised_by_the_next_store_call(tmp_path: Path) -> None:
    async with FailingCheckpoints(tmp_path / "runs.db") as store:
        await ready(store)
        for i in range(256):  # the 256th write on the loop queues a checkpoint
            await store.put(checkpoint(f"c{i}", "s", i))
        await worker_idle(store)
        with pytest.raises(CheckpointStoreError, match=r"runs\.db.*WAL checkpoint failed") as info:
            await store.put(checkpoint("refused", "s", 256))
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        assert "disk I/O error" in str(info.value)
        assert await store.get("refused") is None  # that call wrote nothing
        assert len(await store.list_checkpoints("s")) == 256  # raised once, then on as before


async def test_a_failed_wal_checkpoint_after_the_last_call_is_raised_by_close(
    tmp_path: Path,
) -> None:
    store = FailingCheckpoints(tmp_path / "runs.db")
    await ready(store)
    for i in range(256):
        await store.put(checkpoint(f"c{i}", "s", i))
    with pytest.raises(CheckpointStoreError, match="WAL checkpoint failed"):
        await store.aclose()
    with pytest.raises(CheckpointStoreError, match="is closed"):
        await store.put(checkpoint("late", "s", 0))
    store.close()  # closed already: nothing more to say


async def test_errors_on_the_loop_path_keep_their_contract(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with Traced(path) as store:
        await ready(store)
        await store.put(checkpoint("c1", "s", 1))
        with pytest.raises(CheckpointStoreError, match=r"runs\.db.*UNIQUE constraint") as info:
            await store.put(checkpoint("c1", "s", 2))  # the same id again
        assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
        with pytest.raises(StateSerializationError) as bad:
            await store.put(checkpoint("c2", "s", 2, cfg={"hosts": [1, object()]}))
        assert bad.value.key == "cfg"
        assert store.trace == [("insert", LOOP, "committed"), ("insert", LOOP, "IntegrityError")]
        assert [c.step for c in await store.list_checkpoints("s")] == [1]  # nothing else written
    with pytest.raises(CheckpointStoreError, match="is closed"):
        await store.put(checkpoint("c3", "s", 3))
    with pytest.raises(CheckpointStoreError, match="is closed"):
        await store.acquire_lease("s", "me", 30.0)


def test_two_stores_racing_for_each_lease_give_it_to_exactly_one(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    start = threading.Barrier(2, timeout=60)
    seen: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    async def race(name: str) -> None:
        async with Traced(path) as store:
            await ready(store)
            start.wait()  # both stores (each on a loop in a thread of its own) start together
            seen[name] = [
                (await store.acquire_lease(f"s{i}", name, 30.0)).owner for i in range(300)
            ]
            assert {what for what, _, _ in store.trace} == {"acquire"}

    def thread(name: str) -> None:
        try:
            asyncio.run(race(name))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(name,)) for name in ("A", "B")]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    assert errors == []
    assert seen["A"] == seen["B"]  # both saw the same holder of every lease
    assert set(seen["A"]) <= {"A", "B"}
    with closing(sqlite3.connect(path)) as raw:
        holders = dict(raw.execute("SELECT session_id, owner FROM leases").fetchall())
    assert holders == {f"s{i}": owner for i, owner in enumerate(seen["A"])}


async def test_a_run_writes_on_the_loop_and_frees_its_session(tmp_path: Path) -> None:
    async with Traced(tmp_path / "runs.db") as store:
        await ready(store)
        result = await Runner(one_node(lambda s: {"x": 1}), store=store).run("s", {})
        assert result.state == {"x": 1}
        assert store.trace == [("acquire", LOOP, "committed"), ("insert", LOOP, "committed")]
        assert (await store.acquire_lease("s", "next", 30.0)).owner == "next"


def test_inline_limit_must_be_a_byte_count(tmp_path: Path) -> None:
    for bad in (-1, True, 1.5, "64k"):
        with pytest.raises(ValueError, match="inline_limit"):
            SQLiteStore(tmp_path / "runs.db", inline_limit=bad)  # type: ignore[arg-type]
