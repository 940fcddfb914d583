"""A Runner publishing to the real rxchronos.stream.Broker (the protocol's intended implementer)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rxchronos.graph import EventPublisher
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import SQLiteStore
from rxchronos.stream import Broker
from rxchronos.stream import Control

from .helpers import Hang
from .helpers import approval_graph
from .helpers import chain


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


def observers(broker: Broker) -> int:
    """How many observers the broker's control channel has (a ``Subject``'s ``observers``)."""
    return len(broker.controls.observers)  # type: ignore[attr-defined]


async def test_a_cancel_from_another_runner_arrives_through_the_broker_s_control_channel(
    tmp_path: Path,
) -> None:
    broker = Broker()
    hang = Hang()
    graph = chain(("hang", hang), ("last", lambda s: {"m": 2}))
    controls: list[Control] = []
    broker.controls.subscribe(controls.append)
    async with SQLiteStore(tmp_path / "runs.db") as one, SQLiteStore(tmp_path / "runs.db") as two:
        running = Runner(graph, one, broker=broker, lease_ttl=30)
        other = Runner(graph, two, broker=broker)
        task = asyncio.create_task(running.run("s", {}))
        await asyncio.wait_for(hang.started.wait(), 30)
        listening = observers(broker)
        assert await other.cancel("s") is True
        result = await asyncio.wait_for(task, 30)
    assert result.status is RunStatus.CANCELLED and not hang.finished
    assert controls == [Control("s", "cancel")]
    assert await broker.take_control("s") is None  # the run's runner cleared the broker's flag
    # the runner listens to the control channel only while it has a run
    assert listening == 2 and observers(broker) == 1
    broker.close()
