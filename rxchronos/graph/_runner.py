"""The public [Runner][rxchronos.graph.Runner]: runs, streams, resumes and time-travels a compiled
graph."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Mapping
from functools import partial
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from reactivex import Observable
from reactivex import abc

from rxchronos._closable import AsyncClosable
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.aio import from_producer
from rxchronos.graph._compiled import CompiledGraph
from rxchronos.graph._errors import CheckpointNotFoundError
from rxchronos.graph._errors import NothingToResumeError
from rxchronos.graph._errors import RunCancelledError
from rxchronos.graph._errors import SessionBusyError
from rxchronos.graph._events import EventPublisher
from rxchronos.graph._events import RunState
from rxchronos.graph._events import RunStatus
from rxchronos.graph._events import StreamEvent
from rxchronos.graph._execution import HotEvents
from rxchronos.graph._execution import RunExecution
from rxchronos.graph._execution import Task
from rxchronos.graph._lease import DEFAULT_LEASE_TTL
from rxchronos.graph._lease import LeaseStore
from rxchronos.graph._lease import run_leased
from rxchronos.graph._state import ATOMIC
from rxchronos.graph._state import EMPTY_STATE
from rxchronos.graph._state import FrozenDict
from rxchronos.graph._state import freeze_mapping
from rxchronos.graph._stores import Checkpoint
from rxchronos.graph._stores import CheckpointStore
from rxchronos.graph._subgraph import apply_resume_update

__all__ = ["Runner"]

_Start = Callable[[RunExecution], Coroutine[Any, Any, RunStatus]]
_log = logging.getLogger("rxchronos.graph")


@runtime_checkable
class _ControlChannel(Protocol):
    """The run-control part of a broker (every rxchronos broker has it: ``BrokerProtocol``)."""

    @property
    def controls(self) -> Observable[Any]: ...

    async def control(self, session_id: str, command: str) -> None: ...

    async def take_control(self, session_id: str) -> str | None: ...


class Runner(AsyncClosable):
    """Executes a compiled graph and reports every step as a
    [StreamEvent][rxchronos.graph.StreamEvent].

    Args:
        graph: from ``StateGraph(...).compile()``.
        store: where checkpoints go (``MemoryStore()``, ``SQLiteStore(path)``); without one, runs
            cannot be resumed.
        broker: optional; every event of a run is published to it with the session id as topic
            (see [EventPublisher][rxchronos.graph.EventPublisher]). A broker with a control
            channel (every rxchronos broker) also carries
            [cancel][rxchronos.graph.Runner.cancel] to the worker that runs the session.
        max_steps: how many nodes one run may execute before it fails with
            ``GraphRecursionError`` (guards cycles).
        lease_ttl: for a store that several workers share (a
            [LeaseStore][rxchronos.graph.LeaseStore]:
            ``SQLiteStore``, ``PostgresStore``), the seconds a run's lease on its session lasts
            without renewal: how soon another worker may resume a session whose worker died.
        max_concurrency: how many tasks of a parallel step run at once (``None``: all of them).

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import Runner, StateGraph
        >>> g = (StateGraph("etl").add_node("extract", lambda s: {"rows": 3})
        ...      .add_node("load", lambda s: {"loaded": s["rows"]})
        ...      .set_entry_point("extract").add_edge("extract", "load").compile())
        >>> runner = Runner(g)
        >>> _ = runner.events.subscribe(lambda e: print(e.seq, e.type, e.node_id))
        >>> result = asyncio.run(runner.run("session-1", {"source": "csv"}))
        1 node_start extract
        2 node_end extract
        3 edge_transition load
        4 node_start load
        5 node_end load
        6 completed load
        >>> result.status, result.state["loaded"]
        (<RunStatus.COMPLETED: 'completed'>, 3)
    """

    def __init__(
        self,
        graph: CompiledGraph,
        store: CheckpointStore | None = None,
        *,
        broker: EventPublisher | None = None,
        max_steps: int = 100,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        max_concurrency: int | None = None,
    ) -> None:
        if not isinstance(graph, CompiledGraph):
            raise ArgumentTypeError(
                f"Runner needs a compiled graph (StateGraph(...).compile()), got "
                f"{type(graph).__name__}"
            )
        if store is not None and (
            isinstance(store, type) or not isinstance(store, CheckpointStore)
        ):
            raise ArgumentTypeError(
                "store must be a CheckpointStore instance such as MemoryStore() or "
                f"SQLiteStore(path), got {store!r}"
            )
        if broker is not None and (
            isinstance(broker, type) or not isinstance(broker, EventPublisher)
        ):
            raise ArgumentTypeError(
                "broker must have publish(event, topic=...) and finish_topic(topic) (an "
                f"rxchronos.stream.Broker), got {broker!r}"
            )
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise InvalidArgumentError(f"max_steps must be a positive int, got {max_steps!r}")
        if isinstance(lease_ttl, bool) or not isinstance(lease_ttl, int | float) or lease_ttl <= 0:
            raise InvalidArgumentError(
                f"lease_ttl must be a positive number of seconds, got {lease_ttl!r}"
            )
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise InvalidArgumentError(
                f"max_concurrency must be a positive int or None, got {max_concurrency!r}"
            )
        self.max_concurrency = max_concurrency
        self.graph = graph
        self.store = store
        self.broker = broker
        self.max_steps = max_steps
        self.lease_ttl = float(lease_ttl)
        self._leases = store if isinstance(store, LeaseStore) else None
        self._stale_leases: dict[str, str] = {}  # session -> own lease not yet released
        self._hot = HotEvents()
        self._active: dict[str, RunExecution] = {}
        self._channel = broker if isinstance(broker, _ControlChannel) else None
        self._listening: abc.DisposableBase | None = None  # the controls, while a run is active
        self._clearing: set[asyncio.Task[None]] = set()

    @property
    def events(self) -> Observable[StreamEvent]:
        """Hot: every event of every run of this runner, as it happens. Never completes.

        Subscribe before you start a run (like Chronos' ``runner.Stream()``, minus its channel
        that closed after the first run). Events of concurrent runs interleave; each names its
        ``run_id`` and ``session_id``.
        """
        return self._hot.observable

    # --- running -------------------------------------------------------------------------------

    async def run(self, session_id: str, state: Mapping[str, Any] | None = None) -> RunState:
        """Run the graph from its entry point with ``state``; return how it ended.

        Returns:
            The [RunState][rxchronos.graph.RunState]: ``completed``, ``paused`` (at an interrupt
            node) or ``cancelled`` (by [cancel][rxchronos.graph.Runner.cancel]).

        Raises:
            NodeError: a node failed (an ``error`` event was emitted; ``exc.run_state`` is the
                failed run).
            StateSerializationError: the state cannot be checkpointed (an ``error`` event was
                emitted; ``exc.run_state`` is the failed run).
            CheckpointStoreError: the store failed to write a checkpoint (likewise).
            GraphRecursionError: more than ``max_steps`` nodes ran.
            SessionBusyError: this session is already running, on this runner or (with a
                [LeaseStore][rxchronos.graph.LeaseStore]) on another worker.
        """
        initial = self._initial(state)
        return await self._await(session_id, self._from_entry(initial))

    def stream(
        self, session_id: str, state: Mapping[str, Any] | None = None
    ) -> Observable[StreamEvent]:
        """Cold: each subscription runs the graph once and receives that run's events.

        Completes after ``completed`` or ``interrupt``; errors with ``NodeError`` after ``error``.
        Disposing the subscription cancels the run at its next await (a ``cancelled`` event goes to
        [events][rxchronos.graph.Runner.events]; the last checkpoint is kept, so the session can be
        resumed). Subscribe on the event loop thread.

        Example:
            >>> import asyncio
            >>> from rxchronos.graph import Runner, StateGraph
            >>> from rxchronos import operators as rxo
            >>> from reactivex import operators as ops
            >>> g = StateGraph("g").add_node("a", lambda s: {"x": 1}).set_entry_point("a")
            >>> runner = Runner(g.compile())
            >>> async def main():
            ...     events = runner.stream("s1", {}).pipe(rxo.of_type("node_end"), ops.to_list())
            ...     return [dict(e.update) for e in await events]
            >>> asyncio.run(main())
            [{'x': 1}]
        """
        initial = self._initial(state)
        return self._cold(session_id, self._from_entry(initial))

    async def resume(self, session_id: str, *, update: Mapping[str, Any] | None = None) -> RunState:
        """Continue a session from its latest checkpoint, after an interrupt, a failure, a cancel
        or a crash.

        At an interrupt, ``update`` (say, a human's answer) is merged into the state and saved as
        a checkpoint (so a failure of the node does not lose it), then the paused node runs - it
        does not pause again. After a crash, the run goes on from the last completed node. In a
        parallel step that a failing branch or a crash stopped, the tasks that had finished are
        not run again: their saved writes are used (with a
        [PendingWritesStore][rxchronos.graph.PendingWritesStore], as every rxchronos store is).

        Raises:
            NothingToResumeError: no store, no checkpoint for the session, the session completed,
                or its checkpoint continues at a node this graph does not have.
            TypeError: ``update`` is not a mapping with string keys.
        """
        return await self._await(session_id, self._from_latest(session_id, self._update(update)))

    def stream_resume(
        self, session_id: str, *, update: Mapping[str, Any] | None = None
    ) -> Observable[StreamEvent]:
        """[resume][rxchronos.graph.Runner.resume] as a cold Observable, like
        [stream][rxchronos.graph.Runner.stream]."""
        return self._cold(session_id, self._from_latest(session_id, self._update(update)))

    async def cancel(self, session_id: str) -> bool:
        """Cancel the session's running run at its next await, on whichever worker runs it;
        ``False`` if none is running.

        The run's ``await run(...)`` returns a ``cancelled`` RunState, and its ``stream(...)``
        emits the ``cancelled`` event, then errors with ``RunCancelledError``. The last checkpoint
        is kept for [resume][rxchronos.graph.Runner.resume]. A run on this runner is cancelled at
        once. With a [LeaseStore][rxchronos.graph.LeaseStore], a run on another worker is flagged
        in the store, and when the runner has a broker, a ``cancel`` control message goes through
        it (``broker.control``) to every worker: the one running the session cancels it as soon
        as the message arrives, and otherwise when it next renews its lease and finds the flag
        (within about a second). The flag belongs to the run that holds the lease, so a cancel is
        not lost while that run is still starting, and never reaches a later run. A broker that
        cannot be reached is logged as a warning: the store's flag still gets through.

        Raises:
            CheckpointStoreError: the store could not be reached to flag a run elsewhere.

        Example:
            >>> import asyncio
            >>> from rxchronos.graph import MemoryStore, Runner, StateGraph
            >>> async def slow(state):
            ...     await asyncio.sleep(3600)
            >>> g = StateGraph("g").add_node("slow", slow).set_entry_point("slow").compile()
            >>> async def main():
            ...     runner = Runner(g, MemoryStore())
            ...     run = asyncio.ensure_future(runner.run("s1", {}))
            ...     await asyncio.sleep(0.01)
            ...     return await runner.cancel("s1"), (await run).status
            >>> asyncio.run(main())
            (True, <RunStatus.CANCELLED: 'cancelled'>)
        """
        if self._cancel_here(session_id):
            return True
        if self._leases is None:
            return False
        flagged = await self._leases.request_cancel(session_id)
        if flagged and self._channel is not None:
            try:
                await self._channel.control(session_id, "cancel")
            except Exception as exc:  # the store's flag is the fallback: say why it is needed
                _log.warning(
                    "cancel of session %r: the broker could not carry it (%s: %s); the run's "
                    "worker finds the store's flag when it next renews its lease",
                    session_id,
                    type(exc).__name__,
                    exc,
                )
        return flagged

    def _cancel_here(self, session_id: str) -> bool:
        """Cancel the session's run if it runs on this runner."""
        execution = self._active.get(session_id)
        if execution is None or execution.task is None or execution.task.done():
            return False
        execution.cancel_requested = True
        return execution.task.cancel()

    def _on_control(self, control: Any) -> None:
        """A control message from the broker: cancel the session if it runs here, and clear the
        broker's copy of the flag (the run that needed it has it)."""
        session_id, command = control
        if command != "cancel" or not self._cancel_here(session_id):
            return
        assert self._channel is not None
        task = asyncio.get_running_loop().create_task(self._clear_flag(session_id))
        self._clearing.add(task)
        task.add_done_callback(self._clearing.discard)

    async def _clear_flag(self, session_id: str) -> None:
        assert self._channel is not None
        try:
            await self._channel.take_control(session_id)
        except Exception as exc:  # the flag expires by itself; nothing reads it but a runner
            _log.warning(
                "cancel of session %r: the broker's flag could not be cleared (%s: %s)",
                session_id,
                type(exc).__name__,
                exc,
            )

    async def aclose(self) -> None:
        """Cancel every run still executing on this runner and wait until each has ended.

        Each is cancelled as by [cancel][rxchronos.graph.Runner.cancel]: its last checkpoint is
        kept, so the sessions can be resumed by another runner. The store and the broker are
        not closed (the runner does not own them). ``async with Runner(...) as runner:`` calls
        this on the way out.

        Example:
            >>> import asyncio
            >>> from rxchronos.graph import MemoryStore, Runner, StateGraph
            >>> async def slow(state):
            ...     await asyncio.sleep(3600)
            >>> g = StateGraph("g").add_node("slow", slow).set_entry_point("slow").compile()
            >>> async def main():
            ...     async with Runner(g, MemoryStore()) as runner:
            ...         run = asyncio.ensure_future(runner.run("s1", {}))
            ...         await asyncio.sleep(0.01)
            ...     return (await run).status
            >>> asyncio.run(main())
            <RunStatus.CANCELLED: 'cancelled'>
        """
        tasks: list[asyncio.Task[Any]] = list(self._clearing)
        for execution in list(self._active.values()):
            task = execution.task
            if task is not None and not task.done():
                execution.cancel_requested = True
                task.cancel()
                tasks.append(task)
        if tasks:
            await asyncio.wait(tasks)

    # --- time travel ---------------------------------------------------------------------------

    async def resume_from_checkpoint(
        self, checkpoint_id: str, *, update: Mapping[str, Any] | None = None
    ) -> RunState:
        """Rewind a session to one of its checkpoints and run on from there.

        The new checkpoints are appended to the same session (their chain of ``parent_id`` leads
        back to this checkpoint); the older history stays as it was.

        Raises:
            TypeError: ``checkpoint_id`` is not a str.
            CheckpointNotFoundError: no checkpoint has this id.
        """
        changes = self._update(update)
        checkpoint = await self._checkpoint(checkpoint_id, "resume_from_checkpoint")
        return await self._await(
            checkpoint.session_id, self._from_checkpoint(checkpoint, changes, fork=False)
        )

    async def fork_from(
        self,
        checkpoint_id: str,
        update: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
    ) -> RunState:
        """Copy a checkpoint into a new session, merge ``update`` into its state, and run it.

        The original session's history is untouched. The result's ``session_id`` names the new
        session (``session_id`` if given, otherwise ``<original>-fork-<random>``).

        Raises:
            TypeError: ``checkpoint_id`` is not a str.
            CheckpointNotFoundError: no checkpoint has this id.
            ValueError: ``session_id`` is the checkpoint's own session or one that already has
                checkpoints (a fork starts a history of its own).
        """
        return await self._fork(checkpoint_id, update, session_id, "fork_from")

    async def replay_from(self, checkpoint_id: str, *, session_id: str | None = None) -> RunState:
        """Run again from a checkpoint, with its state exactly as recorded, in a new session.

        Useful to reproduce or debug a run; the same as ``fork_from(checkpoint_id, None)``.
        """
        return await self._fork(checkpoint_id, None, session_id, "replay_from")

    # --- internals -----------------------------------------------------------------------------

    async def _fork(
        self,
        checkpoint_id: str,
        update: Mapping[str, Any] | None,
        session_id: str | None,
        what: str,
    ) -> RunState:
        changes = self._update(update)
        if session_id is not None and (not isinstance(session_id, str) or not session_id):
            raise InvalidArgumentError(f"session_id must be a non-empty string, got {session_id!r}")
        checkpoint = await self._checkpoint(checkpoint_id, what)
        new_session = session_id or f"{checkpoint.session_id}-fork-{os.urandom(4).hex()}"
        if new_session == checkpoint.session_id:
            raise InvalidArgumentError(
                f"{what} needs a new session id, not the checkpoint's own {new_session!r}; "
                "to go on in the same session use resume_from_checkpoint"
            )
        if await self._require_store(what).latest(new_session) is not None:
            raise InvalidArgumentError(
                f"session {new_session!r} already has checkpoints; a fork starts a new session"
            )
        return await self._await(new_session, self._from_checkpoint(checkpoint, changes, fork=True))

    @staticmethod
    def _initial(state: Mapping[str, Any] | None) -> FrozenDict:
        if state is None:
            return EMPTY_STATE
        if type(state) is dict:
            for key, value in state.items():
                if type(key) is not str or type(value) not in ATOMIC:
                    break
            else:
                return FrozenDict(state)  # flat and plain (the common case): nothing to freeze
        elif not isinstance(state, Mapping):
            raise ArgumentTypeError(f"state must be a mapping, got {type(state).__name__}")
        for key in state:
            if type(key) is not str:
                raise ArgumentTypeError(f"state keys must be strings, got {key!r}")
        return freeze_mapping(state)

    def _update(self, update: Mapping[str, Any] | None) -> FrozenDict | None:
        if update is None:
            return None
        if not isinstance(update, Mapping):
            raise ArgumentTypeError(
                f"update must be a mapping or None, got {type(update).__name__}"
            )
        return self._initial(update) if update else None

    def _from_entry(self, state: FrozenDict) -> _Start:
        entry = self.graph.entry_point

        def start(execution: RunExecution) -> Coroutine[Any, Any, RunStatus]:
            return execution.execute([Task(entry)], state, resume_paused=False)

        return start

    def _from_latest(self, session_id: str, update: FrozenDict | None) -> _Start:
        async def start(execution: RunExecution) -> RunStatus:
            store = self._require_store("resume")
            checkpoint = await store.latest(session_id)
            if checkpoint is None:
                raise NothingToResumeError(f"session {session_id!r} has no checkpoint to resume")
            return await self._continue(execution, checkpoint, update, fork=False, pending=True)

        return start

    def _from_checkpoint(
        self, checkpoint: Checkpoint, update: FrozenDict | None, *, fork: bool
    ) -> _Start:
        def start(execution: RunExecution) -> Coroutine[Any, Any, RunStatus]:
            return self._continue(execution, checkpoint, update, fork=fork)

        return start

    async def _continue(
        self,
        execution: RunExecution,
        checkpoint: Checkpoint,
        update: FrozenDict | None,
        *,
        fork: bool,
        pending: bool = False,
    ) -> RunStatus:
        """Run on from ``checkpoint``; ``pending``: a ``resume`` of the session where it stopped,
        so the tasks of the step that had finished (their writes saved) do not run again (time
        travel runs the whole step: its state may have changed)."""
        if checkpoint.next_node is None:
            raise NothingToResumeError(
                f"session {checkpoint.session_id!r} completed at checkpoint "
                f"{checkpoint.checkpoint_id!r}: nothing is left to run (start a new run, or go "
                "back to an earlier checkpoint)"
            )
        if checkpoint.next_node not in self.graph.nodes:
            raise NothingToResumeError(
                f"checkpoint {checkpoint.checkpoint_id!r} of session {checkpoint.session_id!r} "
                f"continues at node {checkpoint.next_node!r}, which graph "
                f"{self.graph.graph_id!r} does not have (was the graph changed?)"
            )
        branches = checkpoint.branches
        if branches and "ns" in branches:
            raise NothingToResumeError(
                f"checkpoint {checkpoint.checkpoint_id!r} belongs to the subgraph at "
                f"{tuple(branches['ns'])} of a run: resume the parent session, which goes on "
                "inside the subgraph"
            )
        execution.parent = checkpoint
        if branches:
            tasks = [Task.restored(saved) for saved in branches["tasks"]]
            joins = {int(index): done for index, done in branches["joins"].items()}
        else:
            tasks, joins = [Task(checkpoint.next_node)], {}
        state = apply_resume_update(tasks, FrozenDict(checkpoint.state), update)
        done = await execution.restore_writes(checkpoint, tasks) if pending else None
        return await execution.execute(
            tasks,
            state,
            resume_paused=checkpoint.paused,
            # the fork's first checkpoint, or the update (a human's answer) saved before the node
            # runs, so a crash or a failure of that node does not lose it
            save_first=fork or update is not None,
            joins=joins,
            done=done,
        )

    async def _checkpoint(self, checkpoint_id: str, what: str) -> Checkpoint:
        """The checkpoint ``what`` (a method's name) goes on from: the id is checked here, as a
        store of your own may not check it."""
        if not isinstance(checkpoint_id, str):
            raise ArgumentTypeError(
                f"{what}() checkpoint_id must be a str (a Checkpoint's checkpoint_id), got "
                f"{type(checkpoint_id).__name__} {checkpoint_id!r}"
            )
        checkpoint = await self._require_store("time travel").get(checkpoint_id)
        if checkpoint is None:
            raise CheckpointNotFoundError(f"no checkpoint with id {checkpoint_id!r}")
        return checkpoint

    def _require_store(self, what: str) -> CheckpointStore:
        if self.store is None:
            raise NothingToResumeError(
                f"{what} needs checkpoints: create the Runner with a store, e.g. "
                "Runner(graph, store=MemoryStore())"
            )
        return self.store

    def _execution(
        self, session_id: str, sink: Callable[[StreamEvent], None] | None
    ) -> RunExecution:
        if not isinstance(session_id, str) or not session_id:
            raise InvalidArgumentError(f"session_id must be a non-empty string, got {session_id!r}")
        if session_id in self._active:
            raise SessionBusyError(
                f"session {session_id!r} is already running on this runner; wait for it or "
                f"cancel it first"
            )
        execution = RunExecution(
            self.graph,
            session_id,
            store=self.store,
            hot=self._hot,
            broker=self.broker,
            max_steps=self.max_steps,
            sink=sink,
            max_concurrency=self.max_concurrency,
        )
        self._active[session_id] = execution
        if self._channel is not None and self._listening is None:
            self._listening = self._channel.controls.subscribe(self._on_control)
        return execution

    def _release(self, execution: RunExecution) -> None:
        if self._active.get(execution.session_id) is execution:
            del self._active[execution.session_id]
        if not self._active and self._listening is not None:
            self._listening.dispose()
            self._listening = None

    def _owned(self, start: _Start) -> _Start:
        """``start`` under the session's lease, when the store keeps leases."""
        if self._leases is None:
            return start
        return partial(run_leased, self._leases, start, self.lease_ttl, self._stale_leases)

    async def _await(self, session_id: str, start: _Start) -> RunState:
        start = self._owned(start)
        execution = self._execution(session_id, None)
        task = execution.task = asyncio.get_running_loop().create_task(start(execution))
        try:
            return execution.result(await task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if execution.cancel_requested and current is not None and not current.cancelling():
                return execution.result(RunStatus.CANCELLED)
            raise
        finally:
            self._release(execution)

    def _cold(self, session_id: str, start: _Start) -> Observable[StreamEvent]:
        """One run per subscription, its events emitted to the subscriber (``from_producer``)."""
        start = self._owned(start)

        async def produce(emit: Callable[[StreamEvent], None]) -> None:
            execution = self._execution(session_id, emit)
            execution.task = asyncio.current_task(execution.loop)
            try:
                await start(execution)
            except asyncio.CancelledError:
                if not execution.cancel_requested:
                    raise  # disposed: nobody is listening any more
                raise RunCancelledError(
                    f"session {session_id!r} was cancelled by runner.cancel()",
                    execution.result(RunStatus.CANCELLED),
                ) from None
            finally:
                execution.sink = None
                self._release(execution)  # before the subscriber hears of the end

        return from_producer(produce, what="runner.stream(...).subscribe()")
