"""Read the Mermaid ``flowchart`` text that ``CompiledGraph.to_mermaid()`` writes.

Only the subset the graph layer produces: node declarations (``n0["a"]``, interrupt nodes
``n1[/"b"/]``), inline shapes (``__start__([start])``, ``__route_n0{{route}}``,
``__join0{{join}}``), plain arrows ``-->``, thick arrows ``==>`` (parallel branches and joins)
and dotted arrows ``-.->`` (conditional edges) with an optional ``|label|``, ``subgraph id
["label"]`` ... ``end`` blocks (nested too), and ``class ids interrupt`` / ``classDef`` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from typing import Literal

from rxchronos._errors import InvalidArgumentError

__all__ = ["EdgeStyle", "FlowEdge", "FlowNode", "Flowchart", "parse_flowchart"]

EdgeStyle = Literal["plain", "thick", "dotted"]
"""How an arrow is drawn: ``-->``, ``==>`` or ``-.->``."""

_ARROWS: dict[str, EdgeStyle] = {"-->": "plain", "==>": "thick", "-.->": "dotted"}

# labels never hold their own closing delimiter (to_mermaid() escapes quotes as #quot;), so a shape
# cannot swallow the rest of a line such as ``n0["a"] --> n1["b"]``
_SHAPE = (
    r"(?:\(\[(?P<{0}stadium>[^\]]*)\]\)|\{{\{{(?P<{0}hex>[^}}]*)\}}\}}"
    r"|\[/\"(?P<{0}trap>[^\"]*)\"/\]|\[\"(?P<{0}box>[^\"]*)\"\])"
)
_NODE = re.compile(rf"^(?P<id>[\w-]+){_SHAPE.format('')}$")
_EDGE = re.compile(
    rf"^(?P<src>[\w-]+){_SHAPE.format('s')}?\s*(?P<arrow>-->|==>|-\.->)"
    rf"(?:\|\"?(?P<label>.*?)\"?\|)?\s*(?P<dst>[\w-]+){_SHAPE.format('d')}?$"
)
_SUBGRAPH = re.compile(r'^subgraph\s+(?P<id>[\w-]+)(?:\s*\["(?P<label>[^"]*)"\])?$')
_CLASS = re.compile(r"^class\s+(?P<ids>[\w-]+(?:\s*,\s*[\w-]+)*)\s+(?P<name>[\w-]+)$")


@dataclass(slots=True)
class FlowNode:
    """A node of the chart.

    Attributes:
        id: the Mermaid id.
        label: the text shown.
        kind: ``start``, ``end``, ``node``, ``interrupt``, ``route``, ``join`` or ``group`` (a
            ``subgraph`` block).
        parent: the id of the ``subgraph`` block the node is in (``None`` at the top level).
        interrupt: a group of class ``interrupt`` (a subgraph node that pauses before it runs),
            or a node of kind ``interrupt``.
    """

    id: str
    label: str
    kind: str
    parent: str | None = None
    interrupt: bool = False


@dataclass(frozen=True, slots=True)
class FlowEdge:
    """An arrow: ``style`` is ``plain``, ``thick`` (parallel branches, joins) or ``dotted``
    (conditional edges)."""

    src: str
    dst: str
    label: str | None
    style: EdgeStyle = "plain"

    @property
    def dotted(self) -> bool:
        """Whether it is a conditional edge."""
        return self.style == "dotted"


@dataclass(slots=True)
class Flowchart:
    """The nodes (in order of appearance, groups included) and edges of a chart."""

    nodes: dict[str, FlowNode] = field(default_factory=dict)
    edges: list[FlowEdge] = field(default_factory=list)

    def members(self, group: str | None) -> list[str]:
        """The ids of the nodes directly in ``group`` (``None``: the top level), in order."""
        return [node_id for node_id, node in self.nodes.items() if node.parent == group]

    def scopes(self, node_id: str) -> list[str | None]:
        """The groups around ``node_id``, innermost first, ending with ``None`` (the top)."""
        chain: list[str | None] = []
        parent = self.nodes[node_id].parent
        while parent is not None:
            chain.append(parent)
            parent = self.nodes[parent].parent
        chain.append(None)
        return chain


def parse_flowchart(text: str) -> Flowchart:
    """Parse ``text`` (a ``flowchart`` as written by ``to_mermaid()``).

    Raises:
        ValueError: when the text is not a flowchart or a line is not understood (the line says
            which), or a ``subgraph`` block is not closed by ``end``.

    Example:
        >>> chart = parse_flowchart('flowchart TD\\n    __start__([start]) --> n0\\n    n0["a"]')
        >>> [(n.id, n.kind) for n in chart.nodes.values()], chart.edges[0].dst
        ([('__start__', 'start'), ('n0', 'node')], 'n0')
        >>> chart = parse_flowchart('flowchart TD\\n subgraph n0 ["sub"]\\n  n0_n0["x"]\\n end\\n'
        ...                         ' n0 ==> __join0{{join}}')
        >>> [(n.id, n.kind, n.parent) for n in chart.nodes.values()]
        [('n0', 'group', None), ('n0_n0', 'node', 'n0'), ('__join0', 'join', None)]
        >>> chart.edges[0].style
        'thick'
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or not lines[0].startswith(("flowchart", "graph")):
        raise InvalidArgumentError(
            "expected Mermaid flowchart text starting with 'flowchart', e.g. from "
            "compiled.to_mermaid()"
        )
    chart = Flowchart()
    open_groups: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        parent = open_groups[-1] if open_groups else None
        if not line or line.startswith(("%%", "classDef ", "direction ")):
            continue
        if line == "end":
            if not open_groups:
                raise InvalidArgumentError(f"line {number} of the flowchart ends no subgraph")
            open_groups.pop()
            continue
        group = _SUBGRAPH.match(line)
        if group is not None:
            group_id = group.group("id")
            label = group.group("label")
            chart.nodes[group_id] = FlowNode(
                group_id, _unescape(label if label is not None else group_id), "group", parent
            )
            open_groups.append(group_id)
            continue
        marked = _CLASS.match(line)
        if marked is not None:
            _mark(chart, marked, number)
            continue
        node = _NODE.match(line)
        if node is not None:
            _declare(chart, node.group("id"), node, "", parent)
            continue
        edge = _EDGE.match(line)
        if edge is None:
            raise InvalidArgumentError(
                f"line {number} of the flowchart is not understood: {line!r}"
            )
        _declare(chart, edge.group("src"), edge, "s", parent)
        _declare(chart, edge.group("dst"), edge, "d", parent)
        label = edge.group("label")
        chart.edges.append(
            FlowEdge(
                edge.group("src"),
                edge.group("dst"),
                _unescape(label) if label else None,
                _ARROWS[edge.group("arrow")],
            )
        )
    if open_groups:
        raise InvalidArgumentError(
            f"subgraph {open_groups[-1]!r} of the flowchart is not closed by 'end'"
        )
    return chart


