"""Read the Mermaid ``flowchart`` text that ``CompiledGraph.to_mermaid()`` writes.

Only the small subset the graph layer produces: node declarations (``n0["a"]``, interrupt nodes
``n1[/"b"/]``), inline shapes (``__start__([start])``, ``__route_n0{{route}}``), plain arrows
``-->`` and dotted arrows ``-.->`` with an optional ``|label|``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rxchronos._errors import InvalidArgumentError

__all__ = ["FlowEdge", "FlowNode", "Flowchart", "parse_flowchart"]

# labels never hold their own closing delimiter (to_mermaid() escapes quotes as #quot;), so a shape
# cannot swallow the rest of a line such as ``n0["a"] --> n1["b"]``
_SHAPE = (
    r"(?:\(\[(?P<{0}stadium>[^\]]*)\]\)|\{{\{{(?P<{0}hex>[^}}]*)\}}\}}"
    r"|\[/\"(?P<{0}trap>[^\"]*)\"/\]|\[\"(?P<{0}box>[^\"]*)\"\])"
)
_NODE = re.compile(rf"^(?P<id>[\w-]+){_SHAPE.format('')}$")
_EDGE = re.compile(
    rf"^(?P<src>[\w-]+){_SHAPE.format('s')}?\s*(?P<arrow>-->|-\.->)"
    rf"(?:\|\"?(?P<label>.*?)\"?\|)?\s*(?P<dst>[\w-]+){_SHAPE.format('d')}?$"
)


@dataclass(slots=True)
class FlowNode:
    """A node of the chart; ``kind`` is ``start``, ``end``, ``node``, ``interrupt`` or ``route``."""

    id: str
    label: str
    kind: str


@dataclass(frozen=True, slots=True)
class FlowEdge:
    """An arrow; dotted arrows are conditional edges."""

    src: str
    dst: str
    label: str | None
    dotted: bool


@dataclass(slots=True)
class Flowchart:
    """The nodes (in order of appearance) and edges of a chart."""

    nodes: dict[str, FlowNode] = field(default_factory=dict)
    edges: list[FlowEdge] = field(default_factory=list)


def parse_flowchart(text: str) -> Flowchart:
    """Parse ``text`` (a ``flowchart`` as written by ``to_mermaid()``).

    Raises:
        ValueError: when the text is not a flowchart or a line is not understood (the line says
            which).

    Example:
        >>> chart = parse_flowchart('flowchart TD\\n    __start__([start]) --> n0\\n    n0["a"]')
        >>> [(n.id, n.kind) for n in chart.nodes.values()], chart.edges[0].dst
        ([('__start__', 'start'), ('n0', 'node')], 'n0')
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or not lines[0].startswith(("flowchart", "graph")):
        raise InvalidArgumentError(
            "expected Mermaid flowchart text starting with 'flowchart', e.g. from "
            "compiled.to_mermaid()"
        )
    chart = Flowchart()
    for number, line in enumerate(lines[1:], start=2):
        if not line or line.startswith("%%"):
            continue
        node = _NODE.match(line)
        if node is not None:
            _declare(chart, node.group("id"), node, "")
            continue
        edge = _EDGE.match(line)
        if edge is None:
            raise InvalidArgumentError(
                f"line {number} of the flowchart is not understood: {line!r}"
            )
        _declare(chart, edge.group("src"), edge, "s")
        _declare(chart, edge.group("dst"), edge, "d")
        label = edge.group("label")
        chart.edges.append(
            FlowEdge(
                edge.group("src"),
                edge.group("dst"),
                _unescape(label) if label else None,
                edge.group("arrow") == "-.->",
            )
        )
    return chart


def _declare(chart: Flowchart, node_id: str, match: re.Match[str], prefix: str) -> None:
    shapes = {k: match.group(prefix + k) for k in ("stadium", "hex", "trap", "box")}
    known = chart.nodes.get(node_id)
    if known is not None and all(v is None for v in shapes.values()):
        return
    if shapes["trap"] is not None:
        kind, label = "interrupt", shapes["trap"]
    elif shapes["box"] is not None:
        kind, label = "node", shapes["box"]
    elif shapes["hex"] is not None:
        kind, label = "route", shapes["hex"]
    elif shapes["stadium"] is not None:
        label = shapes["stadium"]
        kind = "start" if node_id == "__start__" else "end" if node_id == "__end__" else "node"
    else:
        kind, label = "node", node_id
    chart.nodes[node_id] = FlowNode(node_id, _unescape(label), kind)


def _unescape(text: str) -> str:
    return text.replace("#quot;", '"').replace("#124;", "|")
