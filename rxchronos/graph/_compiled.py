"""A checked, immutable graph ([CompiledGraph][rxchronos.graph.CompiledGraph]) and its picture
(``to_mermaid()``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from rxchronos.graph._errors import RoutingError
from rxchronos.graph._state import FrozenDict

__all__ = ["END", "START", "CompiledGraph", "ConditionalEdge", "NodeSpec"]

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


@dataclass(frozen=True, slots=True)
class ConditionalEdge:
    """A routing function and the optional map from its answers to node ids."""

    route: Callable[[Mapping[str, Any]], str]
    path_map: Mapping[str, str] | None


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
        "_mermaid_ids",
        "_static",
        "edge_data",
        "entry_point",
        "graph_id",
        "nodes",
    )

    def __init__(
        self,
        graph_id: str,
        nodes: Mapping[str, NodeSpec],
        entry_point: str,
        static: Mapping[str, str],
        conditional: Mapping[str, ConditionalEdge],
    ) -> None:
        targets = {node: [*nodes, END] for node in conditional}  # a route may go anywhere...
        for node, edge in conditional.items():
            if edge.path_map is not None:
                targets[node] = list(edge.path_map.values())  # ...unless its path_map says
        for node, target in static.items():
            targets[node] = [target]
        edge_data = {
            (source, target): FrozenDict({"from": source, "to": target})
            for source, options in targets.items()
            for target in options
        }
        setattr_ = object.__setattr__
        setattr_(self, "graph_id", graph_id)
        setattr_(self, "nodes", MappingProxyType(dict(nodes)))
        setattr_(self, "entry_point", entry_point)
        setattr_(self, "_static", MappingProxyType(dict(static)))
        setattr_(self, "_conditional", MappingProxyType(dict(conditional)))
        setattr_(self, "_mermaid_ids", {node: f"n{i}" for i, node in enumerate(nodes)})
        setattr_(self, "edge_data", MappingProxyType(edge_data))

    graph_id: str
    nodes: Mapping[str, NodeSpec]
    """The nodes by id, in the order they were added (read-only)."""
    entry_point: str
    edge_data: Mapping[tuple[str, str], Mapping[str, str]]
    """``edge_transition`` data for every edge a run can take, shared by every run (read-only)."""
    _static: Mapping[str, str]
    _conditional: Mapping[str, ConditionalEdge]
    _mermaid_ids: Mapping[str, str]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CompiledGraph is immutable: build a new one with StateGraph(...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("CompiledGraph is immutable: build a new one with StateGraph(...)")

    @property
    def node_ids(self) -> tuple[str, ...]:
        """The node ids, in the order they were added."""
        return tuple(self.nodes)

    def next_node(self, node_id: str, state: Mapping[str, Any]) -> str:
        """The node that follows ``node_id`` for this ``state`` (``END`` when the run is over).

        Raises:
            RoutingError: the route function returned something that is not a destination (not
                a str, not in its ``path_map``, not a node).
            Exception: whatever the route function raised.
        """
        target = self._static.get(node_id)
        if target is not None:
            return target
        edge = self._conditional.get(node_id)
        if edge is None:
            return END  # a node without outgoing edges ends the run
        key = edge.route(state)
        if not isinstance(key, str):
            if inspect.iscoroutine(key):
                key.close()  # an async route slipped through (a sync function returning one)
            raise RoutingError(
                f"route of node {node_id!r} returned {type(key).__name__} {key!r}; a route "
                "returns one destination as a str: a node id, END, or a key of its path_map"
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

        Interrupt nodes are drawn as ``[/node/]``; conditional edges are dotted and labelled with
        their ``path_map`` keys (or ``?`` when the route function may go anywhere).
        """
        ids = self._mermaid_ids
        lines = ["flowchart TD", f"    {START}([start]) --> {ids[self.entry_point]}"]
        for node, spec in self.nodes.items():
            label = node.replace('"', "#quot;")
            shape = f'[/"{label}"/]' if spec.interrupt else f'["{label}"]'
            lines.append(f"    {ids[node]}{shape}")
        for node in self.nodes:
            if node in self._static:
                lines.append(f"    {ids[node]} --> {self._target(self._static[node])}")
            elif node in self._conditional:
                path_map = self._conditional[node].path_map
                if path_map is None:
                    lines.append(f"    {ids[node]} -.->|?| __route_{ids[node]}{{{{route}}}}")
                    continue
                for key, target in path_map.items():
                    text = key.replace('"', "#quot;").replace("|", "#124;")
                    lines.append(f'    {ids[node]} -.->|"{text}"| {self._target(target)}')
            else:
                lines.append(f"    {ids[node]} --> {END}([end])")
        return "\n".join(lines)

    def _target(self, node: str) -> str:
        return f"{END}([end])" if node == END else self._mermaid_ids[node]

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.to_mermaid()}\n```"

    def __repr__(self) -> str:
        return f"CompiledGraph({self.graph_id!r}, nodes={list(self.nodes)})"