def _mark(chart: Flowchart, match: re.Match[str], number: int) -> None:
    if match.group("name") != "interrupt":
        return  # other classes only style a node
    for node_id in re.split(r"\s*,\s*", match.group("ids")):
        node = chart.nodes.get(node_id)
        if node is None:
            raise InvalidArgumentError(
                f"line {number} of the flowchart names {node_id!r}, which is not declared before"
            )
        node.interrupt = True


def _declare(
    chart: Flowchart, node_id: str, match: re.Match[str], prefix: str, parent: str | None
) -> None:
    shapes = {k: match.group(prefix + k) for k in ("stadium", "hex", "trap", "box")}
    known = chart.nodes.get(node_id)
    if known is not None:
        if known.kind == "group" or all(v is None for v in shapes.values()):
            return  # a node belongs to the block it first appears in; a shape may come later
        parent = known.parent
    if shapes["trap"] is not None:
        kind, label = "interrupt", shapes["trap"]
    elif shapes["box"] is not None:
        kind, label = "node", shapes["box"]
    elif shapes["hex"] is not None:
        label = shapes["hex"]
        kind = "join" if label == "join" else "route"
    elif shapes["stadium"] is not None:
        label = shapes["stadium"]
        kind = "start" if node_id.endswith("__start__") else "end"
        if not node_id.endswith(("__start__", "__end__")):
            kind = "node"
    else:
        kind, label = "node", node_id
    chart.nodes[node_id] = FlowNode(
        node_id, _unescape(label), kind, parent, interrupt=kind == "interrupt"
    )


def _unescape(text: str) -> str:
    return text.replace("#quot;", '"').replace("#124;", "|")
