"""The outcome of a run: :class:`RunState` and :class:`RunStatus`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["RunState", "RunStatus"]


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
