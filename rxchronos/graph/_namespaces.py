"""Operators that select a run's events by namespace: [top_level][rxchronos.graph.top_level],
[in_subgraph][rxchronos.graph.in_subgraph] and [by_namespace][rxchronos.graph.by_namespace].

Every [StreamEvent][rxchronos.graph.StreamEvent] carries ``ns``, the path of subgraph task ids from
the root of the run: ``()`` for the graph the runner runs, ``("research:2",)`` for the nodes of
the subgraph that node ``research`` ran in step 2, ``("research:2", "check:1")`` one level deeper.
A subgraph node's own ``node_start`` and ``node_end`` belong to the graph that holds the node (its
``ns`` is that graph's), and frame the events of the subgraph it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from reactivex import GroupedObservable
from reactivex import Observable
from reactivex import abc
from reactivex import operators as ops
from reactivex.subject import Subject

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.graph._events import EventType
from rxchronos.graph._events import StreamEvent

__all__ = ["Namespace", "by_namespace", "in_subgraph", "top_level"]

Namespace = tuple[str, ...]
"""An event's ``ns``: the path of subgraph task ids from the root of the run (``()`` at the
top)."""

_TASK_SUFFIX = re.compile(r":\d+(?::\d+)?")
"""What a task id adds to its node id: ``:<step>``, or ``:<step>:<k>`` for a ``Send``."""

_RUN_ENDS = frozenset(
    {EventType.COMPLETED, EventType.ERROR, EventType.CANCELLED, EventType.INTERRUPT}
)


def top_level() -> Callable[[Observable[StreamEvent]], Observable[StreamEvent]]:
    """Keep only the events of the graph the runner runs (``ns == ()``), none from its subgraphs.

    ::

        --plan--(research:2)search--research--done--|   top_level()
        --plan----------------------research--done--|

    Example:
        >>> import asyncio
        >>> from reactivex import operators as ops
        >>> from rxchronos.graph import Runner, StateGraph
        >>> sub = StateGraph("sub").add_node("x", lambda s: {"y": 1}).set_entry_point("x").compile()
        >>> g = StateGraph("g").add_node("sub", sub).set_entry_point("sub").compile()
        >>> async def main():
        ...     events = Runner(g).stream("s1", {}).pipe(top_level(), ops.to_list())
        ...     return [(str(e.type), e.node_id) for e in await events]
        >>> asyncio.run(main())
        [('node_start', 'sub'), ('node_end', 'sub'), ('completed', 'sub')]
    """
    return ops.filter(_at_top)


def _at_top(event: StreamEvent) -> bool:
    return not event.ns


def in_subgraph(
    *path: str, nested: bool = True
) -> Callable[[Observable[StreamEvent]], Observable[StreamEvent]]:
    """Keep only the events of one subgraph: those whose ``ns`` starts with ``path``.

    Each part of ``path`` names one level, from the root: a task id (``"research:2"``, or
    ``"research:2:0"`` for a ``Send``), which matches that task alone, or a node id
    (``"research"``), which matches every task of that node (``"research:2"``, ``"research:5"``,
    ``"research:2:1"``...). A step's task id without its ``Send`` number (``"research:2"``) also
    matches every ``Send`` of that node in that step.

    ::

        --plan--(research:2)search--(research:2)write--done--|   in_subgraph("research")
        --------(research:2)search--(research:2)write--------|

    Args:
        *path: one node id or task id per level; at least one.
        nested: also keep the events of subgraphs inside it (``ns`` longer than ``path``);
            ``False`` keeps that subgraph's own nodes only.

    Raises:
        InvalidArgumentError: no path was given (also a ``ValueError``).
        ArgumentTypeError: a part of it is not a non-empty string (also a ``TypeError``).

    Example:
        >>> import asyncio
        >>> from reactivex import operators as ops
        >>> from rxchronos.graph import Runner, StateGraph
        >>> inner = StateGraph("inner").add_node("x", lambda s: {"y": 1}).set_entry_point("x")
        >>> middle = (StateGraph("middle").add_node("prep", lambda s: {"p": 1})
        ...           .add_node("inner", inner.compile()).set_entry_point("prep")
        ...           .add_edge("prep", "inner").compile())
        >>> g = StateGraph("g").add_node("research", middle).set_entry_point("research").compile()
        >>> async def ends(*path, nested=True):
        ...     events = Runner(g).stream("s1", {}).pipe(
        ...         in_subgraph(*path, nested=nested), ops.filter(lambda e: e.type == "node_end"),
        ...         ops.to_list())
        ...     return [(e.ns, e.node_id) for e in await events]
        >>> asyncio.run(ends("research"))
        [(('research:1',), 'prep'), (('research:1', 'inner:2'), 'x'), (('research:1',), 'inner')]
        >>> asyncio.run(ends("research:1", nested=False))
        [(('research:1',), 'prep'), (('research:1',), 'inner')]
        >>> asyncio.run(ends("research", "inner"))
        [(('research:1', 'inner:2'), 'x')]
    """
    if not path:
        raise InvalidArgumentError(
            "in_subgraph() needs the subgraph's node or task id, e.g. in_subgraph('research')"
        )
    for part in path:
        if not isinstance(part, str) or not part:
            raise ArgumentTypeError(
                f"in_subgraph() takes node or task ids (non-empty strings), got {part!r}"
            )
    want = tuple(path)
    depth = len(want)

    def inside(event: StreamEvent) -> bool:
        ns = event.ns
        if len(ns) < depth or (not nested and len(ns) != depth):
            return False
        for part, task_id in zip(want, ns, strict=False):
            if task_id != part and not (
                task_id.startswith(part) and _TASK_SUFFIX.fullmatch(task_id, len(part))
            ):
                return False
        return True

    return ops.filter(inside)


def by_namespace() -> Callable[
    [Observable[StreamEvent]], Observable[GroupedObservable[Namespace, StreamEvent]]
]:
    """Split a run's events into one lane per namespace: a UI's way to show every subgraph (and
    every ``Send`` of a subgraph node) in a panel of its own.

    Emits a ``GroupedObservable`` whose ``key`` is the ``ns`` the first time an event of that
    namespace arrives, just before that event goes into it. The top-level lane (``key == ()``) ends
    with the source. A subgraph's lane ends (completes) right after the event that ends its task
    (the subgraph node's ``node_end``, in the lane above), or when the run ends (``completed``,
    ``error``, ``interrupt``, ``cancelled``, which are in the lane where they happened), along
    with the lanes inside it; if the same namespace has events again (a ``resume`` that goes on
    inside the subgraph), a new lane with that key begins. An error of the source goes to every
    open lane, then to the subscriber.

    Meant for one run (``runner.stream(...)``, ``runner.stream_resume(...)``); on
    ``runner.events``, which carries every run, concurrent runs of a session's graph would share
    the lanes of a namespace: filter by ``run_id`` (or ``session_id``) first.

    ::

        --plan--(r:2)search--(r:2)write--research--done--|   by_namespace()
        --()-----(r:2)-----------------------------------|
          ()  : plan---------------------research--done--|
          (r:2):     search--------write--|

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import Runner, StateGraph
        >>> sub = (StateGraph("sub").add_node("a", lambda s: {"x": 1})
        ...        .add_node("b", lambda s: {"y": 2}).set_entry_point("a").add_edge("a", "b")
        ...        .compile())
        >>> g = (StateGraph("g").add_node("plan", lambda s: {}).add_node("research", sub)
        ...      .set_entry_point("plan").add_edge("plan", "research").compile())
        >>> lanes = {}
        >>> def open_lane(lane):
        ...     lanes[lane.key] = []
        ...     lane.subscribe(lambda e: lanes[lane.key].append(str(e.type)),
        ...                    on_completed=lambda: lanes[lane.key].append("|"))
        >>> async def main():
        ...     done = asyncio.Event()
        ...     Runner(g).stream("s1", {}).pipe(by_namespace()).subscribe(
        ...         open_lane, on_completed=done.set)
        ...     await done.wait()
        >>> asyncio.run(main())
        >>> lanes[("research:2",)]
        ['node_start', 'node_end', 'edge_transition', 'node_start', 'node_end', '|']
        >>> lanes[()][-4:]
        ['node_start', 'node_end', 'completed', '|']
    """

    def operator(
        source: Observable[StreamEvent],
    ) -> Observable[GroupedObservable[Namespace, StreamEvent]]:
        def subscribe(
            observer: abc.ObserverBase[GroupedObservable[Namespace, StreamEvent]],
            scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            lanes: dict[Namespace, Subject[StreamEvent]] = {}

            def close_below(prefix: Namespace) -> None:
                """End the lane at ``prefix`` and every lane inside it (for ``()``: every
                subgraph's lane, the top-level one stays)."""
                depth = len(prefix)
                for key in [k for k in lanes if len(k) > 0 and k[:depth] == prefix]:
                    lanes.pop(key).on_completed()

            def on_next(event: StreamEvent) -> None:
                ns = event.ns
                lane = lanes.get(ns)
                if lane is None:
                    lane = lanes[ns] = Subject()
                    observer.on_next(GroupedObservable(ns, lane))
                lane.on_next(event)
                if len(lanes) == 1:
                    return
                kind = event.type
                if kind in _RUN_ENDS:
                    close_below(())
                elif kind is EventType.NODE_END and event.task_id is not None:
                    close_below((*ns, event.task_id))  # a subgraph node's task ended

            def on_error(error: Exception) -> None:
                for lane in list(lanes.values()):
                    lane.on_error(error)
                lanes.clear()
                observer.on_error(error)

            def on_completed() -> None:
                for lane in list(lanes.values()):
                    lane.on_completed()
                lanes.clear()
                observer.on_completed()

            return source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)

    return operator
