"""Where checkpoints live: the [CheckpointStore][rxchronos.graph.CheckpointStore] protocol,
[Checkpoint][rxchronos.graph.Checkpoint], the in-process [MemoryStore][rxchronos.graph.MemoryStore],
and what the two database stores share: a checkpoint's columns, and how a row of them becomes a
``Checkpoint`` again (a damaged row is a ``CheckpointStoreError``). The durable stores are
[SQLiteStore][rxchronos.graph.SQLiteStore] (``_sqlite.py``) and
[PostgresStore][rxchronos.graph.PostgresStore] (``_postgres.py``).

A checkpoint is written after every step (one node, or the tasks of a parallel step) and when a
run pauses at an interrupt. It records the state *after* the step and the tasks to run *next*, so
resuming from it never runs a finished step twice.
A session's checkpoints form an append-only history: resuming from an old checkpoint adds new ones
(whose ``parent_id`` points back), it never rewrites the old.

A store that is also a [PendingWritesStore][rxchronos.graph.PendingWritesStore] (every store of
rxchronos) keeps the writes of each task of a parallel step as the task finishes: when a sibling
fails, or the process dies, before the step's checkpoint is written, ``resume`` runs only the
tasks that had not finished. Writing the step's checkpoint deletes them (they are in its state).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.graph._errors import CheckpointStoreError
from rxchronos.graph._state import decode_branches
from rxchronos.graph._state import decode_writes
from rxchronos.graph._state import freeze_mapping

__all__ = [
    "CHECKPOINT_COLUMNS",
    "Checkpoint",
    "CheckpointStore",
    "MemoryStore",
    "PendingWritesStore",
    "check_id",
    "check_writes",
    "checkpoint_from_row",
    "writes_from_rows",
]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A saved point of a session, from which a run can continue.

    Attributes:
        checkpoint_id: unique id (across sessions).
        session_id: the session whose history this belongs to.
        run_id: the run that wrote it.
        step: position in the history: a parent's step plus one (a run started from the entry
            point begins a new chain at 1).
        state: the state at this point (read-only).
        next_node: the node to run next; ``None`` when the run had completed.
        paused: the run paused here before ``next_node`` (an interrupt node).
        parent_id: the checkpoint this one follows, if any.
        created_at: Unix time in seconds.
        branches: when the next step is not just ``next_node``: ``{"tasks": [...], "joins":
            {...}}``, the tasks of the next step in order (``{"node": id}``, or for a
            [Send][rxchronos.graph.Send] ``{"node", "arg", "tool_call_id"}``) and the joins
            waiting for more sources (``{join index: [sources finished]}``); ``None`` otherwise.
            ``next_node`` is then the first task's node. A store keeps it as JSON. The writes
            of the tasks of that step that finished before the step did are kept apart, by
            task number (see [PendingWritesStore][rxchronos.graph.PendingWritesStore]).

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import MemoryStore, Runner, StateGraph
        >>> g = (StateGraph("review").add_node("draft", lambda s: {"text": "v1"})
        ...      .add_interrupt_node("approve", lambda s: {"approved": True})
        ...      .set_entry_point("draft").add_edge("draft", "approve").compile())
        >>> store = MemoryStore()
        >>> async def main():
        ...     await Runner(g, store=store).run("s1", {})
        ...     latest = await store.latest("s1")
        ...     return latest.step, latest.next_node, latest.paused, dict(latest.state)
        >>> asyncio.run(main())  # paused before "approve", with the state after "draft"
        (2, 'approve', True, {'text': 'v1'})
    """

    checkpoint_id: str
    session_id: str
    run_id: str
    step: int
    state: Mapping[str, Any]
    next_node: str | None
    paused: bool
    parent_id: str | None
    created_at: float
    branches: Mapping[str, Any] | None = None


@runtime_checkable
class CheckpointStore(Protocol):
    """What a ``Runner`` needs from a checkpoint store. Every method is a coroutine, so a store may
    do its I/O off the event loop.

    Example:
        >>> isinstance(MemoryStore(), CheckpointStore)
        True
    """

    async def put(self, checkpoint: Checkpoint) -> None:
        """Save ``checkpoint`` (atomically: all of it or nothing)."""
        ...

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        """The checkpoint with this id, or ``None``."""
        ...

    async def latest(self, session_id: str) -> Checkpoint | None:
        """The newest checkpoint of the session, or ``None`` for an unknown session."""
        ...

    async def list_checkpoints(self, session_id: str) -> list[Checkpoint]:
        """Every checkpoint of the session, oldest first (empty for an unknown session)."""
        ...


def check_id(name: str, value: object) -> None:
    """A checkpoint or session id given to a store, checked the same way by every store (before
    any I/O: a list would not even be a dict key).

    Raises:
        ArgumentTypeError: ``value`` is not a str; the message names the argument ``name``.
    """
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")


