"""to_ui_message_stream and to_ag_ui on model streams and graph runs (no HTTP)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest
import reactivex
from ag_ui.core import EventType
from reactivex import operators as ops

from rxchronos.graph import Runner
from rxchronos.graph import StateGraph
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import Message
from rxchronos.ui import report_tool_result
from rxchronos.ui import to_ag_ui
from rxchronos.ui import to_ui_message_stream
from tests.ui.conftest import demo_runner
from tests.ui.conftest import scripted_model

REQUEST = ChatRequest(messages=[Message(role="user", content="Weather?")])


async def test_model_stream_as_ui_parts() -> None:
    parts: list[dict[str, Any]] = (
        await scripted_model()
        .stream_chat(REQUEST)
        .pipe(to_ui_message_stream(message_id="m1"), ops.to_list())
    )
    assert parts[0] == {"type": "start", "messageId": "m1"}
    assert parts[1] == {"type": "start-step"}
    kinds = [p["type"] for p in parts]
    assert kinds.index("reasoning-start") < kinds.index("reasoning-end") < kinds.index("text-start")
    text = "".join(p["delta"] for p in parts if p["type"] == "text-delta")
    assert text == "Let me look that up for you right now."
    reasoning = "".join(p["delta"] for p in parts if p["type"] == "reasoning-delta")
    assert reasoning == "The user wants the weather."
    start = next(p for p in parts if p["type"] == "tool-input-start")
    args = "".join(p["inputTextDelta"] for p in parts if p["type"] == "tool-input-delta")
    assert json.loads(args) == {"city": "Paris"}
    available = next(p for p in parts if p["type"] == "tool-input-available")
    assert available == {
        "type": "tool-input-available",
        "toolCallId": start["toolCallId"],
        "toolName": "get_forecast",
        "input": {"city": "Paris"},
    }
    assert parts[-2:] == [{"type": "finish-step"}, {"type": "finish", "finishReason": "tool-calls"}]


async def test_graph_run_as_ui_parts_has_steps_data_tool_output_and_state() -> None:
    parts = (
        await demo_runner()
        .stream("s1", {"question": "Umbrella?"})
        .pipe(to_ui_message_stream(), ops.to_list())
    )
    kinds = [p["type"] for p in parts]
    # plan, model, and the two tool calls' branches (forecast, spots)
    assert kinds.count("start-step") == kinds.count("finish-step") == 4
    assert "data-plan" in kinds
    calls = {p["toolName"]: p["toolCallId"] for p in parts if p["type"] == "tool-input-available"}
    outputs = {p["toolCallId"]: p["output"] for p in parts if p["type"] == "tool-output-available"}
    assert outputs[calls["get_forecast"]]["rain_chance"] == 0.7
    assert outputs[calls["find_picnic_spots"]]["spots"][0]["name"] == "Parc des Buttes-Chaumont"
    states = [p for p in parts if p["type"] == "data-state"]
    assert all(p["id"] == "state" for p in states)
    results = states[-1]["data"]["tool_results"]  # the parallel step's state: both results
    assert [r["id"] for r in results] == [calls["get_forecast"], calls["find_picnic_spots"]]
    assert parts[-2:] == [
        {"type": "data-interrupt", "data": {"node": "approve"}},
        {"type": "finish", "finishReason": "other"},
    ]


async def test_failing_source_says_error_then_passes_the_error_on() -> None:
    deltas = reactivex.concat(
        reactivex.of(ChatResponse(content="Hal")), reactivex.throw(RuntimeError("boom"))
    )
    seen: list[dict[str, Any]] = []
    with pytest.raises(RuntimeError, match="boom"):
        await deltas.pipe(to_ui_message_stream(), ops.do_action(seen.append))
    assert [p["type"] for p in seen][-3:] == ["text-end", "finish-step", "error"]
    assert seen[-1]["errorText"] == "RuntimeError: boom"


async def test_something_else_than_deltas_or_events_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="got a str"):
        await reactivex.of("hello").pipe(to_ag_ui("t", "r"))


async def test_graph_run_as_ag_ui_events_state_patches_rebuild_the_state() -> None:
    events = (
        await demo_runner()
        .stream("s1", {"question": "Umbrella?"})
        .pipe(to_ag_ui("t1", "r1"), ops.to_list())
    )
    types = [e.type for e in events]
    assert types[:3] == [EventType.RUN_STARTED, EventType.STATE_SNAPSHOT, EventType.STEP_STARTED]
    assert events[0].thread_id == "t1" and events[0].run_id == "r1"
    state = copy.deepcopy(events[1].snapshot)
    for event in events:
        if event.type == EventType.STATE_DELTA:
            state = jsonpatch.apply_patch(state, [op.model_dump(mode="json") for op in event.delta])
    final = await demo_runner().run("s2", {"question": "Umbrella?"})
    assert state["tool_results"][0]["content"] == final.state["tool_results"][0]["content"]
    assert state["plan"] == list(final.state["plan"])
    result = next(e for e in events if e.type == EventType.TOOL_CALL_RESULT)
    start = next(e for e in events if e.type == EventType.TOOL_CALL_START)
    assert result.tool_call_id == start.tool_call_id and start.tool_call_name == "get_forecast"
    assert json.loads(result.content)["rain_chance"] == 0.7
    last = events[-1]
    assert last.type == EventType.RUN_FINISHED
    assert last.outcome is not None and last.outcome.type == "interrupt"
    assert last.outcome.interrupts[0].id == "r1:approve"


async def test_custom_events_and_reasoning_in_ag_ui() -> None:
    def node(state: Any) -> dict[str, Any]:
        from rxchronos.graph import emit

        emit("progress", {"done": 1})
        return {"n": 1}

    graph = StateGraph("g").add_node("a", node).set_entry_point("a").set_finish_point("a")
    events = (
        await Runner(graph.compile()).stream("s", {"n": 0}).pipe(to_ag_ui("t", "r"), ops.to_list())
    )
    custom = next(e for e in events if e.type == EventType.CUSTOM)
    assert (custom.name, custom.value) == ("progress", {"done": 1})
    delta = next(e for e in events if e.type == EventType.STATE_DELTA)
    assert [op.model_dump() for op in delta.delta] == [{"op": "replace", "path": "/n", "value": 1}]
    assert events[-1].type == EventType.RUN_FINISHED and events[-1].outcome is None

    model = await scripted_model().stream_chat(REQUEST).pipe(to_ag_ui("t", "r"), ops.to_list())
    kinds = [e.type.value for e in model]
    assert kinds[2:4] == ["REASONING_START", "REASONING_MESSAGE_START"]
    assert "REASONING_END" in kinds and kinds.index("REASONING_END") < kinds.index(
        "TEXT_MESSAGE_START"
    )


def test_report_tool_result_needs_a_call_id() -> None:
    with pytest.raises(TypeError, match="tool call id"):
        report_tool_result("", {"x": 1})


async def test_parallel_nodes_each_have_their_step_and_blocks() -> None:
    import asyncio
    import operator

    from rxchronos.graph import emit

    async def branch(name: str) -> Any:
        async def node(state: Any) -> dict[str, Any]:
            emit("progress", {"node": name, "at": "start"})
            await asyncio.sleep(0.01)  # the other branch runs meanwhile
            emit("progress", {"node": name, "at": "end"})
            return {"r": [name]}

        return node

    g = StateGraph("g", reducers={"r": operator.add})
    g.add_node("plan", lambda s: {}).add_node("a", await branch("a"))
    g.add_node("b", await branch("b")).add_node("merge", lambda s: {})
    g.set_entry_point("plan").add_edge("plan", "a").add_edge("plan", "b")
    g.add_edge(["a", "b"], "merge").set_finish_point("merge")
    events = (
        await Runner(g.compile()).stream("s", {"r": []}).pipe(to_ag_ui("t", "r"), ops.to_list())
    )
    steps = [(e.type.value, e.step_name) for e in events if "STEP" in e.type.value]
    for name in ("plan", "a", "b", "merge"):  # each step opens once and closes once, by name
        assert steps.count(("STEP_STARTED", name)) == steps.count(("STEP_FINISHED", name)) == 1
        assert steps.index(("STEP_STARTED", name)) < steps.index(("STEP_FINISHED", name))
    progress = [(e.value["node"], e.value["at"]) for e in events if e.type == EventType.CUSTOM]
    assert sorted(progress) == [("a", "end"), ("a", "start"), ("b", "end"), ("b", "start")]


async def test_ag_ui_events_built_unvalidated_equal_validated_ones_and_their_wire_the_dump() -> (
    None
):
    from rxchronos.ui._ag_ui import _WIRE
    from rxchronos.ui._ag_ui import wire

    model_events = (
        await scripted_model().stream_chat(REQUEST).pipe(to_ag_ui("t", "r"), ops.to_list())
    )
    run_events = (
        await demo_runner()
        .stream("s1", {"question": "Umbrella?"})
        .pipe(to_ag_ui("t", "s1"), ops.to_list())
    )
    events = model_events + run_events
    kinds = {type(e) for e in events}
    assert len(kinds & set(_WIRE)) >= 10  # most kinds take the unvalidated path, and are here
    for event in events:
        dumped = event.model_dump(mode="json", by_alias=True)
        again = type(event).model_validate(dumped)
        assert again == event, type(event).__name__
        assert again.model_extra == event.model_extra == {}
        assert list(again.model_dump(mode="json", by_alias=True)) == list(dumped)
        assert wire(event) == dumped
        assert list(wire(event)) == list(dumped)  # the same keys in the same order on the wire
        assert json.dumps(wire(event)) == json.dumps(dumped)
