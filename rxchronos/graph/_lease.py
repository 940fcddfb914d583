"""One run, one owner: session leases kept in a checkpoint store, and the run control they carry.

A store that several processes share ([SQLiteStore][rxchronos.graph.SQLiteStore] on one file,
[PostgresStore][rxchronos.graph.PostgresStore] on one database) also implements
[LeaseStore][rxchronos.graph.LeaseStore]. A ``Runner`` on such a store takes the session's lease
before a run reads or writes anything, so a second ``run``/``resume`` of a session that runs on
another worker raises ``SessionBusyError``. While the run runs, the runner renews the lease every
``poll_interval`` seconds; the same round trip reads the session's cancel flag, which
``runner.cancel(session_id)`` sets from any worker, so a cancel reaches the run within about a
second with nothing but the store. A worker that dies stops renewing; its lease expires after
``ttl`` seconds and any worker can resume the session from its last checkpoint.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from rxchronos.graph._errors import CheckpointStoreError, GraphError, SessionBusyError

if TYPE_CHECKING:
    from rxchronos.graph._events import RunStatus
    from rxchronos.graph._execution import RunExecution

__all__ = [
    "DEFAULT_LEASE_TTL",
    "Lease",
    "LeaseRenewal",
    "LeaseStore",
    "lease_owner",
    "poll_interval",
    "run_leased",
]

DEFAULT_LEASE_TTL = 10.0
"""Seconds after its last renewal that a lease expires: how long a crashed worker's session stays
busy before another worker may resume it."""
LeaseRenewal = Literal["held", "cancel", "lost"]
"""What a renewal found: still ours, ours with a cancel requested, or taken by another owner."""


def lease_owner(run_id: str) -> str:
    """The owner string of a run's lease: the run and the worker (host and process) running it."""
    return f"{run_id}@{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a session's lease.

    Attributes:
        session_id: the session.
        owner: the holder (``<run id>@<host>:<pid>``).
        expires_in: seconds until the lease expires unless renewed.

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import SQLiteStore
        >>> async def main():
        ...     async with SQLiteStore(":memory:") as store:
        ...         first = await store.acquire_lease("s1", "run-1@a:1", 10.0)
        ...         second = await store.acquire_lease("s1", "run-2@b:2", 10.0)
        ...         return first.owner, second.owner  # the second worker finds it taken
        >>> asyncio.run(main())
        ('run-1@a:1', 'run-1@a:1')
    """

    session_id: str
    owner: str
    expires_in: float


@runtime_checkable
class LeaseStore(Protocol):
    """What a store shared by several workers adds to
    [CheckpointStore][rxchronos.graph.CheckpointStore] so that a session runs on one worker at a
    time and can be cancelled from any.

    Every method is atomic in the store (two workers racing for one lease: exactly one gets it).
    Expiry is judged by one clock (the database server's, or the one machine's for SQLite).

    Example:
        >>> from rxchronos.graph import LeaseStore, MemoryStore, SQLiteStore
        >>> isinstance(SQLiteStore(":memory:"), LeaseStore), isinstance(MemoryStore(), LeaseStore)
        (True, False)
    """

    async def acquire_lease(self, session_id: str, owner: str, ttl: float) -> Lease:
        """Take the session's lease for ``ttl`` seconds if it is free or expired (clearing any
        old cancel flag); return the holder afterwards (``owner`` when taken)."""
        ...

    async def renew_lease(self, session_id: str, owner: str, ttl: float) -> LeaseRenewal:
        """Extend ``owner``'s lease by ``ttl`` seconds from now and report its cancel flag."""
        ...

    async def release_lease(self, session_id: str, owner: str) -> None:
        """Give the lease up (nothing happens if ``owner`` no longer holds it)."""
        ...

    async def request_cancel(self, session_id: str) -> bool:
        """Flag the session's running run for cancellation; ``False`` if no live lease exists."""
        ...


