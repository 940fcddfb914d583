"""One run of a graph, step by step: the hot path of the runner.

A ``RunExecution`` owns everything that belongs to one run (its id, event counter, state and
latest checkpoint) and delivers each event synchronously, in order, to the runner's hot subject,
to the run's own subscriber (``runner.stream``) and to the broker. Nothing is buffered, so nothing
can be dropped.

State handling is copy-on-write: a node's update is frozen (see ``_state``) and merged into a new
mapping; the old mapping is never touched, so events and checkpoints share snapshots for free.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.subject import Subject

from rxchronos._construct import constructor
from rxchronos._construct import slots_constructor
from rxchronos._errors import ArgumentTypeError
from rxchronos._tap import reset_tap
from rxchronos._tap import set_tap
from rxchronos.graph._compiled import END
from rxchronos.graph._compiled import CompiledGraph
from rxchronos.graph._compiled import NodeSpec
from rxchronos.graph._compiled import Send
from rxchronos.graph._errors import CheckpointStoreError
from rxchronos.graph._errors import GraphRecursionError
from rxchronos.graph._errors import InvalidUpdateError
from rxchronos.graph._errors import NodeError
from rxchronos.graph._errors import RunError
from rxchronos.graph._errors import StateSerializationError
from rxchronos.graph._events import EventPublisher
from rxchronos.graph._events import EventType
from rxchronos.graph._events import RunState
from rxchronos.graph._events import RunStatus
from rxchronos.graph._events import StreamEvent
from rxchronos.graph._state import EMPTY_STATE
from rxchronos.graph._state import FrozenDict
from rxchronos.graph._state import FrozenList
from rxchronos.graph._state import KeyConflict
from rxchronos.graph._state import ReducerFailed
from rxchronos.graph._state import apply_writes
from rxchronos.graph._state import dumps_checked
from rxchronos.graph._state import encode_state
from rxchronos.graph._state import format_path
from rxchronos.graph._state import freeze
from rxchronos.graph._state import merge_update
from rxchronos.graph._state import node_update
from rxchronos.graph._state import with_update
from rxchronos.graph._stores import Checkpoint
from rxchronos.graph._stores import CheckpointStore
from rxchronos.graph._stores import MemoryStore
from rxchronos.graph._stores import PendingWritesStore

__all__ = [
    "HotEvents",
    "Reporter",
    "RunExecution",
    "SubgraphFailed",
    "SubgraphPaused",
    "Task",
    "current_run",
    "emit",
]

_TAP_TYPES = {
    "model_call": EventType.MODEL_CALL,
    "model_chunk": EventType.MODEL_CHUNK,
    "model_response": EventType.MODEL_RESPONSE,
}
_NODE_START = EventType.NODE_START
_NODE_END = EventType.NODE_END
_EDGE = EventType.EDGE_TRANSITION
_CHECKPOINT = EventType.CHECKPOINT
_now = time.time
# run ids: 128 random bits from a generator of our own (no system call per run), seeded from the
# OS and reseeded in a forked child, so that neither random.seed() nor a fork repeats an id
_ids = random.Random()
_random_bits = _ids.getrandbits
os.register_at_fork(after_in_child=_ids.seed)
_build_event = constructor(StreamEvent)
_SUFFIXED = 512
_STEP_SUFFIXES = tuple(f":{step}" for step in range(_SUFFIXED))
"""The ``":<step>"`` ending of a task id, made once: formatting the number per node cost
about 2k of the 257k instructions of ``benchmarks/graph_overhead.py``'s 3-node run."""
_EVENT_DEFAULTS: dict[str, Any] = {
    "type": None,
    "run_id": None,
    "session_id": None,
    "seq": 0,
    "node_id": None,
    "task_id": None,
    "ns": (),
    "state": None,
    "update": None,
    "error": None,
    "data": None,
    "timestamp": 0.0,
}
"""Every field of a ``StreamEvent``, in the model's order, with its default (see ``publish``)."""
_build_checkpoint = slots_constructor(Checkpoint)


