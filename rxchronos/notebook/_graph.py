"""The graph diagram as a picture: a small layered layout of ``to_mermaid()`` drawn as SVG.

Jupyter front ends do not all render Mermaid, and none do offline, so
[`graph_picture`][rxchronos.notebook.graph_picture] lays the flowchart out itself: nodes in layers
from ``start`` down to ``end``, conditional edges dotted and labelled. Edges are routed around the
boxes, never through one: an edge to the next layer is a straight line, an edge going back up (a
cycle) leaves through the top of its box and runs along the gap between the layers, and an edge that
skips layers takes a lane to the right of every box.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from itertools import pairwise
from typing import Any, Protocol

from rxchronos._errors import ArgumentTypeError, InvalidArgumentError
from rxchronos.graph import END, START
from rxchronos.notebook._ipython import ipython_display
from rxchronos.notebook._mermaid import Flowchart, FlowEdge, parse_flowchart
from rxchronos.notebook._svg import FONT, SVGPicture, attr, text_width

__all__ = ["GraphPicture", "HasMermaid", "graph_picture", "show_graph"]

_LAYER = 78
_GAP = 28
_BOX_H = 34
_MARGIN = 24
_LANE = 16  # the spacing of the lanes right of the boxes
_FILL = {"start": "#e8eaee", "end": "#e8eaee", "node": "#eef4fb", "interrupt": "#fdf3e1",
         "route": "#f3effa"}  # fmt: skip
_HIGHLIGHT = "#ffd54f"


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


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    w: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


_Point = tuple[float, float]


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
    labels = {n.label for n in chart.nodes.values() if n.kind in ("node", "interrupt")}
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


def _layers(chart: Flowchart) -> tuple[dict[str, int], set[FlowEdge]]:
    """Longest-path layers from ``__start__``, ignoring the edges that close cycles."""
    out: dict[str, list[FlowEdge]] = {n: [] for n in chart.nodes}
    for edge in chart.edges:
        out[edge.src].append(edge)
    back: set[FlowEdge] = set()
    state: dict[str, int] = {}  # 1: on the DFS path, 2: done
    roots = [START] if START in chart.nodes else []
    for root in [*roots, *chart.nodes]:
        if root in state:
            continue
        stack = [(root, iter(out[root]))]
        state[root] = 1
        while stack:
            node, edges = stack[-1]
            step = next(edges, None)
            if step is None:
                state[node] = 2
                stack.pop()
            elif state.get(step.dst) == 1:
                back.add(step)
            elif step.dst not in state:
                state[step.dst] = 1
                stack.append((step.dst, iter(out[step.dst])))
    layer = dict.fromkeys(chart.nodes, 0)
    for _ in chart.nodes:  # relax: at most |nodes| rounds on a DAG
        changed = False
        for edge in chart.edges:
            if edge not in back and layer[edge.dst] < layer[edge.src] + 1:
                layer[edge.dst] = layer[edge.src] + 1
                changed = True
        if not changed:
            break
    if END in layer:
        layer[END] = max(layer.values())
    return layer, back


def _draw(chart: Flowchart, highlight: str | None) -> str:
    layer, back = _layers(chart)
    rows: dict[int, list[str]] = {}
    for node_id in chart.nodes:
        rows.setdefault(layer[node_id], []).append(node_id)
    widths = {n: text_width(chart.nodes[n].label, 13) + 28 for n in chart.nodes}
    row_w = {k: sum(widths[n] for n in ns) + _GAP * (len(ns) - 1) for k, ns in rows.items()}
    inner = max(row_w.values(), default=100.0)
    height = (max(rows, default=0) + 1) * _LAYER + 2 * _MARGIN - (_LAYER - _BOX_H)
    boxes: dict[str, _Box] = {}
    for k, nodes in rows.items():
        x = _MARGIN + (inner - row_w[k]) / 2
        for node_id in nodes:
            boxes[node_id] = _Box(x, _MARGIN + k * _LAYER, widths[node_id])
            x += widths[node_id] + _GAP
    routes = _routes(chart, layer, back, boxes, right=_MARGIN + inner)
    width = max((x for points in routes for x, _ in points), default=0) + _MARGIN
    loops = [text_width(e.label or "", 11) + 12 for e in chart.edges if e.src == e.dst]
    width += max(loops, default=0)  # a loop's label sits right of it
    width = max(width, inner + 2 * _MARGIN)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" style="{FONT};font-size:13px">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#555"/>'
        "</marker></defs>",
    ]
    for edge, points in zip(chart.edges, routes, strict=True):
        out.append(_edge(edge, points))
    for node_id, node in chart.nodes.items():
        box = boxes[node_id]
        fill = _HIGHLIGHT if highlight is not None and node.label == highlight else _FILL[node.kind]
        radius = _BOX_H / 2 if node.kind in ("start", "end") else 6
        dash = ' stroke-dasharray="5 3"' if node.kind == "interrupt" else ""
        out.append(
            f'<g class="node {node.kind}" data-node="{attr(node.label)}" data-id="{attr(node_id)}">'
            f'<rect x="{box.x:.1f}" y="{box.y}" width="{box.w:.1f}" height="{_BOX_H}" '
            f'rx="{radius}" fill="{fill}" stroke="#4a5568"{dash}/>'
            f'<text x="{box.x + box.w / 2:.1f}" y="{box.y + 22}" text-anchor="middle">'
            f"{attr(node.label)}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)


def _routes(
    chart: Flowchart,
    layer: dict[str, int],
    back: set[FlowEdge],
    boxes: dict[str, _Box],
    *,
    right: float,
) -> list[list[_Point]]:
    """Each edge's path as a polyline that enters no box but the two it joins."""
    half_gap = (_LAYER - _BOX_H) / 2
    lane = right + _LANE

    def below(box: _Box) -> float:  # the middle of the gap under a box's layer
        return box.y + _BOX_H + half_gap

    def above(box: _Box) -> float:
        return box.y - half_gap

    rightmost: dict[int, str] = {}
    for node_id, box in boxes.items():
        known = rightmost.get(layer[node_id])
        if known is None or boxes[known].x < box.x:
            rightmost[layer[node_id]] = node_id
    routes: list[list[_Point]] = []
    for edge in chart.edges:
        src, dst = boxes[edge.src], boxes[edge.dst]
        step = layer[edge.dst] - layer[edge.src]
        if edge.src == edge.dst:  # a loop: out of the top, round the right side, back in
            x = src.x + src.w * 0.75
            side = src.x + src.w + _GAP / 2
            mid = src.y + _BOX_H / 2
            points = [(x, src.y), (x, above(src)), (side, above(src)), (side, mid)]
            points.append((src.x + src.w + 2, mid))
        elif edge not in back and step > 0:  # down: straight when nothing is in the way
            points = [(src.cx, src.y + _BOX_H), (dst.cx, dst.y - 2)]
            if step > 1 and _blocked(points, boxes, edge):
                points[1:1] = [(src.cx, below(src)), (lane, below(src))]
                points[-1:-1] = [(lane, above(dst)), (dst.cx, above(dst))]
                lane += _LANE
        elif step == 0:  # across a layer: through the gap above it
            x1, x2 = src.x + src.w * 0.7, dst.x + dst.w * 0.7
            points = [(x1, src.y), (x1, above(src)), (x2, above(src)), (x2, dst.y - 2)]
        else:  # back up: along a lane right of every box
            mid_src, mid_dst = src.y + _BOX_H / 2, dst.y + _BOX_H / 2
            if rightmost[layer[edge.src]] == edge.src:
                points = [(src.x + src.w, mid_src), (lane, mid_src)]
            else:  # a box to its right: leave through the top, into the gap above
                x1 = src.x + src.w * 0.7
                points = [(x1, src.y), (x1, above(src)), (lane, above(src))]
            if rightmost[layer[edge.dst]] == edge.dst:
                points += [(lane, mid_dst), (dst.x + dst.w + 2, mid_dst)]
            else:
                x2 = dst.x + dst.w * 0.7
                points += [(lane, below(dst)), (x2, below(dst)), (x2, dst.y + _BOX_H + 2)]
            lane += _LANE
        routes.append(points)
    return routes


