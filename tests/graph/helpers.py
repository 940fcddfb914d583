"""Small graphs and helpers shared by the graph tests."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

import pytest
from reactivex import operators as ops

from rxchronos.graph import END
from rxchronos.graph import CompiledGraph
from rxchronos.graph import NodeError
from rxchronos.graph import Runner
from rxchronos.graph import RunState
from rxchronos.graph import RunStatus
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent


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


def chain(*steps: tuple[str, Any], interrupts: Collection[str] = ()) -> CompiledGraph:
    """A compiled graph running ``steps`` (``(node_id, fn)`` pairs) one after the other; the
    ids in ``interrupts`` are interrupt nodes."""
    graph = StateGraph("g")
    for node_id, fn in steps:
        if node_id in interrupts:
            graph.add_interrupt_node(node_id, fn)
        else:
            graph.add_node(node_id, fn)
    for (source, _), (target, _) in pairwise(steps):
        graph.add_edge(source, target)
    return graph.set_entry_point(steps[0][0]).compile()


def path_kinds(*nodes: str, checkpoints: bool = False, end: str = "completed") -> list[str]:
    """The :func:`kinds` of a run through ``nodes`` in order, finishing with ``end``."""
    expected: list[str] = []
    for i, node in enumerate(nodes):
        expected += [f"node_start:{node}", f"node_end:{node}"]
        if checkpoints:
            expected.append(f"checkpoint:{node}")
        # an edge_transition names the node the run moves to
        expected.append(
            f"edge_transition:{nodes[i + 1]}" if i < len(nodes) - 1 else f"{end}:{node}"
        )
    return expected


class Hang:
    """A node that signals it started (``await hang.started.wait()``), then waits until the run
    is cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finished = False

    async def __call__(self, state: Mapping[str, Any]) -> dict[str, Any]:
        self.started.set()
        await asyncio.Event().wait()
        self.finished = True  # never, unless cancellation failed
        return {}


async def node_error(runner: Runner, match: str, cause: type[BaseException]) -> NodeError:
    """Run ``runner`` once; it must fail with a ``NodeError`` matching ``match``, caused by a
    ``cause``."""
    with pytest.raises(NodeError, match=match) as info:
        await runner.run("s", {})
    assert isinstance(info.value.__cause__, cause), repr(info.value.__cause__)
    return info.value


def fail_on(runner: Runner, event_type: str, error: Exception) -> None:
    """Subscribe a listener to ``runner.events`` that raises ``error`` on ``event_type``."""

    def listener(event: StreamEvent) -> None:
        if event.type == event_type:
            raise error

    runner.events.subscribe(listener)


LINEAR = ("extract", "transform", "load")
"""The nodes of :func:`linear_graph`, in order."""


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
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


def assert_failed(run_state: RunState | None, events: list[StreamEvent], node_id: str) -> RunState:
    """The error's run state is the failed run the events tell of, ending with its error event."""
    assert run_state is not None
    assert run_state.status is RunStatus.FAILED
    assert run_state.node_id == node_id
    assert events[-1].type == "error" and events[-1].node_id == node_id
    assert run_state.error == events[-1].error
    assert run_state.run_id == events[-1].run_id
    assert run_state.state == events[-1].state
    return run_state
