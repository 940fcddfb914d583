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
import weakref
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Literal
from typing import Protocol
from typing import TypeGuard
from typing import runtime_checkable

from rxchronos.graph._errors import CheckpointStoreError
from rxchronos.graph._errors import GraphError
from rxchronos.graph._errors import SessionBusyError

if TYPE_CHECKING:
    from rxchronos.graph._events import RunStatus
    from rxchronos.graph._execution import RunExecution
    from rxchronos.graph._stores import Checkpoint

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


@runtime_checkable
class _ReleasingStore(Protocol):
    """A lease store that saves a run's last checkpoint and releases its lease in one trip."""

    async def put(self, checkpoint: Checkpoint) -> None: ...

    async def put_and_release(self, checkpoint: Checkpoint, owner: str) -> None: ...


_RELEASING: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()
"""Whether a store type is a ``_ReleasingStore``: a protocol ``isinstance`` check costs several
microseconds, too much for every run."""


def _releases(store: LeaseStore) -> TypeGuard[_ReleasingStore]:
    kind = type(store)
    known = _RELEASING.get(kind)
    if known is None:
        known = _RELEASING[kind] = isinstance(store, _ReleasingStore)
    return known


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
    keeper = _Keeper(store, execution, owner, ttl)
    released = False
    if _releases(store):
        releasing = store

        async def last_put(checkpoint: Checkpoint) -> None:
            nonlocal released
            if await keeper.stop() is not None:  # a crashed renewal: raised by _release below
                await releasing.put(checkpoint)
                return
            await releasing.put_and_release(checkpoint, owner)
            released = True

        execution.last_put = last_put
    try:
        status = await start(execution)
    except asyncio.CancelledError as exc:
        if not released:
            await _release(store, execution, owner, keeper, ttl, stale, exc)
        current = asyncio.current_task()
        if keeper.failure and current is not None and current.uncancel() == 0:
            raise keeper.failure[0] from None  # the keeper stopped the run: say why
        raise
    except BaseException as exc:
        if not released:
            await _release(store, execution, owner, keeper, ttl, stale, exc)
        raise
    if not released:
        await _release(store, execution, owner, keeper, ttl, stale, None, status)
    return status


def poll_interval(ttl: float) -> float:
    """Seconds between renewals: often enough for a cancel to arrive within a second, and for
    several tries before the lease expires."""
    return min(0.5, ttl / 4)


class _Keeper:
    """Renews a run's lease every ``poll_interval(ttl)`` seconds, and acts on a cancel flag or a
    lost lease.

    A timer on the loop between renewals, and a task only while a renewal is on its way to the
    store: a run shorter than one interval (most of them) costs a timer handle, not a task that
    must be started, cancelled and waited for.
    """

    def __init__(self, store: LeaseStore, execution: RunExecution, owner: str, ttl: float) -> None:
        self._store = store
        self._execution = execution
        self._owner = owner
        self._ttl = ttl
        self._interval = poll_interval(ttl)
        self._loop = execution.loop
        self._renewed = time.monotonic()
        self._cancelled = False
        self._stopped = False
        self._task: asyncio.Task[None] | None = None
        self.failure: list[GraphError] = []
        """Why the keeper stopped the run, if it did."""
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(
            self._interval, self._renew_now
        )

    def _renew_now(self) -> None:
        self._timer = None
        self._task = self._loop.create_task(
            self._renew(), name=f"rxchronos-lease-{self._execution.session_id}"
        )

    async def _renew(self) -> None:
        """One renewal; the timer is set again unless the run is to stop."""
        session_id = self._execution.session_id
        try:
            renewal = await self._store.renew_lease(session_id, self._owner, self._ttl)
        except GraphError as exc:
            silent = time.monotonic() - self._renewed
            if silent + self._interval >= self._ttl:
                self.failure.append(
                    CheckpointStoreError(
                        f"session {session_id!r}: its lease could not be renewed for "
                        f"{silent:.1f} s ({exc}); the run was stopped before the lease expired, "
                        "so that no other worker runs it at the same time"
                    )
                )
                _stop(self._execution)
                return
        else:  # try again on failure: the lease holds for a while yet
            self._renewed = time.monotonic()
            if renewal == "lost":
                self.failure.append(
                    SessionBusyError(
                        f"session {session_id!r}: the run lost its lease to another worker (it "
                        f"was not renewed within the lease ttl of {self._ttl} s, e.g. because the "
                        "event loop was blocked); the run was stopped"
                    )
                )
                _stop(self._execution)
                return
            if renewal == "cancel" and not self._cancelled:
                self._cancelled = True
                self._execution.cancel_requested = True
                _stop(self._execution)
        if not self._stopped:
            self._timer = self._loop.call_later(self._interval, self._renew_now)

    async def stop(self) -> BaseException | None:
        """Stop renewing (a renewal on its way is cancelled and waited for); return the exception
        a renewal crashed with, if one did (not a store error: those it handles)."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        task = self._task
        if task is None:
            return None
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
        return None if task.cancelled() else task.exception()


def _stop(execution: RunExecution) -> None:
    if execution.task is not None:
        execution.task.cancel()


async def _release(
    store: LeaseStore,
    execution: RunExecution,
    owner: str,
    keeper: _Keeper,
    ttl: float,
    stale: dict[str, str],
    pending: BaseException | None,
    status: RunStatus | None = None,
) -> None:
    """Stop renewing and give the lease up. One that cannot be given up expires by itself after
    ``ttl``: the caller is told, by a note on the exception already on its way out, or by a
    ``CheckpointStoreError`` carrying the run's result."""
    crashed = await keeper.stop()
    try:
        if crashed is not None:
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
