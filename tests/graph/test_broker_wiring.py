"""A Runner publishing to the real rxchronos.stream.Broker (the protocol's intended implementer)."""

from __future__ import annotations

import json
from typing import Any

from rxchronos.graph import EventPublisher, MemoryStore, Runner
from rxchronos.stream import Broker

from .helpers import approval_graph


async def test_runner_events_reach_broker_subscribers_of_the_session() -> None:
    broker = Broker()
    assert isinstance(broker, EventPublisher)
    runner = Runner(approval_graph().compile(), MemoryStore(), broker=broker)
    seen: list[Any] = []
    completed: list[bool] = []
    broker.subscribe(topics=["s1"]).subscribe(
        seen.append, on_completed=lambda: completed.append(True)
    )

    await runner.run("s1", {})
    assert [e.type for e in seen][-1] == "interrupt"
    assert not broker.is_finished("s1") and completed == []  # a pause is not the end

    await runner.resume("s1", update={"answer": "yes"})
    types = [e.type for e in seen]
    assert types[-2:] == ["completed", "done"]
    assert broker.is_finished("s1") and completed == [True]
    node_end = next(e for e in seen if e.type == "node_end")
    assert {e.topic for e in seen} == {"s1"}
    assert json.loads(json.dumps(node_end.data))["node_id"] == "draft"
    broker.close()
