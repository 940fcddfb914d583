"""A layered layout of a flowchart, for [graph_picture][rxchronos.notebook.graph_picture].

Nodes sit in layers from ``start`` down to ``end`` (longest path, ignoring the edges that close
cycles), each layer's boxes side by side and top-aligned. A ``subgraph`` block is a box of its
own that holds its members' layout, laid out the same way (nested blocks too), so the picture of
a graph with subgraphs is the picture of each graph, boxed. Edges are routed around the boxes,
never through one: an edge to the next layer is a straight line (or, when a taller box of its
layer is in the way, an elbow through the gap under the layer), an edge going back up (a cycle)
leaves through the top of its box and runs along the gap between the layers, and an edge that
skips layers takes a lane to the right of every box. An edge between nodes of different blocks
is laid out in the innermost block holding both, between the boxes that hold its ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from rxchronos.notebook._mermaid import Flowchart
from rxchronos.notebook._mermaid import FlowEdge
from rxchronos.notebook._svg import text_width

__all__ = ["BOX_H", "PAD", "Box", "Layout", "Point", "layout"]

BOX_H = 34
"""The height of a node's box."""
PAD = 12.0
"""The space inside a group's box around its contents."""
_TITLE = 20  # a group's label, above its contents
_LAYER_GAP = 44
_GAP = 28
_MARGIN = 24
_LANE = 16  # the spacing of the lanes right of the boxes
_JOIN = (72.0, 8.0)  # a join's bar

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Box:
    """A box, its top-left corner relative to the layout it is in."""

    x: float
    y: float
    w: float
    h: float = BOX_H

    @property
    def cx(self) -> float:
        """The middle of its width."""
        return self.x + self.w / 2

    @property
    def bottom(self) -> float:
        """Its lower side."""
        return self.y + self.h


@dataclass(slots=True)
class Layout:
    """The layout of one block (the top level, or a ``subgraph``).

    Attributes:
        width: the block's width.
        height: the block's height.
        boxes: the box of each member (node or group), relative to the block.
        edges: each edge drawn in this block, with its path relative to the block.
        inner: the layout of each member group, relative to that group's box.
    """

    width: float
    height: float
    boxes: dict[str, Box] = field(default_factory=dict)
    edges: list[tuple[FlowEdge, list[Point]]] = field(default_factory=list)
    inner: dict[str, Layout] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class _Link:
    """An edge as laid out in a block: between the members that hold its two ends (compared by
    identity: a chart may draw the same arrow twice)."""

    edge: FlowEdge
    src: str
    dst: str


def layout(chart: Flowchart) -> Layout:
    """Lay ``chart`` out (see the module's description).

    Example:
        >>> from rxchronos.notebook._mermaid import parse_flowchart
        >>> chart = parse_flowchart('flowchart TD\\n n0["a"] --> n1["b"]')
        >>> placed = layout(chart)
        >>> placed.boxes["n0"].y < placed.boxes["n1"].y
        True
    """
    links: dict[str | None, list[_Link]] = {}
    for edge in chart.edges:
        outer = chart.scopes(edge.dst)
        scope = next(s for s in chart.scopes(edge.src) if s in outer)
        link = _Link(edge, _member(chart, edge.src, scope), _member(chart, edge.dst, scope))
        links.setdefault(scope, []).append(link)
    return _block(chart, None, links)


def _member(chart: Flowchart, node_id: str, scope: str | None) -> str:
    """``node_id``, or the group holding it that is a member of ``scope``."""
    while chart.nodes[node_id].parent != scope:
        parent = chart.nodes[node_id].parent
        assert parent is not None  # scope is one of node_id's scopes
        node_id = parent
    return node_id


def _block(chart: Flowchart, group: str | None, links: dict[str | None, list[_Link]]) -> Layout:
    members = chart.members(group)
    inner = {m: _block(chart, m, links) for m in members if chart.nodes[m].kind == "group"}
    size: dict[str, tuple[float, float]] = {}
    for node_id in members:
        node = chart.nodes[node_id]
        if node_id in inner:
            size[node_id] = (inner[node_id].width, inner[node_id].height)
        elif node.kind == "join":
            size[node_id] = _JOIN
        else:
            size[node_id] = (text_width(node.label, 13) + 28, BOX_H)
    mine = links.get(group, [])
    layer, back = _layers(chart, members, mine)
    rows: dict[int, list[str]] = {}
    for node_id in members:
        rows.setdefault(layer[node_id], []).append(node_id)
    side, top_margin = (float(_MARGIN), float(_MARGIN)) if group is None else (PAD, PAD + _TITLE)
    row_w = {k: sum(size[n][0] for n in ns) + _GAP * (len(ns) - 1) for k, ns in rows.items()}
    widest = max(row_w.values(), default=100.0)
    if group is not None:
        widest = max(widest, text_width(chart.nodes[group].label, 12))
    tops: dict[int, float] = {}
    bottoms: dict[int, float] = {}
    y = top_margin
    for k in sorted(rows):
        tops[k] = y
        bottoms[k] = y + max(size[n][1] for n in rows[k])
        y = bottoms[k] + _LAYER_GAP
    placed = Layout(0.0, (max(bottoms.values()) if bottoms else top_margin) + side, inner=inner)
    for k, nodes in rows.items():
        x = side + (widest - row_w[k]) / 2
        for node_id in nodes:
            w, h = size[node_id]
            placed.boxes[node_id] = Box(x, tops[k], w, h)
            x += w + _GAP
    routes = _routes(mine, layer, back, placed.boxes, tops, bottoms, right=side + widest)
    placed.edges = [(link.edge, points) for link, points in zip(mine, routes, strict=True)]
    width = max((x for points in routes for x, _ in points), default=0) + side
    loops = [text_width(link.edge.label or "", 11) + 12 for link in mine if link.src == link.dst]
    width += max(loops, default=0)  # a loop's label sits right of it
    placed.width = max(width, widest + 2 * side)
    return placed