def check_writes(checkpoint_id: object, task: object, writes: object) -> None:
    """``put_writes``' arguments, checked the same way by every store.

    Raises:
        ArgumentTypeError: ``checkpoint_id`` is not a str, ``task`` not an int, ``writes`` not a
            mapping with str keys.
        InvalidArgumentError: ``task`` is negative.
    """
    check_id("checkpoint_id", checkpoint_id)
    if isinstance(task, bool) or not isinstance(task, int):
        raise ArgumentTypeError(f"task must be the task's number in its step, got {task!r}")
    if task < 0:
        raise InvalidArgumentError(f"task must be 0 or more, got {task}")
    if not isinstance(writes, Mapping) or any(type(key) is not str for key in writes):
        raise ArgumentTypeError(
            f"writes must be a mapping with str keys, got {type(writes).__name__}"
        )


CHECKPOINT_COLUMNS = (
    "checkpoint_id, session_id, run_id, step, state, next_node, paused, parent_id, created_at, "
    "branches"
)
"""The columns of a database store's checkpoints table that hold a checkpoint, in the order of
its fields (what ``checkpoint_from_row`` reads)."""


def checkpoint_from_row(row: Sequence[Any], place: str, *, check_types: bool = False) -> Checkpoint:
    """A database store's row as a [Checkpoint][rxchronos.graph.Checkpoint].

    ``row`` holds the checkpoint's fields in their order (``CHECKPOINT_COLUMNS``), the state
    and the branches as JSON text; ``place`` names the database for the error (e.g.
    ``"'runs.db'"``). ``check_types`` checks every column's type too, for a database that does
    not enforce them (SQLite).

    Raises:
        CheckpointStoreError: the row is damaged (its state is not a JSON object, its branches
            are not what a run wrote, or a column has the wrong type).
    """
    cid, sid, run, step, text, next_node, paused, parent, at, branches_text = row
    try:
        state = json.loads(text) if isinstance(text, str) else None
    except ValueError as exc:  # json.JSONDecodeError, RecursionError is not expected here
        raise _damaged(cid, place, f"its state is not valid JSON ({exc})") from exc
    if not isinstance(state, dict):
        raise _damaged(cid, place, f"its state is {type(state).__name__}, not a JSON object")
    if check_types:
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
                raise _damaged(cid, place, f"its {name} is {value!r}")
    try:
        branches = decode_branches(branches_text)
    except ValueError as exc:
        raise _damaged(cid, place, str(exc)) from exc
    return Checkpoint(
        cid, sid, run, step, freeze_mapping(state), next_node, bool(paused), parent, at, branches
    )


def writes_from_rows(
    checkpoint_id: str, rows: Iterable[tuple[Any, Any]], place: str
) -> dict[int, Mapping[str, Any]]:
    """The pending writes saved for the step after ``checkpoint_id``, from a database store's
    rows of ``(task number, JSON text)``, by task number (``place`` as for
    ``checkpoint_from_row``).

    Raises:
        CheckpointStoreError: a row is damaged (its task is not a number, or its writes are not
            a JSON object).
    """
    try:
        return dict(decode_writes(rows))
    except ValueError as exc:
        raise _damaged(checkpoint_id, place, str(exc)) from exc


def _damaged(checkpoint_id: object, place: str, what: str) -> CheckpointStoreError:
    return CheckpointStoreError(
        f"checkpoint {checkpoint_id!r} in {place} is damaged: {what}; the database was changed "
        "outside rxchronos (restore it from a backup, or delete that row)"
    )


@runtime_checkable
class PendingWritesStore(Protocol):
    """What a store adds to keep the writes of the tasks of a parallel step that finished before
    the step did (LangGraph's "pending writes").

    A parallel step continues from a checkpoint (the one written after the step before). As each
    of its tasks finishes, the runner saves what it wrote with ``put_writes(checkpoint_id, task,
    writes)``, ``task`` being the task's place in the step (its index in
    ``Checkpoint.branches["tasks"]``). ``resume`` reads them back with ``get_writes`` and runs only
    the tasks without saved writes. A store without these methods still works: a step that did not
    finish then runs again whole.

    The writes of a step are needed until the next checkpoint of the session is written: the
    step's own checkpoint (their writes are then in its state), or a checkpoint that continues the
    same step (a ``resume``'s update, saved before the step runs again, or a pause inside a
    subgraph), to which the runner saves the finished tasks' writes again right after writing it.
    So ``put(checkpoint)`` deletes the writes saved under ``checkpoint.parent_id`` when that parent
    belongs to the same session, in the same transaction as the checkpoint itself (each store of
    rxchronos does; a store of your own should, or those rows stay, read by nothing). A fork's first
    checkpoint has its parent in another session: that session keeps its writes for its own
    ``resume``. Writes under a checkpoint that never gets a child in its session (the latest of a
    session that failed and was then rewound to an earlier checkpoint) stay.

    Example:
        >>> import asyncio
        >>> store = MemoryStore()
        >>> async def main():
        ...     await store.put_writes("c1", 1, {"notes": ["b"]})
        ...     return isinstance(store, PendingWritesStore), await store.get_writes("c1")
        >>> asyncio.run(main())
        (True, {1: {'notes': ['b']}})
    """

    async def put_writes(self, checkpoint_id: str, task: int, writes: Mapping[str, Any]) -> None:
        """Save what task number ``task`` of the step after ``checkpoint_id`` wrote (replacing
        what was saved for that task before)."""
        ...

    async def get_writes(self, checkpoint_id: str) -> dict[int, Mapping[str, Any]]:
        """The writes saved for the step after ``checkpoint_id``, by task number in increasing
        order (empty if none)."""
        ...


