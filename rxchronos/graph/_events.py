"""What a running graph reports: its events ([StreamEvent][rxchronos.graph.StreamEvent],
[EventType][rxchronos.graph.EventType]), where they can go besides the runner's own streams
([EventPublisher][rxchronos.graph.EventPublisher], e.g. a broker), and how the run ended
([RunState][rxchronos.graph.RunState], [RunStatus][rxchronos.graph.RunStatus]).

The runner builds events without validation on its hot path (``RunExecution.publish``, with
pydantic's ``model_construct``). It shares one read-only state snapshot between the events of a
step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from pydantic import BaseModel
from pydantic import ConfigDict

__all__ = ["EventPublisher", "EventType", "RunState", "RunStatus", "StreamEvent"]


class EventType(StrEnum):
    """The kinds of [StreamEvent][rxchronos.graph.StreamEvent]; a ``str`` enum, so ``"node_end" ==
    EventType.NODE_END``.

    ========================  ================================================================
    ``node_start``            a task is about to run its node (``state`` is its input)
    ``node_end``              a task returned (``update``: what it wrote; ``state``: the state
                              after it, or, in a parallel step, the step's input with its own
                              writes)
    ``step_end``              a parallel step finished (``state``: the state with every task's
                              writes; ``data``: ``step``, ``task_ids``)
    ``edge_transition``       the run moves along an edge (``node_id``: the node it moves to;
                              ``data``: ``{"from": ..., "to": ...}``), one per edge taken
    ``interrupt``             the run paused before an interrupt node; ``resume`` continues
    ``error``                 a node or a checkpoint write failed (``error`` says why); the run
                              ends ``failed``
    ``completed``             the run reached the end (``state`` is the final state)
    ``checkpoint``            a checkpoint was written (``data``: id, step, next node, paused)
    ``custom``                ``emit(type, data)`` inside a node (``data``: ``{"type", "data"}``)
    ``model_call``            a model stream inside a node started (``data``: the request)
    ``model_chunk``           one delta of that stream (``data``: the delta)
    ``model_response``        that stream finished (``data``: the whole response)
    ``cancelled``             the run was cancelled; its last checkpoint is kept (resumable)
    ========================  ================================================================

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import Runner, StateGraph
        >>> g = StateGraph("g").add_node("a", lambda s: {"x": 1}).set_entry_point("a").compile()
        >>> runner = Runner(g)
        >>> seen = []
        >>> _ = runner.events.subscribe(lambda e: seen.append(e.type))
        >>> _ = asyncio.run(runner.run("s1", {}))
        >>> [str(t) for t in seen]
        ['node_start', 'node_end', 'completed']
        >>> seen[-1] is EventType.COMPLETED, seen[-1] == "completed"
        (True, True)
    """

    NODE_START = "node_start"
    NODE_END = "node_end"
    STEP_END = "step_end"
    EDGE_TRANSITION = "edge_transition"
    INTERRUPT = "interrupt"
    ERROR = "error"
    COMPLETED = "completed"
    CHECKPOINT = "checkpoint"
    CUSTOM = "custom"
    MODEL_CALL = "model_call"
    MODEL_CHUNK = "model_chunk"
    MODEL_RESPONSE = "model_response"
    CANCELLED = "cancelled"


class StreamEvent(BaseModel):
    """One thing that happened in a graph run.

    Attributes:
        type: what happened ([EventType][rxchronos.graph.EventType]).
        run_id: the run (one ``run``/``stream``/``resume`` call) this event belongs to.
        session_id: the session (checkpoint history) of the run.
        seq: 1, 2, 3, ... within the run: the order events happened in.
        node_id: the node concerned, when there is one (for ``edge_transition``, the node the
            run moves to).
        task_id: the task (one run of one node in one step) the event belongs to; ``None`` on
            run-level events (``checkpoint``, ``step_end``, ``interrupt``, ``completed``,
            ``cancelled``, and an ``error`` that is not a task's).
        ns: the namespace: ``()`` for the graph the runner runs; inside a subgraph, the path of
            subgraph task ids from the root (``("research:2",)``; see
            [in_subgraph][rxchronos.graph.in_subgraph]).
        state: a read-only snapshot of the state (see the event table); later nodes cannot change
            it.
        update: for ``node_end``, the keys the node changed, with their new values.
        error: for ``error``, the exception type and message.
        data: extra details, depending on ``type``.
        timestamp: Unix time in seconds.

    Example:
        >>> e = StreamEvent(type="node_end", run_id="r1", session_id="s1", seq=2, node_id="a",
        ...                 update={"x": 1}, timestamp=0.0)
        >>> e.type == "node_end", e.model_dump_json(include={"type", "update"})
        (True, '{"type":"node_end","update":{"x":1}}')
    """

    model_config = ConfigDict(frozen=True)

    type: EventType
    run_id: str
    session_id: str
    seq: int
    node_id: str | None = None
    task_id: str | None = None
    ns: tuple[str, ...] = ()
    state: Mapping[str, Any] | None = None
    update: Mapping[str, Any] | None = None
    error: str | None = None
    data: Mapping[str, Any] | None = None
    timestamp: float


@runtime_checkable
class EventPublisher(Protocol):
    """Receives every event of a run, published under the run's session id as the topic.

    Example:
        >>> class Recorder:
        ...     def __init__(self):
        ...         self.seen = []
        ...     def publish(self, event, *, topic=None):
        ...         self.seen.append((topic, event.type))
        ...     def finish_topic(self, topic):
        ...         self.seen.append((topic, "finished"))
        >>> isinstance(Recorder(), EventPublisher)
        True
    """

    def publish(self, event: Any, *, topic: str | None = None) -> Any:
        """Publish one event (a ``StreamEvent``) under ``topic`` (the session id)."""
        ...

    def finish_topic(self, topic: str) -> Any:
        """The session's run ended for good (``completed`` or ``failed``; not on an interrupt or
        a cancel, after which the session continues)."""
        ...


class RunStatus(StrEnum):
    """How a run ended (a ``str`` enum: ``RunStatus.PAUSED == "paused"``).

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import MemoryStore, Runner, StateGraph
        >>> g = (StateGraph("g").add_interrupt_node("ask", lambda s: {"answer": s["reply"]})
        ...      .set_entry_point("ask").compile())
        >>> runner = Runner(g, store=MemoryStore())
        >>> async def main():
        ...     first = await runner.run("s1", {})
        ...     second = await runner.resume("s1", update={"reply": "yes"})
        ...     return first.status, second.status, second.state["answer"]
        >>> asyncio.run(main())
        (<RunStatus.PAUSED: 'paused'>, <RunStatus.COMPLETED: 'completed'>, 'yes')
    """

    COMPLETED = "completed"
    """The run reached the end of the graph."""
    PAUSED = "paused"
    """The run stopped before an interrupt node; ``resume`` runs that node next."""
    FAILED = "failed"
    """A node (or the run) failed; ``resume`` retries from the last checkpoint."""
    CANCELLED = "cancelled"
    """``runner.cancel(session_id)`` stopped the run; ``resume`` continues it."""


@dataclass(frozen=True, slots=True)
class RunState:
    """Where a run ended up.

    Attributes:
        run_id: this run's id (each ``run``/``resume`` call is a new run).
        session_id: the session the run belongs to.
        status: how it ended.
        state: the state at that point (read-only; ``dict(result.state)`` copies it).
        node_id: the node the run stopped at: the interrupt node when ``paused``, the failing node
            when ``failed``, the running node when ``cancelled``, the last node when ``completed``.
        steps: how many nodes this run executed.
        checkpoint_id: the latest checkpoint written by this run, if any.
        error: for ``failed``, the exception type and message.

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import Runner, StateGraph
        >>> g = StateGraph("g").add_node("a", lambda s: {"x": 1}).set_entry_point("a")
        >>> result = asyncio.run(Runner(g.compile()).run("s1", {}))
        >>> result.status, dict(result.state)
        (<RunStatus.COMPLETED: 'completed'>, {'x': 1})
    """

    run_id: str
    session_id: str
    status: RunStatus
    state: Mapping[str, Any]
    node_id: str | None = None
    steps: int = 0
    checkpoint_id: str | None = None
    error: str | None = None
