"""What a running graph reports: :class:`StreamEvent` and its :class:`EventType`.

The runner builds events without validation on its hot path (``RunExecution.publish``): what
``model_construct`` does, minus its generic bookkeeping, for values it has already typed. It shares
one read-only state snapshot between the events of a step.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["EventType", "StreamEvent"]


class EventType(StrEnum):
    """The kinds of :class:`StreamEvent`; a ``str`` enum, so ``"node_end" == EventType.NODE_END``.

    ========================  ================================================================
    ``node_start``            a node is about to run (``state`` is its input)
    ``node_end``              a node returned (``state`` after it, ``update`` the keys it changed)
    ``edge_transition``       the run moves on (``data``: ``{"from": ..., "to": ...}``)
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
        type: what happened (:class:`EventType`).
        run_id: the run (one ``run``/``stream``/``resume`` call) this event belongs to.
        session_id: the session (checkpoint history) of the run.
        seq: 1, 2, 3, ... within the run: the order events happened in.
        node_id: the node concerned, when there is one.
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
    state: Mapping[str, Any] | None = None
    update: Mapping[str, Any] | None = None
    error: str | None = None
    data: Mapping[str, Any] | None = None
    timestamp: float
