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
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.subject import Subject

from rxchronos._construct import constructor
from rxchronos._tap import reset_tap, set_tap
from rxchronos.graph._compiled import END, CompiledGraph, NodeSpec
from rxchronos.graph._errors import (
    CheckpointStoreError,
    GraphRecursionError,
    NodeError,
    RunError,
    StateSerializationError,
)
from rxchronos.graph._events import EventPublisher, EventType, RunState, RunStatus, StreamEvent
from rxchronos.graph._state import (
    EMPTY_STATE,
    FrozenDict,
    dumps_checked,
    encode_state,
    format_path,
    freeze,
    merge_update,
)
from rxchronos.graph._stores import Checkpoint, CheckpointStore, MemoryStore

__all__ = ["HotEvents", "Reporter", "RunExecution", "current_reporter", "emit"]

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

current_reporter: ContextVar[Reporter | None] = ContextVar("rxchronos_graph_reporter", default=None)


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
        raise TypeError(f"emit() type must be a str, got {type!r}")
    if data is not None:
        if not isinstance(data, Mapping):
            raise TypeError(f"emit() data must be a mapping or None, got {data.__class__.__name__}")
        _, problem = dumps_checked(data)
        if problem is not None:
            path, reason = problem
            raise TypeError(
                f"emit({type!r}): {format_path('data', path)} cannot be sent as JSON: {reason}"
            )
    report = current_reporter.get()
    if report is not None:
        report(
            EventType.CUSTOM,
            FrozenDict({"type": type, "data": None if data is None else freeze(data)}),
        )


