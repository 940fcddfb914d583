"""``SQLiteStore``: durable checkpoints in one SQLite file, the embedded default.

The database is in WAL mode; each write is one ``BEGIN IMMEDIATE ... COMMIT`` transaction, so a
process killed at any moment leaves every committed checkpoint intact and no half-written one.
``synchronous=NORMAL`` (the default) survives a crash of the process; choose ``"FULL"`` to also
survive a power loss, at some cost per checkpoint. The transaction that inserts a checkpoint also
deletes the pending writes saved under its parent (same session), which its state now holds.

What runs where. A dedicated worker thread owns the store's first connection: it sets the
database up (WAL, schema, migration) and runs every read, the pending writes of parallel steps,
the WAL checkpoints, and any write that has to wait. The small writes of a run (``put``,
``put_and_release``, ``acquire_lease``, ``renew_lease``, ``release_lease``, ``request_cancel``)
run on the event loop's own thread instead, on a connection of that thread's own, because there
such a write costs less than the trip: 20-40 us on the loop, against 100-140 us for the same
write through the worker thread (handing work to a thread and getting the answer back costs
80 us or more of wake-ups, whatever the work). That connection never waits and never checkpoints
(``busy_timeout=0``, ``wal_autocheckpoint=0``): when the database is locked (another process or
the worker is writing), the transaction is rolled back at once and the same write goes to the
worker thread, which waits for the lock (up to 5 s). A checkpoint whose state is more than
``inline_limit`` bytes of JSON goes to the worker too (encoded once, on the loop). After every 256
writes on the loop the worker checkpoints the WAL, so that it does not grow without bound.
Nothing is written on the loop with ``inline_limit=0``, with ``synchronous="FULL"`` (a commit
that waits for the disk does not belong on the loop), or for ``":memory:"`` (a second connection
would be another database).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal
from typing import TypeVar

from rxchronos._closable import AsyncClosable
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.graph._errors import CheckpointStoreError
from rxchronos.graph._errors import StateSerializationError
from rxchronos.graph._lease import Lease
from rxchronos.graph._lease import LeaseRenewal
from rxchronos.graph._state import encode_branches
from rxchronos.graph._state import encode_state
from rxchronos.graph._stores import CHECKPOINT_COLUMNS
from rxchronos.graph._stores import Checkpoint
from rxchronos.graph._stores import check_id
from rxchronos.graph._stores import check_writes
from rxchronos.graph._stores import checkpoint_from_row
from rxchronos.graph._stores import writes_from_rows

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

_PRUNE = (
    "DELETE FROM pending_writes WHERE checkpoint_id = ?1 AND EXISTS "
    "(SELECT 1 FROM checkpoints WHERE checkpoint_id = ?1 AND session_id = ?2)"
)
"""A new checkpoint's parent's pending writes (``?1`` the parent, ``?2`` the new checkpoint's
session): folded into the new checkpoint, read by nothing any more. A fork's first checkpoint
has a parent in another session, whose writes stay for that session's ``resume``."""

