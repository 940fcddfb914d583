"""Graphs that branch: parallel steps, joins, reducers, Send, and how their events tell branches
apart."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from reactivex import operators as ops

from rxchronos import operators as rxo
from rxchronos.graph import END
from rxchronos.graph import CompiledGraph
from rxchronos.graph import InvalidUpdateError
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import Runner
from rxchronos.graph import Send
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent
from rxchronos.graph import add_messages
from rxchronos.graph import append

from .helpers import collect
from .helpers import record


def sleeper(key: str, delay: float, value: Any) -> Any:
    """An async node that waits ``delay`` seconds, then writes ``{key: value}``."""

    async def node(state: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(delay)
        return {key: value}

    return node


def fan_out(delays: tuple[float, float], **runner: Any) -> Runner:
    """plan -> (a, b) in parallel -> merge (a join); ``results`` is reduced by ``operator.add``."""
    graph = (
        StateGraph("fan", reducers={"results": operator.add})
        .add_node("plan", lambda s: {"planned": True})
        .add_node("a", sleeper("results", delays[0], ["a"]))
        .add_node("b", sleeper("results", delays[1], ["b"]))
        .add_node("merge", lambda s: {"merged": list(s["results"])})
        .set_entry_point("plan")
        .add_edge("plan", "a")
        .add_edge("plan", "b")
        .add_edge(["a", "b"], "merge")
        .compile()
    )
    return Runner(graph, **runner)


def side_by_side(reducers: Mapping[str, Any] | None = None, **branches: Any) -> CompiledGraph:
    """plan (writes nothing) -> every one of ``branches`` (node id: function) in one parallel
    step, in the order given."""
    graph = StateGraph("g", reducers=reducers).add_node("plan", lambda s: None)
    graph.set_entry_point("plan")
    for name, fn in branches.items():
        graph.add_node(name, fn).add_edge("plan", name)
    return graph.compile()


async def test_edges_out_of_one_node_run_together_and_a_join_runs_once_after_both() -> None:
    runner = fan_out((0.05, 0.0))
    events = await collect(runner, "s", {})
    kinds = [(e.type, e.node_id) for e in events]
    starts = [i for i, k in enumerate(kinds) if k in (("node_start", "a"), ("node_start", "b"))]
    ends = [i for i, k in enumerate(kinds) if k in (("node_end", "a"), ("node_end", "b"))]
    assert max(starts) < min(ends)  # both started before either finished
    assert kinds.index(("node_end", "b")) < kinds.index(("node_end", "a"))  # b finished first
    assert [e.node_id for e in events if e.type == "node_start"].count("merge") == 1
    final = events[-1]
    assert final.type == "completed"
    # the step's writes apply in task order (a, then b), whatever order they finished in
    assert final.state == {"planned": True, "results": ["a", "b"], "merged": ["a", "b"]}
    steps = [e for e in events if e.type == "step_end"]
    assert len(steps) == 1 and steps[0].data == {"step": 2, "task_ids": ["a:2", "b:2"]}
    assert steps[0].task_id is None and steps[0].state == {"planned": True, "results": ["a", "b"]}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.ns == () for e in events)


async def test_every_event_names_its_task_and_edges_name_where_the_run_moves() -> None:
    events = await collect(fan_out((0.0, 0.01)), "s", {})
    for event in events:
        if event.type in ("node_start", "node_end"):
            assert (
                event.task_id
                == f"{event.node_id}:{ {'plan': 1, 'merge': 3}.get(event.node_id, 2) }"
            )
        if event.type in ("completed", "step_end"):
            assert event.task_id is None
    edges = [
        (e.node_id, dict(e.data or {}), e.task_id) for e in events if e.type == "edge_transition"
    ]
    assert edges == [
        ("a", {"from": "plan", "to": "a"}, "plan:1"),
        ("b", {"from": "plan", "to": "b"}, "plan:1"),
        ("merge", {"from": "a", "to": "merge"}, "b:2"),  # the join: one edge per source
        ("merge", {"from": "b", "to": "merge"}, "b:2"),
    ]


async def test_two_branches_with_plain_edges_into_one_node_take_two_edges_and_run_it_once() -> None:
    graph = (
        StateGraph("g")
        .add_node("plan", lambda s: None)
        .add_node("a", lambda s: {"a": 1})
        .add_node("b", lambda s: {"b": 1})
        .add_node("next", lambda s: {"seen": sorted(k for k in s if k in "ab")})
        .set_entry_point("plan")
        .add_edge("plan", "a")
        .add_edge("plan", "b")
        .add_edge("a", "next")
        .add_edge("b", "next")
        .compile()
    )
    events = await collect(Runner(graph), "s", {})
    into_next = [
        (dict(e.data or {}), e.task_id)
        for e in events
        if e.type == "edge_transition" and e.node_id == "next"
    ]
    assert into_next == [({"from": "a", "to": "next"}, "a:2"), ({"from": "b", "to": "next"}, "b:2")]
    assert [e.node_id for e in events if e.type == "node_start"].count("next") == 1
    assert events[-1].state["seen"] == ["a", "b"]


async def test_the_result_and_the_checkpoints_do_not_depend_on_which_branch_finishes_first() -> (
    None
):
    outcomes = []
    for delays in ((0.03, 0.0), (0.0, 0.03)):
        store = MemoryStore()
        result = await fan_out(delays, store=store).run("s", {})
        history = [
            (c.step, dict(c.state), c.next_node, c.branches)
            for c in await store.list_checkpoints("s")
        ]
        outcomes.append((dict(result.state), history))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1][0][3] == {"tasks": [{"node": "a"}, {"node": "b"}], "joins": {}}


async def test_two_branches_writing_a_key_without_a_reducer_is_an_invalid_update() -> None:
    graph = side_by_side(left=lambda s: {"answer": 1}, right=lambda s: {"answer": 2})
    runner = Runner(graph, MemoryStore())
    seen = record(runner)
    with pytest.raises(InvalidUpdateError, match=r"'answer'.*'left', 'right'") as caught:
        await runner.run("s", {})
    assert caught.value.key == "answer" and caught.value.nodes == ("left", "right")
    assert caught.value.run_state.status == "failed"
    assert "answer" not in caught.value.run_state.state  # no silent last-write-wins
    assert seen[-1].type == "error"


def refuse_second(current: Any, update: Any) -> Any:
    """A reducer that fails for a write to ``"n"`` after the first."""
    if update == 2:
        raise ValueError("the reducer refused 2")
    return current + update


@pytest.mark.parametrize("parallel", [True, False])
async def test_a_reducer_that_raises_is_a_node_error_naming_the_write_it_merged(
    parallel: bool,
) -> None:
    if parallel:
        graph = side_by_side({"n": refuse_second}, one=lambda s: {"n": 1}, two=lambda s: {"n": 2})
        match, task = (
            r"node 'two' \(branch 'two:2'\) failed .*ValueError: the reducer refused 2",
            "two:2",
        )
    else:
        graph = StateGraph("g", reducers={"n": refuse_second}).add_node("a", lambda s: {"n": 2})
        graph = graph.set_entry_point("a").compile()
        match, task = r"node 'a' failed .*ValueError: the reducer refused 2", "a:1"
    store = MemoryStore()
    runner = Runner(graph, store)
    seen = record(runner)
    with pytest.raises(NodeError, match=match) as caught:
        await runner.run("s", {"n": 0})
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.task_id == task
    assert caught.value.run_state.status == "failed" and caught.value.run_state.state["n"] == 0
    assert seen[-1].type == "error" and seen[-1].task_id == task


async def test_a_route_returning_a_list_starts_those_nodes_together() -> None:
    graph = (
        StateGraph("g", reducers={"seen": append})
        .add_node("pick", lambda s: None)
        .add_node("x", lambda s: {"seen": "x"})
        .add_node("y", lambda s: {"seen": "y"})
        .add_node("z", lambda s: {"seen": "z"})
        .set_entry_point("pick")
        .add_conditional_edge("pick", lambda s: ["z", "x", END], ["x", "y", "z", END])
        .compile()
    )
    result = await Runner(graph).run("s", {"seen": []})
    assert result.state["seen"] == ["z", "x"]  # route order, not node order; END adds nothing


async def test_send_maps_over_items_and_its_branches_carry_the_tool_call_id() -> None:
    async def call_tool(arg: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.02 if arg["name"] == "weather" else 0)
        return {"tool_results": [{"id": arg["id"], "result": arg["name"].upper()}]}

    calls = [{"id": "call_1", "name": "weather"}, {"id": "call_2", "name": "time"}]
    graph = (
        StateGraph("agent", reducers={"tool_results": operator.add})
        .add_node("model", lambda s: {"calls": calls})
        .add_node("tool", call_tool)
        .set_entry_point("model")
        .add_conditional_edge(
            "model", lambda s: [Send("tool", c, tool_call_id=c["id"]) for c in s["calls"]]
        )
        .compile()
    )
    runner = Runner(graph, MemoryStore())
    events = await collect(runner, "s", {})
    assert events[-1].state is not None
    assert [r["id"] for r in events[-1].state["tool_results"]] == ["call_1", "call_2"]
    tool_events = [
        e for e in events if e.node_id == "tool" and e.type in ("node_start", "node_end")
    ]
    by_task = {(e.task_id, e.type): (e.data or {}).get("tool_call_id") for e in tool_events}
    assert by_task == {
        ("tool:2:0", "node_start"): "call_1",
        ("tool:2:1", "node_start"): "call_2",
        ("tool:2:0", "node_end"): "call_1",
        ("tool:2:1", "node_end"): "call_2",
    }
    updates = await runner.stream("s2", {}).pipe(rxo.stream_mode("updates"), ops.to_list())
    assert [list(u) for u in updates] == [["model"], ["tool"], ["tool"]]  # one per task


async def test_values_come_once_per_step() -> None:
    values = (
        await fan_out((0.0, 0.0)).stream("s", {}).pipe(rxo.stream_mode("values"), ops.to_list())
    )
    assert [dict(v) for v in values] == [
        {"planned": True},
        {"planned": True, "results": ["a", "b"]},
        {"planned": True, "results": ["a", "b"], "merged": ["a", "b"]},
    ]


async def test_max_concurrency_bounds_the_branches_running_at_once() -> None:
    running = 0
    most = 0

    async def work(arg: Any) -> dict[str, Any]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return {"done": [arg]}

    graph = (
        StateGraph("g", reducers={"done": operator.add})
        .add_node("start", lambda s: None)
        .add_node("work", work)
        .set_entry_point("start")
        .add_conditional_edge("start", lambda s: [Send("work", i) for i in range(6)])
        .compile()
    )
    result = await Runner(graph, max_concurrency=2).run("s", {})
    assert result.state["done"] == [0, 1, 2, 3, 4, 5] and most == 2
    with pytest.raises(ValueError, match="max_concurrency"):
        Runner(graph, max_concurrency=0)


async def test_a_failing_branch_cancels_its_siblings_and_names_the_task() -> None:
    cancelled = asyncio.Event()

    async def slow(state: Mapping[str, Any]) -> dict[str, Any]:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    async def broken(state: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        raise OSError("disk gone")

    graph = (
        StateGraph("g")
        .add_node("plan", lambda s: {"p": 1})
        .add_node("slow", slow)
        .add_node("broken", broken)
        .set_entry_point("plan")
        .add_edge("plan", "slow")
        .add_edge("plan", "broken")
        .compile()
    )
    store = MemoryStore()
    runner = Runner(graph, store)
    seen = record(runner)
    with pytest.raises(NodeError, match="node 'broken' \\(branch 'broken:2'\\)") as caught:
        await asyncio.wait_for(runner.run("s", {}), timeout=30)
    assert cancelled.is_set()
    assert caught.value.task_id == "broken:2" and caught.value.ns == ()
    assert isinstance(caught.value.__cause__, OSError)
    error = seen[-1]
    assert error.type == "error" and error.task_id == "broken:2" and error.node_id == "broken"
    latest = await store.latest("s")
    assert latest is not None and latest.branches is not None
    assert [t["node"] for t in latest.branches["tasks"]] == ["slow", "broken"]  # to run again


async def test_disposing_the_stream_cancels_every_branch() -> None:
    started: list[str] = []
    stopped: list[str] = []

    def hang(name: str) -> Any:
        async def node(state: Mapping[str, Any]) -> dict[str, Any]:
            started.append(name)
            try:
                await asyncio.Event().wait()
            finally:
                stopped.append(name)
            return {}

        return node

    graph = side_by_side(a=hang("a"), b=hang("b"))
    runner = Runner(graph)
    seen = record(runner)
    subscription = runner.stream("s", {}).subscribe()
    while len(started) < 2:
        await asyncio.sleep(0.01)
    subscription.dispose()
    while seen[-1].type != "cancelled":
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    assert sorted(stopped) == ["a", "b"]


async def test_resume_after_a_failure_reruns_the_step_and_remembers_a_waiting_join(
    tmp_path: Path,
) -> None:
    failures = {"d": 1}

    def d(state: Mapping[str, Any]) -> dict[str, Any]:
        if failures["d"]:
            failures["d"] -= 1
            raise RuntimeError("flaky")
        return {"log": ["d"]}

    graph = (
        StateGraph("g", reducers={"log": operator.add})
        .add_node("a", lambda s: {"log": ["a"]})
        .add_node("b", lambda s: {"log": ["b"]})
        .add_node("c", lambda s: {"log": ["c"]})
        .add_node("d", d)
        .add_node("e", lambda s: {"log": ["e"]})
        .set_entry_point("a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge(["c", "d"], "e")  # c finishes a step before d
        .compile()
    )
    async with SQLiteStore(tmp_path / "runs.db") as store:
        runner = Runner(graph, store)
        with pytest.raises(NodeError, match="flaky"):
            await runner.run("s", {"log": []})
        latest = await store.latest("s")
        assert latest is not None and latest.next_node == "d"
        assert latest.branches == {"tasks": [{"node": "d"}], "joins": {"0": ["c"]}}
        result = await Runner(graph, store).resume("s")
    assert result.state["log"] == ["a", "b", "c", "d", "e"]


async def test_add_messages_merges_by_message_id() -> None:
    graph = side_by_side(
        {"messages": add_messages},
        edit=lambda s: {"messages": [{"id": "m1", "text": "edited"}]},
        reply=lambda s: {"messages": [{"id": "m2", "text": "reply"}]},
    )
    result = await Runner(graph).run("s", {"messages": [{"id": "m1", "text": "draft"}]})
    assert [m["text"] for m in result.state["messages"]] == ["edited", "reply"]


async def test_the_picture_draws_parallel_edges_and_joins() -> None:
    picture = fan_out((0, 0)).graph.to_mermaid()
    assert "n0 ==> n1" in picture and "n0 ==> n2" in picture  # parallel branches: thick
    assert "__join0{{join}}" in picture
    assert "n1 ==> __join0" in picture and "n2 ==> __join0" in picture
    assert "__join0 ==> n3" in picture


async def test_events_serialise_with_their_task_and_namespace() -> None:
    events: list[StreamEvent] = await collect(fan_out((0, 0)), "s", {})
    dumped = events[0].model_dump()
    assert dumped["task_id"] == "plan:1" and dumped["ns"] == ()


async def test_two_failing_branches_the_first_in_task_order_is_the_error_the_other_a_note() -> None:
    def broken(message: str) -> Any:
        def node(state: Mapping[str, Any]) -> None:
            raise LookupError(message)

        return node

    graph = side_by_side(left=broken("left is gone"), right=broken("right is gone"))
    runner = Runner(graph, MemoryStore())
    seen = record(runner)
    with pytest.raises(NodeError, match="left is gone") as caught:
        await runner.run("s", {})
    assert caught.value.task_id == "left:2"
    assert caught.value.__notes__ == ["another branch failed too: LookupError: right is gone"]
    errors = [e for e in seen if e.type == "error"]
    assert len(errors) == 1 and errors[0] is seen[-1] and errors[0].task_id == "left:2"


async def test_a_branch_raising_cancelled_error_cancels_the_run_as_a_single_node_does() -> None:
    stopped: list[str] = []

    async def hang(state: Mapping[str, Any]) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append("hang")
        return {}

    async def gives_up(state: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        raise asyncio.CancelledError("gave up")

    for graph in (
        side_by_side(a=hang, b=gives_up),
        StateGraph("one").add_node("b", gives_up).set_entry_point("b").compile(),
    ):
        stopped.clear()
        runner = Runner(graph)
        seen = record(runner)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(runner.run("s", {}), timeout=30)
        assert seen[-1].type == "cancelled"
        assert "error" not in [event.type for event in seen]
        assert stopped == (["hang"] if "a" in graph.nodes else [])  # the sibling was stopped
