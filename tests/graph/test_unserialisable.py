"""State that cannot be sent or stored: every such run ends with an ``error`` event, a finished
topic and a typed error; damaged SQLite rows are a ``CheckpointStoreError``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from reactivex import operators as ops

from rxchronos.graph import Checkpoint
from rxchronos.graph import CheckpointStoreError
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateSerializationError
from rxchronos.graph import StreamEvent
from rxchronos.sse import SSEDecoder
from rxchronos.stream import Broker
from rxchronos.stream.web import add_sse_route

from .helpers import chain
from .helpers import one_node

BAD_VALUES = [
    pytest.param(b"\xff", "bytes is not JSON-serialisable", id="bytes"),
    pytest.param(object(), "object is not JSON-serialisable", id="object"),
    pytest.param("\ud800", "lone surrogate", id="lone-surrogate"),
]


@pytest.fixture
async def base_url() -> AsyncIterator[tuple[str, Broker]]:
    """A broker streaming ``/runs/{topic}`` from a real aiohttp server on 127.0.0.1."""
    broker = Broker()
    app = web.Application()
    add_sse_route(app, "/runs/{topic}", broker, heartbeat=None)
    runner = web.AppRunner(app, shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", broker
    finally:
        await runner.cleanup()
        broker.close()


async def read_until_end(response: aiohttp.ClientResponse) -> list[str]:
    """Every event type the stream carries until the server ends it."""
    decoder = SSEDecoder()
    types: list[str] = []
    while chunk := await response.content.readany():
        types.extend(json.loads(event.data)["type"] for event in decoder.feed(chunk))
    return types


@pytest.mark.parametrize(("bad", "reason"), BAD_VALUES)
async def test_a_run_with_unsendable_state_ends_its_sse_clients(
    base_url: tuple[str, Broker], bad: object, reason: str
) -> None:
    url, broker = base_url
    graph = chain(("ok", lambda s: {"fine": 1}), ("bad", lambda s: {"v": bad}))
    store = MemoryStore()
    runner = Runner(graph, store, broker=broker)
    hot: list[StreamEvent] = []
    runner.events.subscribe(hot.append)
    async with aiohttp.ClientSession() as http, http.get(url + "/runs/s1") as response:
        assert response.status == 200
        reading = asyncio.ensure_future(read_until_end(response))
        while broker.stats().subscribers == 0:
            await asyncio.sleep(0.01)
        with pytest.raises(StateSerializationError, match=reason) as caught:
            await runner.run("s1", {})
        types = await asyncio.wait_for(reading, timeout=30)  # never waits forever
    assert types[-2:] == ["error", "done"]
    assert "node_end" in types  # the good node's events went out as usual
    assert caught.value.key == "v" and caught.value.path == ("v",)
    assert caught.value.run_state is not None
    assert caught.value.run_state.status == "failed" and caught.value.run_state.node_id == "bad"
    assert "v" not in caught.value.run_state.state  # the update was not merged
    assert hot[-1].type == "error" and "StateSerializationError" in (hot[-1].error or "")
    assert broker.is_finished("s1")
    resumed = await store.latest("s1")
    assert resumed is not None and resumed.next_node == "bad"  # resumable from before the node


@pytest.mark.parametrize(("bad", "reason"), BAD_VALUES)
async def test_the_stream_of_such_a_run_errors_with_the_typed_error(
    bad: object, reason: str
) -> None:
    broker = Broker()
    runner = Runner(one_node(lambda s: {"v": {"deep": [bad]}}), broker=broker)
    with pytest.raises(StateSerializationError, match=reason) as caught:
        await runner.stream("s1", {}).pipe(ops.to_list())
    assert caught.value.path == ("v", "deep", 0)
    assert broker.is_finished("s1")
    broker.close()


async def test_an_unsendable_initial_state_fails_the_run_before_any_node() -> None:
    broker = Broker()
    ran: list[bool] = []
    runner = Runner(one_node(lambda s: ran.append(True)), broker=broker)
    with pytest.raises(StateSerializationError, match="state\\['blob'\\]"):
        await runner.run("s1", {"blob": b"\x00"})
    assert ran == [] and broker.is_finished("s1")
    broker.close()


async def test_without_a_broker_memory_state_may_hold_any_value() -> None:
    marker = object()
    result = await Runner(one_node(lambda s: {"v": marker}), MemoryStore()).run("s1", {})
    assert result.state["v"] is marker


def checkpoint(state: Mapping[str, Any]) -> Checkpoint:
    return Checkpoint("c1", "s1", "r1", 1, state, "a", False, None, 0.0)


async def test_sqlite_refuses_a_lone_surrogate_with_the_typed_error(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        with pytest.raises(StateSerializationError, match="lone surrogate") as caught:
            await store.put(checkpoint({"name": {"first": "\ud800"}}))
        assert caught.value.path == ("name", "first")
        with pytest.raises(StateSerializationError, match="its key"):
            await store.put(checkpoint({"name": {"\udcff": 1}}))
        assert await store.list_checkpoints("s1") == []
        runner = Runner(one_node(lambda s: {"v": "\ud800"}), store)
        with pytest.raises(StateSerializationError) as in_run:
            await runner.run("s2", {})
        assert in_run.value.run_state is not None and in_run.value.run_state.status == "failed"


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("state", "{not json", "its state is not valid JSON"),
        ("state", "[1, 2]", "its state is list, not a JSON object"),
        ("state", "null", "its state is NoneType"),
        ("step", "three", "its step is 'three'"),
        ("next_node", b"\x00", "its next_node is b"),
    ],
)
async def test_damaged_sqlite_rows_are_a_checkpoint_store_error(
    tmp_path: Path, column: str, value: object, problem: str
) -> None:
    path = tmp_path / "runs.db"
    async with SQLiteStore(path) as store:
        await store.put(checkpoint({"x": 1}))
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE checkpoints SET {column} = ?", (value,))
    async with SQLiteStore(path) as store:
        for read in (store.latest("s1"), store.get("c1"), store.list_checkpoints("s1")):
            with pytest.raises(CheckpointStoreError, match=f"'c1'.*damaged: {problem}"):
                await read
        with pytest.raises(CheckpointStoreError, match="damaged"):
            await Runner(one_node(lambda s: {}), store).resume("s1")
