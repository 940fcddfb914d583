"""Ids across a broker restart: a client coming back with an id of the old life gets a reset."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from rxchronos.sse import ServerSentEvent
from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream import sse_client

from .conftest import eventually
from .conftest import topic_app


async def start_server(broker: Broker, port: int) -> web.AppRunner:
    runner = web.AppRunner(topic_app(broker, retry=0.02))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_a_client_of_the_old_life_gets_a_reset_then_the_new_events() -> None:
    old = Broker()
    runner = await start_server(old, 0)
    port = runner.addresses[0][1]
    received: list[ServerSentEvent] = []
    finished = asyncio.Event()
    errors: list[Exception] = []
    sse_client(f"http://127.0.0.1:{port}/runs/s1", max_retries=None).subscribe(
        received.append, errors.append, finished.set
    )
    await eventually(lambda: old.stats().subscribers == 1)
    for n in (1, 2):
        old.publish(Event(type="n", data=n), topic="s1")
    await eventually(lambda: len(received) == 2)
    await runner.cleanup()  # the process "restarts": a new broker, a new epoch

    new = Broker()
    assert new.epoch != old.epoch
    runner = await start_server(new, port)
    try:
        await eventually(lambda: new.stats().subscribers == 1)
        new.publish(Event(type="n", data=3), topic="s1")
        new.finish_topic("s1")
        await finished.wait()
    finally:
        await runner.cleanup()
    assert errors == []
    messages = [json.loads(e.data) for e in received]
    assert [m["type"] for m in messages] == ["n", "n", "reset", "n", "done"]
    assert messages[2]["data"] == {"reason": "unknown_epoch", "last_event_id": received[1].id}
    assert received[1].id.startswith(old.epoch) and received[3].id.startswith(new.epoch)
