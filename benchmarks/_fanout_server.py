"""The servers of ``sse_fanout.py``: one SSE fan-out implementation per process, driven over stdin.

``python benchmarks/_fanout_server.py KIND`` starts one server on 127.0.0.1 (a free port), prints
``{"port": ...}`` and then answers one JSON command per stdin line with one JSON line on stdout:

* ``{"cmd": "connected"}``: how many streams are subscribed;
* ``{"cmd": "publish", "count": M, "burst": B}``: publish M events as fast as possible, yielding
  to the event loop after every B; answers the start and end times (``time.monotonic()``);
* ``{"cmd": "pace", "count": M, "rate": R}``: publish M events at R events/s;
* ``{"cmd": "stats"}``: implementation-specific figures (the broker's ``stats()``).

Every event's data is ``{"pad": ..., "seq": n, "t": <time.monotonic() at publish>}`` (``t`` last,
so a client finds it with one regular expression), sent with ``id:`` and a ``\\n\\n`` separator.

KIND is one of:

``broker``        rxchronos: ``Broker.publish`` + ``broker.sse_handler()`` (each event encoded once,
                  one shared frame, every connection's pending frames sent in one write);
``aiohttp-sse``   the usual hand-written pattern: a per-client ``asyncio.Queue`` fed by the
                  publisher, one ``EventSourceResponse.send`` per event per client;
``sse-starlette`` the same pattern with sse-starlette's ``EventSourceResponse`` under uvicorn;
``raw``           the limit: one pre-encoded frame written to every ``StreamResponse`` in a loop;
``redis-broker``  rxchronos ``RedisBroker`` (``distributed_fanout.py``): topic ``bench`` on the
                  Redis at ``$RXCHRONOS_BENCH_REDIS``, namespace ``$RXCHRONOS_BENCH_NAMESPACE``;
                  a worker serves it, a publisher process publishes and flushes;
``broadcaster``   encode/broadcaster over that Redis (pub/sub) feeding a per-client queue in an
                  aiohttp-sse handler, the usual Python pattern; one ``PUBLISH`` per event.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from aiohttp import web

PAD = "x" * 64
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


class Server:
    """One implementation: how to serve ``/events``, publish one event, count its streams."""

    port: int = 0

    async def start(self) -> None:
        raise NotImplementedError

    def publish(self, seq: int) -> Awaitable[None] | None:
        raise NotImplementedError

    def connected(self) -> int:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        return {}

    async def drain(self) -> None:
        """Return when everything published has left this process (a distributed broker)."""


async def start_aiohttp(server: Server, app: web.Application) -> None:
    runner = web.AppRunner(app, handler_cancellation=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    server.port = runner.addresses[0][1]


def event_data(seq: int) -> dict[str, Any]:
    return {"pad": PAD, "seq": seq, "t": time.monotonic()}


def event_json(seq: int) -> str:
    """What the hand-written patterns send: the same JSON the broker sends, encoded once."""
    return json.dumps({"type": "tick", "data": event_data(seq)}, separators=(",", ":"))


class BrokerServer(Server):
    def __init__(self, buffer_size: int) -> None:
        from rxchronos.stream import Broker
        from rxchronos.stream import Event

        self.broker = Broker(buffer_size=buffer_size)
        self.event = Event

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/events", self.broker.sse_handler())
        await start_aiohttp(self, app)

    def publish(self, seq: int) -> None:
        self.broker.publish(self.event(type="tick", data=event_data(seq)))

    def connected(self) -> int:
        return self.broker.stats().subscribers

    def stats(self) -> dict[str, Any]:
        stats = self.broker.stats()
        return {"disconnects": stats.disconnects, "dropped": stats.dropped}


class QueuePerClient(Server):
    """The hand-written pattern: the publisher encodes once and feeds every client's queue."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[tuple[str, str]]] = set()

    def publish(self, seq: int) -> None:
        item = (str(seq), event_json(seq))
        for queue in self.queues:
            queue.put_nowait(item)

    def connected(self) -> int:
        return len(self.queues)

    def stats(self) -> dict[str, Any]:
        return {"max_queued": max((q.qsize() for q in self.queues), default=0)}


class AiohttpSSEServer(QueuePerClient):
    async def start(self) -> None:
        from aiohttp_sse import sse_response

        async def handler(request: web.Request) -> web.StreamResponse:
            queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
            self.queues.add(queue)
            try:
                async with sse_response(request, sep="\n") as response:
                    while True:
                        event_id, data = await queue.get()
                        await response.send(data, id=event_id)
            finally:
                self.queues.discard(queue)

        app = web.Application()
        app.router.add_get("/events", handler)
        await start_aiohttp(self, app)


class StarletteServer(QueuePerClient):
    async def start(self) -> None:
        import uvicorn
        from sse_starlette.sse import EventSourceResponse
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.routing import Route

        async def endpoint(request: Request) -> EventSourceResponse:
            queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
            self.queues.add(queue)

            async def events() -> AsyncIterator[dict[str, str]]:
                try:
                    while True:
                        event_id, data = await queue.get()
                        yield {"id": event_id, "data": data}
                finally:
                    self.queues.discard(queue)

            return EventSourceResponse(events(), sep="\n")

        app = Starlette(routes=[Route("/events", endpoint)])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, loop="asyncio", log_level="error", backlog=4096
        )
        self.uvicorn = uvicorn.Server(config)
        self.task = asyncio.create_task(self.uvicorn.serve())
        while not self.uvicorn.started:
            await asyncio.sleep(0.01)
        self.port = self.uvicorn.servers[0].sockets[0].getsockname()[1]