class RunExecution:
    """Runs one graph run and reports it. Created by ``Runner``; not part of the public API."""

    __slots__ = (
        "_checkpoints",
        "_deferred",
        "_ended",
        "_graph",
        "_hot",
        "_loop",
        "_max_steps",
        "_thread",
        "broker",
        "cancel_requested",
        "node_id",
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
    ) -> None:
        self._graph = graph
        self.session_id = session_id
        self.store = store
        self._hot = hot
        self.broker = broker
        self._max_steps = max_steps
        self.sink = sink
        self.run_id = _random_bits(128).to_bytes(16).hex()
        self.seq = 0
        self.steps = 0
        self.node_id: str | None = None
        self.state: FrozenDict = EMPTY_STATE
        self.parent: Checkpoint | None = None
        self.task: asyncio.Task[Any] | None = None
        self.cancel_requested = False
        self._ended = False
        self._checkpoints = 0
        self._deferred: BaseException | None = None
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def publish(
        self,
        kind: EventType,
        node_id: str | None,
        state: Mapping[str, Any] | None,
        update: Mapping[str, Any] | None = None,
        error: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Deliver one event to every listener, now, on this thread.

        The event is built without validation (see ``rxchronos._construct``), and not at all
        when nobody listens: its ``seq`` is counted either way."""
        seq = self.seq = self.seq + 1
        hot = self._hot
        if not hot.listening and self.sink is None and self.broker is None:
            return
        event = _build_event(
            {  # every field, in the model's order (model_dump keeps it)
                "type": kind,
                "run_id": self.run_id,
                "session_id": self.session_id,
                "seq": seq,
                "node_id": node_id,
                "state": state,
                "update": update,
                "error": error,
                "data": data,
                "timestamp": _now(),
            }
        )
        if hot.listening:
            hot.on_next(event)
        if self.broker is not None:
            self.broker.publish(event, topic=self.session_id)
        if self.sink is not None:  # last: a subscription that is over raises CancelledError
            self.sink(event)

    def report(self, kind: EventType, data: Mapping[str, Any]) -> None:
        """``emit()``'s way in: an event of the node now running (from any thread).

        A worker thread cannot be stopped, so an ``in_thread`` node of a cancelled run may go on
        emitting; what arrives after the run's last event is not published (the run is over and
        the node's result is discarded too)."""
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self.report, kind, data)
            return
        if not self._ended:
            self.publish(kind, self.node_id, None, data=data)

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
        self, node_id: str, state: FrozenDict, *, resume_paused: bool, save_first: bool = False
    ) -> RunStatus:
        """Run from ``node_id`` with ``state`` until the end, an interrupt or a failure.

        ``resume_paused`` runs ``node_id`` even if it is an interrupt node (the run was paused
        there and is being resumed). ``save_first`` writes ``state`` as a checkpoint before
        anything runs (a resume's update, a fork's first checkpoint). Returns how the run ended;
        ``result`` has the details.
        """
        tap_token = set_tap(self.tap)
        reporter_token = current_reporter.set(self.report)
        self.state = state
        nodes = self._graph.nodes
        next_node = self._graph.next_node
        edges = self._graph.edge_data
        publish = self.publish
        store = self.store
        memory = store if type(store) is MemoryStore else None
        skip_pause = resume_paused
        broker = self.broker
        try:
            if broker is not None:
                encode_state(state)  # a broker sends the state to browsers as JSON
            if save_first:
                self.node_id = node_id
                await self.write_checkpoint(node_id, paused=resume_paused)
            while True:  # one node per turn; sync and awaited-but-ready nodes never leave the loop
                spec = nodes[node_id]
                self.node_id = node_id
                if spec.interrupt and not skip_pause:
                    if store is not None:
                        await self.write_checkpoint(node_id, paused=True)
                    publish(EventType.INTERRUPT, node_id, state)
                    return RunStatus.PAUSED
                skip_pause = False
                if self.steps >= self._max_steps:
                    raise self._too_many_steps(node_id)
                self.steps += 1
                publish(_NODE_START, node_id, state)
                try:
                    if spec.is_async:
                        result = await spec.fn(state)
                    elif spec.in_thread:
                        result = await self._in_thread(spec, state)
                    else:
                        result = spec.fn(state)
                        if type(result) is not dict and _awaitable(result):
                            result = await result
                    state, update = merge_update(node_id, state, result)
                except Exception as exc:
                    raise self._node_failed(node_id, exc) from exc
                if self._deferred is not None:
                    deferred, self._deferred = self._deferred, None
                    raise deferred
                if broker is not None and update:
                    encode_state(update)
                self.state = state
                publish(_NODE_END, node_id, state, update)
                try:
                    target = next_node(node_id, state)
                except Exception as exc:
                    raise self._node_failed(node_id, exc) from exc
                if memory is not None:  # a MemoryStore never waits: no coroutine per node
                    checkpoint = self._new_checkpoint(None if target == END else target, False)
                    memory.put_nowait(checkpoint)
                    self._written(checkpoint)
                elif store is not None:
                    await self.write_checkpoint(None if target == END else target)
                if target == END:
                    publish(EventType.COMPLETED, node_id, state)
                    if broker is not None:
                        broker.finish_topic(self.session_id)
                    return RunStatus.COMPLETED
                publish(_EDGE, node_id, state, None, None, edges[node_id, target])
                node_id = target
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
            current_reporter.reset(reporter_token)
            reset_tap(tap_token)

    @staticmethod
    async def _in_thread(spec: NodeSpec, state: FrozenDict) -> object:
        result = await asyncio.to_thread(spec.fn, state)
        if _awaitable(result):
            return await result
        return result

    async def write_checkpoint(self, next_node: str | None, *, paused: bool = False) -> None:
        """Save the run's state as a checkpoint continuing at ``next_node``; emit ``checkpoint``."""
        checkpoint = self._new_checkpoint(next_node, paused)
        await self.store.put(checkpoint)  # type: ignore[union-attr]
        self._written(checkpoint)

    def _new_checkpoint(self, next_node: str | None, paused: bool) -> Checkpoint:
        parent = self.parent
        self._checkpoints += 1
        return Checkpoint(
            f"{self.run_id}-{self._checkpoints}",
            self.session_id,
            self.run_id,
            1 if parent is None else parent.step + 1,
            self.state,
            next_node,
            paused,
            None if parent is None else parent.checkpoint_id,
            _now(),
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

    def _fail(self, exc: BaseException) -> RunState:
        """The ``error`` event, then the broker's topic finished whatever happens (its clients
        must never wait for a run that is over)."""
        message = f"{type(exc).__name__}: {exc}"
        try:
            self.publish(EventType.ERROR, self.node_id, self.state, error=message)
        finally:
            if self.broker is not None:
                self.broker.finish_topic(self.session_id)
        return self.result(RunStatus.FAILED, message)

    def _node_failed(self, node_id: str, exc: Exception) -> NodeError:
        return NodeError(node_id, exc, self._fail(exc))

    def _too_many_steps(self, node_id: str) -> GraphRecursionError:
        message = (
            f"session {self.session_id!r} ran {self._max_steps} nodes without reaching the end "
            f"(next: {node_id!r}); check the graph for a cycle or raise Runner(max_steps=...)"
        )
        run_state = self._fail(GraphRecursionError(message, self.result(RunStatus.FAILED)))
        return GraphRecursionError(message, run_state)
