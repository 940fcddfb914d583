"""``SQLiteStore``: durable checkpoints in one SQLite file, the embedded default.

All SQLite work (and the JSON encoding of the state) runs on one dedicated worker thread that owns
the connection, so the event loop never blocks. The database is in WAL mode; each checkpoint is one
``BEGIN IMMEDIATE ... COMMIT`` transaction, so a process killed at any moment leaves every committed
checkpoint intact and no half-written one. ``synchronous=NORMAL`` (the default) survives a crash
of the process; choose ``"FULL"`` to also survive a power loss, at some cost per checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from rxchronos._errors import InvalidArgumentError
from rxchronos.graph._errors import CheckpointStoreError, StateSerializationError
from rxchronos.graph._lease import Lease, LeaseRenewal
from rxchronos.graph._state import decode_branches, decode_writes, encode_state, freeze_mapping
from rxchronos.graph._stores import Checkpoint, check_writes

__all__ = ["SQLiteStore"]

SCHEMA_VERSION = 3
_SQLITE_HEADER = b"SQLite format 3\x00"
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    checkpoint_id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    state TEXT NOT NULL,
    next_node TEXT,
    paused INTEGER NOT NULL,
    parent_id TEXT,
    created_at REAL NOT NULL,
    branches TEXT
);
CREATE INDEX IF NOT EXISTS checkpoints_by_session ON checkpoints (session_id, seq);
CREATE TABLE IF NOT EXISTS pending_writes (
    checkpoint_id TEXT NOT NULL,
    task INTEGER NOT NULL,
    writes TEXT NOT NULL,
    PRIMARY KEY (checkpoint_id, task)
);
CREATE TABLE IF NOT EXISTS leases (
    session_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
"""
_COLUMNS = (
    "checkpoint_id, session_id, run_id, step, state, next_node, paused, parent_id, created_at, "
    "branches"
)


