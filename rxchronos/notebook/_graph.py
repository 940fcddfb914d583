"""The graph diagram as a picture: a small layered layout of ``to_mermaid()`` drawn as SVG.

Jupyter front ends do not all render Mermaid, and none do offline, so :func:`graph_picture`
lays the flowchart out itself: nodes in layers from ``start`` down to ``end``, edges that go
back up (cycles) curving round the right-hand side, conditional edges dotted and labelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any, Protocol

from rxchronos.graph import END, START
from rxchronos.notebook._ipython import ipython_display
from rxchronos.notebook._mermaid import Flowchart, FlowEdge, parse_flowchart
from rxchronos.notebook._svg import FONT, SVGPicture, attr, text_width

__all__ = ["GraphPicture", "HasMermaid", "graph_picture", "show_graph"]

_LAYER = 78
_GAP = 28
_BOX_H = 34
_MARGIN = 24
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
        raise ValueError(f"highlight={highlight!r} is not a node of the graph ({sorted(labels)})")
    return GraphPicture(_draw(chart, highlight), mermaid)


def show_graph(graph: HasMermaid | str, *, highlight: str | None = None) -> None:
    """Display the graph diagram in the notebook (needs IPython: the ``notebook`` extra).

    Same arguments as :func:`graph_picture`; the output also holds the Mermaid text.

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
        raise TypeError(
            f"expected a compiled graph (with to_mermaid()) or Mermaid text, "
            f"got {type(graph).__name__}"
        )
    text = to_mermaid()
    if not isinstance(text, str):
        raise TypeError(f"to_mermaid() returned {type(text).__name__}, not str")
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
    width = inner + 2 * _MARGIN + (90 if back else 0)
    height = (max(rows, default=0) + 1) * _LAYER + 2 * _MARGIN - (_LAYER - _BOX_H)
    boxes: dict[str, _Box] = {}
    for k, nodes in rows.items():
        x = _MARGIN + (inner - row_w[k]) / 2
        for node_id in nodes:
            boxes[node_id] = _Box(x, _MARGIN + k * _LAYER, widths[node_id])
            x += widths[node_id] + _GAP
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" style="{FONT};font-size:13px">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#555"/>'
        "</marker></defs>",
    ]
    right = _MARGIN + inner
    for i, edge in enumerate(chart.edges):
        out.append(_edge(edge, boxes[edge.src], boxes[edge.dst], edge in back, right + 30 + i % 3))
    for node_id, node in chart.nodes.items():
        box = boxes[node_id]
        fill = _HIGHLIGHT if highlight is not None and node.label == highlight else _FILL[node.kind]
        radius = _BOX_H / 2 if node.kind in ("start", "end") else 6
        dash = ' stroke-dasharray="5 3"' if node.kind == "interrupt" else ""
        out.append(
            f'<g class="node {node.kind}" data-node="{attr(node.label)}">'
            f'<rect x="{box.x:.1f}" y="{box.y}" width="{box.w:.1f}" height="{_BOX_H}" '
            f'rx="{radius}" fill="{fill}" stroke="#4a5568"{dash}/>'
            f'<text x="{box.x + box.w / 2:.1f}" y="{box.y + 22}" text-anchor="middle">'
            f"{attr(node.label)}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)


def _edge(edge: FlowEdge, src: _Box, dst: _Box, is_back: bool, side: float) -> str:
    dash = ' stroke-dasharray="5 4"' if edge.dotted else ""
    style = f'fill="none" stroke="#555"{dash} marker-end="url(#arrow)"'
    if is_back:
        x1, y1 = src.x + src.w, src.y + _BOX_H / 2
        x2, y2 = dst.x + dst.w, dst.y + _BOX_H / 2
        path = f"M{x1:.1f} {y1}C{side + 40:.1f} {y1} {side + 40:.1f} {y2} {x2 + 2:.1f} {y2}"
        mid = (side + 10, (y1 + y2) / 2)
    else:
        x1, y1 = src.x + src.w / 2, src.y + _BOX_H
        x2, y2 = dst.x + dst.w / 2, dst.y - 2
        path = f"M{x1:.1f} {y1}L{x2:.1f} {y2}"
        mid = ((x1 + x2) / 2, (y1 + y2) / 2)
    label = ""
    if edge.label:
        w = text_width(edge.label, 11) + 8
        label = (
            f'<rect x="{mid[0] - w / 2:.1f}" y="{mid[1] - 9:.1f}" width="{w:.1f}" height="16" '
            f'fill="#fff" opacity="0.9"/><text x="{mid[0]:.1f}" y="{mid[1] + 3:.1f}" '
            f'text-anchor="middle" font-size="11" fill="#333">{attr(edge.label)}</text>'
        )
    return f'<g class="edge"><path d="{path}" {style}/>{label}</g>'