_CHECKPOINT_EVERY = 256
"""Writes made on an event loop's thread between two WAL checkpoints on the worker thread."""
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SQLiteStore(AsyncClosable):
    """Checkpoints in an SQLite database file: survives crashes and restarts.

    Args:
        path: the database file (created if missing), or ``":memory:"``.
        synchronous: SQLite's ``synchronous`` setting: ``"NORMAL"`` or ``"FULL"``.
        inline_limit: the largest checkpoint (bytes of state JSON) written on the event loop's
            thread; ``0`` writes nothing there (everything goes to the store's worker thread).

    Raises:
        TypeError: ``path`` is not a str or path-like object.
        ValueError: ``path`` is empty (SQLite would give each connection a temporary database of
            its own) or contains a NUL character.
        CheckpointStoreError: at once, for a path that cannot work (a directory, a missing or
            read-only folder, a read-only file, a file that is not an SQLite database); on first
            use, for a database of a newer schema version. SQLite failures later on (a full disk, a
            locked file) also come as ``CheckpointStoreError``, with the SQLite error as
            ``__cause__``; so does a failed WAL checkpoint, from the store call after it.

    A dedicated worker thread sets the database up and runs the reads, the pending writes of
    parallel steps and the WAL checkpoints. ``put``, ``put_and_release`` (for a state of at most
    ``inline_limit`` bytes of JSON) and the lease calls write on the calling event loop's thread
    instead, in 20-40 us, where the same write through the worker thread takes 100-140 us; they
    never wait there: a database locked by another writer sends the write to the worker, which
    waits for it. Nothing is written on the loop with ``inline_limit=0``, ``synchronous="FULL"``
    or ``":memory:"``.

    Writing a checkpoint deletes the pending writes saved under its parent when the parent is of
    the same session, in the checkpoint's own transaction (on the loop or on the worker alike):
    the step they belong to has ended, and the checkpoint's state holds them (see
    [PendingWritesStore][rxchronos.graph.PendingWritesStore]).

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
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        inline_limit: int = 65536,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidArgumentError(
                f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}"
            )
        if not isinstance(inline_limit, int) or isinstance(inline_limit, bool) or inline_limit < 0:
            raise InvalidArgumentError(
                f"inline_limit must be an int >= 0 (bytes; 0 writes nothing on the event loop), "
                f"got {inline_limit!r}"
            )
        try:
            self.path = os.fspath(path)
        except TypeError:
            raise ArgumentTypeError(
                f"path must be a str or os.PathLike naming the database file (or ':memory:'), "
                f"got {type(path).__name__} {path!r}"
            ) from None
        _check_path(self.path)
        self._synchronous = synchronous
        self._inline_limit = 0 if synchronous == "FULL" or self.path == ":memory:" else inline_limit
        """0: every write goes to the worker thread."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rxchronos-sqlite")
        self._connection: sqlite3.Connection | None = None  # touched only on the worker thread
        self._ready = False
        """Set on the worker once the database is set up: inline connections may open."""
        self._inline: dict[int, sqlite3.Connection] = {}
        """One connection per thread that writes on its event loop, by thread ident; each used
        only on its own thread, under ``_inline_lock`` (which ``close()`` takes to close them)."""
        self._inline_lock = threading.Lock()
        self._inline_commits = 0
        self._wal_failure: BaseException | None = None
        """Why the last WAL checkpoint failed: raised by the next store call."""
        self._closed = False
        self._writes_batch: _WritesBatch | None = None
        """``put_writes`` calls of this loop turn, written together in the next one."""

    # --- CheckpointStore -------------------------------------------------------------------

    async def put(self, checkpoint: Checkpoint) -> None:
        """Save ``checkpoint`` in one transaction."""
        await self._put(checkpoint, None)

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        """The checkpoint with this id, or ``None``."""
        check_id("checkpoint_id", checkpoint_id)
        return await self._first("checkpoint_id = ?", checkpoint_id)

    async def latest(self, session_id: str) -> Checkpoint | None:
        """The newest checkpoint of the session, or ``None``."""
        check_id("session_id", session_id)
        return await self._first("session_id = ? ORDER BY seq DESC LIMIT 1", session_id)

    async def list_checkpoints(self, session_id: str) -> list[Checkpoint]:
        """Every checkpoint of the session, oldest first."""
        check_id("session_id", session_id)
        return await self._run(
            self._select,
            f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE session_id = ? ORDER BY seq",
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
        self._check_usable()
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
        check_id("checkpoint_id", checkpoint_id)
        rows = await self._run(
            self._execute,
            "SELECT task, writes FROM pending_writes WHERE checkpoint_id = ? ORDER BY task",
            (checkpoint_id,),
        )
        return writes_from_rows(checkpoint_id, rows, repr(self.path))

    # --- LeaseStore (two processes on one file share runs through these) ---------------------

    async def acquire_lease(self, session_id: str, owner: str, ttl: float) -> Lease:
        """Take the session's lease if free or expired; return its holder afterwards."""
        return await self._write(self._acquire_lease, session_id, owner, ttl)

    async def renew_lease(self, session_id: str, owner: str, ttl: float) -> LeaseRenewal:
        """Extend ``owner``'s lease by ``ttl`` seconds; report its cancel flag."""
        rows = await self._write(
            self._change,
            "UPDATE leases SET expires_at = ? WHERE session_id = ? AND owner = ? "
            "RETURNING cancel_requested",
            (time.time() + ttl, session_id, owner),
        )
        if not rows:
            return "lost"
        return "cancel" if rows[0][0] else "held"

    async def release_lease(self, session_id: str, owner: str) -> None:
        """Give ``owner``'s lease up."""
        await self._write(
            self._change,
            "DELETE FROM leases WHERE session_id = ? AND owner = ?",
            (session_id, owner),
        )

    async def put_and_release(self, checkpoint: Checkpoint, owner: str) -> None:
        """Save a run's last checkpoint and give ``owner``'s lease on its session up, in one
        transaction (one write instead of two)."""
        await self._put(checkpoint, owner)

    async def request_cancel(self, session_id: str) -> bool:
        """Flag the session's running run for cancellation; ``False`` if none holds a lease."""
        rows = await self._write(
            self._change,
            "UPDATE leases SET cancel_requested = 1 WHERE session_id = ? AND expires_at > ? "
            "RETURNING owner",
            (session_id, time.time()),
        )
        return bool(rows)

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection and stop the worker thread (waits for pending writes).

        Raises:
            CheckpointStoreError: a WAL checkpoint failed after the last store call (the store
                is closed all the same)."""
        if self._closed:
            return
        self._closed = True
        with self._inline_lock:  # a write on a loop's thread ends first
            inline, self._inline = list(self._inline.values()), {}
        try:
            try:
                for connection in inline:
                    connection.close()
            finally:
                self._executor.submit(self._close_connection).result()
                self._executor.shutdown(wait=True)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        self._raise_wal_failure()

    async def aclose(self) -> None:
        """[close][rxchronos.graph.SQLiteStore.close] without blocking the event loop."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # --- where the work runs ---------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise CheckpointStoreError(f"{self!r} is closed")
        self._raise_wal_failure()

    def _raise_wal_failure(self) -> None:
        failure = self._wal_failure
        if failure is not None:
            self._wal_failure = None
            raise CheckpointStoreError(
                f"checkpoint database {self.path!r}: a WAL checkpoint failed "
                f"({type(failure).__name__}: {failure}); the writes before it are committed, "
                "but the WAL file keeps growing until a checkpoint succeeds"
            ) from failure

    def _failed(self, exc: sqlite3.Error) -> CheckpointStoreError:
        return CheckpointStoreError(
            f"checkpoint database {self.path!r} failed: {type(exc).__name__}: {exc}"
        )

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` on the worker thread."""
        self._check_usable()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    async def _write(self, change: Callable[..., _T], *args: Any) -> _T:
        """``change(connection, *args)``, one transaction: on this thread's own connection when
        the database is free, else (or before the worker has set the database up, or with the
        inline path off) on the worker's."""
        self._check_usable()
        if self._inline_limit and self._ready and self._inline_lock.acquire(blocking=False):
            try:
                if self._closed:  # closed by another thread since the check above
                    raise CheckpointStoreError(f"{self!r} is closed")
                try:
                    result = change(self._inline_connection(), *args)
                except sqlite3.Error as exc:
                    if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _BUSY:
                        raise self._failed(exc) from exc
                else:
                    self._inline_commits += 1
                    if self._inline_commits % _CHECKPOINT_EVERY == 0:
                        self._executor.submit(self._checkpoint_wal).add_done_callback(
                            self._keep_wal_failure
                        )
                    return result
            finally:
                self._inline_lock.release()
        return await self._run(self._on_worker, change, *args)

    async def _put(self, checkpoint: Checkpoint, releasing: str | None) -> None:
        """Write ``checkpoint`` (and release ``releasing``'s lease with it). With the inline path
        on, the state is encoded here, on the loop: a small one is written here too, a large one
        goes to the worker as text."""
        self._check_usable()
        if not (self._inline_limit and self._ready):
            await self._run(self._encode_and_insert, checkpoint, releasing)
            return
        row = _row(checkpoint)
        if _json_size(row[4]) + _json_size(row[9]) <= self._inline_limit:
            await self._write(self._insert, row, releasing)
        else:
            await self._run(self._on_worker, self._insert, row, releasing)

    def _inline_connection(self) -> sqlite3.Connection:
        """This thread's connection for writes on its event loop (``_inline_lock`` held)."""
        ident = threading.get_ident()
        connection = self._inline.get(ident)
        if connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                connection.execute("PRAGMA busy_timeout=0")  # never wait on the loop
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA wal_autocheckpoint=0")  # the worker checkpoints
            except BaseException:
                connection.close()
                raise
            self._inline[ident] = connection
        return connection

    def _on_worker(self, change: Callable[..., _T], *args: Any) -> _T:
        return change(self._db(), *args)

    def _checkpoint_wal(self) -> None:
        """Checkpoint the WAL (worker thread) so that it starts over instead of growing.

        A passive checkpoint copies the committed pages into the database file without holding
        up any writer; but the WAL starts over only once a checkpoint has copied all of it, which
        writes coming in meanwhile prevent. So when the passive one got everything it saw, a
        restart checkpoint copies what came in since and starts the WAL over: it holds the write
        lock for that short while (writes on the loop find the database busy and go to the
        worker, after it). A reader still on older pages (another process) makes the passive one
        stop short: the restart is left to the next time."""
        connection = self._db()
        _, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames == copied:
            connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()

    def _keep_wal_failure(self, done: Future[None]) -> None:
        if done.cancelled():
            return  # only a shutdown cancels queued work, and close() has none queued
        if (failure := done.exception()) is not None:
            self._wal_failure = failure

    async def _first(self, where: str, key: str) -> Checkpoint | None:
        rows = await self._run(
            self._select, f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE {where}", key
        )
        return rows[0] if rows else None

    # --- worker thread ---------------------------------------------------------------------

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
            self._ready = True
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
        with _transaction(connection):
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
            with _transaction(connection):
                connection.executemany(
                    "INSERT OR REPLACE INTO pending_writes VALUES (?, ?, ?)", encoded
                )
        return problems

    def _select(self, sql: str, key: str) -> list[Checkpoint]:
        place = repr(self.path)
        rows = self._db().execute(sql, (key,))
        return [checkpoint_from_row(row, place, check_types=True) for row in rows]

    def _execute(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._db().execute(sql, params).fetchall()

    # --- write transactions: on a loop's own connection, or on the worker's ----------------

    def _encode_and_insert(self, checkpoint: Checkpoint, releasing: str | None) -> None:
        """Encode ``checkpoint`` and write it (worker thread)."""
        row = _row(checkpoint)
        self._insert(self._db(), row, releasing)

    def _insert(self, connection: sqlite3.Connection, row: _Row, releasing: str | None) -> None:
        """Write an encoded checkpoint and delete the pending writes saved under its parent, when
        the parent is of the same session (see
        [PendingWritesStore][rxchronos.graph.PendingWritesStore]); with ``releasing``, delete that
        owner's lease on the session too; all in one transaction."""
        with _transaction(connection):
            connection.execute(
                f"INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            if row[7] is not None:
                connection.execute(_PRUNE, (row[7], row[1]))
            if releasing is not None:
                connection.execute(
                    "DELETE FROM leases WHERE session_id = ? AND owner = ?", (row[1], releasing)
                )

    def _change(
        self, connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]
    ) -> list[tuple[Any, ...]]:
        """One statement that writes, in a transaction of its own; its ``RETURNING`` rows."""
        with _transaction(connection):
            return connection.execute(sql, params).fetchall()

    def _acquire_lease(
        self, connection: sqlite3.Connection, session_id: str, owner: str, ttl: float
    ) -> Lease:
        """One upsert that takes a free or expired lease (atomic across processes: SQLite runs one
        writer at a time); when the lease is held, a read of its holder in the same
        transaction."""
        with _transaction(connection):
            now = time.time()
            taken = connection.execute(
                "INSERT INTO leases VALUES (?, ?, ?, 0) ON CONFLICT (session_id) DO UPDATE SET "
                "owner = excluded.owner, expires_at = excluded.expires_at, cancel_requested = 0 "
                "WHERE leases.expires_at <= ? RETURNING owner",
                (session_id, owner, now + ttl, now),
            ).fetchall()
            if taken:
                return Lease(session_id, owner, ttl)
            # not taken: the row the upsert ran into is there, in this transaction
            holder, expires_at = connection.execute(
                "SELECT owner, expires_at FROM leases WHERE session_id = ?", (session_id,)
            ).fetchone()
        return Lease(session_id, holder, expires_at - now)

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


_Row = tuple[str, str, str, int, str, str | None, int, str | None, float, str | None]
"""A checkpoint as the values of ``CHECKPOINT_COLUMNS``, its state and branches encoded."""


def _row(checkpoint: Checkpoint) -> _Row:
    """``checkpoint`` as a row.

    Raises:
        StateSerializationError: its state (or branches) cannot be JSON.
    """
    return (
        checkpoint.checkpoint_id,
        checkpoint.session_id,
        checkpoint.run_id,
        checkpoint.step,
        encode_state(checkpoint.state),
        checkpoint.next_node,
        int(checkpoint.paused),
        checkpoint.parent_id,
        checkpoint.created_at,
        None if checkpoint.branches is None else encode_branches(checkpoint.branches),
    )


def _json_size(text: str | None) -> int:
    """Bytes of ``text`` in UTF-8 (encoded only when it is not ASCII)."""
    if text is None:
        return 0
    return len(text) if text.isascii() else len(text.encode())


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` (the write lock, or an error at once: the connection's busy timeout
    says how long it may wait) ... ``COMMIT``; rolled back on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:  # SQLite rolls some failures back by itself
            connection.execute("ROLLBACK")
        raise


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
    if not path:
        raise InvalidArgumentError(
            "path is empty: SQLite gives each connection its own temporary database for '', so "
            "the store's connections would not see each other's tables; give a file path (e.g. "
            "'runs.db'), or ':memory:' for a database that lasts as long as the store"
        )
    if "\x00" in os.fsdecode(path):  # a bytes path too (os.fspath keeps bytes as they are)
        raise InvalidArgumentError(f"path {path!r} contains a NUL character; give a file path")
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
