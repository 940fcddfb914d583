"""rxchronos.notebook: live views in a real IPython shell, timeline and graph pictures."""

from __future__ import annotations

import asyncio
import operator
import re
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

import pytest
import reactivex
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from reactivex import operators as ops
from reactivex.subject import Subject

from rxchronos import operators as rxo
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import Send
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent
from rxchronos.model import ChatRequest
from rxchronos.model import Message
from rxchronos.model import ScriptedProvider
from rxchronos.notebook import NotebookExtraMissingError
from rxchronos.notebook import live
from rxchronos.notebook import live_views
from rxchronos.notebook import timeline


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
    assert view.lines == ["2 node_end a:1", "3 completed a"]  # the task, or the node
    assert view.count == 3


async def test_event_lines_tell_parallel_and_subgraph_tasks_apart(shell: InteractiveShell) -> None:
    events = await run_branching_graph()
    with capture_output():
        view = live(reactivex.from_iterable(events), name="branches", max_lines=100)
        await view.wait()
    starts = [line.split(" ", 2)[2] for line in view.lines if " node_start " in line]
    assert starts == [
        "plan:1",
        "a:2",
        "research:2",
        "research:2/x:1",
        "research:2/y:2",
        "m:3",
        "t:4:0",
        "t:4:1",
    ]


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


async def run_branching_graph() -> list[StreamEvent]:
    """plan -> (a | research, a subgraph) -> join m -> two Send branches of t, running at once."""
    both = asyncio.Event()
    started: list[int] = []

    async def tool(arg: Mapping[str, Any]) -> dict[str, Any]:
        started.append(arg["n"])
        if len(started) == 2:
            both.set()
        await both.wait()  # each branch waits for the other: they run at the same time
        return {"r": [arg["n"]]}

    inner = (
        StateGraph("inner", reducers={"r": operator.add})
        .add_node("x", lambda s: {"r": ["x"]})
        .add_node("y", lambda s: {"r": ["y"]})
        .set_entry_point("x")
        .add_edge("x", "y")
        .compile()
    )
    calls = [Send("t", {"n": n}, tool_call_id=f"call_{n}") for n in (1, 2)]
    graph = (
        StateGraph("g", reducers={"r": operator.add})
        .add_node("plan", lambda s: None)
        .add_node("a", lambda s: {"r": ["a"]})
        .add_node("research", inner)
        .add_node("m", lambda s: None)
        .add_node("t", tool)
        .set_entry_point("plan")
        .add_edge("plan", "a")
        .add_edge("plan", "research")
        .add_edge(["a", "research"], "m")
        .add_conditional_edge("m", lambda s: calls)
        .compile()
    )
    events: list[StreamEvent] = await Runner(graph).stream("s", {"r": []}).pipe(ops.to_list())
    return events


def lanes(svg: str) -> list[tuple[str, str, float]]:
    """(label, namespace, x) of each lane, top to bottom."""
    found = re.findall(
        r'<text class="lane" x="([\d.]+)" y="[\d.]+" data-ns="([^"]*)">([^<]*)<', svg
    )
    return [(label, ns, float(x)) for x, ns, label in found]


async def test_parallel_tasks_get_lanes_and_a_subgraph_s_tasks_sit_under_its_node() -> None:
    events = await run_branching_graph()
    svg = timeline(events).svg
    assert [(label, ns) for label, ns, _ in lanes(svg)] == [
        ("plan", ""),
        ("a", ""),
        ("research", ""),
        ("x", "research"),
        ("y", "research"),
        ("m", ""),
        ("t [0] · call_1", ""),
        ("t [1] · call_2", ""),
    ]
    indents = {label: x for label, _, x in lanes(svg)}
    assert indents["x"] == indents["y"] > indents["research"] == indents["plan"]
    bars = {
        title: (float(x), float(y), float(w))
        for x, y, w, title in re.findall(
            r'<rect class="span node_end" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
            r'height="\d+" rx="3" fill="[^"]+"><title>([^:<]+):',
            svg,
        )
    }
    (x0, y0, w0), (x1, y1, w1) = bars["t [0] · call_1"], bars["t [1] · call_2"]
    assert y0 != y1 and x0 < x1 + w1 and x1 < x0 + w0  # two lanes, and the bars overlap in time
    assert "(t:4:0)</title>" in svg and "(t:4:1)</title>" in svg  # each bar names its task
    from_json = [{"type": str(e.type), "data": e.model_dump(mode="json")} for e in events]
    assert timeline(from_json).svg == svg


def test_a_node_run_again_later_keeps_its_lane_and_a_failure_stops_its_siblings() -> None:
    loop = [
        {"type": "node_start", "node_id": "model", "task_id": "model:1"},
        {"type": "node_end", "node_id": "model", "task_id": "model:1"},
        {"type": "node_start", "node_id": "model", "task_id": "model:2"},
        {"type": "node_end", "node_id": "model", "task_id": "model:2"},
    ]
    svg = timeline(loop).svg
    assert [label for label, _, _ in lanes(svg)] == ["model"]
    assert spans(svg) == [("node_end", "model"), ("node_end", "model")]
    failing = [
        {"type": "node_start", "node_id": "a", "task_id": "a:2"},
        {"type": "node_start", "node_id": "b", "task_id": "b:2"},
        {"type": "error", "node_id": "b", "task_id": "b:2", "error": "boom"},
    ]
    assert spans(timeline(failing).svg) == [("error", "b"), ("cancelled", "a")]
    inside = [  # a subgraph's events whose node's start came before the events shown
        {"type": "node_start", "node_id": "x", "task_id": "x:1", "ns": ["research:2"]},
        {"type": "node_end", "node_id": "x", "task_id": "x:1", "ns": ["research:2"]},
    ]
    assert [(label, ns) for label, ns, _ in lanes(timeline(inside).svg)] == [("x", "research")]


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