async def run_leased(
    store: LeaseStore,
    start: Callable[[RunExecution], Awaitable[RunStatus]],
    ttl: float,
    stale: dict[str, str],
    execution: RunExecution,
) -> RunStatus:
    """Run ``start(execution)`` holding the session's lease: the runner's ``start`` wrapped.

    Raises ``SessionBusyError`` before anything runs if another worker holds the lease. While the
    run runs, the lease is renewed every ``poll_interval(ttl)`` seconds; a cancel flag seen on
    renewal cancels the run as ``runner.cancel`` does; a lease taken over (or not renewable before
    it expires) stops the run with ``SessionBusyError`` (or ``CheckpointStoreError``).

    ``stale`` is the runner's record of its own leases that could not be released (the store was
    away when a run ended); the next run of such a session releases that lease first, so this
    runner can go on with it at once when the store is back.
    """
    session_id = execution.session_id
    owner = lease_owner(execution.run_id)
    try:
        if (leftover := stale.get(session_id)) is not None:
            await store.release_lease(session_id, leftover)
            del stale[session_id]
        holder = await store.acquire_lease(session_id, owner, ttl)
    except CheckpointStoreError as exc:  # the store is unusable: a failed run, as for a write
        exc.run_state = execution._fail(exc)
        raise
    if holder.owner != owner:
        raise SessionBusyError(
            f"session {session_id!r} is running elsewhere ({holder.owner}); its lease expires in "
            f"{max(holder.expires_in, 0.0):.1f} s unless renewed: wait for the run to end, or "
            "cancel it with runner.cancel(session_id)"
        )
    failure: list[GraphError] = []
    keeper = asyncio.get_running_loop().create_task(
        _keep(store, execution, owner, ttl, failure), name=f"rxchronos-lease-{session_id}"
    )
    try:
        status = await start(execution)
    except asyncio.CancelledError as exc:
        await _release(store, execution, owner, keeper, ttl, stale, exc)
        current = asyncio.current_task()
        if failure and current is not None and current.uncancel() == 0:
            raise failure[0] from None  # the keeper stopped the run: say why
        raise
    except BaseException as exc:
        await _release(store, execution, owner, keeper, ttl, stale, exc)
        raise
    await _release(store, execution, owner, keeper, ttl, stale, None, status)
    return status


def poll_interval(ttl: float) -> float:
    """Seconds between renewals: often enough for a cancel to arrive within a second, and for
    several tries before the lease expires."""
    return min(0.5, ttl / 4)


async def _keep(
    store: LeaseStore, execution: RunExecution, owner: str, ttl: float, failure: list[GraphError]
) -> None:
    """Renew the lease until cancelled; act on a cancel flag or a lost lease."""
    session_id = execution.session_id
    interval = poll_interval(ttl)
    renewed = time.monotonic()
    cancelled = False
    while True:
        await asyncio.sleep(interval)
        try:
            renewal = await store.renew_lease(session_id, owner, ttl)
        except GraphError as exc:
            silent = time.monotonic() - renewed
            if silent + interval < ttl:
                continue  # try again: the lease holds for a while yet
            failure.append(
                CheckpointStoreError(
                    f"session {session_id!r}: its lease could not be renewed for {silent:.1f} s "
                    f"({exc}); the run was stopped before the lease expired, so that no other "
                    "worker runs it at the same time"
                )
            )
            _stop(execution)
            return
        renewed = time.monotonic()
        if renewal == "lost":
            failure.append(
                SessionBusyError(
                    f"session {session_id!r}: the run lost its lease to another worker (it was "
                    f"not renewed within the lease ttl of {ttl} s, e.g. because the event loop "
                    "was blocked); the run was stopped"
                )
            )
            _stop(execution)
            return
        if renewal == "cancel" and not cancelled:
            cancelled = True
            execution.cancel_requested = True
            _stop(execution)


def _stop(execution: RunExecution) -> None:
    if execution.task is not None:
        execution.task.cancel()


async def _release(
    store: LeaseStore,
    execution: RunExecution,
    owner: str,
    keeper: asyncio.Task[None],
    ttl: float,
    stale: dict[str, str],
    pending: BaseException | None,
    status: RunStatus | None = None,
) -> None:
    """Stop renewing and give the lease up. One that cannot be given up expires by itself after
    ``ttl``: the caller is told, by a note on the exception already on its way out, or by a
    ``CheckpointStoreError`` carrying the run's result."""
    keeper.cancel()
    await asyncio.wait({keeper})
    try:
        if not keeper.cancelled() and (crashed := keeper.exception()) is not None:
            raise crashed  # not a store error (those it handles): a defect, never hidden
        await store.release_lease(execution.session_id, owner)
    except GraphError as exc:
        stale[execution.session_id] = owner
        note = (
            f"the lease of session {execution.session_id!r} could not be released ({exc}); other "
            f"workers can run the session once it expires, within {ttl} s (this runner at once)"
        )
        if pending is not None:
            pending.add_note(note)
            return
        error = CheckpointStoreError(f"the run ended {status}, but {note}")
        if status is not None:
            error.run_state = execution.result(status)
        raise error from exc
