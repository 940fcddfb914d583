"""``PostgresStore``: checkpoints and session leases in PostgreSQL, shared by every worker.

The store talks to the server through a ``psycopg_pool.AsyncConnectionPool`` of psycopg 3 async
connections (the ``rxchronos[postgres]`` extra), so the event loop never blocks. Each checkpoint is
one statement (atomic by itself, one round trip): its ``INSERT``, with a ``DELETE`` of the pending
writes saved under its parent (same session), which its state now holds; a lease change is one
statement whose expiry the server's clock judges, so workers whose clocks differ still agree.
Every table lives in one schema of its own (``schema=``), created and migrated by the store under
an advisory lock, with its version in a ``schema_version`` table. A connection that died (the
server restarted) is noticed when it is taken from the pool and replaced; while the server is
away, every call fails with ``CheckpointStoreError`` within ``timeout`` seconds, and works again
once the server is back.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import Self
from typing import TypeVar

from rxchronos._closable import AsyncClosable
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.graph._errors import CheckpointStoreError
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

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresStore"]

SCHEMA_VERSION = 4
_T = TypeVar("_T")
_MIGRATIONS: dict[int, Sequence[str]] = {
    1: (
        """CREATE TABLE {schema}.checkpoints (
            seq BIGSERIAL PRIMARY KEY,
            checkpoint_id TEXT NOT NULL UNIQUE,
            session_id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            step INTEGER NOT NULL,
            state TEXT NOT NULL,
            next_node TEXT,
            paused BOOLEAN NOT NULL,
            parent_id TEXT,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX checkpoints_by_session ON {schema}.checkpoints (session_id, seq)",
    ),
    2: (
        """CREATE TABLE {schema}.leases (
            session_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
        )""",
    ),
    3: ("ALTER TABLE {schema}.checkpoints ADD COLUMN branches TEXT",),  # parallel steps
    4: (  # the writes of the finished tasks of a step that did not finish
        """CREATE TABLE {schema}.pending_writes (
            checkpoint_id TEXT NOT NULL,
            task INTEGER NOT NULL,
            writes TEXT NOT NULL,
            PRIMARY KEY (checkpoint_id, task)
        )""",
    ),
}
"""What each schema version adds; a store brings an older schema up to ``SCHEMA_VERSION``."""

