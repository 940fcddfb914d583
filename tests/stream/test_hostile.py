"""Hostile clients and broken subscribers: raising callbacks, re-entrant publishers, odd headers,
clients that leave early, and a loop that is gone. Real sockets where the fault is on the wire."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from rxchronos.stream import Broker
from rxchronos.stream import BrokerClosedError
from rxchronos.stream import Control
from rxchronos.stream import Event
from rxchronos.stream import SubscriberError
from rxchronos.stream._serve import open_connections

from .conftest import Serve
from .conftest import eventually
from .conftest import open_stream
from .conftest import route_app
from .conftest import topic_app


def _boom() -> None:
    raise RuntimeError("a subscriber's bug")


def test_close_completes_every_subscriber_even_when_one_raises_then_reports() -> None:
    broker = Broker()
    ended: list[str] = []
    _ = broker.subscribe().subscribe(on_completed=lambda: ended.append("first"))
    _ = broker.subscribe().subscribe(on_completed=_boom)
    _ = broker.subscribe(topics="t").subscribe(on_completed=lambda: ended.append("third"))
    _ = broker.events.subscribe(on_completed=lambda: ended.append("hot"))
    with pytest.raises(SubscriberError, match="1 subscriber") as caught:
        broker.close()
    assert ended == ["first", "third", "hot"]
    assert [type(e) for e in caught.value.errors] == [RuntimeError]
    assert broker.stats().subscribers == 0
    broker.close()  # a second close is safe and reports nothing again
    with pytest.raises(BrokerClosedError):
        broker.publish(Event(type="late"))


def test_finishing_a_topic_completes_every_subscriber_even_when_one_raises() -> None:
    broker = Broker()
    ended: list[int] = []
    _ = broker.subscribe(topics="run").subscribe(on_completed=_boom)
    _ = broker.subscribe(topics="run").subscribe(on_completed=lambda: ended.append(2))
    with pytest.raises(SubscriberError):
        broker.finish_topic("run")
    assert ended == [2]
    assert broker.stats().subscribers == 0
    assert broker.is_finished("run")


async def test_on_the_loop_close_reports_to_the_exception_handler_and_ends_sse_streams(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context))
    base = await serve(topic_app(broker))
    _ = broker.subscribe(topics="t").subscribe(on_completed=_boom)
    readers = [await open_stream(http, f"{base}/runs/t") for _ in range(3)]
    await eventually(lambda: broker.stats().subscribers == 4)
    broker.close()
    for reader in readers:
        assert await asyncio.wait_for(reader.rest(), 10) == []
    assert [type(c["exception"]) for c in reported] == [SubscriberError]
    broker.close()


async def test_async_with_closes_the_broker() -> None:
    async with Broker() as broker:
        ended: list[bool] = []
        _ = broker.subscribe().subscribe(on_completed=lambda: ended.append(True))
        assert not broker.closed
    assert broker.closed and ended == [True]


async def test_a_subscriber_that_publishes_from_its_callback_never_reorders_ids_on_the_wire(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(topic_app(broker))

    def echo(event: Event) -> None:  # subscribed first: it publishes while others wait
        if event.type == "ask":
            broker.publish(Event(type="answer", data=event.data), topic="t")

    _ = broker.subscribe(topics="t").subscribe(echo)
    reader = await open_stream(http, f"{base}/runs/t")
    seen_rx: list[str] = []
    _ = broker.subscribe(topics="t").subscribe(lambda e: seen_rx.append(e.id or ""))
    for n in range(5):
        broker.publish(Event(type="ask", data=n), topic="t")
    events = await reader.take(10)
    wire = [int(e.id.rsplit("-", 1)[1]) for e in events]
    assert wire == sorted(wire) == list(range(1, 11))
    assert [json.loads(e.data)["type"] for e in events[:2]] == ["ask", "answer"]
    assert [int(i.rsplit("-", 1)[1]) for i in seen_rx] == list(range(1, 11))


def test_a_subscriber_that_publishes_while_being_replayed_misses_nothing() -> None:
    broker = Broker()
    first = broker.publish(Event(type="a"))
    broker.publish(Event(type="b"))
    seen: list[str] = []

    def on_next(event: Event) -> None:
        seen.append(event.type)
        if event.type == "b":
            broker.publish(Event(type="c"))

    _ = broker.subscribe(last_event_id=first.id).subscribe(on_next)
    broker.publish(Event(type="d"))
    assert seen == ["b", "c", "d"]


async def _raw_request(port: int, head: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    data = b""
    try:
        while b"data: " not in data or not data.endswith(b"\n\n\r\n"):  # chunked
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                break
            data += chunk
    finally:
        writer.close()
        await writer.wait_closed()
    return data


async def test_a_last_event_id_that_is_not_utf8_gets_one_reset_event(serve: Serve) -> None:
    broker = Broker()
    base = await serve(route_app("/events", broker.sse_handler()))
    broker.publish(Event(type="before"))
    port = int(base.rsplit(":", 1)[1])
    head = (
        b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        b"Last-Event-ID: \xff\xfe\r\n\r\n"
    )
    data = await _raw_request(port, head)
    assert data.startswith(b"HTTP/1.1 200")
    lines = re.findall(rb"^data: (.*)$", data, flags=re.MULTILINE)
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["type"] == "reset"
    assert payload["data"] == {"reason": "invalid_id", "last_event_id": "\\xff\\xfe"}


async def test_clients_that_leave_before_the_headers_are_written_are_one_debug_line_each(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker()
    gone = asyncio.Event()
    drops = 20

    async def authorize(request: web.Request, topic: str | None) -> bool:
        await gone.wait()
        transport = request.transport
        await eventually(lambda: transport is None or transport.is_closing())
        return True

    app = topic_app(broker, authorize=authorize)
    base = await serve(app)
    port = int(base.rsplit(":", 1)[1])
    caplog.set_level(logging.DEBUG)
    for _ in range(drops):
        gone.clear()
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /runs/t HTTP/1.1\r\nHost: x\r\n\r\n")
        await eventually(lambda: broker.stats().subscribers == 0)
        await asyncio.sleep(0.05)  # the request reached the handler
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # a reset, before any byte of the response
        gone.set()
        await asyncio.sleep(0.05)
    await eventually(lambda: not open_connections(app))
    await asyncio.sleep(0.2)
    mine = [r for r in caplog.records if r.name == "rxchronos.stream"]
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert noisy == []
    assert all(r.levelno == logging.DEBUG for r in mine)
    assert 1 <= len(mine) <= drops


def test_publish_threadsafe_after_the_loop_closed_is_a_typed_error() -> None:
    async def make() -> Broker:
        return Broker()

    broker = asyncio.run(make())
    with pytest.raises(BrokerClosedError, match="event loop is closed"):
        broker.publish_threadsafe(Event(type="late"))


async def test_a_control_command_sent_before_the_run_starts_is_not_lost() -> None:
    broker = Broker()
    seen: list[Control] = []
    broker.controls.subscribe(seen.append)
    await broker.control("s1", "cancel")
    assert seen == [Control("s1", "cancel")]
    assert await broker.take_control("s1") == "cancel"
    assert await broker.take_control("s1") is None
    broker.close()
    with pytest.raises(BrokerClosedError):
        await broker.control("s1", "cancel")
