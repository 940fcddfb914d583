"""A disconnect storm: 1,000 connect/disconnect cycles leave no subscription, task or stream."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream._serve import open_connections

from .conftest import Serve
from .conftest import eventually
from .conftest import topic_app

CYCLES = 1000
AT_ONCE = 50


async def one_cycle(http: aiohttp.ClientSession, url: str, read_events: bool) -> None:
    async with http.get(url) as response:
        assert response.status == 200
        await response.content.readany()  # the preamble
        if read_events:
            await response.content.readany()
        response.close()  # drop the connection (not back to the pool)


async def test_a_thousand_connect_disconnect_cycles_leak_nothing(serve: Serve) -> None:
    broker = Broker()
    app = topic_app(broker)
    base = await serve(app)
    baseline = asyncio.all_tasks()

    async def publish_all_along() -> None:
        while True:
            broker.publish(Event(type="tick"), topic="storm")
            await asyncio.sleep(0.001)

    publisher = asyncio.ensure_future(publish_all_along())
    connector = aiohttp.TCPConnector(limit=AT_ONCE, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        for batch in range(CYCLES // AT_ONCE):
            await asyncio.gather(
                *(
                    one_cycle(http, f"{base}/runs/storm", read_events=(batch + n) % 2 == 0)
                    for n in range(AT_ONCE)
                )
            )
    publisher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await publisher

    await eventually(lambda: broker.stats().subscribers == 0)
    await eventually(lambda: not open_connections(app))
    await eventually(lambda: asyncio.all_tasks() <= baseline | {asyncio.current_task()})
    assert broker._subscriptions.watched_topics == frozenset()
    assert broker.stats().published > 0
