"""stream_mode(...) views of a run, alone and combined."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import reactivex
from reactivex import operators as ops

from rxchronos import operators as rxo
from rxchronos._tap import current_tap
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import StateGraph
from rxchronos.graph import emit
from rxchronos.graph import stream_mode


def graph_with_everything() -> StateGraph:
    def plan(state: Mapping[str, Any]) -> dict[str, Any]:
        emit("note", {"n": 1})
        tap = current_tap()
        assert tap is not None
        tap("model_call", {"model": "m"})
        tap("model_chunk", {"content": "x"})
        tap("model_response", {"content": "x"})
        return {"plan": "p"}

    return (
        StateGraph("g")
        .add_node("plan", plan)
        .add_node("act", lambda s: {"act": s["plan"] * 2})
        .set_entry_point("plan")
        .add_edge("plan", "act")
    )


async def view(*modes: Any) -> list[Any]:
    runner = Runner(graph_with_everything().compile(), MemoryStore())
    result: list[Any] = await runner.stream("s", {"start": 0}).pipe(
        rxo.stream_mode(*modes), ops.to_list()
    )
    return result


async def test_values() -> None:
    assert await view("values") == [
        {"start": 0, "plan": "p"},
        {"start": 0, "plan": "p", "act": "pp"},
    ]


async def test_updates() -> None:
    assert await view("updates") == [{"plan": {"plan": "p"}}, {"act": {"act": "pp"}}]


async def test_messages() -> None:
    messages = await view("messages")
    assert [(m.type, m.node_id, m.data) for m in messages] == [
        ("model_call", "plan", {"model": "m"}),
        ("model_chunk", "plan", {"content": "x"}),
        ("model_response", "plan", {"content": "x"}),
    ]


async def test_custom_and_checkpoints() -> None:
    assert await view("custom") == [{"type": "note", "data": {"n": 1}}]
    checkpoints = await view("checkpoints")
    assert [(c["step"], c["next_node"], c["paused"]) for c in checkpoints] == [
        (1, "act", False),
        (2, None, False),
    ]


async def test_debug_is_every_event() -> None:
    runner = Runner(graph_with_everything().compile())
    everything = await runner.stream("s", {}).pipe(ops.to_list())
    debug = await runner.stream("t", {}).pipe(stream_mode("debug"), ops.to_list())
    assert [e.type for e in debug] == [e.type for e in everything]


async def test_several_modes_give_pairs_in_event_order() -> None:
    pairs = await view("updates", "values", "custom")
    assert pairs == [
        ("custom", {"type": "note", "data": {"n": 1}}),
        ("updates", {"plan": {"plan": "p"}}),
        ("values", {"start": 0, "plan": "p"}),
        ("updates", {"act": {"act": "pp"}}),
        ("values", {"start": 0, "plan": "p", "act": "pp"}),
    ]


@pytest.mark.parametrize(
    ("modes", "message"),
    [
        ((), "at least one mode"),
        (("nope",), "unknown stream mode"),
        (("values", "values"), "twice"),
    ],
)
def test_bad_modes_are_value_errors(modes: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rxo.stream_mode(*modes)


def test_errors_and_completion_pass_through() -> None:
    seen: list[Any] = []
    reactivex.throw(KeyError("x")).pipe(stream_mode("values")).subscribe(
        on_error=seen.append, on_completed=lambda: seen.append("done")
    )
    assert isinstance(seen[0], KeyError)