_RELEASED = "released AS (DELETE FROM {schema}.leases WHERE session_id = %s AND owner = %s)"
"""A run's lease on its session (the session, the owner), given up with its last checkpoint."""
_PRUNED = (
    "pruned AS (DELETE FROM {schema}.pending_writes p WHERE p.checkpoint_id = %s AND EXISTS "
    "(SELECT 1 FROM {schema}.checkpoints c WHERE c.checkpoint_id = p.checkpoint_id "
    "AND c.session_id = %s))"
)
"""A new checkpoint's parent's pending writes (the parent, the new checkpoint's session): folded
into the new checkpoint, read by nothing any more. A fork's first checkpoint has a parent in
another session, whose writes stay for that session's ``resume``."""


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, for messages: ``host=db port=5432 dbname=app user=me``."""
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.conninfo import make_conninfo

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "<a DSN that cannot be parsed>"
    parts.pop("password", None)
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


class PostgresStore(AsyncClosable):
    """Checkpoints and session leases in PostgreSQL: one database for every worker.

    Args:
        dsn: a libpq connection string or URL (``"postgresql://user@host:5432/db"``).
        schema: the PostgreSQL schema holding the store's tables (created if missing); give each
            application, or each test run, its own.
        min_size: connections the pool keeps open.
        max_size: the most connections the pool opens.
        timeout: seconds to wait for a connection (the server unreachable, the pool exhausted)
            before a call fails with ``CheckpointStoreError``.

    Raises:
        CheckpointStoreError: the server cannot be reached or refuses the connection (the message
            names the DSN without its password), a query fails, a row is damaged, or the schema
            is of a newer version than this rxchronos knows.
        StateSerializationError: a state value cannot be stored as JSON (nothing is written).

    The pool opens on ``async with`` (or ``await store.open()``, or the first call) and closes with
    ``await store.aclose()``. The behaviour is that of
    [SQLiteStore][rxchronos.graph.SQLiteStore]; it also keeps the session leases that let several
    workers share runs (see [LeaseStore][rxchronos.graph.LeaseStore]).

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import PostgresStore, Runner, StateGraph
        >>> g = StateGraph("g").add_node("a", lambda s: {"x": 1}).set_entry_point("a").compile()
        >>> async def main():
        ...     async with PostgresStore(DSN, schema=SCHEMA) as store:
        ...         await Runner(g, store=store).run("s1", {})
        ...         return [dict(c.state) for c in await store.list_checkpoints("s1")]
        >>> asyncio.run(main())  # doctest: +SKIP
        [{'x': 1}]
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "rxchronos",
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
    ) -> None:
        if not isinstance(dsn, str) or not dsn:
            raise ArgumentTypeError("dsn must be a non-empty connection string or URL")
        if not isinstance(schema, str) or not 0 < len(schema) <= 63:
            raise InvalidArgumentError(
                f"schema must be a name of 1 to 63 characters, got {schema!r}"
            )
        for name, size in (("min_size", min_size), ("max_size", max_size)):
            if not isinstance(size, int) or isinstance(size, bool):
                raise ArgumentTypeError(
                    f"{name} must be an int (a number of connections), got "
                    f"{type(size).__name__} {size!r}"
                )
        if not 0 < min_size <= max_size:
            raise InvalidArgumentError(
                f"need 0 < min_size <= max_size, got {min_size} and {max_size}"
            )
        if not isinstance(timeout, int | float) or isinstance(timeout, bool):
            raise ArgumentTypeError(
                f"timeout must be a number of seconds, got {type(timeout).__name__} {timeout!r}"
            )
        if not 0 < timeout < math.inf:
            raise InvalidArgumentError(f"timeout must be positive and finite, got {timeout!r}")
        try:
            from psycopg import sql
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:
            raise CheckpointStoreError(
                "PostgresStore needs psycopg 3 and psycopg-pool: pip install 'rxchronos[postgres]'"
            ) from exc
        self.schema = schema
        self._where = redact_dsn(dsn)
        self._place = f"schema {schema!r} at {self._where!r}"
        """Where the store's rows are, as its errors name it."""
        self._quoted = sql.Identifier(schema).as_string(None)
        self._timeout = timeout
        self._dsn = dsn
        self._connect_kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, round(timeout)),
        }
        self._pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=timeout,
            kwargs=self._connect_kwargs,
            check=AsyncConnectionPool.check_connection,
            name=f"rxchronos-{schema}",
        )
        self._ready = False
        self._closed = False

    # --- CheckpointStore -------------------------------------------------------------------

    async def put(self, checkpoint: Checkpoint) -> None:
        """Save ``checkpoint`` and delete the pending writes of its parent's step (see
        [PendingWritesStore][rxchronos.graph.PendingWritesStore]): one statement, all of it or
        nothing."""
        if checkpoint.parent_id is None:
            await self._insert(checkpoint, "", ())
        else:
            await self._insert(
                checkpoint, f"WITH {_PRUNED} ", (checkpoint.parent_id, checkpoint.session_id)
            )

    async def put_and_release(self, checkpoint: Checkpoint, owner: str) -> None:
        """Save a run's last checkpoint, delete the pending writes of its parent's step and give
        ``owner``'s lease on its session up, in one statement (one round trip instead of two)."""
        if checkpoint.parent_id is None:
            await self._insert(checkpoint, f"WITH {_RELEASED} ", (checkpoint.session_id, owner))
        else:
            await self._insert(
                checkpoint,
                f"WITH {_RELEASED}, {_PRUNED} ",
                (checkpoint.session_id, owner, checkpoint.parent_id, checkpoint.session_id),
            )

    async def _insert(self, checkpoint: Checkpoint, prefix: str, params: tuple[Any, ...]) -> None:
        """``INSERT`` the checkpoint, after ``prefix`` (common table expressions that delete, in
        the same statement) and its ``params``."""
        state = encode_state(checkpoint.state)
        branches = None if checkpoint.branches is None else encode_branches(checkpoint.branches)
        await self._execute(
            f"{prefix}INSERT INTO {{schema}}.checkpoints ({CHECKPOINT_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                *params,
                checkpoint.checkpoint_id,
                checkpoint.session_id,
                checkpoint.run_id,
                checkpoint.step,
                state,
                checkpoint.next_node,
                checkpoint.paused,
                checkpoint.parent_id,
                checkpoint.created_at,
                branches,
            ),
        )

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        """The checkpoint with this id, or ``None``."""
        check_id("checkpoint_id", checkpoint_id)
        rows = await self._checkpoints("checkpoint_id = %s", checkpoint_id)
        return rows[0] if rows else None

    async def latest(self, session_id: str) -> Checkpoint | None:
        """The newest checkpoint of the session, or ``None``."""
        check_id("session_id", session_id)
        rows = await self._checkpoints("session_id = %s ORDER BY seq DESC LIMIT 1", session_id)
        return rows[0] if rows else None

    async def list_checkpoints(self, session_id: str) -> list[Checkpoint]:
        """Every checkpoint of the session, oldest first."""
        check_id("session_id", session_id)
        return await self._checkpoints("session_id = %s ORDER BY seq", session_id)

    # --- PendingWritesStore ----------------------------------------------------------------

    async def put_writes(self, checkpoint_id: str, task: int, writes: Mapping[str, Any]) -> None:
        """Save a finished task's writes (see
        [PendingWritesStore][rxchronos.graph.PendingWritesStore]), in one statement."""
        check_writes(checkpoint_id, task, writes)
        await self._execute(
            "INSERT INTO {schema}.pending_writes VALUES (%s, %s, %s) "
            "ON CONFLICT (checkpoint_id, task) DO UPDATE SET writes = EXCLUDED.writes",
            (checkpoint_id, task, encode_state(writes)),
        )

    async def get_writes(self, checkpoint_id: str) -> dict[int, Mapping[str, Any]]:
        """The writes saved for the step after ``checkpoint_id``, by task number."""
        check_id("checkpoint_id", checkpoint_id)
        rows = await self._execute(
            "SELECT task, writes FROM {schema}.pending_writes WHERE checkpoint_id = %s "
            "ORDER BY task",
            (checkpoint_id,),
        )
        return writes_from_rows(checkpoint_id, rows, self._place)

    # --- LeaseStore ------------------------------------------------------------------------

    async def acquire_lease(self, session_id: str, owner: str, ttl: float) -> Lease:
        """Take the session's lease if free or expired; return its holder afterwards."""
        rows = await self._execute(
            "INSERT INTO {schema}.leases AS l (session_id, owner, expires_at) "
            "VALUES (%s, %s, clock_timestamp() + make_interval(secs => %s)) "
            "ON CONFLICT (session_id) DO UPDATE SET owner = EXCLUDED.owner, "
            "expires_at = EXCLUDED.expires_at, cancel_requested = FALSE "
            "WHERE l.expires_at <= clock_timestamp() RETURNING owner",
            (session_id, owner, ttl),
        )
        if rows:
            return Lease(session_id, owner, ttl)
        held = await self._execute(
            "SELECT owner, extract(epoch FROM expires_at - clock_timestamp()) "
            "FROM {schema}.leases WHERE session_id = %s",
            (session_id,),
        )
        if not held:  # released between the two statements: try again
            return await self.acquire_lease(session_id, owner, ttl)
        return Lease(session_id, held[0][0], float(held[0][1]))

    async def renew_lease(self, session_id: str, owner: str, ttl: float) -> LeaseRenewal:
        """Extend ``owner``'s lease by ``ttl`` seconds; report its cancel flag."""
        rows = await self._execute(
            "UPDATE {schema}.leases SET expires_at = clock_timestamp() + make_interval(secs => %s) "
            "WHERE session_id = %s AND owner = %s RETURNING cancel_requested",
            (ttl, session_id, owner),
        )
        if not rows:
            return "lost"
        return "cancel" if rows[0][0] else "held"

    async def release_lease(self, session_id: str, owner: str) -> None:
        """Give ``owner``'s lease up."""
        await self._execute(
            "DELETE FROM {schema}.leases WHERE session_id = %s AND owner = %s", (session_id, owner)
        )

    async def request_cancel(self, session_id: str) -> bool:
        """Flag the session's running run for cancellation; ``False`` if none holds a lease."""
        rows = await self._execute(
            "UPDATE {schema}.leases SET cancel_requested = TRUE "
            "WHERE session_id = %s AND expires_at > clock_timestamp() RETURNING owner",
            (session_id,),
        )
        return bool(rows)

    # --- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bring the schema up to date (done by the first call otherwise)."""
        if self._closed:
            raise CheckpointStoreError(f"{self!r} is closed")
        if self._ready:
            return
        from psycopg import AsyncConnection
        from psycopg import Error
        from psycopg_pool import PoolTimeout

        try:  # one connection first: it fails with the server's own reason, and migrates
            connection = await AsyncConnection.connect(self._dsn, **self._connect_kwargs)
        except Error as exc:
            raise CheckpointStoreError(
                f"cannot connect to PostgreSQL at {self._where!r} ({self._clean(exc)}): check "
                "that the server runs and the DSN is right"
            ) from None
        try:
            await self._guard(self._migrate(connection))
        finally:
            await connection.close()
        try:
            await self._pool.open(wait=True, timeout=self._timeout)
        except (PoolTimeout, Error) as exc:
            raise CheckpointStoreError(
                f"cannot connect to PostgreSQL at {self._where!r} within {self._timeout} s "
                f"({self._clean(exc)}): check that the server runs and the DSN is right"
            ) from None
        self._ready = True

    async def aclose(self) -> None:
        """Close every connection of the pool."""
        self._closed = True
        await self._pool.close()

    async def __aenter__(self) -> Self:
        """Open the pool (as [open][rxchronos.graph.PostgresStore.open]) for the block."""
        await self.open()
        return self

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r}, schema={self.schema!r})"

    # --- internals -------------------------------------------------------------------------

    async def _checkpoints(self, where: str, key: str) -> list[Checkpoint]:
        rows = await self._execute(
            f"SELECT {CHECKPOINT_COLUMNS} FROM {{schema}}.checkpoints WHERE {where}", (key,)
        )
        place = self._place
        return [checkpoint_from_row(row, place) for row in rows]

    async def _execute(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async def run(connection: AsyncConnection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            cursor = await connection.execute(self._sql(statement), params)
            return await cursor.fetchall() if cursor.description is not None else []

        if not self._ready:
            await self.open()
        rows: list[tuple[Any, ...]] = await self._run(run)
        return rows

    async def _run(self, fn: Any) -> Any:
        from psycopg_pool import PoolClosed
        from psycopg_pool import PoolTimeout

        if self._closed:
            raise CheckpointStoreError(f"{self!r} is closed")
        try:
            async with self._pool.connection() as connection:
                return await self._guard(fn(connection))
        except PoolTimeout as exc:
            raise CheckpointStoreError(
                f"no connection to PostgreSQL at {self._where!r} within {self._timeout} s "
                f"({self._clean(exc)}): is the server up?"
            ) from None
        except PoolClosed:
            raise CheckpointStoreError(f"{self!r} is closed") from None

    async def _guard(self, work: Awaitable[_T]) -> _T:
        """``await work``, a database error turned into ``CheckpointStoreError``."""
        from psycopg import Error

        try:
            return await work
        except Error as exc:
            raise CheckpointStoreError(
                f"checkpoint database {self._where!r} (schema {self.schema!r}) failed: "
                f"{type(exc).__name__}: {self._clean(exc)}"
            ) from exc

    async def _migrate(self, connection: AsyncConnection[tuple[Any, ...]]) -> None:
        async with connection.transaction():
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext('rxchronos schema ' || %s))",
                (self.schema,),
            )
            await connection.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {schema}"))
            await connection.execute(
                self._sql("CREATE TABLE IF NOT EXISTS {schema}.schema_version (version INTEGER)")
            )
            cursor = await connection.execute(
                self._sql("SELECT max(version) FROM {schema}.schema_version")
            )
            row = await cursor.fetchone()
            version = 0 if row is None or row[0] is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise CheckpointStoreError(
                    f"schema {self.schema!r} at {self._where!r} has checkpoint schema version "
                    f"{version}, newer than this rxchronos understands ({SCHEMA_VERSION}); "
                    "upgrade rxchronos"
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[number]:
                    await connection.execute(self._sql(statement))
                await connection.execute(
                    self._sql("INSERT INTO {schema}.schema_version VALUES (%s)"), (number,)
                )

    def _sql(self, statement: str) -> Any:
        from psycopg import sql

        return sql.SQL(statement.replace("{schema}", self._quoted))

    def _clean(self, exc: BaseException) -> str:
        """The error's text, single-line (libpq's messages never carry the password)."""
        return " ".join(str(exc).split())
