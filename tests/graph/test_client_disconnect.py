"""A browser that disconnects from a run's SSE stream never cancels the run: the run goes on,
checkpoints, and completes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.stream import Broker
from rxchronos.stream.web import close_streams

from .helpers import chain


async def test_a_client_that_disconnects_does_not_cancel_the_run() -> None:
    gate, reached = asyncio.Event(), asyncio.Event()

    async def slow(state: Mapping[str, Any]) -> dict[str, Any]:
        reached.set()
        await gate.wait()
        return {"slow": True}

    graph = chain(("first", lambda s: {"first": 1}), ("slow", slow), ("last", lambda s: {}))
    broker = Broker()
    store = MemoryStore()
    runner = Runner(graph, store, broker=broker)
    app = web.Application()
    broker.add_sse_route(app, "/runs/{topic}/events")
    app.on_shutdown.append(close_streams)
    site_runner = web.AppRunner(app)
    await site_runner.setup()
    site = web.TCPSite(site_runner, "127.0.0.1", 0)
    await site.start()
    port = site_runner.addresses[0][1]
    try:
        run = asyncio.create_task(runner.run("s", {}))
        await asyncio.wait_for(reached.wait(), 30)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/runs/s/events") as response,
        ):
            assert response.status == 200
            seen = b""
            while b": connected" not in seen:  # the stream is open
                seen += await asyncio.wait_for(response.content.readany(), 30)
        # the client is gone (the connection closed) while the run waits in "slow"
        await asyncio.sleep(0.1)
        assert not run.done()
        gate.set()
        result = await asyncio.wait_for(run, 30)
        assert result.status is RunStatus.COMPLETED and result.state["slow"] is True
        assert [c.next_node for c in await store.list_checkpoints("s")] == ["slow", "last", None]
    finally:
        broker.close()
        await site_runner.cleanup()
