"""Inline writes and their fallback: a write that must wait is finished by the connection's task."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import aiohttp
from aiohttp import web

from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream._serve import PendingWrite
from rxchronos.stream._serve import open_connections
from rxchronos.stream._serve import start_write

from .conftest import Serve
from .conftest import eventually
from .conftest import route_app


class FakeResponse:
    """A response whose ``write`` either completes at once or waits for ``gate``."""

    def __init__(self, gate: asyncio.Future[None] | None) -> None:
        self.gate = gate
        self.written: list[bytes] = []
        self.finally_ran = False

    async def write(self, data: bytes) -> None:
        try:
            if self.gate is not None:
                await self.gate
            self.written.append(data)
        finally:
            self.finally_ran = True


async def test_a_write_that_does_not_wait_completes_inline() -> None:
    response = FakeResponse(None)
    assert start_write(response, b"frame") is None  # type: ignore[arg-type]
    assert response.written == [b"frame"]


async def test_a_write_that_must_wait_is_finished_by_awaiting_it() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    response = FakeResponse(gate)
    pending = start_write(response, b"frame")  # type: ignore[arg-type]
    assert isinstance(pending, PendingWrite) and response.written == []

    async def finish(write: Any) -> None:
        await write

    task = asyncio.ensure_future(finish(pending))
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result(None)
    await task
    assert response.written == [b"frame"]


async def test_cancelling_a_waiting_write_reaches_the_write() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    response = FakeResponse(gate)
    pending = start_write(response, b"frame")  # type: ignore[arg-type]
    assert pending is not None

    async def finish() -> None:
        await pending

    task = asyncio.ensure_future(finish())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and response.finally_ran and response.written == []


async def test_a_client_under_backpressure_gets_everything_in_order_once_it_reads(
    serve: Serve,
) -> None:
    broker = Broker(buffer_size=100_000)
    app = route_app("/events", broker.sse_handler(write_timeout=60.0))
    port = int((await serve(app)).rsplit(":", 1)[1])

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 24)
    writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    await eventually(lambda: broker.stats().subscribers == 1)

    count = 0
    while not any(c.writing_since is not None for c in open_connections(app)):
        count += 1
        broker.publish(Event(type="n", data={"n": count, "pad": "x" * 4000}))
        if count % 10 == 0:
            await asyncio.sleep(0)  # let the flusher write: the transport fills up
    connection = next(iter(open_connections(app)))
    assert connection.writing_since is not None  # the blocked write went to the task
    for _ in range(100):  # more while it waits: they queue behind the blocked write
        count += 1
        broker.publish(Event(type="n", data={"n": count, "pad": "x"}))

    received: list[int] = []
    data = b""
    while len(received) < count:
        data += await reader.read(1 << 16)
        complete, _, data = data.rpartition(b"\n\n")
        received.extend(int(n) for n in re.findall(rb'"n":(\d+)', complete))
    assert received == list(range(1, count + 1))
    assert broker.stats().disconnects == 0
    writer.close()


# Inline writes step aiohttp's StreamResponse.write by hand (see rxchronos/stream/_serve.py): the
# next test fails on an aiohttp whose write no longer finishes in one step.
async def test_a_real_response_write_completes_in_one_step(serve: Serve) -> None:
    outcomes: list[PendingWrite | None] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        outcomes.append(start_write(response, b"hello"))
        return response

    base = await serve(route_app("/", handler))
    async with aiohttp.ClientSession() as http, http.get(base + "/") as response:
        assert await response.read() == b"hello"
    assert outcomes == [None]
