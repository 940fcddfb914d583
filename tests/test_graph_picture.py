"""rxchronos.notebook's graph pictures: to_mermaid() read back and drawn, every edge kind, joins,
subgraphs (nested ones too), no edge through a box."""

from __future__ import annotations

import operator
import re
from itertools import pairwise
from typing import Any
from xml.etree import ElementTree

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rxchronos.graph import END
from rxchronos.graph import CompiledGraph
from rxchronos.graph import Send
from rxchronos.graph import StateGraph
from rxchronos.notebook import GraphPicture
from rxchronos.notebook import graph_picture
from rxchronos.notebook import show_graph
from rxchronos.notebook._mermaid import parse_flowchart


@pytest.fixture
def shell() -> Any:
    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


def agent_graph() -> StateGraph:
    return (
        StateGraph("agent")
        .add_node("plan", lambda s: {})
        .add_node("model", lambda s: {})
        .add_node("tool", lambda s: {})
        .add_interrupt_node("approve", lambda s: {})
        .add_node('say "hi"', lambda s: {})
        .set_entry_point("plan")
        .add_edge("plan", "model")
        .add_conditional_edge("model", lambda s: "tool", {"tool": "tool", "done": "approve"})
        .add_edge("tool", "model")
        .add_edge("approve", 'say "hi"')
        .set_finish_point('say "hi"')
    )


def test_graph_picture_draws_every_node_and_edge() -> None:
    compiled = agent_graph().compile()
    picture = graph_picture(compiled, highlight="model")
    svg = picture.svg
    nodes = re.findall(r'<g class="node (\w+)" data-node="([^"]*)"', svg)
    assert nodes == [
        ("start", "start"),
        ("node", "plan"),
        ("node", "model"),
        ("node", "tool"),
        ("interrupt", "approve"),
        ("node", "say &quot;hi&quot;"),
        ("end", "end"),
    ]
    assert svg.count('<g class="edge" ') == 7
    assert svg.count('stroke-dasharray="5 4"') == 2  # the two conditional edges
    assert ">tool</text>" in svg and ">done</text>" in svg  # their labels
    assert re.search(r'data-node="model" data-id="n1"><rect [^>]*fill="#ffd54f"', svg)
    assert picture.mermaid == compiled.to_mermaid()
    assert "&quot;hi&quot;" in picture._repr_html_() and "<details>" in picture._repr_html_()


def test_graph_picture_places_layers_top_down() -> None:
    svg = graph_picture(agent_graph().compile()).svg
    ys = {
        name: float(y)
        for name, y in re.findall(r'data-node="([^"]*)" [^>]*><rect x="[\d.]+" y="([\d.]+)"', svg)
    }
    assert ys["start"] < ys["plan"] < ys["model"] < ys["tool"] < ys["say &quot;hi&quot;"]
    assert ys["tool"] == ys["approve"]
    assert ys["end"] == max(ys.values())


def boxes_of(svg: str) -> tuple[dict[str, tuple[float, float, float, float]], dict[str, str]]:
    """Every node's and group's box ``(left, top, right, bottom)`` by id, and each one's group."""
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    boxes, parents = {}, {}
    for group in root.iter(f"{ns}g"):
        classes = group.get("class", "").split()
        if "node" in classes or "group" in classes:
            rect = group.find(f"{ns}rect")
            assert rect is not None
            x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
            w, h = float(rect.get("width", 0)), float(rect.get("height", 0))
            boxes[group.get("data-id", "")] = (x, y, x + w, y + h)
            if group.get("data-group"):
                parents[group.get("data-id", "")] = group.get("data-group", "")
    return boxes, parents


def crossings(svg: str) -> list[tuple[str, str, str]]:
    """(edge source, edge target, box crossed) for every edge path inside a box it does not join.

    Independent of the layout code: each path's segments are sampled every half pixel, and a
    sample strictly inside a box (less half a pixel each side) is a crossing, unless the box is
    one of the edge's ends or a group holding one of them.
    """
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    boxes, parents = boxes_of(svg)

    def around(node: str) -> set[str]:
        found = {node}
        while node in parents:
            node = parents[node]
            found.add(node)
        return found

    found = []
    for group in root.iter(f"{ns}g"):
        if group.get("class") != "edge":
            continue
        src, dst = group.get("data-from", ""), group.get("data-to", "")
        allowed = around(src) | around(dst)
        path = group.find(f"{ns}path")
        assert path is not None
        d = path.get("d", "")
        assert re.fullmatch(r"M[\d. ]+(L[\d. ]+)+", d), d  # straight segments only
        points = [tuple(map(float, p.split())) for p in re.split("[ML]", d)[1:]]
        for (x1, y1), (x2, y2) in pairwise(points):
            n = int(2 * max(abs(x2 - x1), abs(y2 - y1))) + 1
            for i in range(n + 1):
                px, py = x1 + (x2 - x1) * i / n, y1 + (y2 - y1) * i / n
                for node, (left, top, right, bottom) in boxes.items():
                    inside = left + 0.5 < px < right - 0.5 and top + 0.5 < py < bottom - 0.5
                    if inside and node not in allowed and (src, dst, node) not in found:
                        found.append((src, dst, node))
    return found


