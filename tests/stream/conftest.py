"""Helpers for the stream tests: real aiohttp servers on 127.0.0.1 and a small SSE reader."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import asynccontextmanager
from contextlib import contextmanager
from typing import Any
from typing import ClassVar

import aiohttp
import pytest
from aiohttp import web

from rxchronos.sse import ServerSentEvent
from rxchronos.sse import SSEDecoder
from rxchronos.stream import BrokerProtocol
from rxchronos.stream import Event
from rxchronos.stream.web import add_sse_route

Serve = Callable[[web.Application], Awaitable[str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving() -> AsyncIterator[Serve]:
    """Start apps on 127.0.0.1 (a free port each), returning their base URL; stopped on exit."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=5.0, handler_cancellation=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """:func:`serving` for one test."""
    async with serving() as start:
        yield start


def route_app(path: str, handler: Handler) -> web.Application:
    """An app answering ``GET path`` with ``handler``."""
    app = web.Application()
    app.router.add_get(path, handler)
    return app


def topic_app(
    broker: BrokerProtocol, path: str = "/runs/{topic}", **options: Any
) -> web.Application:
    """An app streaming ``broker`` on an :func:`add_sse_route` route (``options`` go to it)."""
    app = web.Application()
    add_sse_route(app, path, broker, **options)
    return app


async def open_stream(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> SSEReader:
    """Open ``url`` as an event stream and read up to its ``: connected`` preamble."""
    response = await http.get(url, headers=headers)
    assert response.status == 200, await response.text()
    reader = SSEReader(response)
    await reader.until_raw(b": connected\n")
    return reader


@pytest.fixture
def url() -> str:
    """The shared Redis server's URL (the test is skipped without one)."""
    from .redis_servers import shared_url  # imports redis: only for the tests that ask

    return shared_url()


@pytest.fixture
async def namespace(url: str) -> AsyncIterator[str]:
    """A fresh key namespace on the shared Redis server, deleted after the test."""
    from .redis_servers import drop_namespace
    from .redis_servers import new_namespace

    name = new_namespace()
    yield name
    drop_namespace(url, name)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session; every response an :class:`SSEReader` read is released after the test."""
    async with aiohttp.ClientSession() as session:
        yield session
        for response in SSEReader.opened:
            response.close()
        SSEReader.opened.clear()


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (the test's timeout bounds the wait)."""
    while not condition():
        await asyncio.sleep(0.01)


@contextmanager
def frozen_client(base: str, path: str) -> Iterator[None]:
    """A client of ``base + path`` that sends its request and then never reads."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        yield


async def flood_a_frozen_client(broker: BrokerProtocol, base: str) -> int:
    """Publish 64 KiB events to a frozen client of topic ``r1`` (each stored: ``flush``) until
    it is cut off; returns the peak buffer use."""
    big = "x" * 65536
    peak = 0
    with frozen_client(base, "/runs/r1"):
        await eventually(lambda: broker.stats().subscribers == 1)
        while broker.stats().subscribers:
            broker.publish(Event(type="big", data=big), topic="r1")
            await broker.flush()
            peak = max(peak, *(s.buffered for s in broker.stats().subscriptions), 0)
            await asyncio.sleep(0.005)
    return peak


async def publish_numbers(
    broker: BrokerProtocol, topic: str, numbers: range, *, every: int, pause: float
) -> None:
    """Publish ``Event(type="n", data=n)`` on ``topic`` for each ``n`` of ``numbers``, sleeping
    ``pause`` seconds after each multiple of ``every`` (readers run in between), then flush."""
    for n in numbers:
        broker.publish(Event(type="n", data=n), topic=topic)
        if n % every == 0:
            await asyncio.sleep(pause)
    await broker.flush()


class SSEReader:
    """Reads an aiohttp response as SSE: raw bytes kept, events decoded."""

    opened: ClassVar[list[aiohttp.ClientResponse]] = []

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        SSEReader.opened.append(response)
        self.response = response
        self.decoder = SSEDecoder()
        self.raw = b""
        self._pending: list[ServerSentEvent] = []

    async def _more(self) -> bool:
        chunk = await self.response.content.readany()
        if not chunk:
            return False
        self.raw += chunk
        self._pending.extend(self.decoder.feed(chunk))
        return True

    async def next(self) -> ServerSentEvent:
        while not self._pending:
            if not await self._more():
                raise EOFError("the stream ended")
        return self._pending.pop(0)

    async def take(self, count: int) -> list[ServerSentEvent]:
        return [await self.next() for _ in range(count)]

    async def rest(self) -> list[ServerSentEvent]:
        """Every event until the server ends the stream."""
        while await self._more():
            pass
        events, self._pending = self._pending, []
        return events

    async def until_raw(self, marker: bytes) -> None:
        while marker not in self.raw:
            if not await self._more():
                raise EOFError(f"the stream ended before {marker!r}")
