"""A graph Runner publishing to the broker, watched over HTTP like a browser would."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import Runner
from rxchronos.graph import StateGraph
from rxchronos.graph import emit
from rxchronos.stream import Broker
from rxchronos.stream import BrokerProtocol
from rxchronos.stream import RedisBroker

from .conftest import Serve
from .conftest import eventually
from .conftest import open_stream
from .conftest import topic_app
from .redis_servers import drop_namespace
from .redis_servers import new_namespace
from .redis_servers import shared_url


def extract(state: Mapping[str, Any]) -> dict[str, Any]:
    emit("progress", {"done": 0.5})
    return {"rows": 3}


async def load(state: Mapping[str, Any]) -> dict[str, Any]:
    if state.get("fail"):
        raise RuntimeError("disk full")
    return {"loaded": state["rows"]}


def etl(broker: BrokerProtocol) -> Runner:
    graph = (
        StateGraph("etl")
        .add_node("extract", extract)
        .add_node("load", load)
        .set_entry_point("extract")
        .add_edge("extract", "load")
        .set_finish_point("load")
    )
    return Runner(graph.compile(), MemoryStore(), broker=broker)


async def test_a_run_streams_to_its_session_topic_and_its_end_closes_the_stream(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(topic_app(broker))
    mine = await open_stream(http, base + "/runs/session-1")
    other = await open_stream(http, base + "/runs/session-2")
    await eventually(lambda: broker.stats().subscribers == 2)

    result = await etl(broker).run("session-1", {"source": "csv"})
    assert result.state["loaded"] == 3

    messages = [json.loads(e.data) for e in await mine.rest()]  # the stream ends by itself
    types = [m["type"] for m in messages]
    assert types[0] == "node_start" and types[-2:] == ["completed", "done"]
    custom = next(m for m in messages if m["type"] == "custom")
    assert custom["data"]["data"] == {"type": "progress", "data": {"done": 0.5}}
    assert {m["data"]["session_id"] for m in messages[:-1]} == {"session-1"}
    async with http.get(base + "/runs/session-1") as again:
        assert again.status == 204  # the browser stops here

    with pytest.raises(NodeError, match="disk full"):
        await etl(broker).run("session-2", {"fail": True})
    other_types = [json.loads(e.data)["type"] for e in await other.rest()]
    assert other_types[-2:] == ["error", "done"]
    assert "custom" in other_types


async def test_a_run_on_one_worker_streams_through_redis_to_a_browser_on_another(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    url = shared_url()
    namespace = new_namespace()
    try:
        async with (
            RedisBroker(url, namespace=namespace) as running,
            RedisBroker(url, namespace=namespace) as serving,
        ):
            base = await serve(topic_app(serving))
            mine = await open_stream(http, base + "/runs/session-1")
            result = await etl(running).run("session-1", {"source": "csv"})
            assert result.state["loaded"] == 3
            await running.flush()
            messages = [json.loads(e.data) for e in await mine.rest()]  # ends by itself
            types = [m["type"] for m in messages]
            assert types[0] == "node_start" and types[-2:] == ["completed", "done"]
            async with http.get(base + "/runs/session-1") as again:
                assert again.status == 204
    finally:
        drop_namespace(url, namespace)