def test_the_crossing_check_sees_an_edge_through_a_box() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg">'
        '<g class="node node" data-id="a"><rect x="0" y="0" width="10" height="10"/></g>'
        '<g class="node node" data-id="b"><rect x="20" y="0" width="10" height="10"/></g>'
        '<g class="node node" data-id="c"><rect x="40" y="0" width="10" height="10"/></g>'
        '<g class="edge" data-from="a" data-to="c"><path d="M10 5L40 5"/></g>'
        '<g class="edge" data-from="a" data-to="b"><path d="M5 10L5 15L25 15L25 10"/></g>'
        "</svg>"
    )
    assert crossings(svg) == [("a", "c", "b")]


def _skips_and_loops() -> StateGraph:
    """Edges that skip layers, a back edge over three layers and a node looping on itself."""
    return (
        StateGraph("tangle")
        .add_node("a", lambda s: {})
        .add_node("b", lambda s: {})
        .add_node("c", lambda s: {})
        .add_node("wide middle node", lambda s: {})
        .add_node("d", lambda s: {})
        .set_entry_point("a")
        .add_conditional_edge("a", lambda s: "b", ["b", "d"])
        .add_edge("b", "c")
        .add_edge("c", "wide middle node")
        .add_conditional_edge("wide middle node", lambda s: "d", ["d", "a", "wide middle node"])
        .set_finish_point("d")
    )


@pytest.mark.parametrize("build", [agent_graph, _skips_and_loops])
def test_no_edge_crosses_a_box_it_does_not_join(build: Any) -> None:
    picture = graph_picture(build().compile())
    assert crossings(picture.svg) == []
    chart = parse_flowchart(picture.mermaid)
    drawn = re.findall(r'<g class="edge" data-from="([^"]*)" data-to="([^"]*)"', picture.svg)
    assert drawn == [(e.src, e.dst) for e in chart.edges]  # every edge, once


def test_the_loop_back_to_model_goes_round_approve() -> None:
    svg = graph_picture(agent_graph().compile()).svg  # the shape of notebook 02's graph
    d = re.search(r'data-from="n2" data-to="n1"[^>]*><path d="([^"]+)"', svg)
    assert d is not None
    points = [tuple(map(float, p.split())) for p in re.split("[ML]", d[1])[1:]]
    boxes = {
        node: (float(x), float(y), float(w))
        for node, x, y, w in re.findall(
            r'data-id="(n\d)"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"', svg
        )
    }
    tool, model, approve = boxes["n2"], boxes["n1"], boxes["n3"]
    assert approve[0] > tool[0]  # approve is right of tool, in the same layer
    assert points[0][1] == tool[1]  # so the edge leaves through the top of tool
    assert max(x for x, _ in points) > approve[0] + approve[2]  # runs right of approve
    assert points[-1] == (model[0] + model[2] + 2, model[1] + 17)  # into model's right side


def test_graph_picture_from_text_and_bad_input() -> None:
    compiled = agent_graph().compile()
    assert graph_picture(compiled.to_mermaid()).svg == graph_picture(compiled).svg
    with pytest.raises(ValueError, match="not a node"):
        graph_picture(compiled, highlight="nope")
    with pytest.raises(TypeError, match="compiled graph"):
        graph_picture(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"line 2 .* not understood"):
        graph_picture("flowchart TD\n    a --o b")
    with pytest.raises(ValueError, match="flowchart"):
        parse_flowchart("sequenceDiagram")


def test_unrouted_conditional_edge_is_drawn_as_a_route() -> None:
    g = (
        StateGraph("r")
        .add_node("a", lambda s: {})
        .set_entry_point("a")
        .add_conditional_edge("a", lambda s: END)
        .compile()
    )
    svg = graph_picture(g).svg
    assert '<g class="node route" data-node="route" data-id="__route_n0">' in svg


def test_show_graph_displays_the_picture_with_its_mermaid_text(shell: InteractiveShell) -> None:
    with capture_output() as captured:
        show_graph(agent_graph().compile(), highlight="tool")
    (output,) = captured.outputs
    assert output.data["text/plain"].startswith("GraphPicture(")
    assert output.data["image/svg+xml"].startswith("<svg")
    assert "flowchart TD" in output.data["text/html"]
    assert isinstance(graph_picture(agent_graph().compile()), GraphPicture)


