"""Model events through the context-variable tap, and publishing runs to a broker."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
import reactivex
from reactivex import abc
from reactivex import operators as ops
from reactivex.disposable import Disposable

import rxchronos.model
from rxchronos import operators as rxo
from rxchronos._tap import current_tap
from rxchronos.graph import EventPublisher
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import Runner
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent

from .helpers import Hang
from .helpers import approval_graph
from .helpers import fail_on
from .helpers import kinds
from .helpers import linear_graph
from .helpers import one_node
from .helpers import record


def fake_model_stream(tokens: list[str]) -> reactivex.Observable[str]:
    """A model stream that reports to the tap exactly as a provider does, one token per tick."""

    def subscribe(
        observer: abc.ObserverBase[str], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        tap = current_tap()  # looked up at subscribe time, inside the node

        async def produce() -> None:
            if tap:
                tap("model_call", {"provider": "fake", "model": "m"})
            for token in tokens:
                await asyncio.sleep(0)
                if tap:
                    tap("model_chunk", {"content": token})
                observer.on_next(token)
            if tap:
                tap("model_response", {"content": "".join(tokens)})
            observer.on_completed()

        task = asyncio.get_running_loop().create_task(produce())
        return Disposable(task.cancel)

    return reactivex.create(subscribe)


def model_graph(stream: Any) -> StateGraph:
    async def think(state: Mapping[str, Any]) -> dict[str, Any]:
        text = await stream.pipe(ops.to_list())
        return {"answer": "".join(text)}

    return StateGraph("m").add_node("think", think).set_entry_point("think")


async def test_model_stream_inside_a_node_reports_model_events() -> None:
    runner = Runner(model_graph(fake_model_stream(["Hel", "lo"])).compile())
    events = await runner.stream("s", {}).pipe(ops.to_list())
    assert kinds(events) == [
        "node_start:think",
        "model_call:think",
        "model_chunk:think",
        "model_chunk:think",
        "model_response:think",
        "node_end:think",
        "completed:think",
    ]
    assert [e.data for e in events if e.type == "model_chunk"] == [
        {"content": "Hel"},
        {"content": "lo"},
    ]
    assert events[-1].state == {"answer": "Hello"}
    messages = await runner.stream("s2", {}).pipe(rxo.stream_mode("messages"), ops.to_list())
    assert [m.type for m in messages] == [
        "model_call",
        "model_chunk",
        "model_chunk",
        "model_response",
    ]


async def test_model_stream_outside_a_run_has_no_tap() -> None:
    assert current_tap() is None
    assert await fake_model_stream(["a"]).pipe(ops.to_list()) == ["a"]


async def test_a_listener_failing_on_a_model_event_fails_the_run_not_the_model() -> None:
    runner = Runner(model_graph(fake_model_stream(["x"])).compile())
    fail_on(runner, "model_chunk", KeyError("listener bug"))
    with pytest.raises(KeyError, match="listener bug"):
        await runner.run("s", {})


async def test_unknown_tap_types_become_custom_events() -> None:
    async def node(state: Mapping[str, Any]) -> None:
        tap = current_tap()
        assert tap is not None
        tap("model_thinking", {"x": 1})

    runner = Runner(StateGraph("g").add_node("n", node).set_entry_point("n").compile())
    seen = record(runner)
    await runner.run("s", {})
    custom = [e.data for e in seen if e.type == "custom"]
    assert custom == [{"type": "model_thinking", "data": {"x": 1}}]


ScriptedProvider = getattr(rxchronos.model, "ScriptedProvider", None)


@pytest.mark.skipif(ScriptedProvider is None, reason="rxchronos.model.ScriptedProvider not built")
async def test_scripted_provider_inside_a_node_yields_model_events() -> None:
    from rxchronos.model import ChatRequest
    from rxchronos.model import Message

    assert ScriptedProvider is not None
    provider = ScriptedProvider(["Hello there, graph."])

    async def ask(state: Mapping[str, Any]) -> dict[str, Any]:
        request = ChatRequest(messages=[Message(role="user", content=state["question"])])
        reply = await provider.stream_chat(request).pipe(rxo.collect_response())
        return {"reply": reply.content}

    runner = Runner(StateGraph("chat").add_node("ask", ask).set_entry_point("ask").compile())
    events = await runner.stream("s", {"question": "hi"}).pipe(ops.to_list())
    types = [e.type for e in events]
    assert types[0] == "node_start" and types[-2:] == ["node_end", "completed"]
    model = [e for e in events if e.type.startswith("model_")]
    assert model[0].type == "model_call" and model[-1].type == "model_response"
    assert {e.type for e in model[1:-1]} == {"model_chunk"}
    assert all(e.node_id == "ask" for e in model)
    assert events[-1].state is not None and events[-1].state["reply"] == "Hello there, graph."


class RecordingBroker:
    """Stands in for rxchronos.stream.Broker: records what a runner publishes."""

    def __init__(self) -> None:
        self.published: list[tuple[str | None, StreamEvent]] = []
        self.finished: list[str] = []

    def publish(self, event: Any, *, topic: str | None = None) -> None:
        self.published.append((topic, event))

    def finish_topic(self, topic: str) -> None:
        self.finished.append(topic)


async def test_runner_publishes_every_event_to_the_broker_by_session() -> None:
    broker = RecordingBroker()
    assert isinstance(broker, EventPublisher)
    runner = Runner(linear_graph().compile(), broker=broker)
    seen = record(runner)
    await runner.run("s1", {})
    assert [event for _, event in broker.published] == seen
    assert {topic for topic, _ in broker.published} == {"s1"}
    assert broker.finished == ["s1"]


async def test_broker_topic_finishes_on_failure_but_not_on_interrupt_or_cancel() -> None:
    broker = RecordingBroker()
    runner = Runner(approval_graph().compile(), MemoryStore(), broker=broker)
    await runner.run("paused", {})
    assert broker.finished == []
    assert broker.published[-1][1].type == "interrupt"

    hang = Hang()
    hanging = Runner(one_node(hang, node_id="h"), broker=broker)
    task = asyncio.create_task(hanging.run("cancelled", {}))
    await hang.started.wait()
    await hanging.cancel("cancelled")
    await task
    assert broker.published[-1][1].type == "cancelled"
    assert broker.finished == []

    def boom(state: Mapping[str, Any]) -> None:
        raise RuntimeError("x")

    failing = Runner(one_node(boom, node_id="f"), broker=broker)
    with pytest.raises(NodeError):
        await failing.run("failed", {})
    assert broker.finished == ["failed"]
    await runner.resume("paused", update={"answer": "yes"})
    assert broker.finished == ["failed", "paused"]
