"""rxchronos.notebook: live views in a real IPython shell, timeline and graph pictures."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator, Mapping
from itertools import pairwise
from typing import Any
from xml.etree import ElementTree

import pytest
import reactivex
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from reactivex import operators as ops
from reactivex.subject import Subject

from rxchronos import operators as rxo
from rxchronos.graph import END, MemoryStore, Runner, StateGraph, StreamEvent
from rxchronos.model import ChatRequest, Message, ScriptedProvider
from rxchronos.notebook import (
    GraphPicture,
    NotebookExtraMissingError,
    graph_picture,
    live,
    live_views,
    show_graph,
    timeline,
)
from rxchronos.notebook._mermaid import parse_flowchart


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    """A real IPython shell, so displays go through its display publisher.

    Cleared afterwards: a shell left behind would take the displays of later tests (the docstring
    examples, which show what is printed outside a notebook).
    """
    yield InteractiveShell.instance()
    for view in live_views().values():
        view.dispose()
    InteractiveShell.clear_instance()


def frames(outputs: list[Any]) -> list[str]:
    return [out.data["text/plain"] for out in outputs]


def request(text: str = "Hi") -> ChatRequest:
    return ChatRequest(messages=[Message(role="user", content=text)])


# --- live ---------------------------------------------------------------------------------------


async def test_live_returns_at_once_and_updates_one_display_as_tokens_arrive(
    shell: InteractiveShell,
) -> None:
    provider = ScriptedProvider(["The quick brown fox"], delay=0.001)
    with capture_output() as captured:
        view = live(provider.stream_chat(request()).pipe(rxo.text()), name="t", interval=0)
        assert view.count == 0 and view.status == "streaming"  # nothing arrived yet: not blocking
        await view.wait()
    assert view.text == "The quick brown fox"
    assert view.status == "completed"
    first, *updates = captured.outputs
    assert not first.update and all(u.update for u in updates)
    ids = {o.transient["display_id"] for o in captured.outputs}
    assert len(ids) == 1  # one output area, updated in place
    assert len(updates) >= 2  # it changed while streaming, not only at the end
    assert frames(captured.outputs)[-1] == "[live: t · completed · 4 items]\nThe quick brown fox"
    html = captured.outputs[-1].data["text/html"]
    assert "The quick brown fox" in html and "completed" in html


async def test_rerunning_a_cell_disposes_the_previous_subscription(
    shell: InteractiveShell,
) -> None:
    source: Subject[str] = Subject()
    with capture_output():
        first = live(source, name="cell")
        assert len(source.observers) == 1
        second = live(source, name="cell")
        assert len(source.observers) == 1  # replaced, not stacked
        source.on_next("x")
    assert first.status == "stopped" and first.text == ""
    assert second.text == "x"
    assert live_views()["cell"] is second
    with capture_output():
        other = live(source, name="other")  # another name: both stay live
    assert len(source.observers) == 2
    other.dispose()
    second.dispose()
    assert source.observers == []
    assert live_views() == {}


async def test_events_become_lines_and_only_the_last_lines_are_kept(
    shell: InteractiveShell,
) -> None:
    graph = (
        StateGraph("g")
        .add_node("a", lambda s: {"x": 1})
        .set_entry_point("a")
        .set_finish_point("a")
        .compile()
    )
    with capture_output():
        view = live(Runner(graph).stream("s", {}), name="events", max_lines=2)
        await view.wait()
    assert view.lines == ["2 node_end a", "3 completed a"]
    assert view.count == 3


async def test_a_failing_stream_shows_the_error_and_wait_raises_it(
    shell: InteractiveShell,
) -> None:
    with capture_output() as captured:
        view = live(reactivex.throw(ValueError("boom")), name="bad")
        with pytest.raises(ValueError, match="boom"):
            await view.wait()
    assert view.status == "failed"
    assert "failed · 0 items · ValueError: boom" in frames(captured.outputs)[-1]


async def test_a_failing_format_ends_the_view_visibly(shell: InteractiveShell) -> None:
    def format(item: Any) -> str:
        raise KeyError(item)

    source: Subject[int] = Subject()
    with capture_output():
        view = live(source, name="fmt", format=format)
        source.on_next(1)
    assert view.status == "failed" and isinstance(view.error, KeyError)
    assert source.observers == []


async def test_dispose_wakes_waiters(shell: InteractiveShell) -> None:
    with capture_output():
        view = live(reactivex.never(), name="forever")
        waiter = asyncio.ensure_future(view.wait())
        await asyncio.sleep(0)
        view.dispose()
        await waiter
    assert view.status == "stopped"


async def test_a_source_that_fails_to_subscribe_is_not_left_live(shell: InteractiveShell) -> None:
    def subscribe(observer: Any, scheduler: Any = None) -> Any:
        raise OSError("cannot connect")

    with capture_output() as captured:
        view = live(reactivex.create(subscribe), name="broken")  # reactivex calls on_error
    assert view.status == "failed" and isinstance(view.error, OSError)
    assert "broken" not in live_views()
    assert "failed · 0 items · OSError: cannot connect" in frames(captured.outputs)[-1]


def test_live_without_a_running_loop_says_so(shell: InteractiveShell) -> None:
    with pytest.raises(RuntimeError, match="running asyncio loop"):
        live(reactivex.of("x"))


async def test_live_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_lines"):
        live(reactivex.of("x"), max_lines=0)
    with pytest.raises(TypeError, match="Observable"):
        live(["x"])  # type: ignore[arg-type]


async def test_missing_ipython_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    with pytest.raises(NotebookExtraMissingError, match=r"rxchronos\[notebook\]"):
        live(reactivex.of("x"))
    assert issubclass(NotebookExtraMissingError, ImportError)


# --- timeline -----------------------------------------------------------------------------------


def spans(svg: str) -> list[tuple[str, str]]:
    return re.findall(r'class="span (\w+)".*?<title>([^:<]+):', svg)


async def run_model_graph() -> list[StreamEvent]:
    provider = ScriptedProvider(["one two three"])

    async def think(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"answer": await provider.stream_chat(request()).pipe(rxo.text(), ops.to_list())}

    graph = (
        StateGraph("m")
        .add_node("plan", lambda s: {"plan": 1})
        .add_node("think", think)
        .add_interrupt_node("approve", lambda s: {"ok": True})
        .set_entry_point("plan")
        .add_edge("plan", "think")
        .add_edge("think", "approve")
        .set_finish_point("approve")
        .compile()
    )
    runner = Runner(graph, MemoryStore())
    events: list[StreamEvent] = await runner.stream("s", {}).pipe(ops.to_list())
    events += await runner.stream_resume("s").pipe(ops.to_list())
    return events


async def test_timeline_of_a_real_run_has_a_span_per_node_and_the_marks() -> None:
    events = await run_model_graph()
    svg = timeline(events).svg
    assert spans(svg) == [("node_end", "plan"), ("node_end", "think"), ("node_end", "approve")]
    assert svg.count('class="model_chunk"') == sum(e.type == "model_chunk" for e in events) > 0
    assert svg.count('class="interrupt"') == 1
    assert svg.count('class="completed"') == 1
    assert "ms</text>" in svg


async def test_timeline_reads_broker_events_and_sse_json_alike() -> None:
    events = await run_model_graph()
    from_json = [{"type": str(e.type), "data": e.model_dump(mode="json")} for e in events]
    flat = [e.model_dump(mode="json") for e in events]
    assert timeline(from_json).svg == timeline(events).svg == timeline(flat).svg


def test_timeline_outcomes_and_unfinished_nodes() -> None:
    svg = timeline(
        [
            {"type": "node_start", "node_id": "a", "timestamp": 1.0},
            {"type": "error", "node_id": "a", "timestamp": 1.5},
            {"type": "node_start", "node_id": "b", "timestamp": 2.0},
            {"type": "custom", "node_id": "b", "timestamp": 2.5},
        ],
        title="a <run>",
    ).svg
    assert spans(svg) == [("error", "a"), ("open", "b")]
    assert 'class="custom"' in svg
    assert "a &lt;run&gt;" in svg  # text is escaped


def test_timeline_by_order_and_without_timestamps() -> None:
    events = [{"type": "node_start", "node_id": "a"}, {"type": "node_end", "node_id": "a"}]
    assert "step</text>" in timeline(events).svg
    timed = [{**e, "timestamp": 5.0} for e in events]
    assert "step</text>" in timeline(timed, by="order").svg


def test_timeline_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="event 1 has no string `type`"):
        timeline([{"type": "node_start"}, {"node_id": "a"}])
    with pytest.raises(ValueError, match="by must be"):
        timeline([], by="seq")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width"):
        timeline([], width=10)


# --- graph picture ------------------------------------------------------------------------------


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


def crossings(svg: str) -> list[tuple[str, str, str]]:
    """(edge source, edge target, node crossed) for every edge path inside a box it does not join.

    Independent of the layout code: each path's segments are sampled every half pixel, and a
    sample strictly inside a node's box (less half a pixel each side) is a crossing.
    """
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    boxes = {}
    for group in root.iter(f"{ns}g"):
        if "node" in group.get("class", "").split():
            rect = group.find(f"{ns}rect")
            assert rect is not None
            x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
            w, h = float(rect.get("width", 0)), float(rect.get("height", 0))
            boxes[group.get("data-id", "")] = (x + 0.5, y + 0.5, x + w - 0.5, y + h - 0.5)
    found = []
    for group in root.iter(f"{ns}g"):
        if group.get("class") != "edge":
            continue
        src, dst = group.get("data-from", ""), group.get("data-to", "")
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
                    inside = left < px < right and top < py < bottom
                    if inside and node not in (src, dst) and (src, dst, node) not in found:
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
    d = re.search(r'data-from="n2" data-to="n1"><path d="([^"]+)"', svg)
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
        graph_picture("flowchart TD\n    a ==> b")
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