def test_flowchart_with_shapes_on_both_ends_of_an_arrow() -> None:
    chart = parse_flowchart('flowchart TD\n    n0["fetch"] --> n1["parse #quot;x#quot;"]')
    assert [(n.id, n.label) for n in chart.nodes.values()] == [("n0", "fetch"), ("n1", 'parse "x"')]
    assert [(e.src, e.dst) for e in chart.edges] == [("n0", "n1")]


def test_an_unclosed_or_stray_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="'n0' of the flowchart is not closed"):
        parse_flowchart('flowchart TD\n    subgraph n0 ["a"]\n    n0_n0["x"]')
    with pytest.raises(ValueError, match="line 2 of the flowchart ends no subgraph"):
        parse_flowchart("flowchart TD\n    end")
    with pytest.raises(ValueError, match="names 'n9', which is not declared"):
        parse_flowchart("flowchart TD\n    class n9 interrupt")


# --- branches, joins, Send and subgraphs ----------------------------------------------------------


def _node(state: Any) -> dict[str, Any]:
    return {}


def _research() -> CompiledGraph:
    """A subgraph with a parallel step, a join and a subgraph of its own."""
    fetch = (
        StateGraph("fetch")
        .add_node("get", _node)
        .add_node("parse", _node)
        .set_entry_point("get")
        .add_edge("get", "parse")
        .compile()
    )
    return (
        StateGraph("research")
        .add_node("search", _node)
        .add_node("fetch", fetch)
        .add_node("read", _node)
        .add_node("sum", _node)
        .set_entry_point("search")
        .add_edge("search", "fetch")
        .add_edge("search", "read")
        .add_edge(["fetch", "read"], "sum")
        .compile()
    )


def branching() -> CompiledGraph:
    """Every edge to_mermaid() writes: plain, parallel, join, conditional (labelled and not), Send
    routes, an edge back up, and subgraphs (nested, and one that pauses)."""
    review = StateGraph("review").add_node("check", _node).set_entry_point("check").compile()
    return (
        StateGraph("branching", reducers={"notes": operator.add})
        .add_node("plan", _node)
        .add_node("web", _node)
        .add_node("research", _research())
        .add_node("merge", _node)
        .add_node("tool", _node)
        .add_interrupt_node("review", review)
        .add_node("answer", _node)
        .set_entry_point("plan")
        .add_edge("plan", "web")
        .add_edge("plan", "research")
        .add_edge(["web", "research"], "merge")
        .add_conditional_edge(
            "merge",
            lambda s: [Send("tool", {"n": i}, tool_call_id=f"c{i}") for i in (1, 2)],
            ["tool"],
        )
        .add_conditional_edge("tool", lambda s: "review")
        .add_conditional_edge("review", lambda s: "answer", {"ok": "answer", "again": "merge"})
        .set_finish_point("answer")
        .compile()
    )


def test_to_mermaid_writes_subgraphs_as_blocks_with_prefixed_ids() -> None:
    text = branching().to_mermaid()
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index('subgraph n2 ["research"]')
    assert lines[at + 1 : at + 6] == [
        "n2___start__([start]) --> n2_n0",
        'n2_n0["search"]',
        'subgraph n2_n1 ["fetch"]',
        "n2_n1___start__([start]) --> n2_n1_n0",
        'n2_n1_n0["get"]',
    ]
    assert "n2___join0{{join}}" in lines and "n2___join0 ==> n2_n3" in lines
    assert "class n5 interrupt" in lines and lines[-1] == "classDef interrupt stroke-dasharray:5 3"
    chart = parse_flowchart(text)
    assert [(n.id, n.label, n.kind, n.parent) for n in chart.nodes.values() if n.parent] == [
        ("n2___start__", "start", "start", "n2"),
        ("n2_n0", "search", "node", "n2"),
        ("n2_n1", "fetch", "group", "n2"),
        ("n2_n1___start__", "start", "start", "n2_n1"),
        ("n2_n1_n0", "get", "node", "n2_n1"),
        ("n2_n1_n1", "parse", "node", "n2_n1"),
        ("n2_n1___end__", "end", "end", "n2_n1"),
        ("n2_n2", "read", "node", "n2"),
        ("n2_n3", "sum", "node", "n2"),
        ("n2___end__", "end", "end", "n2"),
        ("n2___join0", "join", "join", "n2"),
        ("n5___start__", "start", "start", "n5"),
        ("n5_n0", "check", "node", "n5"),
        ("n5___end__", "end", "end", "n5"),
    ]
    assert chart.nodes["n5"].interrupt and chart.nodes["n5"].kind == "group"
    assert not chart.nodes["n2"].interrupt


