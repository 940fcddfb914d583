"""The graph diagram as a picture: ``to_mermaid()`` laid out and drawn as SVG.

Jupyter front ends do not all render Mermaid, and none do offline, so
[`graph_picture`][rxchronos.notebook.graph_picture] lays the flowchart out itself (see
``rxchronos.notebook._layout``): nodes in layers from ``start`` down to ``end``, conditional edges
dotted and labelled, parallel branches and the edges into and out of a join thick and blue, a join
a bar, a subgraph a box holding its own graph, edges routed around the boxes.
"""

from __future__ import annotations

from html import escape
from itertools import pairwise
from typing import Any
from typing import Protocol

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.notebook._ipython import ipython_display
from rxchronos.notebook._layout import BOX_H
from rxchronos.notebook._layout import PAD
from rxchronos.notebook._layout import Layout
from rxchronos.notebook._layout import Point
from rxchronos.notebook._layout import layout
from rxchronos.notebook._mermaid import Flowchart
from rxchronos.notebook._mermaid import FlowEdge
from rxchronos.notebook._mermaid import parse_flowchart
from rxchronos.notebook._svg import FONT
from rxchronos.notebook._svg import SVGPicture
from rxchronos.notebook._svg import attr
from rxchronos.notebook._svg import text_width

__all__ = ["GraphPicture", "HasMermaid", "graph_picture", "show_graph"]

_FILL = {"start": "#e8eaee", "end": "#e8eaee", "node": "#eef4fb", "interrupt": "#fdf3e1",
         "route": "#f3effa"}  # fmt: skip
_GROUP_FILL = "#f7f9fc"
_HIGHLIGHT = "#ffd54f"
_EDGE_COLOUR = "#555"
_THICK_COLOUR = "#2b6cb0"  # parallel branches and joins


class HasMermaid(Protocol):
    r"""Anything with ``to_mermaid()``, such as a ``CompiledGraph``.

    Example:
        >>> from rxchronos.notebook import graph_picture
        >>> class Pipeline:  # not a graph, but it has to_mermaid(): that is enough
        ...     def to_mermaid(self) -> str:
        ...         return 'flowchart TD\n    n0["fetch"]\n    n1["parse"]\n    n0 --> n1'
        >>> 'data-node="parse"' in graph_picture(Pipeline()).svg
        True
    """

    def to_mermaid(self) -> str: ...


class GraphPicture(SVGPicture):
    """A graph diagram: the SVG picture plus the Mermaid text it was drawn from.

    In HTML output the Mermaid text sits in a folded ``<details>`` under the picture, to copy into
    Markdown or a Mermaid editor.

    Attributes:
        mermaid: the Mermaid ``flowchart`` text.

    Example:
        >>> from rxchronos.graph import StateGraph
        >>> from rxchronos.notebook import graph_picture
        >>> g = StateGraph("g").add_node("a", lambda s: {}).set_entry_point("a").compile()
        >>> picture = graph_picture(g)
        >>> picture.svg.startswith("<svg"), "<summary>Mermaid</summary>" in picture._repr_html_()
        (True, True)
        >>> print(picture)  # str(): the Mermaid text
        flowchart TD
            __start__([start]) --> n0
            n0["a"]
            n0 --> __end__([end])
    """

    __slots__ = ("mermaid",)

    def __init__(self, svg: str, mermaid: str) -> None:
        super().__init__(svg)
        self.mermaid = mermaid

    def _repr_html_(self) -> str:
        return (
            f"<div>{self.svg}<details><summary>Mermaid</summary>"
            f"<pre>{escape(self.mermaid)}</pre></details></div>"
        )

    def __str__(self) -> str:
        return self.mermaid

    def __repr__(self) -> str:
        return f"GraphPicture({len(self.svg)} characters of SVG)"


def graph_picture(graph: HasMermaid | str, *, highlight: str | None = None) -> GraphPicture:
    """Draw a compiled graph (or its Mermaid text) as an SVG diagram.

    Args:
        graph: a ``CompiledGraph`` (anything with ``to_mermaid()``), or Mermaid flowchart text.
        highlight: a node to highlight, e.g. the one running now.

    Raises:
        TypeError: when ``graph`` is neither.
        ValueError: when the Mermaid text is not a flowchart, or ``highlight`` is not a node.

    Example:
        >>> from rxchronos.graph import StateGraph
        >>> from rxchronos.notebook import graph_picture
        >>> g = (StateGraph("g").add_node("a", lambda s: {}).add_node("b", lambda s: {})
        ...      .set_entry_point("a").add_edge("a", "b").set_finish_point("b").compile())
        >>> picture = graph_picture(g, highlight="b")
        >>> picture.mermaid.splitlines()[0], ">b</text>" in picture.svg
        ('flowchart TD', True)
    """
    mermaid = _mermaid_of(graph)
    chart = parse_flowchart(mermaid)
    labels = {n.label for n in chart.nodes.values() if n.kind in ("node", "interrupt", "group")}
    if highlight is not None and highlight not in labels:
        raise InvalidArgumentError(
            f"highlight={highlight!r} is not a node of the graph ({sorted(labels)})"
        )
    return GraphPicture(_draw(chart, highlight), mermaid)


def show_graph(graph: HasMermaid | str, *, highlight: str | None = None) -> None:
    """Display the graph diagram in the notebook (needs IPython: the ``notebook`` extra).

    Same arguments as [`graph_picture`][rxchronos.notebook.graph_picture]; the output also holds the
    Mermaid text.

    Example:
        >>> from rxchronos.graph import StateGraph
        >>> from rxchronos.notebook import show_graph
        >>> g = (StateGraph("g").add_node("a", lambda s: {})
        ...      .set_entry_point("a").set_finish_point("a").compile())
        >>> show_graph(g)  # outside a notebook: the Mermaid text
        flowchart TD
            __start__([start]) --> n0
            n0["a"]
            n0 --> __end__([end])
    """
    picture = graph_picture(graph, highlight=highlight)
    ipython_display().display(picture)