class HotEvents:
    """``runner.events``: a subject that knows whether anyone listens.

    A run builds no event at all when nobody would receive it, so this counts subscriptions.

    Example:
        >>> hot = HotEvents()
        >>> seen = []
        >>> subscription = hot.observable.subscribe(seen.append)
        >>> hot.listening, hot.on_next(1), seen
        (1, None, [1])
        >>> subscription.dispose(); hot.listening
        0
    """

    __slots__ = ("_subject", "listening", "observable", "on_next")

    def __init__(self) -> None:
        self._subject: Subject[StreamEvent] = Subject()
        self.listening = 0
        self.on_next = self._subject.on_next
        self.observable: reactivex.Observable[StreamEvent] = reactivex.create(self._subscribe)

    def _subscribe(
        self, observer: abc.ObserverBase[StreamEvent], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        inner = self._subject.subscribe(observer, scheduler=scheduler)
        self.listening += 1
        ended = False

        def dispose() -> None:
            nonlocal ended
            if not ended:
                ended = True
                self.listening -= 1
                inner.dispose()

        return Disposable(dispose)


def _awaitable(value: object) -> bool:
    return asyncio.iscoroutine(value) or isinstance(value, asyncio.Future)


Reporter = Callable[[EventType, Mapping[str, Any]], None]
"""``report(event_type, data)``: turn something that happened in a node into an event of the run."""

current_run: ContextVar[RunExecution | None] = ContextVar("rxchronos_graph_run", default=None)
"""The run (or subgraph run) whose node is executing: where ``emit()`` reports, and where a
subgraph node finds its parent."""


def emit(type: str, data: Mapping[str, Any] | None = None) -> None:
    """Publish a ``custom`` event of the current run, with ``data={"type": type, "data": data}``.

    A plain function, callable from sync and async nodes. Outside a run it does nothing. The data is
    frozen (read-only) on the way out, so the node may reuse its own dict afterwards.

    Args:
        type: your name for the event, e.g. ``"progress"``.
        data: a JSON-serialisable mapping (string keys all the way down), or ``None``.

    Raises:
        TypeError: ``type`` is not a str, or ``data`` is not a mapping that JSON can carry as it
            is (the message names the place, e.g. ``data['rows'][3]``). Raised in the node, so
            the run fails with a ``NodeError`` naming it.

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import Runner, StateGraph, emit
        >>> def work(state):
        ...     emit("progress", {"done": 50})
        ...     return {"ok": True}
        >>> graph = StateGraph("g").add_node("work", work).set_entry_point("work").compile()
        >>> runner = Runner(graph)
        >>> seen = []
        >>> _ = runner.events.subscribe(seen.append)
        >>> _ = asyncio.run(runner.run("s1", {}))
        >>> [e.data for e in seen if e.type == "custom"]
        [{'type': 'progress', 'data': {'done': 50}}]
    """
    if not isinstance(type, str):
        raise ArgumentTypeError(f"emit() type must be a str, got {type!r}")
    if data is not None:
        if not isinstance(data, Mapping):
            raise ArgumentTypeError(
                f"emit() data must be a mapping or None, got {data.__class__.__name__}"
            )
        _, problem = dumps_checked(data)
        if problem is not None:
            path, reason = problem
            raise ArgumentTypeError(
                f"emit({type!r}): {format_path('data', path)} cannot be sent as JSON: {reason}"
            )
    run = current_run.get()
    if run is not None:
        run.report(
            EventType.CUSTOM,
            FrozenDict({"type": type, "data": None if data is None else freeze(data)}),
        )


class Task:
    """One run of one node in one step: a node id, or a [Send][rxchronos.graph.Send]'s node and
    argument. ``task_id`` is ``"<node>:<step>"`` (``"<node>:<step>:<k>"`` for the k-th Send of
    the step), the same for the same run of the same graph."""

    __slots__ = ("arg", "node", "resume", "send", "task_id", "tool_call_id")

    def __init__(
        self, node: str, *, send: bool = False, arg: Any = None, tool_call_id: str | None = None
    ) -> None:
        self.node = node
        self.send = send
        self.arg = arg
        self.tool_call_id = tool_call_id
        self.task_id = node
        self.resume: Mapping[str, Any] | None = None
        """For a subgraph node paused inside: where its subgraph goes on (see ``_subgraph``)."""

    def saved(self) -> dict[str, Any]:
        """This task as checkpoint JSON (see ``Checkpoint.branches``)."""
        saved: dict[str, Any] = {"node": self.node}
        if self.send:
            saved.update(arg=self.arg, tool_call_id=self.tool_call_id)
        if self.resume is not None:
            saved["resume"] = self.resume
        return saved

    @staticmethod
    def restored(saved: Mapping[str, Any]) -> Task:
        """A task from its checkpoint JSON."""
        if "arg" not in saved:
            task = Task(saved["node"])
        else:
            task = Task(
                saved["node"], send=True, arg=saved["arg"], tool_call_id=saved["tool_call_id"]
            )
        task.resume = saved.get("resume")
        return task


class SubgraphPaused(Exception):
    """Raised by a subgraph node whose subgraph paused at an interrupt: the run pauses with it.

    ``checkpoint_id`` is the subgraph's paused checkpoint (``None`` without a store); ``node_id``,
    ``ns`` and ``state`` describe the interrupt (in the innermost subgraph)."""

    def __init__(
        self,
        task: Task,
        checkpoint_id: str | None,
        node_id: str | None,
        ns: tuple[str, ...],
        state: Mapping[str, Any] | None,
    ) -> None:
        super().__init__(f"subgraph {ns} paused at {node_id!r}")
        self.task = task
        self.checkpoint_id = checkpoint_id
        self.node_id = node_id
        self.ns = ns
        self.state = state


class SubgraphFailed(Exception):
    """Raised by a subgraph node when a node inside its subgraph failed: ``error`` is that
    node's [NodeError][rxchronos.graph.NodeError] (its ``ns`` says where)."""

    def __init__(self, error: NodeError) -> None:
        super().__init__(str(error))
        self.error = error


_PARALLEL = FrozenDict({"parallel": True})
_NO_TASKS: list[Task] = []
"""The next step of a run that ends (never changed)."""
_running_task: ContextVar[Task | None] = ContextVar("rxchronos_graph_task", default=None)
"""The task a parallel branch runs (set in the branch's own asyncio task)."""


class RunExecution:
    """Runs one graph run and reports it. Created by ``Runner``; not part of the public API.

    A run is a sequence of steps. A step runs its tasks (together when there are several,
    at most ``max_concurrency`` at once); then every task's writes are applied in task order
    (the order the step listed them, not the order they finished), with the graph's reducers;
    then the next step's tasks are found, again in task order: each finished task's static
    edges in the order they were added, then what its route returned, then the joins it
    completed. A node reached twice in one step runs once; every Send is a task of its own.
    """

    __slots__ = (
        "_checkpoints",
        "_concurrency",
        "_deferred",
        "_done",
        "_ended",
        "_graph",
        "_hot",
        "_joins",
        "_max_steps",
        "_step",
        "_template",
        "_thread",
        "broker",
        "cancel_requested",
        "current",
        "last_put",
        "loop",
        "node_id",
        "ns",
        "parent",
        "run_id",
        "seq",
        "session_id",
        "sink",
        "state",
        "steps",
        "store",
        "task",
    )

    def __init__(
        self,
        graph: CompiledGraph,
        session_id: str,
        *,
        store: CheckpointStore | None,
        hot: HotEvents,
        broker: EventPublisher | None,
        max_steps: int,
        sink: Callable[[StreamEvent], None] | None,
        max_concurrency: int | None = None,
    ) -> None:
        self._graph = graph
        self.session_id = session_id
        self.store = store
        self._hot = hot
        self.broker = broker
        self._max_steps = max_steps
        self._concurrency = max_concurrency
        self.sink = sink
        self.run_id = _random_bits(128).to_bytes(16).hex()
        self._template = dict(_EVENT_DEFAULTS, run_id=self.run_id, session_id=session_id)
        """Every field of this run's events, with its default (see ``publish``)."""
        self.ns: tuple[str, ...] = ()
        self.seq = 0
        self.steps = 0
        self._step = 0
        self.node_id: str | None = None
        self.current: Task | None = None
        self.state: FrozenDict = EMPTY_STATE
        self.parent: Checkpoint | None = None
        self.task: asyncio.Task[Any] | None = None
        self.cancel_requested = False
        self.last_put: Callable[[Checkpoint], Awaitable[None]] | None = None
        """Writes the run's last checkpoint instead of ``store.put`` when set (the lease's
        release in the same transaction)."""
        self._ended = False
        self._checkpoints = 0
        self._joins: dict[int, set[str]] = {}
        self._done: dict[int, FrozenDict]
        """The writes of the tasks of the running step that finished, by task number (set by
        ``execute``)."""
        self._deferred: BaseException | None = None
        self.loop = asyncio.get_running_loop()
        """The event loop the run runs on."""
        self._thread = threading.get_ident()

    def publish(
        self,
        kind: EventType,
        node_id: str | None,
        state: Mapping[str, Any] | None,
        update: Mapping[str, Any] | None = None,
        error: str | None = None,
        data: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        ns: tuple[str, ...] = (),
    ) -> None:
        """Deliver one event to every listener, now, on this thread.

        The event is built without validation (see ``rxchronos._construct``), and not at all
        when nobody listens: its ``seq`` is counted either way. ``ns`` is the namespace of a
        subgraph's event (a subgraph run publishes through its root run)."""
        seq = self.seq = self.seq + 1
        hot = self._hot
        sink = self.sink
        broker = self.broker
        if not hot.listening and sink is None and broker is None:
            return
        # a copy of the run's template (every field, in the model's order, which model_dump
        # keeps), then only what differs from it: cheaper than a new dict of every field
        values = self._template.copy()
        values["type"] = kind
        values["seq"] = seq
        values["node_id"] = node_id
        values["state"] = state
        values["timestamp"] = _now()
        if task_id is not None:
            values["task_id"] = task_id
        if ns:
            values["ns"] = ns
        if update is not None:
            values["update"] = update
        if error is not None:
            values["error"] = error
        if data is not None:
            values["data"] = data
        event = _build_event(values)
        if hot.listening:
            hot.on_next(event)
        if broker is not None:
            broker.publish(event, topic=self.session_id)
        if sink is not None:  # last: a subscription that is over raises CancelledError
            sink(event)

    def report(self, kind: EventType, data: Mapping[str, Any], task: Task | None = None) -> None:
        """``emit()``'s way in: an event of the task now running (from any thread).

        A worker thread cannot be stopped, so an ``in_thread`` node of a cancelled run may go on
        emitting; what arrives after the run's last event is not published (the run is over and
        the node's result is discarded too)."""
        if task is None:
            task = _running_task.get() or self.current
        if threading.get_ident() != self._thread:
            self.loop.call_soon_threadsafe(self.report, kind, data, task)
            return
        if not self._ended:
            if task is None:
                self.publish(kind, self.node_id, None, data=data)
            else:
                self.publish(kind, task.node, None, data=data, task_id=task.task_id)

    def tap(self, event_type: str, data: Mapping[str, Any]) -> None:
        """The model tap (``rxchronos._tap``): never raises into the model stream; a listener's
        exception is kept and fails the run when the node returns."""
        kind = _TAP_TYPES.get(event_type)
        if kind is None:
            kind, data = EventType.CUSTOM, FrozenDict({"type": event_type, "data": data})
        try:
            self.report(kind, data)
        except Exception as exc:
            if self._deferred is None:
                self._deferred = exc

    def result(self, status: RunStatus, error: str | None = None) -> RunState:
        """This run as a [RunState][rxchronos.graph.RunState]."""
        return RunState(
            self.run_id,
            self.session_id,
            status,
            self.state,
            self.node_id,
            self.steps,
            self.parent.checkpoint_id if self.parent is not None else None,
            error,
        )

    async def execute(
        self,
        tasks: list[Task],
        state: FrozenDict,
        *,
        resume_paused: bool,
        save_first: bool = False,
        joins: Mapping[int, Collection[str]] | None = None,
        done: Mapping[int, FrozenDict] | None = None,
    ) -> RunStatus:
        """Run ``tasks`` as the first step with ``state``, then on until the end, an interrupt or
        a failure.

        ``resume_paused`` runs the step even if it holds an interrupt node (the run was paused
        there and is being resumed). ``save_first`` writes ``state`` as a checkpoint before
        anything runs (a resume's update, a fork's first checkpoint). ``joins`` is the joins'
        progress from a checkpoint, ``done`` the writes of the first step's tasks that had
        finished (see [restore_writes][rxchronos.graph._execution.RunExecution.restore_writes]):
        those tasks do not run again. Returns how the run ended; ``result`` has the details.
        """
        tap_token = set_tap(self.tap)
        run_token = current_run.set(self)
        self.state = state
        if joins:
            self._joins = {index: set(done) for index, done in joins.items()}
        self._done = dict(done) if done else {}
        parent = self.parent
        # the number of the step before: a paused checkpoint is written before the step it
        # pauses, so that step keeps its number (and its tasks their ids) when resumed
        self._step = 0 if parent is None else parent.step - 1 if parent.paused else parent.step
        graph = self._graph
        nodes = graph.nodes
        reducers = graph.reducers
        interrupts = graph.interrupts
        successor = graph.successor
        edge_data = graph.edge_data
        publish = self.publish
        store = self.store
        memory = store if type(store) is MemoryStore else None
        skip_pause = resume_paused
        broker = self.broker
        max_steps = self._max_steps
        try:
            if broker is not None:
                encode_state(state)  # a broker sends the state to browsers as JSON
            self.node_id = tasks[0].node
            if save_first:
                await self.write_checkpoint(tasks, paused=resume_paused, carry=True)
            while True:  # one step per turn; sync and awaited-but-ready nodes never leave the loop
                if interrupts and not skip_pause:
                    paused = next((t.node for t in tasks if t.node in interrupts), None)
                    if paused is not None:
                        self.node_id = paused
                        if store is not None:
                            await self.write_checkpoint(tasks, paused=True)
                        publish(EventType.INTERRUPT, paused, state)
                        return RunStatus.PAUSED
                skip_pause = False
                width = len(tasks)
                steps = self.steps = self.steps + width
                if steps > max_steps:
                    self.steps -= width
                    raise self._too_many_steps(tasks[0].node)
                step = self._step = self._step + 1
                if width == 1:  # the common case, inline: no task, no context switch
                    task = self.current = tasks[0]
                    node = self.node_id = task.node
                    given: Any
                    if task.send:
                        tid = task.task_id = f"{node}:{step}:0"
                        given, shown = task.arg, None
                        data = None if task.tool_call_id is None else self._task_data(task)
                    else:
                        tid = task.task_id = (
                            node + _STEP_SUFFIXES[step] if step < _SUFFIXED else f"{node}:{step}"
                        )
                        given = shown = state
                        data = None
                    spec = nodes[node]
                    publish(_NODE_START, node, shown, None, None, data, tid)
                    try:
                        if spec.is_async:  # an async def node: its coroutine, awaited at once
                            result = await spec.fn(given)
                        else:
                            result = _call(spec, given)
                            if type(result) is not dict and _awaitable(result):
                                result = await result
                        if reducers:
                            update = node_update(node, state, result)
                            state = apply_writes(state, [(node, update)], reducers)
                        else:
                            state, update = merge_update(node, state, result)
                    except Exception as exc:
                        if type(exc) is SubgraphPaused:
                            return await self._pause_inside(tasks, exc)
                        if type(exc) is ReducerFailed:
                            exc = exc.error
                        raise self._node_failed(task, exc) from exc
                    if self._deferred is not None:
                        deferred, self._deferred = self._deferred, None
                        raise deferred
                    if broker is not None and update:
                        encode_state(update)
                    self.state = state
                    publish(_NODE_END, node, state, update, None, data, tid)
                    self.current = None
                    single = successor.get(node)
                else:
                    single = None
                    self._number(tasks)
                    try:
                        updates = await self._run_parallel(tasks, state)
                    except SubgraphPaused as paused:
                        return await self._pause_inside(tasks, paused)
                    try:
                        state = apply_writes(
                            state,
                            [(t.node, u) for t, u in zip(tasks, updates, strict=True)],
                            reducers,
                        )
                    except KeyConflict as conflict:
                        raise self._conflict(conflict) from None
                    except ReducerFailed as failed:
                        error = failed.error
                        raise self._node_failed(tasks[failed.index], error, branch=True) from error
                    self._step_applied(updates)
                    self.state = state
                    self.node_id = tasks[-1].node
                    publish(
                        EventType.STEP_END,
                        None,
                        state,
                        None,
                        None,
                        FrozenDict(
                            {"step": self._step, "task_ids": FrozenList(t.task_id for t in tasks)}
                        ),
                    )
                edges: Sequence[tuple[Task, str, Mapping[str, Any]]] | None = None
                if single is None:
                    next_tasks, edges = self._next_step(tasks, state)
                elif single == END:
                    next_tasks, edges = _NO_TASKS, ()
                elif task.send or task.resume is not None:
                    next_tasks = [Task(single)]
                else:  # one plain task, one static edge: the task object moves on to the next node
                    task.node = single
                    next_tasks = tasks
                if memory is not None:  # a MemoryStore never waits: no coroutine per step
                    checkpoint = self._new_checkpoint(next_tasks, False)
                    memory.put_nowait(checkpoint)
                    self._written(checkpoint)
                elif store is not None:
                    if next_tasks or self.last_put is None:
                        await self.write_checkpoint(next_tasks)
                    else:
                        checkpoint = self._new_checkpoint(next_tasks, False)
                        await self.last_put(checkpoint)
                        self._written(checkpoint)
                if not next_tasks:
                    publish(EventType.COMPLETED, self.node_id, state)
                    if broker is not None:
                        broker.finish_topic(self.session_id)
                    return RunStatus.COMPLETED
                if edges is not None:
                    for source, target, data in edges:
                        publish(_EDGE, target, state, None, None, data, source.task_id)
                elif single is not None:  # one node, one static edge
                    publish(_EDGE, single, state, None, None, edge_data[node, single], tid)
                tasks = next_tasks
        except asyncio.CancelledError:
            self.publish(EventType.CANCELLED, self.node_id, self.state)
            raise
        except RunError:
            raise
        except Exception as exc:
            run_state = self._fail(exc)
            if isinstance(exc, CheckpointStoreError | StateSerializationError):
                exc.run_state = run_state  # a checkpoint write failed: the run with it
            raise
        finally:
            self._ended = True
            current_run.reset(run_token)
            reset_tap(tap_token)

    def running_task(self) -> Task | None:
        """The task whose node is running now (in this branch, for a parallel step)."""
        return _running_task.get() or self.current

    def _step_applied(self, updates: list[FrozenDict]) -> None:
        """A parallel step's writes were applied (in task order): a subgraph run keeps them for
        its node's update."""

    async def _pause_inside(self, tasks: list[Task], paused: SubgraphPaused) -> RunStatus:
        """A subgraph node's subgraph paused: pause the run before this step, with that task
        marked to go on inside its subgraph; the writes of the step's tasks that finished are
        carried to the paused checkpoint, so they do not run again."""
        paused.task.resume = FrozenDict({"checkpoint_id": paused.checkpoint_id})
        self.node_id = paused.task.node
        if self.store is not None:
            await self.write_checkpoint(tasks, paused=True, carry=True)
        self.publish(EventType.INTERRUPT, paused.node_id, paused.state, ns=paused.ns)
        return RunStatus.PAUSED

    def _saver(self) -> PendingWritesStore | None:
        """Where a parallel step's finished tasks save their writes: the store, when it keeps
        pending writes and the step continues from a checkpoint."""
        store = self.store
        return None if self.parent is None or store is None else _keeps_writes(store)

    async def _save_writes(self, task: int, update: FrozenDict) -> None:
        """Save a finished task's writes (kept in ``_done`` already) in the store, under the
        checkpoint the step continues from (the caller checks that there is one)."""
        saver = self._saver()
        if saver is None:
            return
        checkpoint_id = self.parent.checkpoint_id  # type: ignore[union-attr]
        if type(saver) is MemoryStore:
            saver.put_writes_nowait(checkpoint_id, task, update)
        else:
            await saver.put_writes(checkpoint_id, task, update)

    async def restore_writes(
        self, checkpoint: Checkpoint, tasks: list[Task]
    ) -> dict[int, FrozenDict]:
        """The writes that the tasks of the step after ``checkpoint`` saved before the run
        stopped (a failing sibling, a crash, a pause inside a subgraph), by task number.

        Raises:
            CheckpointStoreError: a saved task number that the step does not have.
        """
        pending = None if self.store is None else _keeps_writes(self.store)
        if len(tasks) < 2 or pending is None:
            return {}
        saved = await pending.get_writes(checkpoint.checkpoint_id)
        for task in saved:
            if not 0 <= task < len(tasks):
                raise CheckpointStoreError(
                    f"checkpoint {checkpoint.checkpoint_id!r} has writes saved for task {task}, "
                    f"but its step has {len(tasks)} tasks: the store was changed outside rxchronos"
                )
        return {task: FrozenDict(writes) for task, writes in saved.items()}

    def _number(self, tasks: list[Task]) -> None:
        step = self._step
        sends = 0
        for task in tasks:
            if task.send:
                task.task_id = f"{task.node}:{step}:{sends}"
                sends += 1
            else:
                task.task_id = f"{task.node}:{step}"

    @staticmethod
    def _task_data(task: Task) -> Mapping[str, Any] | None:
        """``node_start``/``node_end`` data: ``parallel`` for a branch of a parallel step (its
        ``node_end`` state is its own view), ``tool_call_id`` for a Send that carries one."""
        parallel = _running_task.get() is task
        if task.tool_call_id is None:
            return _PARALLEL if parallel else None
        if parallel:
            return FrozenDict({"parallel": True, "tool_call_id": task.tool_call_id})
        return FrozenDict({"tool_call_id": task.tool_call_id})

    async def _branch(
        self,
        number: int,
        task: Task,
        state: FrozenDict,
        limit: asyncio.Semaphore | None,
        step: _Step,
    ) -> None:
        """One task of a parallel step, in its own asyncio task: ``node_start``, the call, its
        update (frozen), ``node_end``, its writes kept; it tells ``step`` how it ended.

        A failing node is a ``_BranchFailed``, which the step turns into the ``NodeError`` (and
        its ``error`` event) once the other branches have stopped, so that the ``error`` is the
        run's last event."""
        failed = True
        try:
            _running_task.set(task)  # in this branch's own context (its asyncio task's copy)
            data = _PARALLEL if task.tool_call_id is None else self._task_data(task)
            node = task.node
            if limit is not None:
                await limit.acquire()
            try:
                self.publish(
                    _NODE_START, node, None if task.send else state, None, None, data, task.task_id
                )
                try:
                    spec = self._graph.nodes[node]
                    if spec.is_async:  # an async def node: its coroutine, awaited at once
                        result = await spec.fn(task.arg if task.send else state)
                    else:
                        result = _call(spec, task.arg if task.send else state)
                        if type(result) is not dict and _awaitable(result):
                            result = await result
                    update = node_update(node, state, result)
                except SubgraphPaused:
                    raise  # the whole step pauses (see _pause_inside)
                except Exception as exc:
                    raise _BranchFailed(task, exc) from exc
            finally:
                if limit is not None:
                    limit.release()
            if self._deferred is not None:
                deferred, self._deferred = self._deferred, None
                raise deferred
            if self.broker is not None and update:
                encode_state(update)
            self.publish(
                _NODE_END, node, with_update(state, update), update, None, data, task.task_id
            )
            self._done[number] = update
            if self.parent is not None and self.store is not None:
                await self._save_writes(number, update)
            failed = False
        except SubgraphPaused:
            failed = False
            step.paused = True
            raise
        finally:
            step.end(failed)

    async def _run_parallel(self, tasks: list[Task], state: FrozenDict) -> list[FrozenDict]:
        """Run a step's tasks together (not those whose writes were restored) and return their
        writes in task order.

        Each task's writes are saved as it finishes (``_save_writes``). The first failure, in
        task order, cancels the tasks still running (a task whose node returned finishes saving
        its writes) and is raised. A subgraph that pauses does not stop its siblings: when every
        task has finished or paused, the first paused one is raised, the others marked to go on
        inside their subgraphs too."""
        limit = None if self._concurrency is None else asyncio.Semaphore(self._concurrency)
        loop = self.loop
        done = self._done
        numbers = [number for number in range(len(tasks)) if number not in done]
        step = _Step(loop.create_future(), len(numbers))
        branches = [
            loop.create_task(self._branch(number, tasks[number], state, limit, step))
            for number in numbers
        ]
        try:
            if branches:
                await step.settled
        except asyncio.CancelledError:
            await _stop(branches)
            raise
        if step.failed:
            failed = next((e for e in _errors(branches) if type(e) is not SubgraphPaused), None)
            unfinished = [b for n, b in zip(numbers, branches, strict=True) if n not in done]
            await _stop(unfinished, branches)
            if failed is None:  # a node raised CancelledError itself: the run is cancelled
                raise asyncio.CancelledError(f"a branch of step {self._step} was cancelled")
            raise self._branch_failed(failed, branches)
        if step.paused:
            paused = [e for e in _errors(branches) if type(e) is SubgraphPaused]
            for inside in paused:
                inside.task.resume = FrozenDict({"checkpoint_id": inside.checkpoint_id})
            raise paused[0]
        self._done = {}
        return [done[number] for number in range(len(tasks))]

    def _branch_failed(
        self, failed: BaseException, branches: list[asyncio.Task[None]]
    ) -> BaseException:
        """The error a step fails with when ``failed`` ended a branch (the others have stopped):
        a failing node's ``NodeError`` (its ``error`` event published now), with a note for
        each other branch that failed as well."""
        error = failed
        if type(failed) is _BranchFailed:
            try:
                error = self._node_failed(failed.task, failed.error, branch=True)
                error.__cause__ = failed.error
            except NodeError as inside:  # a subgraph's node: raised with its own cause
                error = inside
        for other in _errors(branches):
            if other is not failed and type(other) is not SubgraphPaused:
                cause = other.error if type(other) is _BranchFailed else other
                error.add_note(f"another branch failed too: {type(cause).__name__}: {cause}")
        return error

    def _next_step(
        self, tasks: list[Task], state: FrozenDict
    ) -> tuple[list[Task], list[tuple[Task, str, Mapping[str, Any]]]]:
        """The tasks of the next step, and the edges taken to them (see the class docstring)."""
        graph = self._graph
        edge_data = graph.edge_data
        following: list[Task] = []
        edges: list[tuple[Task, str, Mapping[str, Any]]] = []
        planned: set[str] = set()
        for task in tasks:
            try:
                targets = graph.targets(task.node, state)
            except Exception as exc:
                raise self._node_failed(task, exc) from exc
            for target in targets:
                if isinstance(target, Send):
                    following.append(
                        Task(
                            target.node, send=True, arg=target.arg, tool_call_id=target.tool_call_id
                        )
                    )
                    node = target.node
                elif target == END:
                    continue
                else:
                    node = target
                    if node not in planned:  # two tasks' edges into one node: one task, two edges
                        planned.add(node)
                        following.append(Task(node))
                data = edge_data.get((task.node, node)) or FrozenDict(
                    {"from": task.node, "to": node}
                )
                edges.append((task, node, data))
            for index in graph.joins_of(task.node):
                join = graph.joins[index]
                done = self._joins.get(index)
                if done is None:
                    done = self._joins[index] = set()
                done.add(task.node)
                if len(done) < len(join.sources):
                    continue
                del self._joins[index]
                edges.extend(
                    (task, join.target, edge_data[source, join.target]) for source in join.sources
                )
                if join.target not in planned:
                    planned.add(join.target)
                    following.append(Task(join.target))
        return following, edges

    async def write_checkpoint(
        self, tasks: list[Task], *, paused: bool = False, carry: bool = False
    ) -> None:
        """Save the run's state as a checkpoint continuing with ``tasks``; emit ``checkpoint``.

        ``carry``: the checkpoint continues the same step (a resume's update, a pause inside a
        subgraph), so the writes of the step's tasks that finished are saved under it, *before*
        it: writing it deletes those saved under its parent, and a crash between the two must
        leave them somewhere (under the parent, the resume's checkpoint then)."""
        checkpoint = self._new_checkpoint(tasks, paused)
        store = self.store
        if carry and self._done and store is not None:
            pending = _keeps_writes(store)
            if pending is not None:
                for task, update in sorted(self._done.items()):
                    await pending.put_writes(checkpoint.checkpoint_id, task, update)
        await store.put(checkpoint)  # type: ignore[union-attr]
        self._written(checkpoint)

    def _new_checkpoint(self, tasks: list[Task], paused: bool) -> Checkpoint:
        parent = self.parent
        self._checkpoints += 1
        branches = None
        if self._joins or len(tasks) > 1 or (tasks and (tasks[0].send or tasks[0].resume)):
            branches = freeze(
                {
                    "tasks": [task.saved() for task in tasks],
                    "joins": {str(i): sorted(done) for i, done in self._joins.items()},
                }
            )
        return _build_checkpoint(
            f"{self.run_id}-{self._checkpoints}",
            self.session_id,
            self.run_id,
            1 if parent is None else parent.step + 1,
            self.state,
            tasks[0].node if tasks else None,
            paused,
            None if parent is None else parent.checkpoint_id,
            _now(),
            branches,
        )

    def _written(self, checkpoint: Checkpoint) -> None:
        self.parent = checkpoint
        self.publish(
            _CHECKPOINT,
            self.node_id,
            self.state,
            data=FrozenDict(
                {
                    "checkpoint_id": checkpoint.checkpoint_id,
                    "step": checkpoint.step,
                    "next_node": checkpoint.next_node,
                    "paused": checkpoint.paused,
                }
            ),
        )

    def _fail(
        self, exc: BaseException, task: Task | None = None, ns: tuple[str, ...] | None = None
    ) -> RunState:
        """The ``error`` event, then the broker's topic finished whatever happens (its clients
        must never wait for a run that is over)."""
        message = f"{type(exc).__name__}: {exc}"
        try:
            self.publish(
                EventType.ERROR,
                self.node_id if task is None else task.node,
                self.state,
                error=message,
                task_id=None if task is None else task.task_id,
                ns=self.ns if ns is None else ns,
            )
        finally:
            if self.broker is not None:
                self.broker.finish_topic(self.session_id)
        return self.result(RunStatus.FAILED, message)

    def _node_failed(self, task: Task, exc: Exception, *, branch: bool = False) -> NodeError:
        self.node_id = task.node
        if type(exc) is SubgraphFailed:  # a node inside a subgraph failed: name that node
            inner = exc.error
            cause = inner.__cause__ or inner
            where = Task(inner.node_id)
            where.task_id = inner.task_id or inner.node_id
            raise NodeError(  # raised here, to keep the inner node's exception as __cause__
                inner.node_id,
                cause,
                self._fail(cause, where, inner.ns),
                task_id=inner.task_id,
                ns=inner.ns,
                branch=inner.branch,
            ) from cause
        return NodeError(
            task.node,
            exc,
            self._fail(exc, task),
            task_id=task.task_id,
            ns=self.ns,
            branch=branch or task.send or _running_task.get() is task,
        )

    def _conflict(self, conflict: KeyConflict) -> InvalidUpdateError:
        placeholder = InvalidUpdateError(
            conflict.key, conflict.nodes, self.result(RunStatus.FAILED)
        )
        return InvalidUpdateError(conflict.key, conflict.nodes, self._fail(placeholder))

    def _too_many_steps(self, node_id: str) -> GraphRecursionError:
        message = (
            f"session {self.session_id!r} ran {self._max_steps} nodes without reaching the end "
            f"(next: {node_id!r}); check the graph for a cycle or raise Runner(max_steps=...)"
        )
        run_state = self._fail(GraphRecursionError(message, self.result(RunStatus.FAILED)))
        return GraphRecursionError(message, run_state)


_WRITES_KEEPERS: dict[type, bool] = {}


def _keeps_writes(store: CheckpointStore) -> PendingWritesStore | None:
    """``store`` when it is a [PendingWritesStore][rxchronos.graph.PendingWritesStore], else
    ``None``: decided once per store class (a protocol's ``isinstance`` walks its members every
    time, several microseconds, and a run would pay it)."""
    kind = type(store)
    keeps = _WRITES_KEEPERS.get(kind)
    if keeps is None:
        keeps = _WRITES_KEEPERS[kind] = isinstance(store, PendingWritesStore)
    return store if keeps else None  # type: ignore[return-value]


def _call(spec: NodeSpec, given: Any) -> Any:
    """Call a node: its result, or an awaitable of it (an ``async def`` node's coroutine, an
    ``in_thread`` node's trip to a worker thread, or what a plain ``def`` returned)."""
    if spec.in_thread:
        return _in_thread(spec, given)
    return spec.fn(given)


async def _in_thread(spec: NodeSpec, given: Any) -> object:
    result = await asyncio.to_thread(spec.fn, given)
    if _awaitable(result):
        return await result
    return result


class _BranchFailed(Exception):
    """A parallel branch's node failed (``error``); see ``RunExecution._branch_failed``."""

    def __init__(self, task: Task, error: Exception) -> None:
        super().__init__(str(error))
        self.task = task
        self.error = error


class _Step:
    """How the branches of a parallel step are doing: ``settled`` is done once every branch has
    ended, or as soon as one fails (the step then stops the others). Each branch reports its own
    end (``end``), so the step waits on one future, not on a callback per branch."""

    __slots__ = ("failed", "paused", "remaining", "settled")

    def __init__(self, settled: asyncio.Future[None], branches: int) -> None:
        self.settled = settled
        self.remaining = branches
        self.failed = False
        self.paused = False

    def end(self, failed: bool) -> None:
        self.remaining -= 1
        if failed:
            self.failed = True
        if (failed or not self.remaining) and not self.settled.done():
            self.settled.set_result(None)


def _errors(branches: list[asyncio.Task[None]]) -> list[BaseException]:
    """The exceptions of the branches that ended with one, in task order."""
    return [
        error
        for branch in branches
        if branch.done() and not branch.cancelled() and (error := branch.exception()) is not None
    ]


async def _stop(
    branches: list[asyncio.Task[Any]], every: list[asyncio.Task[Any]] | None = None
) -> None:
    """Cancel ``branches`` and wait for them and the rest of ``every`` branch to end."""
    for branch in branches:
        branch.cancel()
    await asyncio.gather(*(branches if every is None else every), return_exceptions=True)
