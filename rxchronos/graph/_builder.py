"""Building a graph: [StateGraph][rxchronos.graph.StateGraph].

The builder only records what it is told; [StateGraph.compile][rxchronos.graph.StateGraph.compile]
checks the whole graph at once and raises one
[GraphValidationError][rxchronos.graph.GraphValidationError] listing every problem it found.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.graph._compiled import END
from rxchronos.graph._compiled import START
from rxchronos.graph._compiled import CompiledGraph
from rxchronos.graph._compiled import ConditionalEdge
from rxchronos.graph._compiled import Join
from rxchronos.graph._compiled import NodeSpec
from rxchronos.graph._errors import GraphValidationError
from rxchronos.graph._subgraph import SubgraphNode

__all__ = ["NodeFunction", "RouteFunction", "StateGraph"]

NodeFunction = Callable[
    [Mapping[str, Any]], Awaitable[Mapping[str, Any] | None] | Mapping[str, Any] | None
]
"""``(state) -> update``: ``async def`` or plain ``def``; the update is merged into the state."""

RouteFunction = Callable[[Mapping[str, Any]], Any]
"""``(state) -> destination``: a node id, ``END``, a key of the ``path_map``, a
[Send][rxchronos.graph.Send], or a list of those (the next step runs them all)."""

_RESERVED = frozenset({START, END})


class StateGraph:
    """A graph of nodes that read a shared state and return updates to it.

    Every method returns the graph, so a graph is one expression. Nodes are ``async def`` or plain
    ``def`` functions taking the (read-only) state and returning a mapping of the keys they change
    (or ``None`` for no change). A plain ``def`` node runs on the event loop (fast, and
    [emit][rxchronos.graph.emit] works in it); pass ``in_thread=True`` for one that blocks, to run
    it with ``asyncio.to_thread`` (which keeps the context, so ``emit`` still works).

    Example:
        >>> from rxchronos.graph import END, StateGraph
        >>> async def extract(state):
        ...     return {"rows": [1, 2, 3]}
        >>> def load(state):
        ...     return {"loaded": len(state["rows"])}
        >>> compiled = (
        ...     StateGraph("etl")
        ...     .add_node("extract", extract)
        ...     .add_node("load", load)
        ...     .set_entry_point("extract")
        ...     .add_edge("extract", "load")
        ...     .set_finish_point("load")
        ...     .compile()
        ... )
        >>> compiled.node_ids
        ('extract', 'load')
    """

    def __init__(
        self, graph_id: str, *, reducers: Mapping[str, Callable[[Any, Any], Any]] | None = None
    ) -> None:
        if not isinstance(graph_id, str) or not graph_id:
            raise InvalidArgumentError(f"graph_id must be a non-empty string, got {graph_id!r}")
        if reducers is not None and not isinstance(reducers, Mapping):
            raise ArgumentTypeError(
                f"reducers must be a mapping {{key: reducer}}, got {reducers!r}"
            )
        for key, reducer in (reducers or {}).items():
            if not isinstance(key, str) or not callable(reducer):
                raise ArgumentTypeError(
                    f"reducers: {key!r} must map a str state key to a function (current, update) "
                    f"-> new, got {reducer!r}"
                )
        self.graph_id = graph_id
        self._reducers = dict(reducers or {})
        self._nodes: dict[str, NodeSpec] = {}
        self._edges: list[tuple[str, str]] = []
        self._joins: list[Join] = []
        self._conditional: list[tuple[str, ConditionalEdge]] = []
        self._entry: list[str] = []
        self._problems: list[str] = []

    def add_node(
        self, node_id: str, fn: NodeFunction | CompiledGraph, *, in_thread: bool = False
    ) -> StateGraph:
        """Add a node that runs ``fn(state)`` and merges the mapping it returns into the state.

        ``fn`` may be a [CompiledGraph][rxchronos.graph.CompiledGraph]: a subgraph, which runs
        on the node's input as its state; what its nodes wrote is the node's update, and its
        events are the run's, with ``ns`` naming the subgraph (see the branching guide).

        Raises:
            TypeError: ``fn`` is not callable, or ``in_thread=True`` with an ``async def`` ``fn``.
        """
        return self._add(node_id, fn, interrupt=False, in_thread=in_thread)

    def add_interrupt_node(
        self, node_id: str, fn: NodeFunction | CompiledGraph, *, in_thread: bool = False
    ) -> StateGraph:
        """Add a node before which every run pauses (status ``paused``, an ``interrupt`` event).

        ``runner.resume(session_id, update=...)`` merges the update (a human's answer) and runs the
        node; it does not pause again.
        """
        return self._add(node_id, fn, interrupt=True, in_thread=in_thread)

    def add_edge(self, source: str | Sequence[str], target: str) -> StateGraph:
        """After ``source`` runs, go to ``target`` (a node id or ``END``).

        Several edges out of one node start their targets together, as one parallel step. With a
        list of sources, ``add_edge(["a", "b"], "merge")`` is a join: ``merge`` runs once, in the
        step after the last of them finished.

        Raises:
            TypeError: ``source`` is not a node id or a list of node ids, or ``target`` is not a
                node id (a str).
        """
        _check_id("add_edge() target", target)
        if not isinstance(source, str):
            if not isinstance(source, Sequence) or isinstance(source, bytes | bytearray):
                raise ArgumentTypeError(
                    f"add_edge() source must be a node id (a str) or a list of node ids, got "
                    f"{type(source).__name__} {source!r}"
                )
            sources = tuple(source)
            for one in sources:
                _check_id("add_edge() source", one)
            if len(sources) == 1:
                return self.add_edge(sources[0], target)
            if not sources or len(set(sources)) != len(sources):
                self._problems.append(f"join {list(sources)} -> {target!r} needs distinct sources")
            self._joins.append(Join(sources, target))
            return self
        if source == START:
            return self.set_entry_point(target)
        self._edges.append((source, target))
        return self

    def add_conditional_edge(
        self,
        source: str,
        route: RouteFunction,
        path_map: Mapping[str, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """After ``source`` runs, go where ``route(state)`` says.

        Args:
            source: the node the edge leaves.
            route: a plain function of the state returning a node id or ``END`` - or, with a
                ``path_map``, one of its keys.
            path_map: the possible destinations, either ``{key: node_id}`` or a list of node ids.
                It lets ``compile()`` check the targets and labels the edges in ``to_mermaid()``.

        Raises:
            TypeError: ``route`` is not callable or is ``async``; ``path_map`` is not a mapping
                or list of strings.
            ValueError: ``path_map`` is empty.
        """
        _check_id("add_conditional_edge() source", source)
        if not callable(route):
            raise ArgumentTypeError(
                f"route for {source!r} must be callable, got {type(route).__name__}"
            )
        if _is_async(route):
            raise ArgumentTypeError(
                f"route for {source!r} must be a plain def returning a destination, not async "
                "(do the async work in the node and store what the route needs in the state)"
            )
        self._conditional.append((source, ConditionalEdge(route, _path_map(source, path_map))))
        return self

    def set_entry_point(self, node_id: str) -> StateGraph:
        """Make ``node_id`` the first node of every run.

        Raises:
            TypeError: ``node_id`` is not a str.
        """
        _check_id("set_entry_point() node_id", node_id)
        self._entry.append(node_id)
        return self

    def set_finish_point(self, node_id: str) -> StateGraph:
        """End the run after ``node_id`` (same as ``add_edge(node_id, END)``)."""
        return self.add_edge(node_id, END)

    def compile(self) -> CompiledGraph:
        """Check the graph and return an immutable [CompiledGraph][rxchronos.graph.CompiledGraph]
        for a ``Runner``.

        Raises:
            GraphValidationError: naming every problem: no entry point, a duplicate or reserved
                node id, an edge from or to an unknown node, a node with two routes, a
                node no run can reach.
        """
        problems = list(self._problems)
        nodes = self._nodes
        known = set(nodes) | {END}
        if not self._entry:
            problems.append(
                f"graph {self.graph_id!r} has no entry point: call set_entry_point(<node id>)"
            )
        elif len(set(self._entry)) > 1:
            problems.append(f"several entry points {self._entry}: a graph has exactly one")
        elif self._entry[0] not in nodes:
            problems.append(f"entry point {self._entry[0]!r} is not a node")
        static: dict[str, tuple[str, ...]] = {}
        conditional: dict[str, ConditionalEdge] = {}
        for source, target in self._edges:
            if source not in nodes:
                problems.append(f"edge {source!r} -> {target!r} leaves an unknown node {source!r}")
            if target not in known:
                problems.append(f"edge {source!r} -> {target!r} goes to an unknown node {target!r}")
            if target not in static.get(source, ()):
                static[source] = (*static.get(source, ()), target)
        for source, many in static.items():
            if END in many and len(many) > 1:
                problems.append(
                    f"node {source!r} has an edge to END and others ({list(many)}): a branch that "
                    "ends does so by having no outgoing edge"
                )
        for join in self._joins:
            problems.extend(
                f"join {list(join.sources)} leaves unknown node {source!r}"
                for source in join.sources
                if source not in nodes
            )
            if join.target not in nodes:
                problems.append(f"join {list(join.sources)} goes to unknown node {join.target!r}")
        if "" in self._reducers:
            problems.append("reducers: a state key is an empty string")
        for source, edge in self._conditional:
            if source not in nodes:
                problems.append(f"conditional edge leaves an unknown node {source!r}")
            if source in conditional:
                problems.append(f"node {source!r} has two conditional edges: give it one route")
            for key, target in (edge.path_map or {}).items():
                if target not in known:
                    problems.append(
                        f"conditional edge from {source!r}: path {key!r} goes to an unknown node "
                        f"{target!r}"
                    )
            conditional.setdefault(source, edge)
        if not problems:
            problems.extend(self._unreachable(static, conditional))
        if problems:
            raise GraphValidationError(self.graph_id, problems)
        return CompiledGraph(
            self.graph_id,
            dict(nodes),
            self._entry[0],
            static,
            conditional,
            tuple(self._joins),
            self._reducers,
        )

    def _add(
        self, node_id: str, fn: NodeFunction | CompiledGraph, *, interrupt: bool, in_thread: bool
    ) -> StateGraph:
        subgraph = fn if isinstance(fn, CompiledGraph) else None
        if subgraph is not None:
            if in_thread:
                raise ArgumentTypeError(
                    f"node {node_id!r}: a subgraph runs on the event loop; in_thread=True is for "
                    "blocking plain def functions"
                )
            fn = SubgraphNode(subgraph)
        if not callable(fn):
            raise ArgumentTypeError(
                f"node {node_id!r}: fn must be callable, got {type(fn).__name__}"
            )
        is_async = _is_async(fn)
        if in_thread and is_async:
            raise ArgumentTypeError(
                f"node {node_id!r}: in_thread=True is for blocking plain def functions; an async "
                "def node already runs on the event loop without blocking it"
            )
        if not isinstance(node_id, str) or not node_id:
            self._problems.append(f"node id must be a non-empty string, got {node_id!r}")
        elif node_id in _RESERVED:
            self._problems.append(f"node id {node_id!r} is reserved (START/END)")
        elif node_id in self._nodes:
            self._problems.append(f"duplicate node {node_id!r}")
        else:
            self._nodes[node_id] = NodeSpec(node_id, fn, is_async, interrupt, in_thread, subgraph)
        return self

    def _unreachable(
        self, static: Mapping[str, tuple[str, ...]], conditional: Mapping[str, ConditionalEdge]
    ) -> list[str]:
        seen = {self._entry[0]}
        todo = [self._entry[0]]
        while todo:
            node = todo.pop()
            nexts: list[str] = list(static.get(node, ()))
            if node in conditional:
                path_map = conditional[node].path_map
                nexts += list(self._nodes) if path_map is None else list(path_map.values())
            nexts += [join.target for join in self._joins if node in join.sources]
            for target in nexts:
                if target not in seen and target != END:
                    seen.add(target)
                    todo.append(target)
        return [
            f"node {node!r} is unreachable from the entry point {self._entry[0]!r}"
            for node in self._nodes
            if node not in seen
        ]


def _check_id(argument: str, node_id: object) -> None:
    """Refuse a node id that is not a str where an edge or the entry point names one (an
    unknown or empty string is a problem for ``compile()`` to list)."""
    if not isinstance(node_id, str):
        raise ArgumentTypeError(
            f"{argument} must be a node id (a str), got {type(node_id).__name__} {node_id!r}"
        )


def _is_async(fn: Callable[..., Any]) -> bool:
    """``async def`` functions and objects whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
    )


def _path_map(
    source: str, path_map: Mapping[str, str] | Sequence[str] | None
) -> dict[str, str] | None:
    """``path_map`` as ``{key: node_id}``, checked: string keys and targets, at least one entry."""
    if path_map is None:
        return None
    if isinstance(path_map, Mapping):
        mapping = dict(path_map)
    elif isinstance(path_map, Sequence) and not isinstance(path_map, str | bytes):
        bad = [target for target in path_map if not isinstance(target, str)]
        if bad:
            raise ArgumentTypeError(
                f"path_map of {source!r}: node ids must be strings, got {bad!r}"
            )
        mapping = {target: target for target in path_map}
    else:
        raise ArgumentTypeError(
            f"path_map of {source!r} must be a mapping {{key: node_id}} or a list of node ids, "
            f"got {type(path_map).__name__}"
        )
    if not mapping:
        raise InvalidArgumentError(
            f"path_map of {source!r} is empty: the route would have nowhere to go"
        )
    for key, target in mapping.items():
        if not isinstance(key, str) or not isinstance(target, str):
            raise ArgumentTypeError(
                f"path_map of {source!r}: keys and node ids must be strings, got "
                f"{key!r}: {target!r}"
            )
    return mapping
