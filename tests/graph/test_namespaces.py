"""Selecting a run's events by namespace (top_level, in_subgraph, by_namespace) on real runs with
subgraphs: nested ones, parallel ones, Send branches, an interrupt inside and a failure inside."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Mapping
from typing import Any

import pytest
from reactivex import GroupedObservable
from reactivex import Observable
from reactivex import operators as ops

from rxchronos import operators as rxo
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import Runner
from rxchronos.graph import Send
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent
from rxchronos.graph import by_namespace
from rxchronos.graph import in_subgraph
from rxchronos.graph import top_level

from .helpers import collect


async def pause(state: Mapping[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)  # a real await: the branches of a step interleave
    return {}


def check() -> StateGraph:
    """verify: one node, writing ``checked``."""
    return (
        StateGraph("check")
        .add_node("verify", lambda s: {"checked": [s["topic"]]})
        .set_entry_point("verify")
    )


def research() -> StateGraph:
    """search -> check (a subgraph) -> write."""
    return (
        StateGraph("research", reducers={"checked": operator.add})
        .add_node("search", pause)
        .add_node("check", check().compile())
        .add_node("write", lambda s: {"notes": [f"{s['topic']} done"]})
        .set_entry_point("search")
        .add_edge("search", "check")
        .add_edge("check", "write")
    )


def planner() -> Runner:
    """plan -> (research, other) in parallel -> merge; then a Send of research per topic."""
    graph = (
        StateGraph("planner", reducers={"notes": operator.add, "checked": operator.add})
        .add_node("plan", lambda s: {})
        .add_node("research", research().compile())
        .add_node("other", lambda s: {"notes": ["other"]})
        .add_node("merge", lambda s: {})
        .add_node("spread", research().compile())
        .set_entry_point("plan")
        .add_edge("plan", "research")
        .add_edge("plan", "other")
        .add_edge(["research", "other"], "merge")
        .add_conditional_edge("merge", lambda s: [Send("spread", {"topic": t}) for t in ("x", "y")])
        .compile()
    )
    return Runner(graph)


async def select(op: Any) -> list[StreamEvent]:
    events: list[StreamEvent] = await planner().stream("s", {"topic": "t"}).pipe(op, ops.to_list())
    return events


async def test_the_run_has_the_namespaces_the_selections_are_made_from() -> None:
    events = await collect(planner(), "s", {"topic": "t"})
    assert list(dict.fromkeys(e.ns for e in events)) == [
        (),
        ("research:2",),
        ("research:2", "check:2"),
        ("spread:4:0",),
        ("spread:4:1",),
        ("spread:4:0", "check:2"),
        ("spread:4:1", "check:2"),
    ]
    assert events[-1].type == "completed"
    assert events[-1].state["notes"] == ["t done", "other", "x done", "y done"]


async def test_top_level_keeps_the_graph_the_runner_runs() -> None:
    everything = await collect(planner(), "s", {"topic": "t"})
    top = await select(top_level())
    assert top and all(e.ns == () for e in top)
    assert [e.seq for e in top] == [e.seq for e in everything if not e.ns]
    # a subgraph node's own start and end are the parent's, and the run's end too
    assert ("node_end", "research") in [(e.type, e.node_id) for e in top]
    assert top[-1].type == "completed"


async def test_in_subgraph_by_node_id_keeps_every_task_of_that_node_and_what_is_inside() -> None:
    spread = await select(in_subgraph("spread"))
    assert {e.ns for e in spread} == {
        ("spread:4:0",),
        ("spread:4:1",),
        ("spread:4:0", "check:2"),
        ("spread:4:1", "check:2"),
    }
    assert [e.seq for e in spread] == sorted(e.seq for e in spread)
    own = await select(in_subgraph("spread", nested=False))
    assert {e.ns for e in own} == {("spread:4:0",), ("spread:4:1",)}
    for task in ("spread:4:0", "spread:4:1"):
        assert [e.node_id for e in own if e.type == "node_end" and e.ns == (task,)] == [
            "search",
            "check",
            "write",
        ]


async def test_in_subgraph_by_task_id_and_deeper_paths() -> None:
    one = await select(in_subgraph("spread:4:1"))
    assert {e.ns for e in one} == {("spread:4:1",), ("spread:4:1", "check:2")}
    step = await select(in_subgraph("spread:4"))  # every Send of that step
    assert {e.ns[0] for e in step} == {"spread:4:0", "spread:4:1"}
    deep = await select(in_subgraph("research", "check"))
    assert [(e.type, e.node_id, e.ns) for e in deep] == [
        ("node_start", "verify", ("research:2", "check:2")),
        ("node_end", "verify", ("research:2", "check:2")),
    ]
    assert await select(in_subgraph("research:3")) == []
    assert await select(in_subgraph("researc")) == []  # a node id is matched whole
    assert await select(in_subgraph("check")) == []  # the path starts at the root


async def test_the_operators_are_in_rxchronos_operators_too() -> None:
    assert rxo.top_level is top_level
    assert rxo.in_subgraph is in_subgraph
    assert rxo.by_namespace is by_namespace


def test_in_subgraph_needs_a_path_of_ids() -> None:
    with pytest.raises(ValueError, match="in_subgraph\\(\\) needs"):
        in_subgraph()
    with pytest.raises(TypeError, match=r"non-empty strings\), got ''"):
        in_subgraph("research", "")
    with pytest.raises(TypeError, match="got 2"):
        in_subgraph(2)  # type: ignore[arg-type]


class Lanes:
    """What ``by_namespace`` hands a subscriber: each lane's key, its events and its end, in one
    log in the order they happened."""

    def __init__(self) -> None:
        self.log: list[tuple[str, tuple[str, ...], Any]] = []
        self.events: dict[tuple[str, ...], list[StreamEvent]] = {}
        self.done = asyncio.Event()
        self.error: Exception | None = None

    def open(self, lane: GroupedObservable[tuple[str, ...], StreamEvent]) -> None:
        key = lane.key
        self.log.append(("open", key, None))
        self.events.setdefault(key, [])

        def seen(event: StreamEvent) -> None:
            self.log.append(("event", key, event))
            self.events[key].append(event)

        def failed(error: Exception) -> None:
            self.log.append(("error", key, error))

        lane.subscribe(seen, failed, lambda: self.log.append(("end", key, None)))

    def follow(self, events: Observable[StreamEvent]) -> None:
        def failed(error: Exception) -> None:
            self.error = error
            self.done.set()

        events.pipe(by_namespace()).subscribe(self.open, failed, self.done.set)

    def ended(self, key: tuple[str, ...]) -> list[int]:
        return [i for i, (what, k, _) in enumerate(self.log) if what == "end" and k == key]


async def test_by_namespace_gives_a_lane_per_namespace_that_ends_with_its_task() -> None:
    everything = await collect(planner(), "s", {"topic": "t"})
    lanes = Lanes()
    lanes.follow(planner().stream("s", {"topic": "t"}))
    await lanes.done.wait()
    assert list(lanes.events) == list(dict.fromkeys(e.ns for e in everything))
    for key, events in lanes.events.items():
        assert [(e.type, e.node_id, e.task_id) for e in events] == [
            (e.type, e.node_id, e.task_id) for e in everything if e.ns == key
        ]
    log = lanes.log
    for key in lanes.events:
        opened = next(i for i, (what, k, _) in enumerate(log) if what == "open" and k == key)
        assert log[opened + 1][:2] == ("event", key)  # opened just before its first event
        assert len(lanes.ended(key)) == 1
        if not key:
            continue
        # a subgraph's lane ends right after the node_end of its task, in the lane above
        (end,) = lanes.ended(key)
        task_end = next(
            i
            for i, (what, k, e) in enumerate(log)
            if what == "event" and k == key[:-1] and e.type == "node_end" and e.task_id == key[-1]
        )
        assert task_end < end
        between = [entry for entry in log[task_end + 1 : end] if entry[0] != "end"]
        assert between == []
    assert lanes.ended(()) == [len(log) - 1]  # the top-level lane ends with the run


async def test_by_namespace_on_an_interrupt_inside_then_a_resume_opens_the_lane_again() -> None:
    inner = (
        StateGraph("review")
        .add_node("draft", lambda s: {"text": "v1"})
        .add_interrupt_node("approve", lambda s: {"ok": s["answer"]})
        .set_entry_point("draft")
        .add_edge("draft", "approve")
        .compile()
    )
    graph = StateGraph("g").add_node("review", inner).set_entry_point("review").compile()
    runner = Runner(graph, MemoryStore())
    first = Lanes()
    first.follow(runner.stream("s", {}))
    await first.done.wait()
    assert list(first.events) == [(), ("review:1",)]
    assert first.events[("review:1",)][-1].type == "interrupt"
    assert len(first.ended(("review:1",))) == 1  # the run paused: the lane is over

    second = Lanes()
    second.follow(runner.stream_resume("s", update={"answer": "yes"}))
    await second.done.wait()
    (resumed,) = (key for key in second.events if key)
    assert resumed == ("review:1",)  # the resumed step keeps its task id, so the lane its key
    assert [e.node_id for e in second.events[resumed] if e.type == "node_start"] == ["approve"]
    assert len(second.ended(resumed)) == 1
    assert second.events[()][-1].type == "completed"
    assert second.events[()][-1].state["ok"] == "yes"


async def test_by_namespace_passes_a_failure_to_every_open_lane() -> None:
    def broken(state: Mapping[str, Any]) -> None:
        raise LookupError("no such source")

    inner = StateGraph("inner").add_node("fetch", broken).set_entry_point("fetch").compile()
    graph = (
        StateGraph("g")
        .add_node("plan", lambda s: {})
        .add_node("sub", inner)
        .set_entry_point("plan")
        .add_edge("plan", "sub")
        .compile()
    )
    lanes = Lanes()
    lanes.follow(Runner(graph).stream("s", {}))
    await lanes.done.wait()
    assert isinstance(lanes.error, NodeError) and lanes.error.ns == ("sub:2",)
    failing = lanes.events[("sub:2",)]
    assert failing[-1].type == "error" and failing[-1].node_id == "fetch"
    assert lanes.ended(("sub:2",))  # the run ended at the error: the subgraph's lane with it
    assert [what for what, key, _ in lanes.log if key == ()][-1] == "error"