def _blocked(points: list[_Point], boxes: dict[str, _Box], edge: FlowEdge) -> bool:
    (x1, y1), (x2, y2) = points
    for node_id, box in boxes.items():
        if node_id in (edge.src, edge.dst):
            continue
        if _hits((x1, y1), (x2, y2), (box.x, box.y, box.w, _BOX_H)):
            return True
    return False


def _hits(a: _Point, b: _Point, box: tuple[float, float, float, float]) -> bool:
    """Whether the segment from ``a`` to ``b`` passes inside the box ``(x, y, width, height)``."""
    (x1, y1), (x2, y2) = a, b
    left, top, w, h = box
    low, high = 0.0, 1.0  # Liang-Barsky: clip the segment's parameter range to the box
    for p, q in (
        (x1 - x2, x1 - left),
        (x2 - x1, left + w - x1),
        (y1 - y2, y1 - top),
        (y2 - y1, top + h - y1),
    ):
        if p == 0:
            if q <= 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low >= high:
            return False
    return True


def _edge(edge: FlowEdge, points: list[_Point]) -> str:
    dash = ' stroke-dasharray="5 4"' if edge.dotted else ""
    style = f'fill="none" stroke="#555"{dash} marker-end="url(#arrow)"'
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
    ends = f'data-from="{attr(edge.src)}" data-to="{attr(edge.dst)}"'
    return f'<g class="edge" {ends}><path d="{path}" {style}/>{label}</g>'