def test_every_edge_kind_round_trips_into_the_chart() -> None:
    chart = parse_flowchart(branching().to_mermaid())
    top = [(e.src, e.dst, e.style, e.label) for e in chart.edges if "_" not in e.src.strip("_")]
    assert top == [
        ("__start__", "n0", "plain", None),
        ("n0", "n1", "thick", None),  # plan starts web and research at once
        ("n0", "n2", "thick", None),
        ("n3", "n4", "dotted", "tool"),  # merge's route sends tool calls: a labelled route
        ("n4", "__route_n4", "dotted", "?"),  # a route that may go anywhere
        ("n5", "n6", "dotted", "ok"),
        ("n5", "n3", "dotted", "again"),  # back up
        ("n6", "__end__", "plain", None),
        ("n1", "__join0", "thick", None),  # the join of web and research
        ("n2", "__join0", "thick", None),
        ("__join0", "n3", "thick", None),
    ]
    inner = [(e.src, e.dst, e.style) for e in chart.edges if e.src.startswith("n2_n1_")]
    assert inner == [
        ("n2_n1___start__", "n2_n1_n0", "plain"),
        ("n2_n1_n0", "n2_n1_n1", "plain"),
        ("n2_n1_n1", "n2_n1___end__", "plain"),
    ]
    assert chart.nodes["__route_n4"].kind == "route" and chart.nodes["__join0"].kind == "join"


def test_a_route_beside_a_static_edge_is_parallel() -> None:
    g = (
        StateGraph("g")
        .add_node("a", _node)
        .add_node("b", _node)
        .add_node("c", _node)
        .set_entry_point("a")
        .add_edge("a", "b")
        .add_conditional_edge("a", lambda s: "c", ["c"])
        .compile()
    )
    edges = [(e.src, e.dst, e.style) for e in parse_flowchart(g.to_mermaid()).edges]
    assert ("n0", "n1", "thick") in edges and ("n0", "n2", "dotted") in edges


def test_the_picture_of_a_branching_graph() -> None:
    picture = graph_picture(branching(), highlight="research")
    svg = picture.svg
    chart = parse_flowchart(picture.mermaid)
    drawn = re.findall(r'data-from="([^"]*)" data-to="([^"]*)" data-style="(\w+)"', svg)
    assert sorted(drawn) == sorted((e.src, e.dst, e.style) for e in chart.edges)  # each once
    assert crossings(svg) == []
    boxes, parents = boxes_of(svg)
    assert set(boxes) == set(chart.nodes)  # every node and group, once
    for node, group in parents.items():  # a group's box holds its members' boxes
        (left, top, right, bottom), (gl, gt, gr, gb) = boxes[node], boxes[group]
        assert gl < left and gt < top and right < gr and bottom < gb, (node, group)
    siblings: dict[str | None, list[str]] = {}
    for node in boxes:
        siblings.setdefault(parents.get(node), []).append(node)
    for members in siblings.values():  # boxes of one block never overlap
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                (al, at, ar, ab), (bl, bt, br, bb) = boxes[a], boxes[b]
                assert ar <= bl or br <= al or ab <= bt or bb <= at, (a, b)
    assert re.search(
        r'<g class="group" data-node="research" data-id="n2"><rect [^>]*fill="#ffd54f"', svg
    )
    assert '<g class="group" data-node="fetch" data-id="n2_n1" data-group="n2">' in svg
    assert re.search(
        r'<g class="group" data-node="review" data-id="n5"><rect [^>]*stroke-dasharray', svg
    )
    assert svg.count('<g class="node join"') == 2  # the top one and research's
    thick = re.findall(r'data-style="thick"><path [^>]*stroke="#2b6cb0" stroke-width="2.5"', svg)
    assert len(thick) == sum(e.style == "thick" for e in chart.edges)


def test_a_graph_of_a_join_draws_from_its_mermaid_text_too() -> None:
    g = (
        StateGraph("j")
        .add_node("a", _node)
        .add_node("b", _node)
        .add_node("c", _node)
        .add_node("m", _node)
        .set_entry_point("a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge(["b", "c"], "m")
        .compile()
    )
    assert graph_picture(g.to_mermaid()).svg == graph_picture(g).svg
    ys = {
        node_id: float(y)
        for node_id, y in re.findall(
            r'data-id="([^"]*)"><rect x="[\d.]+" y="([\d.]+)"', graph_picture(g).svg
        )
    }
    assert ys["n0"] < ys["n1"] == ys["n2"] < ys["__join0"] < ys["n3"]