def _mermaid_of(graph: Any) -> str:
    if isinstance(graph, str):
        return graph
    to_mermaid = getattr(graph, "to_mermaid", None)
    if not callable(to_mermaid):
        raise ArgumentTypeError(
            f"expected a compiled graph (with to_mermaid()) or Mermaid text, "
            f"got {type(graph).__name__}"
        )
    text = to_mermaid()
    if not isinstance(text, str):
        raise ArgumentTypeError(f"to_mermaid() returned {type(text).__name__}, not str")
    return text


def _draw(chart: Flowchart, highlight: str | None) -> str:
    placed = layout(chart)
    groups: list[str] = []
    edges: list[str] = []
    nodes: list[str] = []
    _draw_block(chart, placed, (0.0, 0.0), highlight, groups, edges, nodes)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{placed.width:.0f}" '
        f'height="{placed.height:.0f}" viewBox="0 0 {placed.width:.0f} {placed.height:.0f}" '
        f'style="{FONT};font-size:13px">',
        "<defs>",
        *(  # the marker scales with the stroke: the thick edges' arrow head is as big
            f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{size}" '
            f'markerHeight="{size}" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" '
            f'fill="{colour}"/></marker>'
            for name, colour, size in (
                ("arrow", _EDGE_COLOUR, 7),
                ("arrow-thick", _THICK_COLOUR, 3.6),
            )
        ),
        "</defs>",
        *groups,  # behind the edges and boxes they hold
        *edges,
        *nodes,
        "</svg>",
    ]
    return "".join(out)


def _draw_block(
    chart: Flowchart,
    placed: Layout,
    origin: Point,
    highlight: str | None,
    groups: list[str],
    edges: list[str],
    nodes: list[str],
) -> None:
    """Draw one block (and the blocks in it) at ``origin``, into the three layers."""
    ox, oy = origin
    for edge, points in placed.edges:
        edges.append(_edge(edge, [(x + ox, y + oy) for x, y in points]))
    for node_id, box in placed.boxes.items():
        node = chart.nodes[node_id]
        x, y = box.x + ox, box.y + oy
        where = f' data-group="{attr(node.parent)}"' if node.parent is not None else ""
        names = f'data-node="{attr(node.label)}" data-id="{attr(node_id)}"{where}'
        lit = highlight is not None and node.label == highlight
        dash = ' stroke-dasharray="5 3"' if node.interrupt else ""
        if node.kind == "group":
            fill = _HIGHLIGHT if lit else _GROUP_FILL
            groups.append(
                f'<g class="group" {names}><rect x="{x:.1f}" y="{y:.1f}" width="{box.w:.1f}" '
                f'height="{box.h:.1f}" rx="8" fill="{fill}" stroke="#8a9bb5"{dash}/>'
                f'<text x="{x + PAD:.1f}" y="{y + PAD + 11:.1f}" font-size="12" '
                f'font-weight="600" fill="#2d3748">{attr(node.label)}</text></g>'
            )
            _draw_block(chart, placed.inner[node_id], (x, y), highlight, groups, edges, nodes)
            continue
        if node.kind == "join":  # a bar that the branches meet at
            nodes.append(
                f'<g class="node join" {names}><rect x="{x:.1f}" y="{y:.1f}" width="{box.w:.1f}" '
                f'height="{box.h:.1f}" rx="3" fill="{_THICK_COLOUR}"/><title>join: runs the next '
                "node once every branch has finished</title></g>"
            )
            continue
        fill = _HIGHLIGHT if lit else _FILL[node.kind]
        radius = BOX_H / 2 if node.kind in ("start", "end") else 6
        nodes.append(
            f'<g class="node {node.kind}" {names}>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
            f'rx="{radius}" fill="{fill}" stroke="#4a5568"{dash}/>'
            f'<text x="{x + box.w / 2:.1f}" y="{y + 22:.1f}" text-anchor="middle">'
            f"{attr(node.label)}</text></g>"
        )


def _edge(edge: FlowEdge, points: list[Point]) -> str:
    dash = ' stroke-dasharray="5 4"' if edge.style == "dotted" else ""
    if edge.style == "thick":
        style = f'fill="none" stroke="{_THICK_COLOUR}" stroke-width="2.5"'
        style += ' marker-end="url(#arrow-thick)"'
    else:
        style = f'fill="none" stroke="{_EDGE_COLOUR}"{dash} marker-end="url(#arrow)"'
    path = "M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in points)
    label = ""
    if edge.label:
        w = text_width(edge.label, 11) + 8
        a, b = max(pairwise(points), key=lambda s: abs(s[1][0] - s[0][0]) + abs(s[1][1] - s[0][1]))
        mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        if edge.src == edge.dst:  # a loop: beside its right-hand side
            a, b = points[2], points[3]
            mid = (a[0] + w / 2 + 4, (a[1] + b[1]) / 2)
        label = (
            f'<rect x="{mid[0] - w / 2:.1f}" y="{mid[1] - 9:.1f}" width="{w:.1f}" height="16" '
            f'fill="#fff" opacity="0.9"/><text x="{mid[0]:.1f}" y="{mid[1] + 3:.1f}" '
            f'text-anchor="middle" font-size="11" fill="#333">{attr(edge.label)}</text>'
        )
    ends = f'data-from="{attr(edge.src)}" data-to="{attr(edge.dst)}" data-style="{edge.style}"'
    return f'<g class="edge" {ends}><path d="{path}" {style}/>{label}</g>'
