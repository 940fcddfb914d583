"""Fixtures for the demo tests: the demo app on a real port, a reader for its event stream, and
``rxchronos demo --workers N`` as a subprocess (on Redis and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import AsyncExitStack
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from reactivex import operators as ops

from rxchronos.aio import ObservableIterator
from rxchronos.aio import to_async_iterator
from rxchronos.demo import create_app
from rxchronos.demo import demo_provider
from rxchronos.stream import sse_client
from tests.demo.workers_cli import DemoWorkers
from tests.demo.workers_cli import StartWorkers
from tests.graph.conftest import pg_schema  # noqa: F401
from tests.graph.conftest import postgres_dsn  # noqa: F401

StartDemo = Callable[..., Awaitable[str]]


@asynccontextmanager
async def demo_server(**options: Any) -> AsyncIterator[str]:
    """Serve ``create_app(**options)`` on 127.0.0.1 (a free port) for the block; yields its base
    URL. The app runs on the offline model with no artificial delays unless told otherwise."""
    options.setdefault("provider", demo_provider(delay=0))
    options.setdefault("pace", 0)
    runner = web.AppRunner(create_app(**options), shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def start_demo() -> AsyncIterator[StartDemo]:
    """``await start_demo(**options)``: a ``demo_server`` for the rest of the test; its base URL."""
    async with AsyncExitStack() as servers:

        async def start(**options: Any) -> str:
            return await servers.enter_async_context(demo_server(**options))

        yield start


def watch(url: str, *, reconnect: bool = True) -> ObservableIterator[dict[str, Any]]:
    """The JSON messages of an events URL, read with the library's own SSE client."""
    events = sse_client(url, retry=0.01, reconnect=reconnect)
    return to_async_iterator(events.pipe(ops.map(lambda event: json.loads(event.data))))


async def read_until(stream: ObservableIterator[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Messages from ``stream`` up to and including the first of type ``kind``."""
    seen: list[dict[str, Any]] = []
    async for message in stream:
        seen.append(message)
        if message["type"] == kind:
            return seen
    raise AssertionError(f"the stream ended before a {kind!r} event: {[m['type'] for m in seen]}")


@pytest.fixture
def start_workers(
    redis_namespace: tuple[str, str],
    postgres_dsn: str,  # noqa: F811
    pg_schema: str,  # noqa: F811
) -> Iterator[StartWorkers]:
    """``start_workers(n, redis_url=None)``: ``rxchronos demo --workers n`` on this test's
    namespace and schema (on the shared Redis unless told); stopped after the test."""
    started: list[DemoWorkers] = []

    def start(workers: int, redis_url: str | None = None) -> DemoWorkers:
        url, namespace = redis_namespace
        demo = DemoWorkers(redis_url or url, namespace, postgres_dsn, pg_schema, workers)
        started.append(demo)
        return demo

    yield start
    for demo in started:
        demo.stop()
