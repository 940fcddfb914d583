"""Small graphs and helpers shared by the graph tests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from reactivex import operators as ops

from rxchronos.graph import END, CompiledGraph, Runner, StateGraph, StreamEvent


def kinds(events: list[StreamEvent]) -> list[str]:
    """``["node_start:a", "node_end:a", ...]``: each event's type and node, for order checks."""
    return [f"{e.type}:{e.node_id}" if e.node_id else str(e.type) for e in events]


def record(runner: Runner) -> list[StreamEvent]:
    """Subscribe to ``runner.events`` and return the list it fills."""
    seen: list[StreamEvent] = []
    runner.events.subscribe(seen.append)
    return seen


async def collect(runner: Runner, session_id: str, state: Mapping[str, Any]) -> list[StreamEvent]:
    """Run once through ``runner.stream`` and return every event."""
    events: list[StreamEvent] = await runner.stream(session_id, state).pipe(ops.to_list())
    return events


def one_node(fn: Any, *, node_id: str = "a", in_thread: bool = False) -> CompiledGraph:
    """A compiled graph of the single node ``node_id`` running ``fn``."""
    return (
        StateGraph("g")
        .add_node(node_id, fn, in_thread=in_thread)
        .set_entry_point(node_id)
        .compile()
    )


def linear_graph() -> StateGraph:
    """extract -> transform -> load, each node setting one key."""

    async def extract(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"rows": [1, 2, 3]}

    def transform(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"doubled": [r * 2 for r in state["rows"]]}

    async def load(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"loaded": sum(state["doubled"])}

    return (
        StateGraph("etl")
        .add_node("extract", extract)
        .add_node("transform", transform)
        .add_node("load", load)
        .set_entry_point("extract")
        .add_edge("extract", "transform")
        .add_edge("transform", "load")
        .set_finish_point("load")
    )


def loop_graph() -> StateGraph:
    """inc runs until count reaches state["limit"]."""

    def inc(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"count": state.get("count", 0) + 1}

    def route(state: Mapping[str, Any]) -> str:
        return "inc" if state["count"] < state["limit"] else END

    return (
        StateGraph("loop")
        .add_node("inc", inc)
        .set_entry_point("inc")
        .add_conditional_edge("inc", route, ["inc", END])
    )


def approval_graph() -> StateGraph:
    """draft -> review (interrupt) -> publish."""

    def draft(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"text": "hello"}

    def review(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"approved": state.get("answer") == "yes"}

    def publish(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"published": state["approved"]}

    return (
        StateGraph("approval")
        .add_node("draft", draft)
        .add_interrupt_node("review", review)
        .add_node("publish", publish)
        .set_entry_point("draft")
        .add_edge("draft", "review")
        .add_edge("review", "publish")
        .set_finish_point("publish")
    )


async def no_other_tasks() -> set[asyncio.Task[Any]]:
    """Let pending callbacks run, then return every task but the current one."""
    for _ in range(5):
        await asyncio.sleep(0)
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]
