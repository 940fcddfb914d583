"""A checked, immutable graph ([CompiledGraph][rxchronos.graph.CompiledGraph]) and its picture
(``to_mermaid()``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from rxchronos._errors import ArgumentTypeError
from rxchronos.graph._errors import RoutingError
from rxchronos.graph._state import FrozenDict

__all__ = ["END", "START", "CompiledGraph", "ConditionalEdge", "Join", "NodeSpec", "Send", "Target"]

START = "__start__"
"""The virtual node before the entry point: ``add_edge(START, "a")`` is ``set_entry_point("a")``."""

END = "__end__"
"""The virtual node after the last one: ``add_edge("z", END)`` is ``set_finish_point("z")``."""


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node: its function and how the runner calls it."""

    node_id: str
    fn: Callable[[Mapping[str, Any]], Any]
    is_async: bool
    interrupt: bool
    in_thread: bool
    subgraph: CompiledGraph | None = None
    """The compiled graph this node runs, for a subgraph node."""


@dataclass(frozen=True, slots=True)
class ConditionalEdge:
    """A routing function and the optional map from its answers to node ids."""

    route: Callable[[Mapping[str, Any]], Any]
    path_map: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class Join:
    """``add_edge(["a", "b"], "merge")``: ``target`` runs once every source has finished."""

    sources: tuple[str, ...]
    target: str