class MemoryStore:
    """Checkpoints in a dict: fast, per process, gone when the process ends. Pending writes are
    in a dict too, dropped when the checkpoint after their step is saved (see
    [PendingWritesStore][rxchronos.graph.PendingWritesStore]).

    The state is stored by reference, which is safe because the runner's state snapshots are
    read-only: a checkpoint costs no copy at all.

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import MemoryStore, Runner, StateGraph
        >>> g = StateGraph("g").add_node("a", lambda s: {"x": 1}).set_entry_point("a").compile()
        >>> store = MemoryStore()
        >>> async def main():
        ...     await Runner(g, store=store).run("s1", {})
        ...     return [c.next_node for c in await store.list_checkpoints("s1")]
        >>> asyncio.run(main())
        [None]
    """

    __slots__ = ("_by_id", "_by_session", "_writes")

    def __init__(self) -> None:
        self._by_id: dict[str, Checkpoint] = {}
        self._by_session: dict[str, list[Checkpoint]] = {}
        self._writes: dict[str, dict[int, Mapping[str, Any]]] = {}

    async def put(self, checkpoint: Checkpoint) -> None:
        """Save ``checkpoint``, and drop the pending writes of its parent's step (see
        [PendingWritesStore][rxchronos.graph.PendingWritesStore])."""
        self.put_nowait(checkpoint)

    def put_nowait(self, checkpoint: Checkpoint) -> None:
        """Save ``checkpoint`` at once: [put][rxchronos.graph.MemoryStore.put] without the coroutine
        (a runner's fast path; saving to memory never waits). The pending writes saved under its
        parent, when the parent is of the same session, are dropped."""
        if self._writes:
            parent = self._by_id.get(checkpoint.parent_id) if checkpoint.parent_id else None
            if parent is not None and parent.session_id == checkpoint.session_id:
                self._writes.pop(parent.checkpoint_id, None)
        self._by_id[checkpoint.checkpoint_id] = checkpoint
        history = self._by_session.get(checkpoint.session_id)
        if history is None:
            self._by_session[checkpoint.session_id] = [checkpoint]
        else:
            history.append(checkpoint)

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        """The checkpoint with this id, or ``None``."""
        check_id("checkpoint_id", checkpoint_id)
        return self._by_id.get(checkpoint_id)

    async def latest(self, session_id: str) -> Checkpoint | None:
        """The newest checkpoint of the session, or ``None``."""
        check_id("session_id", session_id)
        history = self._by_session.get(session_id)
        return history[-1] if history else None

    async def list_checkpoints(self, session_id: str) -> list[Checkpoint]:
        """Every checkpoint of the session, oldest first."""
        check_id("session_id", session_id)
        return list(self._by_session.get(session_id, ()))

    async def put_writes(self, checkpoint_id: str, task: int, writes: Mapping[str, Any]) -> None:
        """Save a finished task's writes (see
        [PendingWritesStore][rxchronos.graph.PendingWritesStore])."""
        check_writes(checkpoint_id, task, writes)
        self.put_writes_nowait(checkpoint_id, task, freeze_mapping(writes))

    def put_writes_nowait(self, checkpoint_id: str, task: int, writes: Mapping[str, Any]) -> None:
        """[put_writes][rxchronos.graph.MemoryStore.put_writes] without the coroutine, for the
        runner, whose writes are read-only snapshots: kept by reference."""
        saved = self._writes.get(checkpoint_id)
        if saved is None:
            self._writes[checkpoint_id] = {task: writes}
        else:
            saved[task] = writes

    async def get_writes(self, checkpoint_id: str) -> dict[int, Mapping[str, Any]]:
        """The writes saved for the step after ``checkpoint_id``, by task number."""
        check_id("checkpoint_id", checkpoint_id)
        return dict(sorted(self._writes.get(checkpoint_id, {}).items()))