class RedisBrokerServer(Server):
    def __init__(self, buffer_size: int) -> None:
        from rxchronos.stream import Event
        from rxchronos.stream import RedisBroker

        self.broker = RedisBroker(
            os.environ["RXCHRONOS_BENCH_REDIS"],
            namespace=os.environ["RXCHRONOS_BENCH_NAMESPACE"],
            buffer_size=buffer_size,
            outbox_size=1_000_000,
        )
        self.event = Event

    async def start(self) -> None:
        await self.broker.__aenter__()
        app = web.Application()
        app.router.add_get("/events", self.broker.sse_handler(topics="bench"))
        await start_aiohttp(self, app)

    def publish(self, seq: int) -> None:
        self.broker.publish(self.event(type="tick", data=event_data(seq)), topic="bench")

    async def drain(self) -> None:
        await self.broker.flush()

    def connected(self) -> int:
        return self.broker.stats().subscribers

    def stats(self) -> dict[str, Any]:
        stats = self.broker.stats()
        return {"disconnects": stats.disconnects, "dropped": stats.dropped}


class BroadcasterServer(Server):
    """broadcaster's Redis backend feeding one queue per client (its ``subscribe``)."""

    def __init__(self) -> None:
        from broadcaster import Broadcast

        self.broadcast = Broadcast(os.environ["RXCHRONOS_BENCH_REDIS"])
        self.channel = os.environ["RXCHRONOS_BENCH_NAMESPACE"] + ":bench"
        self.streams = 0

    async def start(self) -> None:
        from aiohttp_sse import sse_response

        await self.broadcast.connect()
        # one subscription for the process's life: the channel's SUBSCRIBE is sent and confirmed
        # before clients come (redis-py does not wait for it), so no client misses the first events
        self.keep = self.broadcast.subscribe(self.channel)
        await self.keep.__aenter__()
        await asyncio.sleep(0.2)
        # broadcaster 0.3.1's listener can start before the SUBSCRIBE took effect, find no
        # channel and wait for the next first subscription: wake it now that there is one
        self.broadcast._backend._ready.set()  # type: ignore[attr-defined]

        async def handler(request: web.Request) -> web.StreamResponse:
            async with self.broadcast.subscribe(self.channel) as subscriber:
                self.streams += 1
                try:
                    async with sse_response(request, sep="\n") as response:
                        await response.write(b": connected\n\n")
                        async for message in subscriber:
                            assert message is not None
                            event_id, _, data = message.message.partition("\n")
                            await response.send(data, id=event_id)
                finally:
                    self.streams -= 1
            return response

        app = web.Application()
        app.router.add_get("/events", handler)
        await start_aiohttp(self, app)

    async def publish(self, seq: int) -> None:
        await self.broadcast.publish(self.channel, f"{seq}\n{event_json(seq)}")

    def connected(self) -> int:
        return self.streams


class RawServer(Server):
    def __init__(self) -> None:
        self.responses: set[web.StreamResponse] = set()

    async def start(self) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers=SSE_HEADERS)
            await response.prepare(request)
            await response.write(b": connected\n\n")
            self.responses.add(response)
            try:
                await asyncio.Event().wait()  # until the process ends
            finally:
                self.responses.discard(response)
            return response

        app = web.Application()
        app.router.add_get("/events", handler)
        await start_aiohttp(self, app)

    async def publish(self, seq: int) -> None:
        frame = f"id: {seq}\ndata: {event_json(seq)}\n\n".encode()
        for response in list(self.responses):
            await response.write(frame)

    def connected(self) -> int:
        return len(self.responses)


def make(kind: str, buffer_size: int) -> Server:
    factories: dict[str, Callable[[], Server]] = {
        "broker": lambda: BrokerServer(buffer_size),
        "aiohttp-sse": AiohttpSSEServer,
        "sse-starlette": StarletteServer,
        "raw": RawServer,
        "redis-broker": lambda: RedisBrokerServer(buffer_size),
        "broadcaster": BroadcasterServer,
    }
    return factories[kind]()


async def publish_flat(server: Server, first: int, count: int, burst: int) -> None:
    for seq in range(first, first + count):
        pending = server.publish(seq)
        if pending is not None:
            await pending
        if seq % burst == 0:
            await asyncio.sleep(0)


async def publish_paced(server: Server, first: int, count: int, rate: float) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n, seq in enumerate(range(first, first + count)):
        delay = start + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pending = server.publish(seq)
        if pending is not None:
            await pending


async def main(kind: str, buffer_size: int) -> None:
    server = make(kind, buffer_size)
    await server.start()
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    def answer(payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    answer({"port": server.port})
    seq = 1
    while line := await stdin.readline():
        command = json.loads(line)
        name = command["cmd"]
        if name == "connected":
            answer({"connected": server.connected()})
        elif name == "stats":
            answer(server.stats())
        elif name in ("publish", "pace"):
            count = command["count"]
            started = time.monotonic()
            if name == "publish":
                await publish_flat(server, seq, count, command["burst"])
            else:
                await publish_paced(server, seq, count, command["rate"])
            await server.drain()
            seq += count
            answer({"started": started, "ended": time.monotonic()})
        else:
            answer({"error": f"unknown command {name!r}"})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1024))