class Send:
    """Run ``node`` with ``arg`` as its input, as one branch of the next step (map over items).

    A route returns ``Send`` objects (alone, or in a list with node ids) to start one task per
    item: each runs ``node(arg)`` instead of ``node(state)``, and its update is merged into the
    state like any other task's. ``tool_call_id`` marks the branch as the one running that tool
    call: the branch's events carry it in ``data["tool_call_id"]`` (``node_start``,
    ``node_end``), so a UI can attach the branch's stream to the tool call.

    Example:
        >>> import asyncio, operator
        >>> from rxchronos.graph import Runner, Send, StateGraph
        >>> g = (StateGraph("map", reducers={"lengths": operator.add})
        ...      .add_node("split", lambda s: None)
        ...      .add_node("measure", lambda doc: {"lengths": [len(doc["text"])]})
        ...      .set_entry_point("split")
        ...      .add_conditional_edge("split", lambda s: [Send("measure", {"text": t})
        ...                                                for t in s["docs"]])
        ...      .compile())
        >>> asyncio.run(Runner(g).run("s1", {"docs": ["a", "bb", "ccc"]})).state["lengths"]
        [1, 2, 3]
    """

    __slots__ = ("arg", "node", "tool_call_id")

    def __init__(self, node: str, arg: Any, *, tool_call_id: str | None = None) -> None:
        if not isinstance(node, str) or not node:
            raise ArgumentTypeError(f"Send needs a node id (a non-empty str), got {node!r}")
        if tool_call_id is not None and not isinstance(tool_call_id, str):
            raise ArgumentTypeError(
                f"Send tool_call_id must be a str or None, got {tool_call_id!r}"
            )
        self.node = node
        self.arg = arg
        self.tool_call_id = tool_call_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Send) and (self.node, self.arg, self.tool_call_id) == (
            other.node,
            other.arg,
            other.tool_call_id,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        call = f", tool_call_id={self.tool_call_id!r}" if self.tool_call_id is not None else ""
        return f"Send({self.node!r}, {self.arg!r}{call})"


Target = str | Send
"""Where a finished task leads: a node id, ``END``, or a [Send][rxchronos.graph.Send]."""


class CompiledGraph:
    """A validated graph, ready for [Runner][rxchronos.graph.Runner]. Build it with
    ``StateGraph.compile()``.

    Example:
        >>> from rxchronos.graph import StateGraph
        >>> g = (StateGraph("g").add_node("a", lambda s: {}).add_node("b", lambda s: {})
        ...      .set_entry_point("a").add_edge("a", "b").set_finish_point("b").compile())
        >>> print(g.to_mermaid())
        flowchart TD
            __start__([start]) --> n0
            n0["a"]
            n1["b"]
            n0 --> n1
            n1 --> __end__([end])
    """

    __slots__ = (
        "_conditional",
        "_joins",
        "_joins_of",
        "_mermaid_ids",
        "_static",
        "edge_data",
        "entry_point",
        "graph_id",
        "interrupts",
        "nodes",
        "reducers",
        "successor",
    )

    def __init__(
        self,
        graph_id: str,
        nodes: Mapping[str, NodeSpec],
        entry_point: str,
        static: Mapping[str, tuple[str, ...]],
        conditional: Mapping[str, ConditionalEdge],
        joins: tuple[Join, ...] = (),
        reducers: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    ) -> None:
        targets: dict[str, list[str]] = {node: [*nodes, END] for node in conditional}
        for node, edge in conditional.items():  # a route may go anywhere, unless its path_map
            if edge.path_map is not None:  # says where
                targets[node] = list(edge.path_map.values())
        for node, many in static.items():
            targets.setdefault(node, []).extend(many)
        for join in joins:
            for source in join.sources:
                targets.setdefault(source, []).append(join.target)
        edge_data = {
            (source, target): FrozenDict({"from": source, "to": target})
            for source, options in targets.items()
            for target in options
        }
        joins_of: dict[str, list[int]] = {}
        for index, join in enumerate(joins):
            for source in join.sources:
                joins_of.setdefault(source, []).append(index)
        setattr_ = object.__setattr__
        setattr_(self, "graph_id", graph_id)
        setattr_(self, "nodes", MappingProxyType(dict(nodes)))
        setattr_(self, "entry_point", entry_point)
        setattr_(self, "_static", MappingProxyType(dict(static)))
        setattr_(self, "_conditional", MappingProxyType(dict(conditional)))
        setattr_(self, "_joins", tuple(joins))
        setattr_(self, "_joins_of", MappingProxyType({k: tuple(v) for k, v in joins_of.items()}))
        setattr_(self, "_mermaid_ids", {node: f"n{i}" for i, node in enumerate(nodes)})
        setattr_(self, "edge_data", MappingProxyType(edge_data))
        setattr_(self, "reducers", MappingProxyType(dict(reducers or {})))
        setattr_(
            self, "interrupts", frozenset(node for node, spec in nodes.items() if spec.interrupt)
        )
        single = {  # one static edge, no route, no join: the next node is known in advance
            node: many[0]
            for node, many in static.items()
            if len(many) == 1 and node not in conditional and node not in joins_of
        }
        for node in nodes:
            if node not in static and node not in conditional and node not in joins_of:
                single[node] = END
        setattr_(self, "successor", MappingProxyType(single))

    graph_id: str
    nodes: Mapping[str, NodeSpec]
    """The nodes by id, in the order they were added (read-only)."""
    entry_point: str
    edge_data: Mapping[tuple[str, str], Mapping[str, str]]
    """``edge_transition`` data for every edge a run can take, shared by every run (read-only)."""
    reducers: Mapping[str, Callable[[Any, Any], Any]]
    """The state keys whose concurrent updates are combined, and how (read-only)."""
    interrupts: frozenset[str]
    """The interrupt nodes."""
    successor: Mapping[str, str]
    """For a node whose next step is known without running anything (one static edge, or none:
    ``END``), that node."""
    _static: Mapping[str, tuple[str, ...]]
    _conditional: Mapping[str, ConditionalEdge]
    _joins: tuple[Join, ...]
    _joins_of: Mapping[str, tuple[int, ...]]
    _mermaid_ids: Mapping[str, str]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CompiledGraph is immutable: build a new one with StateGraph(...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("CompiledGraph is immutable: build a new one with StateGraph(...)")

    @property
    def node_ids(self) -> tuple[str, ...]:
        """The node ids, in the order they were added."""
        return tuple(self.nodes)

    @property
    def joins(self) -> tuple[Join, ...]:
        """The joins (``add_edge([...], target)``), in the order they were added."""
        return self._joins

    def joins_of(self, node_id: str) -> tuple[int, ...]:
        """The indexes (in [joins][rxchronos.graph.CompiledGraph.joins]) of the joins that wait
        for ``node_id``."""
        return self._joins_of.get(node_id, ())

    def targets(self, node_id: str, state: Mapping[str, Any]) -> list[Target]:
        """Where the run goes after ``node_id`` for this ``state`` (joins aside): its static edges'
        targets, then what its route returned. ``[END]`` when it has no outgoing edge.

        Raises:
            RoutingError: the route returned something that is not a destination (not a str, a
                [Send][rxchronos.graph.Send] or a list of them; not in its ``path_map``; not a
                node).
            Exception: whatever the route function raised.
        """
        static = self._static.get(node_id)
        edge = self._conditional.get(node_id)
        if edge is None:
            if static is not None:
                return list(static)
            return [] if node_id in self._joins_of else [END]
        answer = edge.route(state)
        answers = answer if isinstance(answer, list | tuple) else [answer]
        found: list[Target] = list(static or ())
        found.extend(self._destination(node_id, edge, key) for key in answers)
        if not answers:
            raise RoutingError(
                f"route of node {node_id!r} returned an empty list; return END to end the run"
            )
        return found

    def _destination(self, node_id: str, edge: ConditionalEdge, key: object) -> Target:
        if isinstance(key, Send):
            if key.node not in self.nodes:
                raise RoutingError(
                    f"route of node {node_id!r} returned {key!r}, whose node is not a node of "
                    f"graph {self.graph_id!r} (nodes: {sorted(self.nodes)})"
                )
            return key
        if not isinstance(key, str):
            if inspect.iscoroutine(key):
                key.close()  # an async route slipped through (a sync function returning one)
            raise RoutingError(
                f"route of node {node_id!r} returned {type(key).__name__} {key!r}; a route "
                "returns a destination (a node id, END, a key of its path_map, or a Send) or a "
                "list of them"
            )
        if edge.path_map is not None:
            if key not in edge.path_map:
                raise RoutingError(
                    f"route of node {node_id!r} returned {key!r}, which is not in its path_map "
                    f"{sorted(edge.path_map)}"
                )
            return edge.path_map[key]
        if key != END and key not in self.nodes:
            raise RoutingError(
                f"route of node {node_id!r} returned {key!r}, which is not a node of graph "
                f"{self.graph_id!r} (nodes: {sorted(self.nodes)}) nor END"
            )
        return key

    def to_mermaid(self) -> str:
        """The graph as a Mermaid ``flowchart``: paste it into Markdown, docs or a notebook.

        Interrupt nodes are drawn as ``[/node/]``; conditional edges are dotted (``-.->``) and
        labelled with their ``path_map`` keys (or ``?`` when the route function may go anywhere,
        a list of nodes or ``Send`` objects included); the edges out of a node that starts
        several nodes at once (parallel branches) are thick (``==>``); a join is a ``{{join}}``
        node that thick edges from each source lead into. A subgraph node is a
        ``subgraph ... end`` block holding the subgraph's own chart, its ids prefixed with the
        node's id and ``_`` (nested subgraphs too), so they never clash; an interrupt subgraph
        node is of class ``interrupt``.

        Example:
            >>> from rxchronos.graph import StateGraph
            >>> inner = StateGraph("inner").add_node("x", lambda s: {}).set_entry_point("x")
            >>> outer = (StateGraph("outer").add_node("plan", lambda s: {})
            ...          .add_node("research", inner.compile()).add_node("write", lambda s: {})
            ...          .set_entry_point("plan").add_edge("plan", "research")
            ...          .add_edge("plan", "write").compile())
            >>> print(outer.to_mermaid())
            flowchart TD
                __start__([start]) --> n0
                n0["plan"]
                subgraph n1 ["research"]
                    n1___start__([start]) --> n1_n0
                    n1_n0["x"]
                    n1_n0 --> n1___end__([end])
                end
                n2["write"]
                n0 ==> n1
                n0 ==> n2
                n1 --> __end__([end])
                n2 --> __end__([end])
        """
        lines = ["flowchart TD", *self._mermaid_lines("", "    ")]
        if any(line.lstrip().startswith("class ") for line in lines):
            lines.append("    classDef interrupt stroke-dasharray:5 3")
        return "\n".join(lines)

    def _mermaid_lines(self, prefix: str, pad: str) -> list[str]:
        """The chart's lines, every id prefixed with ``prefix``, indented by ``pad``."""
        ids = {node: prefix + short for node, short in self._mermaid_ids.items()}

        def target(node: str) -> str:
            return f"{prefix}{END}([end])" if node == END else ids[node]

        lines = [f"{pad}{prefix}{START}([start]) --> {ids[self.entry_point]}"]
        for node, spec in self.nodes.items():
            label = node.replace('"', "#quot;")
            if spec.subgraph is not None:
                lines.append(f'{pad}subgraph {ids[node]} ["{label}"]')
                lines.extend(spec.subgraph._mermaid_lines(ids[node] + "_", pad + "    "))
                lines.append(f"{pad}end")
                if spec.interrupt:
                    lines.append(f"{pad}class {ids[node]} interrupt")
                continue
            shape = f'[/"{label}"/]' if spec.interrupt else f'["{label}"]'
            lines.append(f"{pad}{ids[node]}{shape}")
        for node in self.nodes:
            static = self._static.get(node, ())
            # several targets at once (static edges, or static edges and a route) are parallel
            arrow = "==>" if len(static) > 1 or (static and node in self._conditional) else "-->"
            lines.extend(f"{pad}{ids[node]} {arrow} {target(t)}" for t in static)
            if node in self._conditional:
                path_map = self._conditional[node].path_map
                if path_map is None:
                    lines.append(f"{pad}{ids[node]} -.->|?| __route_{ids[node]}{{{{route}}}}")
                    continue
                for key, where in path_map.items():
                    text = key.replace('"', "#quot;").replace("|", "#124;")
                    lines.append(f'{pad}{ids[node]} -.->|"{text}"| {target(where)}')
            elif not static and node not in self._joins_of:
                lines.append(f"{pad}{ids[node]} --> {prefix}{END}([end])")
        for index, join in enumerate(self._joins):  # a join: every source into one bar
            bar = f"{prefix}__join{index}"
            lines.append(f"{pad}{bar}{{{{join}}}}")
            lines.extend(f"{pad}{ids[source]} ==> {bar}" for source in join.sources)
            lines.append(f"{pad}{bar} ==> {target(join.target)}")
        return lines

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.to_mermaid()}\n```"

    def __repr__(self) -> str:
        return f"CompiledGraph({self.graph_id!r}, nodes={list(self.nodes)})"