def _layers(
    chart: Flowchart, members: list[str], links: list[_Link]
) -> tuple[dict[str, int], set[_Link]]:
    """Longest-path layers from the block's start, ignoring the links that close cycles."""
    out: dict[str, list[_Link]] = {n: [] for n in members}
    for link in links:
        out[link.src].append(link)
    back: set[_Link] = set()
    state: dict[str, int] = {}  # 1: on the DFS path, 2: done
    roots = [n for n in members if chart.nodes[n].kind == "start"]
    for root in [*roots, *members]:
        if root in state:
            continue
        stack = [(root, iter(out[root]))]
        state[root] = 1
        while stack:
            node, steps = stack[-1]
            step = next(steps, None)
            if step is None:
                state[node] = 2
                stack.pop()
            elif state.get(step.dst) == 1:
                back.add(step)
            elif step.dst not in state:
                state[step.dst] = 1
                stack.append((step.dst, iter(out[step.dst])))
    layer = dict.fromkeys(members, 0)
    for _ in members:  # relax: at most |members| rounds on a DAG
        changed = False
        for link in links:
            if link not in back and layer[link.dst] < layer[link.src] + 1:
                layer[link.dst] = layer[link.src] + 1
                changed = True
        if not changed:
            break
    deepest = max(layer.values(), default=0)
    for node_id in members:
        if chart.nodes[node_id].kind == "end":
            layer[node_id] = deepest
    return layer, back


def _routes(
    links: list[_Link],
    layer: dict[str, int],
    back: set[_Link],
    boxes: dict[str, Box],
    tops: dict[int, float],
    bottoms: dict[int, float],
    *,
    right: float,
) -> list[list[Point]]:
    """Each link's path as a polyline that enters no box but the two it joins."""
    half_gap = _LAYER_GAP / 2
    lane = right + _LANE

    def below(k: int) -> float:  # the middle of the gap under a layer
        return bottoms[k] + half_gap

    def above(k: int) -> float:
        return tops[k] - half_gap

    rightmost: dict[int, str] = {}
    for node_id, box in boxes.items():
        known = rightmost.get(layer[node_id])
        if known is None or boxes[known].x < box.x:
            rightmost[layer[node_id]] = node_id
    routes: list[list[Point]] = []
    for link in links:
        src, dst = boxes[link.src], boxes[link.dst]
        ls, ld = layer[link.src], layer[link.dst]
        if link.src == link.dst:  # a loop: out of the top, round the right side, back in
            x = src.x + src.w * 0.75
            side = src.x + src.w + _GAP / 2
            mid = src.y + src.h / 2
            points = [(x, src.y), (x, above(ls)), (side, above(ls)), (side, mid)]
            points.append((src.x + src.w + 2, mid))
        elif link not in back and ld > ls:  # down: straight when nothing is in the way
            points = [(src.cx, src.bottom), (dst.cx, dst.y - 2)]
            if _blocked(points, boxes, link):
                points[1:1] = [(src.cx, below(ls))]
                if ld - ls > 1:  # round every layer between, on a lane of its own
                    points[2:2] = [(lane, below(ls)), (lane, above(ld))]
                    lane += _LANE
                points[-1:-1] = [(dst.cx, above(ld))]
        elif ld == ls:  # across a layer: through the gap above it
            x1, x2 = src.x + src.w * 0.7, dst.x + dst.w * 0.7
            points = [(x1, src.y), (x1, above(ls)), (x2, above(ls)), (x2, dst.y - 2)]
        else:  # back up: along a lane right of every box
            mid_src, mid_dst = src.y + src.h / 2, dst.y + dst.h / 2
            if rightmost[ls] == link.src:
                points = [(src.x + src.w, mid_src), (lane, mid_src)]
            else:  # a box to its right: leave through the top, into the gap above
                x1 = src.x + src.w * 0.7
                points = [(x1, src.y), (x1, above(ls)), (lane, above(ls))]
            if rightmost[ld] == link.dst:
                points += [(lane, mid_dst), (dst.x + dst.w + 2, mid_dst)]
            else:
                x2 = dst.x + dst.w * 0.7
                points += [(lane, below(ld)), (x2, below(ld)), (x2, dst.bottom + 2)]
            lane += _LANE
        routes.append(points)
    return routes


def _blocked(points: list[Point], boxes: dict[str, Box], link: _Link) -> bool:
    (x1, y1), (x2, y2) = points
    for node_id, box in boxes.items():
        if node_id in (link.src, link.dst):
            continue
        if _hits((x1, y1), (x2, y2), box):
            return True
    return False


def _hits(a: Point, b: Point, box: Box) -> bool:
    """Whether the segment from ``a`` to ``b`` passes inside ``box``."""
    (x1, y1), (x2, y2) = a, b
    low, high = 0.0, 1.0  # Liang-Barsky: clip the segment's parameter range to the box
    for p, q in (
        (x1 - x2, x1 - box.x),
        (x2 - x1, box.x + box.w - x1),
        (y1 - y2, y1 - box.y),
        (y2 - y1, box.y + box.h - y1),
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
