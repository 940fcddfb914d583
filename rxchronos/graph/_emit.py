"""``emit()``: publish a ``custom`` event of the current run from inside a node.

The runner installs a reporter in a context variable for the duration of a run; ``emit`` looks it
up. Sync nodes run on the event loop (or, with ``in_thread=True``, in ``asyncio.to_thread``, which
copies the context), so ``emit`` works from ``def`` and ``async def`` nodes alike; from a worker
thread the event is handed to the loop thread, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from rxchronos.graph._events import EventType
from rxchronos.graph._frozen import FrozenDict, freeze
from rxchronos.graph._json import dumps_checked, format_path

__all__ = ["Reporter", "current_reporter", "emit"]

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
