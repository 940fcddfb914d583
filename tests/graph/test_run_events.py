"""Event order and content for linear, branching, looping and interrupt graphs."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from rxchronos.graph import END
from rxchronos.graph import EventType
from rxchronos.graph import GraphRecursionError
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent
from rxchronos.graph import emit

from .helpers import LINEAR
from .helpers import approval_graph
from .helpers import chain
from .helpers import kinds
from .helpers import linear_graph
from .helpers import loop_graph
from .helpers import one_node
from .helpers import path_kinds
from .helpers import record

LINEAR_KINDS = path_kinds(*LINEAR)


async def test_linear_event_order_and_result() -> None:
    runner = Runner(linear_graph().compile())
    seen = record(runner)
    result = await runner.run("s1", {"source": "csv"})
    assert kinds(seen) == LINEAR_KINDS
    assert [e.seq for e in seen] == list(range(1, len(LINEAR_KINDS) + 1))
    assert {e.run_id for e in seen} == {result.run_id}
    assert {e.session_id for e in seen} == {"s1"}
    assert result.status is RunStatus.COMPLETED
    assert result.state == {"source": "csv", "rows": [1, 2, 3], "doubled": [2, 4, 6], "loaded": 12}
    assert result.steps == 3
    assert result.node_id == "load"


async def test_node_end_carries_update_and_state_and_edges_name_both_ends() -> None:
    runner = Runner(linear_graph().compile())
    seen = record(runner)
    await runner.run("s1", {})
    ends = [e for e in seen if e.type == EventType.NODE_END]
    assert [dict(e.update or {}) for e in ends] == [
        {"rows": [1, 2, 3]},
        {"doubled": [2, 4, 6]},
        {"loaded": 12},
    ]
    assert ends[0].state == {"rows": [1, 2, 3]}
    edges = [e.data for e in seen if e.type == "edge_transition"]
    assert edges == [{"from": "extract", "to": "transform"}, {"from": "transform", "to": "load"}]


async def test_branching_follows_the_route() -> None:
    def classify(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"big": state["n"] > 10}

    graph = (
        StateGraph("branch")
        .add_node("classify", classify)
        .add_node("small", lambda s: {"label": "small"})
        .add_node("large", lambda s: {"label": "large"})
        .set_entry_point("classify")
        .add_conditional_edge(
            "classify", lambda s: "yes" if s["big"] else "no", {"yes": "large", "no": "small"}
        )
        .set_finish_point("small")
        .set_finish_point("large")
        .compile()
    )
    runner = Runner(graph)
    seen = record(runner)
    assert (await runner.run("a", {"n": 50})).state["label"] == "large"
    assert (await runner.run("b", {"n": 1})).state["label"] == "small"
    first_run = [e for e in seen if e.session_id == "a"]
    assert kinds(first_run) == path_kinds("classify", "large")


async def test_loop_runs_until_the_route_ends_it() -> None:
    runner = Runner(loop_graph().compile())
    seen = record(runner)
    result = await runner.run("s", {"limit": 3})
    assert result.state["count"] == 3
    assert kinds(seen) == path_kinds("inc", "inc", "inc")


async def test_max_steps_stops_a_cycle() -> None:
    runner = Runner(loop_graph().compile(), max_steps=5)
    seen = record(runner)
    with pytest.raises(GraphRecursionError, match="ran 5 nodes") as info:
        await runner.run("s", {"limit": 1000})
    assert info.value.run_state.status is RunStatus.FAILED
    assert info.value.run_state.state["count"] == 5
    assert seen[-1].type == "error"
    assert "GraphRecursionError" in (seen[-1].error or "")


async def test_interrupt_pauses_before_the_node() -> None:
    runner = Runner(approval_graph().compile(), MemoryStore())
    seen = record(runner)
    result = await runner.run("s", {})
    assert result.status is RunStatus.PAUSED
    assert result.node_id == "review"
    assert kinds(seen) == [
        "node_start:draft",
        "node_end:draft",
        "checkpoint:draft",
        "edge_transition:review",
        "checkpoint:review",
        "interrupt:review",
    ]


async def test_sync_async_and_thread_nodes_all_run_and_can_emit() -> None:
    threads: dict[str, int] = {}

    async def async_node(state: Mapping[str, Any]) -> dict[str, Any]:
        emit("from", {"node": "async"})
        await asyncio.sleep(0)
        return {"a": 1}

    def sync_node(state: Mapping[str, Any]) -> dict[str, Any]:
        threads["sync"] = threading.get_ident()
        emit("from", {"node": "sync"})
        return {"b": 2}

    def blocking_node(state: Mapping[str, Any]) -> dict[str, Any]:
        threads["thread"] = threading.get_ident()
        emit("from", {"node": "thread"})
        return {"c": 3}

    graph = (
        StateGraph("mixed")
        .add_node("async", async_node)
        .add_node("sync", sync_node)
        .add_node("thread", blocking_node, in_thread=True)
        .set_entry_point("async")
        .add_edge("async", "sync")
        .add_edge("sync", "thread")
        .compile()
    )
    runner = Runner(graph)
    seen = record(runner)
    result = await runner.run("s", {})
    assert result.state == {"a": 1, "b": 2, "c": 3}
    assert threads["sync"] == threading.get_ident()
    assert threads["thread"] != threading.get_ident()
    customs = [(e.node_id, e.data) for e in seen if e.type == "custom"]
    assert customs == [
        ("async", {"type": "from", "data": {"node": "async"}}),
        ("sync", {"type": "from", "data": {"node": "sync"}}),
        ("thread", {"type": "from", "data": {"node": "thread"}}),
    ]
    # the thread node's custom event arrives between its node_start and node_end
    thread_kinds = [e.type for e in seen if e.node_id == "thread"]
    assert thread_kinds == ["edge_transition", "node_start", "custom", "node_end", "completed"]
    assert [e.seq for e in seen] == sorted(e.seq for e in seen)


def test_emit_outside_a_run_is_a_no_op_and_checks_its_arguments() -> None:
    emit("nothing", {"x": 1})
    with pytest.raises(TypeError, match="type must be a str"):
        emit(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="data must be a mapping"):
        emit("x", [1])  # type: ignore[arg-type]


async def test_state_snapshots_cannot_be_changed_by_later_nodes() -> None:
    attempts: list[str] = []

    def first(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"items": [1], "meta": {"k": "v"}}

    def second(state: Mapping[str, Any]) -> dict[str, Any]:
        for attempt in (
            lambda: state["items"].append(2),
            lambda: state["meta"].update(k="changed"),
            lambda: state.__setitem__("items", []),
        ):
            try:
                attempt()
            except TypeError as exc:
                attempts.append(str(exc))
        mutable = dict(state)
        mutable["items"] = [*state["items"], 2]
        return mutable

    runner = Runner(chain(("first", first), ("second", second)))
    seen = record(runner)
    result = await runner.run("s", {})
    assert len(attempts) == 3 and all("read-only" in a for a in attempts)
    first_end = next(e for e in seen if e.type == "node_end" and e.node_id == "first")
    assert first_end.state == {"items": [1], "meta": {"k": "v"}}
    second_end = next(e for e in seen if e.type == "node_end" and e.node_id == "second")
    assert second_end.update == {"items": [1, 2]}  # unchanged keys are not reported
    assert result.state == {"items": [1, 2], "meta": {"k": "v"}}


async def test_failing_node_emits_error_then_raises_node_error() -> None:
    def boom(state: Mapping[str, Any]) -> dict[str, Any]:
        raise ValueError("disk full")

    runner = Runner(chain(("ok", lambda s: {"x": 1}), ("boom", boom)))
    seen = record(runner)
    with pytest.raises(NodeError) as info:
        await runner.run("s", {})
    assert kinds(seen)[-2:] == ["node_start:boom", "error:boom"]
    assert seen[-1].error == "ValueError: disk full"
    assert info.value.node_id == "boom"
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.run_state.status is RunStatus.FAILED
    assert info.value.run_state.state == {"x": 1}


async def test_a_raising_in_thread_node_is_a_node_error_with_the_original_cause() -> None:
    def blocking(state: Mapping[str, Any]) -> dict[str, Any]:
        raise OSError("device busy")

    runner = Runner(one_node(blocking, node_id="io", in_thread=True))
    seen = record(runner)
    with pytest.raises(NodeError, match="node 'io' failed in session 's': OSError") as info:
        await runner.run("s", {})
    assert type(info.value.__cause__) is OSError and str(info.value.__cause__) == "device busy"
    assert kinds(seen) == ["node_start:io", "error:io"]


async def test_route_returning_an_unknown_node_fails_the_run() -> None:
    graph = (
        StateGraph("g")
        .add_node("a", lambda s: {})
        .set_entry_point("a")
        .add_conditional_edge("a", lambda s: "ghost")
        .compile()
    )
    with pytest.raises(NodeError, match="not a node of graph 'g'"):
        await Runner(graph).run("s", {})


async def test_concurrent_runs_keep_their_events_apart() -> None:
    async def slow(state: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"who": state["who"]}

    runner = Runner(chain(("one", slow), ("two", slow)))
    seen = record(runner)
    results = await asyncio.gather(*(runner.run(f"s{i}", {"who": i}) for i in range(5)))
    assert [r.state["who"] for r in results] == list(range(5))
    by_run: dict[str, list[StreamEvent]] = {}
    for event in seen:
        by_run.setdefault(event.run_id, []).append(event)
    assert len(by_run) == 5
    sessions = set()
    for events in by_run.values():
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert len({e.session_id for e in events}) == 1
        sessions.add(events[0].session_id)
        assert kinds(events)[-1] == "completed:two"
    assert sessions == {f"s{i}" for i in range(5)}
    # they really interleaved
    assert len({e.run_id for e in seen[:5]}) > 1


async def test_events_serialise_to_json() -> None:
    runner = Runner(linear_graph().compile(), MemoryStore())
    seen = record(runner)
    await runner.run("s", {"when": "now"})
    for event in seen:
        decoded = json.loads(event.model_dump_json())
        assert decoded["type"] == event.type
        assert StreamEvent.model_validate_json(event.model_dump_json()) == event
    assert json.loads(seen[-1].model_dump_json())["state"]["doubled"] == [2, 4, 6]


async def test_event_type_is_a_str_enum() -> None:
    assert EventType.NODE_END == "node_end"
    assert "node_end" == EventType.NODE_END
    assert {t.value for t in EventType} == {
        "node_start",
        "node_end",
        "step_end",
        "edge_transition",
        "interrupt",
        "error",
        "completed",
        "checkpoint",
        "custom",
        "model_call",
        "model_chunk",
        "model_response",
        "cancelled",
    }


async def test_graph_without_edges_after_a_node_ends_there() -> None:
    result = await Runner(one_node(lambda s: {"x": 1}, node_id="only")).run("s")
    assert result.state == {"x": 1}
    assert END not in result.state


async def test_same_session_cannot_run_twice_at_once() -> None:
    from rxchronos.graph import SessionBusyError

    gate = asyncio.Event()

    async def wait(state: Mapping[str, Any]) -> None:
        await gate.wait()

    runner = Runner(one_node(wait, node_id="w"))
    first = asyncio.create_task(runner.run("s", {}))
    await asyncio.sleep(0)
    with pytest.raises(SessionBusyError):
        await runner.run("s", {})
    gate.set()
    assert (await first).status is RunStatus.COMPLETED
    assert (await runner.run("s", {})).status is RunStatus.COMPLETED


async def test_bad_initial_state_is_a_type_error() -> None:
    runner = Runner(linear_graph().compile())
    with pytest.raises(TypeError, match="state must be a mapping"):
        await runner.run("s", [("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state keys must be strings"):
        runner.stream("s", {1: "one"})
