"""Subgraphs: a compiled graph as a node of another graph (events, namespaces, state in and out,
interrupts and resume on every store, failures, cancellation, parallel steps and Send)."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rxchronos.graph import CheckpointStore
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import NothingToResumeError
from rxchronos.graph import PostgresStore
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import Send
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateGraph
from rxchronos.graph import subgraph_session_id

from .helpers import collect
from .helpers import record


def research() -> StateGraph:
    """search -> write, writing ``notes`` (a list) and ``answer``."""
    return (
        StateGraph("research")
        .add_node("search", lambda s: {"notes": [f"found {s['topic']}"]})
        .add_node("write", lambda s: {"answer": f"{s['topic']}: {len(s['notes'])}"})
        .set_entry_point("search")
        .add_edge("search", "write")
    )


def parent(sub: Any) -> StateGraph:
    return (
        StateGraph("parent", reducers={"notes": operator.add})
        .add_node("plan", lambda s: {"notes": ["plan"]})
        .add_node("research", sub)
        .add_node("done", lambda s: {"finished": True})
        .set_entry_point("plan")
        .add_edge("plan", "research")
        .add_edge("research", "done")
    )


async def test_subgraph_events_are_the_runs_with_ns_one_seq_and_task_ids() -> None:
    runner = Runner(parent(research().compile()).compile())
    events = await collect(runner, "s", {"topic": "sky"})
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.run_id for e in events} == {events[0].run_id}
    inner = [e for e in events if e.ns]
    assert {e.ns for e in inner} == {("research:2",)}
    assert [(str(e.type), e.node_id, e.task_id) for e in inner] == [
        ("node_start", "search", "search:1"),
        ("node_end", "search", "search:1"),
        ("edge_transition", "write", "search:1"),
        ("node_start", "write", "write:2"),
        ("node_end", "write", "write:2"),
    ]
    starts = [
        i
        for i, e in enumerate(events)
        if e.node_id == "research" and not e.ns and e.type in ("node_start", "node_end")
    ]
    assert events[starts[0]].type == "node_start" and events[starts[1]].type == "node_end"
    assert starts[0] < events.index(inner[0]) and events.index(inner[-1]) < starts[1]
    # what the subgraph wrote is the node's update; the parent's reducer sees each write once
    assert events[starts[1]].update == {"notes": ["found sky"], "answer": "sky: 1"}
    assert events[-1].type == "completed" and not events[-1].ns
    assert events[-1].state["notes"] == ["plan", "found sky"]
    assert [e.type for e in events].count("completed") == 1


async def test_the_update_is_the_same_when_nobody_listens() -> None:
    result = await Runner(parent(research().compile()).compile()).run("s", {"topic": "sky"})
    assert dict(result.state) == {
        "topic": "sky",
        "notes": ["plan", "found sky"],
        "answer": "sky: 1",
        "finished": True,
    }


async def test_nested_subgraphs_two_levels_deep() -> None:
    middle = (
        StateGraph("middle")
        .add_node("prep", lambda s: {"prepared": True})
        .add_node("inner", research().compile())
        .set_entry_point("prep")
        .add_edge("prep", "inner")
        .compile()
    )
    runner = Runner(parent(middle).compile())
    events = await collect(runner, "s", {"topic": "sea"})
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    deep = [e for e in events if len(e.ns) == 2]
    assert {e.ns for e in deep} == {("research:2", "inner:2")}
    assert [e.node_id for e in deep if e.type == "node_end"] == ["search", "write"]
    assert events[-1].state["notes"] == ["plan", "found sea"]
    assert events[-1].state["prepared"] is True


async def test_a_failing_node_inside_names_itself_and_its_ns() -> None:
    def broken(state: Mapping[str, Any]) -> None:
        raise ValueError("no sources")

    sub = StateGraph("sub").add_node("check", broken).set_entry_point("check").compile()
    runner = Runner(parent(sub).compile(), MemoryStore())
    seen = record(runner)
    with pytest.raises(NodeError) as caught:
        await runner.run("s", {"topic": "x"})
    error = caught.value
    assert error.node_id == "check" and error.ns == ("research:2",) and error.task_id == "check:1"
    assert isinstance(error.__cause__, ValueError)
    assert "in subgraph 'research:2'" in str(error)
    errors = [e for e in seen if e.type == "error"]
    assert len(errors) == 1 and errors[0].ns == ("research:2",) and errors[0].node_id == "check"
    assert error.run_state.status is RunStatus.FAILED


async def test_cancel_reaches_into_the_subgraph() -> None:
    started = asyncio.Event()
    stopped: list[bool] = []

    async def slow(state: Mapping[str, Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            stopped.append(True)
            raise

    sub = StateGraph("sub").add_node("slow", slow).set_entry_point("slow").compile()
    runner = Runner(parent(sub).compile(), MemoryStore())
    run = asyncio.ensure_future(runner.run("s", {"topic": "x"}))
    await started.wait()
    assert await runner.cancel("s")
    assert (await run).status is RunStatus.CANCELLED
    assert stopped == [True]


async def test_a_subgraph_as_a_parallel_branch_and_via_send() -> None:
    sub = research().compile()
    graph = (
        StateGraph("fan", reducers={"notes": operator.add})
        .add_node("plan", lambda s: None)
        .add_node("research", sub)
        .add_node("other", lambda s: {"notes": ["other"]})
        .set_entry_point("plan")
        .add_edge("plan", "research")
        .add_edge("plan", "other")
        .compile()
    )
    events = await collect(Runner(graph), "s", {"topic": "t"})
    assert events[-1].state["notes"] == ["found t", "other"]
    assert {e.ns for e in events if e.ns} == {("research:2",)}

    mapped = (
        StateGraph("map", reducers={"notes": operator.add, "answer": operator.add})
        .add_node("split", lambda s: None)
        .add_node("research", sub)
        .set_entry_point("split")
        .add_conditional_edge("split", lambda s: [Send("research", {"topic": t}) for t in "ab"])
        .compile()
    )
    events = await collect(Runner(mapped), "s", {})
    assert events[-1].state["notes"] == ["found a", "found b"]
    assert events[-1].state["answer"] == "a: 1b: 1"  # in task order, whatever finished first
    assert {e.ns for e in events if e.ns} == {("research:2:0",), ("research:2:1",)}


def approving() -> StateGraph:
    sub = (
        StateGraph("review")
        .add_node("draft", lambda s: {"text": f"about {s['topic']}"})
        .add_interrupt_node("approve", lambda s: {"verdict": f"{s['text']}: {s['answer']}"})
        .set_entry_point("draft")
        .add_edge("draft", "approve")
        .compile()
    )
    return parent(sub)


async def interrupt_and_resume(store: CheckpointStore) -> None:
    runner = Runner(approving().compile(), store)
    seen = record(runner)
    first = await runner.run("s", {"topic": "x"})
    assert first.status is RunStatus.PAUSED and first.node_id == "research"
    interrupts = [e for e in seen if e.type == "interrupt"]
    assert len(interrupts) == 1
    assert interrupts[0].ns == ("research:2",) and interrupts[0].node_id == "approve"
    assert interrupts[0].state["text"] == "about x"
    # the parent's history is its own; the subgraph's is under its own session id
    own = await store.list_checkpoints("s")
    assert all(c.branches is None or "ns" not in c.branches for c in own)
    inner = await store.list_checkpoints(subgraph_session_id("s", ("research:2",)))
    assert inner and inner[-1].paused and inner[-1].next_node == "approve"
    assert list(inner[-1].branches["ns"]) == ["research:2"]  # type: ignore[index]
    with pytest.raises(NothingToResumeError):
        await runner.resume_from_checkpoint(inner[-1].checkpoint_id)
    seen.clear()
    done = await runner.resume("s", update={"answer": "yes"})
    assert done.status is RunStatus.COMPLETED
    assert [e.node_id for e in seen if e.type == "node_start" and e.ns] == ["approve"]
    assert "draft" not in [e.node_id for e in seen if e.type == "node_start"]
    assert done.state["verdict"] == "about x: yes" and done.state["finished"] is True
    assert "answer" not in done.state  # the update went to the subgraph that paused
    assert done.state["notes"] == ["plan"]


async def test_interrupt_inside_pauses_the_run_and_resume_goes_on_inside_memory() -> None:
    await interrupt_and_resume(MemoryStore())


async def test_interrupt_inside_pauses_the_run_and_resume_goes_on_inside_sqlite(
    tmp_path: Path,
) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        await interrupt_and_resume(store)


async def test_interrupt_inside_pauses_the_run_and_resume_goes_on_inside_postgres(
    pg_store: PostgresStore,
) -> None:
    await interrupt_and_resume(pg_store)


async def test_a_subgraph_needs_a_run_and_a_mapping() -> None:
    sub = research().compile()
    node = StateGraph("p").add_node("r", sub).set_entry_point("r").compile().nodes["r"]
    assert node.subgraph is sub
    with pytest.raises(TypeError):
        await node.fn({"topic": "x"})