class SQLiteStore:
    """Checkpoints in an SQLite database file: survives crashes and restarts.

    Args:
        path: the database file (created if missing), or ``":memory:"``.
        synchronous: SQLite's ``synchronous`` setting: ``"NORMAL"`` or ``"FULL"``.

    Raises:
        CheckpointStoreError: at once, for a path that cannot work (a directory, a missing or
            read-only folder, a read-only file, a file that is not an SQLite database); on first
            use, for a database of a newer schema version. SQLite failures later on (a full disk, a
            locked file) also come as ``CheckpointStoreError``, with the SQLite error as
            ``__cause__``.

    State must be JSON-serialisable (a value that is not raises ``StateSerializationError`` naming
    the key, and the run fails before the checkpoint is written). Close the store when done
    (``close()``, ``await aclose()``, or use it as a context manager).

    Example:
        >>> import asyncio, tempfile, os
        >>> from rxchronos.graph import Runner, SQLiteStore, StateGraph
        >>> g = StateGraph("g").add_node("a", lambda s: {"x": 1}).set_entry_point("a").compile()
        >>> async def main(path):
        ...     async with SQLiteStore(path) as store:
        ...         await Runner(g, store=store).run("s1", {})
        ...         return [dict(c.state) for c in await store.list_checkpoints("s1")]
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     asyncio.run(main(os.path.join(tmp, "runs.db")))
        [{'x': 1}]
    """

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidArgumentError(
                f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}"
            )
        self.path = os.fspath(path)
        _check_path(self.path)
        self._synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rxchronos-sqlite")
        self._connection: sqlite3.Connection | None = None  # touched only on the worker thread
        self._closed = False
        self._writes_batch: _WritesBatch | None = None
        """``put_writes`` calls of this loop turn, written together in the next one."""

    # --- CheckpointStore -------------------------------------------------------------------

    async def put(self, checkpoint: Checkpoint) -> None:
        """Save ``checkpoint`` in one transaction."""
        await self._run(self._put, checkpoint)

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        """The checkpoint with this id, or ``None``."""
        return await self._first("checkpoint_id = ?", checkpoint_id)

    async def latest(self, session_id: str) -> Checkpoint | None:
        """The newest checkpoint of the session, or ``None``."""
        return await self._first("session_id = ? ORDER BY seq DESC LIMIT 1", session_id)

    async def list_checkpoints(self, session_id: str) -> list[Checkpoint]:
        """Every checkpoint of the session, oldest first."""
        return await self._run(
            self._select,
            f"SELECT {_COLUMNS} FROM checkpoints WHERE session_id = ? ORDER BY seq",
            session_id,
        )

    # --- PendingWritesStore ----------------------------------------------------------------

    async def put_writes(self, checkpoint_id: str, task: int, writes: Mapping[str, Any]) -> None:
        """Save a finished task's writes (see
        [PendingWritesStore][rxchronos.graph.PendingWritesStore]).

        The calls made in one turn of the event loop (the tasks of a step that finish together)
        are written in one transaction, in one trip to the worker thread; each call returns once
        its own writes are committed, or raises its own error (``StateSerializationError`` for
        writes JSON cannot hold, which keeps nothing of that call)."""
        check_writes(checkpoint_id, task, writes)
        if self._closed:
            raise CheckpointStoreError(f"{self!r} is closed")
        batch = self._writes_batch
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._writes_batch = _WritesBatch(loop.create_future())
            loop.call_soon(self._flush_writes, batch)
        number = len(batch.rows)
        batch.rows.append((checkpoint_id, task, writes))
        problems = await asyncio.shield(batch.done)  # one caller's cancel leaves the others be
        problem = problems[number]
        if problem is not None:
            raise problem

    async def get_writes(self, checkpoint_id: str) -> dict[int, Mapping[str, Any]]:
        """The writes saved for the step after ``checkpoint_id``, by task number."""
        rows = await self._run(
            self._execute,
            "SELECT task, writes FROM pending_writes WHERE checkpoint_id = ? ORDER BY task",
            (checkpoint_id,),
        )
        try:
            return dict(decode_writes(rows))
        except ValueError as exc:
            raise self._damaged(checkpoint_id, str(exc)) from exc

    # --- LeaseStore (two processes on one file share runs through these) ---------------------

    async def acquire_lease(self, session_id: str, owner: str, ttl: float) -> Lease:
        """Take the session's lease if free or expired; return its holder afterwards."""
        return await self._run(self._acquire_lease, session_id, owner, ttl)

    async def renew_lease(self, session_id: str, owner: str, ttl: float) -> LeaseRenewal:
        """Extend ``owner``'s lease by ``ttl`` seconds; report its cancel flag."""
        rows = await self._run(
            self._execute,
            "UPDATE leases SET expires_at = ? WHERE session_id = ? AND owner = ? "
            "RETURNING cancel_requested",
            (time.time() + ttl, session_id, owner),
        )
        if not rows:
            return "lost"
        return "cancel" if rows[0][0] else "held"

    async def release_lease(self, session_id: str, owner: str) -> None:
        """Give ``owner``'s lease up."""
        await self._run(
            self._execute,
            "DELETE FROM leases WHERE session_id = ? AND owner = ?",
            (session_id, owner),
        )

    async def put_and_release(self, checkpoint: Checkpoint, owner: str) -> None:
        """Save a run's last checkpoint and give ``owner``'s lease on its session up, in one
        transaction (one trip to the worker thread instead of two)."""
        await self._run(self._put, checkpoint, owner)

    async def request_cancel(self, session_id: str) -> bool:
        """Flag the session's running run for cancellation; ``False`` if none holds a lease."""
        rows = await self._run(
            self._execute,
            "UPDATE leases SET cancel_requested = 1 WHERE session_id = ? AND expires_at > ? "
            "RETURNING owner",
            (session_id, time.time()),
        )
        return bool(rows)

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database and stop the worker thread (waits for pending writes)."""
        if self._closed:
            return
        self._closed = True
        self._executor.submit(self._close_connection).result()
        self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        """[close][rxchronos.graph.SQLiteStore.close] without blocking the event loop."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # --- worker thread ---------------------------------------------------------------------

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        if self._closed:
            raise CheckpointStoreError(f"{self!r} is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise CheckpointStoreError(
                f"checkpoint database {self.path!r} failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def _first(self, where: str, key: str) -> Checkpoint | None:
        rows = await self._run(
            self._select, f"SELECT {_COLUMNS} FROM checkpoints WHERE {where}", key
        )
        return rows[0] if rows else None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                connection = sqlite3.connect(self.path, isolation_level=None)
            except sqlite3.Error as exc:
                raise CheckpointStoreError(
                    f"cannot open checkpoint database {self.path!r} ({exc}): check that its "
                    "folder exists and is writable"
                ) from exc
            try:
                self._set_up(connection)
            except sqlite3.DatabaseError as exc:
                connection.close()
                raise CheckpointStoreError(
                    f"cannot use {self.path!r} as a checkpoint database: {exc}"
                ) from exc
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _set_up(self, connection: sqlite3.Connection) -> None:
        """WAL, the durability setting and the schema. Two processes opening a new file at once
        can see ``database is locked`` from the switch to WAL, which SQLite's busy timeout does
        not cover: that is retried for as long as the timeout (5 s), then raised."""
        connection.execute("PRAGMA busy_timeout=5000")
        deadline = time.monotonic() + 5.0
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        connection.execute(f"PRAGMA synchronous={self._synchronous}")
        self._migrate(connection)

    def _migrate(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0]
            if version is None:
                connection.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif version < SCHEMA_VERSION:  # 3 adds pending_writes (created above)
                if version == 1:  # 2 adds the branches of a parallel step
                    connection.execute("ALTER TABLE checkpoints ADD COLUMN branches TEXT")
                connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            elif version > SCHEMA_VERSION:
                raise CheckpointStoreError(
                    f"{self.path!r} has checkpoint schema version {version}, newer than this "
                    f"rxchronos understands ({SCHEMA_VERSION}); upgrade rxchronos"
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _put(self, checkpoint: Checkpoint, releasing: str | None = None) -> None:
        """Write ``checkpoint``; with ``releasing``, delete that owner's lease on the session in
        the same transaction."""
        state = encode_state(checkpoint.state)
        branches = None if checkpoint.branches is None else encode_state(checkpoint.branches)
        connection = self._db()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(
                f"INSERT INTO checkpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    checkpoint.checkpoint_id,
                    checkpoint.session_id,
                    checkpoint.run_id,
                    checkpoint.step,
                    state,
                    checkpoint.next_node,
                    int(checkpoint.paused),
                    checkpoint.parent_id,
                    checkpoint.created_at,
                    branches,
                ),
            )
            if releasing is not None:
                connection.execute(
                    "DELETE FROM leases WHERE session_id = ? AND owner = ?",
                    (checkpoint.session_id, releasing),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _flush_writes(self, batch: _WritesBatch) -> None:
        """Send a loop turn's ``put_writes`` to the worker thread (on the event loop)."""
        self._writes_batch = None
        flush = asyncio.ensure_future(self._run(self._put_writes, batch.rows))

        def settle(flush: asyncio.Future[list[Exception | None]]) -> None:
            if flush.cancelled():
                batch.done.cancel()
            elif (error := flush.exception()) is not None:
                batch.done.set_exception(error)
            else:
                batch.done.set_result(flush.result())
            if batch.done.done() and not batch.done.cancelled():
                batch.done.exception()  # retrieved: every caller may have gone away

        flush.add_done_callback(settle)

    def _put_writes(self, rows: list[tuple[str, int, Mapping[str, Any]]]) -> list[Exception | None]:
        """Write ``rows`` in one transaction; a row JSON cannot hold is left out, its error
        returned in its place."""
        encoded: list[tuple[str, int, str]] = []
        problems: list[Exception | None] = []
        for checkpoint_id, task, writes in rows:
            try:
                encoded.append((checkpoint_id, task, encode_state(writes)))
                problems.append(None)
            except StateSerializationError as exc:
                problems.append(exc)
        if encoded:
            connection = self._db()
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO pending_writes VALUES (?, ?, ?)", encoded
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return problems

    def _select(self, sql: str, key: str) -> list[Checkpoint]:
        return [self._checkpoint(row) for row in self._db().execute(sql, (key,))]

    def _checkpoint(self, row: tuple[Any, ...]) -> Checkpoint:
        """One row as a [Checkpoint][rxchronos.graph.Checkpoint]; a damaged row is a
        ``CheckpointStoreError``."""
        cid, sid, run, step, text, next_node, paused, parent, at, branches_text = row
        try:
            state = json.loads(text) if isinstance(text, str) else None
        except ValueError as exc:  # json.JSONDecodeError, RecursionError is not expected here
            raise self._damaged(cid, f"its state is not valid JSON ({exc})") from exc
        if not isinstance(state, dict):
            raise self._damaged(cid, f"its state is {type(state).__name__}, not a JSON object")
        for name, value, kinds in (
            ("session_id", sid, str),
            ("run_id", run, str),
            ("step", step, int),
            ("next_node", next_node, str | None),
            ("paused", paused, int),
            ("parent_id", parent, str | None),
            ("created_at", at, float | int),
        ):
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise self._damaged(cid, f"its {name} is {value!r}")
        try:
            branches = decode_branches(branches_text)
        except ValueError as exc:
            raise self._damaged(cid, str(exc)) from exc
        return Checkpoint(
            cid,
            sid,
            run,
            step,
            freeze_mapping(state),
            next_node,
            bool(paused),
            parent,
            at,
            branches,
        )

    def _damaged(self, checkpoint_id: object, what: str) -> CheckpointStoreError:
        return CheckpointStoreError(
            f"checkpoint {checkpoint_id!r} in {self.path!r} is damaged: {what}; the database "
            "was changed outside rxchronos (restore it from a backup, or delete that row)"
        )

    def _execute(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._db().execute(sql, params).fetchall()

    def _acquire_lease(self, session_id: str, owner: str, ttl: float) -> Lease:
        """One upsert that takes a free or expired lease (atomic across processes: SQLite runs one
        writer at a time); when the lease is held, a read of its holder."""
        connection = self._db()
        while True:
            now = time.time()
            taken = connection.execute(
                "INSERT INTO leases VALUES (?, ?, ?, 0) ON CONFLICT (session_id) DO UPDATE SET "
                "owner = excluded.owner, expires_at = excluded.expires_at, cancel_requested = 0 "
                "WHERE leases.expires_at <= ? RETURNING owner",
                (session_id, owner, now + ttl, now),
            ).fetchall()
            if taken:
                return Lease(session_id, owner, ttl)
            held = connection.execute(
                "SELECT owner, expires_at FROM leases WHERE session_id = ?", (session_id,)
            ).fetchall()
            if held:
                return Lease(session_id, held[0][0], held[0][1] - now)
            # released between the two statements: try again

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass(slots=True)
class _WritesBatch:
    """The ``put_writes`` calls of one loop turn, and their outcome (one error or ``None`` per
    call, in order)."""

    done: asyncio.Future[list[Exception | None]]
    rows: list[tuple[str, int, Mapping[str, Any]]] = field(default_factory=list)


def _check_path(path: str) -> None:
    """Refuse, up front, a database path that cannot work (before any node runs)."""
    if path == ":memory:":
        return
    if os.path.isdir(path):
        raise CheckpointStoreError(f"checkpoint database path {path!r} is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CheckpointStoreError(
            f"cannot create checkpoint database {path!r}: folder {folder!r} does not exist"
        )
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise CheckpointStoreError(f"checkpoint database {path!r} is not writable")
    if os.path.isfile(path):
        with open(path, "rb") as file:
            header = file.read(len(_SQLITE_HEADER))
        if header and header != _SQLITE_HEADER:
            raise CheckpointStoreError(f"{path!r} exists and is not an SQLite database")
