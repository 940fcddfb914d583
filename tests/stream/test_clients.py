"""Independent clients against the broker route: httpx-sse, LaunchDarkly's eventsource, and
rxchronos' own ``sse_client``. Reconnecting with ``Last-Event-ID`` gets exactly what was missed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import httpx
import pytest
import reactivex
from aiohttp import web
from httpx_sse import aconnect_sse
from ld_eventsource import SSEClient
from ld_eventsource.config import ErrorStrategy
from ld_eventsource.config import RetryDelayStrategy
from ld_eventsource.errors import HTTPStatusError

from rxchronos import FrameTooLargeError
from rxchronos.sse import ServerSentEvent
from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream import SSEConnectionError
from rxchronos.stream import SSEHTTPError
from rxchronos.stream import SSEProtocolError
from rxchronos.stream import sse_client

from .conftest import Serve
from .conftest import eventually
from .conftest import route_app
from .conftest import topic_app


def payload(event_data: str) -> object:
    message = json.loads(event_data)
    return message["data"] if message["type"] != "done" else "done"


class Collected:
    """What one subscription of an Observable of ServerSentEvents received."""

    def __init__(self, observable: reactivex.Observable[ServerSentEvent]) -> None:
        self.events: list[ServerSentEvent] = []
        self.error: Exception | None = None
        self.finished = asyncio.Event()
        self.subscription = observable.subscribe(self.events.append, self._fail, self.finished.set)

    def _fail(self, error: Exception) -> None:
        self.error = error
        self.finished.set()

    @property
    def payloads(self) -> list[object]:
        return [payload(e.data) for e in self.events]


async def test_httpx_sse_resumes_with_last_event_id(serve: Serve) -> None:
    broker = Broker()
    base = await serve(topic_app(broker, retry=0.02))
    async with httpx.AsyncClient() as client:
        async with aconnect_sse(client, "GET", base + "/runs/t") as source:
            events = source.aiter_sse()
            for n in (1, 2, 3):
                broker.publish(Event(type="n", data=n), topic="t")
            first = [await anext(events) for _ in range(3)]
        await eventually(lambda: broker.stats().subscribers == 0)
        for n in (4, 5):
            broker.publish(Event(type="n", data=n), topic="t")
        headers = {"Last-Event-ID": first[-1].id}
        async with aconnect_sse(client, "GET", base + "/runs/t", headers=headers) as source:
            events = source.aiter_sse()
            broker.publish(Event(type="n", data=6), topic="t")
            second = [await anext(events) for _ in range(3)]
    assert [payload(e.data) for e in first + second] == [1, 2, 3, 4, 5, 6]
    assert len({e.id for e in first + second}) == 6


def read_with_launchdarkly(url: str, received: list[tuple[str | None, str]]) -> int:
    """Read with LaunchDarkly's (urllib3-based) client until the server answers 204."""
    reconnect_on_end = ErrorStrategy.from_lambda(
        lambda error: (
            ErrorStrategy.FAIL if isinstance(error, HTTPStatusError) else ErrorStrategy.CONTINUE,
            None,
        )
    )
    client = SSEClient(
        url,
        initial_retry_delay=0.02,
        retry_delay_strategy=RetryDelayStrategy.default(backoff_multiplier=1),
        error_strategy=reconnect_on_end,
    )
    try:
        for event in client.events:
            received.append((event.id, event.data))
    except HTTPStatusError as exc:
        return int(exc.status)
    finally:
        client.close()
    return 0


async def test_launchdarkly_reconnects_after_a_server_side_drop_and_gets_exactly_the_missed(
    serve: Serve,
) -> None:
    broker = Broker()
    base = await serve(topic_app(broker, retry=0.02))
    received: list[tuple[str | None, str]] = []
    reader = asyncio.ensure_future(
        asyncio.to_thread(read_with_launchdarkly, base + "/runs/t?client_id=ld", received)
    )
    await eventually(lambda: broker.stats().subscribers == 1)
    for n in (1, 2, 3):
        broker.publish(Event(type="n", data=n), topic="t")
    await eventually(lambda: len(received) == 3)
    assert broker.unsubscribe("ld") == 1  # the server drops the stream...
    for n in (4, 5):  # ...and publishes while the client is away
        broker.publish(Event(type="n", data=n), topic="t")
    await eventually(lambda: len(received) == 5)
    broker.publish(Event(type="n", data=6), topic="t")
    await eventually(lambda: len(received) == 6)
    broker.finish_topic("t")
    assert await reader == 204  # after `done`, the reconnect got 204 and the client stopped
    assert [payload(data) for _, data in received] == [1, 2, 3, 4, 5, 6, "done"]
    ids = [event_id for event_id, _ in received]
    assert len(set(ids)) == len(ids)


async def test_sse_client_reconnects_resumes_honours_retry_and_stops_on_204(
    serve: Serve,
) -> None:
    broker = Broker()
    base = await serve(topic_app(broker, retry=0.02))
    # The client's own delay is an hour: only the server's `retry: 20` lets it come back.
    collected = Collected(sse_client(base + "/runs/t?client_id=me", retry=3600))
    await eventually(lambda: broker.stats().subscribers == 1)
    for n in (1, 2, 3):
        broker.publish(Event(type="n", data=n), topic="t")
    await eventually(lambda: len(collected.events) == 3)
    broker.unsubscribe("me")
    for n in (4, 5):
        broker.publish(Event(type="n", data=n), topic="t")
    await eventually(lambda: len(collected.events) == 5)
    broker.finish_topic("t")
    await collected.finished.wait()
    assert collected.error is None
    assert collected.payloads == [1, 2, 3, 4, 5, "done"]
    assert collected.events[-1].id == f"{broker.epoch}-6"


async def test_sse_client_starts_after_a_given_last_event_id(serve: Serve) -> None:
    broker = Broker()
    base = await serve(topic_app(broker, retry=0.02))
    first = broker.publish(Event(type="n", data=1), topic="t")
    broker.publish(Event(type="n", data=2), topic="t")
    broker.finish_topic("t")
    collected = Collected(sse_client(base + "/runs/t", last_event_id=first.id))
    await collected.finished.wait()
    assert collected.payloads == [2, "done"]


async def test_sse_client_completes_at_once_on_204(serve: Serve) -> None:
    broker = Broker()
    base = await serve(topic_app(broker, retry=0.02))
    broker.finish_topic("t")
    collected = Collected(sse_client(base + "/runs/t"))
    await collected.finished.wait()
    assert (collected.events, collected.error) == ([], None)


async def test_sse_client_reports_a_refusal_without_its_secrets(serve: Serve) -> None:
    base = await serve(topic_app(Broker(), authorize=lambda request, topic: False))
    url = base + "/runs/t?token=query-secret"
    collected = Collected(sse_client(url, headers={"Authorization": "Bearer header-secret"}))
    await collected.finished.wait()
    assert isinstance(collected.error, SSEHTTPError)
    assert collected.error.status == 403
    assert "/runs/t" in str(collected.error)
    assert "secret" not in str(collected.error)


async def test_sse_client_refuses_a_response_that_is_not_an_event_stream(serve: Serve) -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    base = await serve(route_app("/", html))
    collected = Collected(sse_client(base + "/"))
    await collected.finished.wait()
    assert isinstance(collected.error, SSEProtocolError)
    assert "text/html" in str(collected.error)


async def test_sse_client_gives_up_after_max_retries() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    collected = Collected(sse_client(f"http://127.0.0.1:{port}/", retry=0, max_retries=2))
    await collected.finished.wait()
    assert isinstance(collected.error, SSEConnectionError)
    assert "3 attempt(s)" in str(collected.error)


async def test_disposing_sse_client_closes_the_connection(serve: Serve) -> None:
    broker = Broker()
    base = await serve(topic_app(broker, retry=0.02))
    collected = Collected(sse_client(base + "/runs/t"))
    await eventually(lambda: broker.stats().subscribers == 1)
    collected.subscription.dispose()
    await eventually(lambda: broker.stats().subscribers == 0)
    assert not collected.finished.is_set()


@pytest.mark.parametrize(
    "kwargs",
    [{"retry": -1}, {"max_retries": -1}, {"connect_timeout": 0}, {"max_retry_delay": -1}],
)
def test_sse_client_refuses_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        sse_client("http://127.0.0.1:1/", **kwargs)  # type: ignore[arg-type]


async def test_after_a_reconnect_events_without_an_id_line_carry_the_resumed_id(
    serve: Serve,
) -> None:
    seen_headers: list[str | None] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        seen_headers.append(request.headers.get("Last-Event-ID"))
        if len(seen_headers) == 3:
            return web.Response(status=204)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if len(seen_headers) == 1:
            await response.write(b"retry: 10\nid: a-1\ndata: first\n\n")
        else:
            await response.write(b"data: no id line\n\n")
        return response

    collected = Collected(sse_client(await serve(route_app("/", stream)) + "/", retry=0))
    await collected.finished.wait()
    assert collected.error is None
    assert [(e.data, e.id) for e in collected.events] == [("first", "a-1"), ("no id line", "a-1")]
    assert seen_headers == [None, "a-1", "a-1"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/events", "absolute http"),
        ("ftp://127.0.0.1/events", "absolute http"),
        ("http://", "absolute http"),
        ("127.0.0.1:8080/events", "absolute http"),
    ],
)
def test_sse_client_refuses_a_url_it_cannot_read(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sse_client(url)


def test_a_refused_url_does_not_show_its_password() -> None:
    with pytest.raises(ValueError) as raised:
        sse_client("ftp://user:hunter2@example.com/x")
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"url": 42}, TypeError),
        ({"retry": "3"}, TypeError),
        ({"connect_timeout": None}, TypeError),
        ({"max_retry_delay": float("nan")}, TypeError),
        ({"max_retries": 2.5}, TypeError),
        ({"last_event_id": "a\nb"}, ValueError),
        ({"last_event_id": 7}, TypeError),
    ],
)
def test_sse_client_refuses_arguments_of_the_wrong_kind(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    arguments: dict[str, object] = {"url": "http://127.0.0.1:1/", **kwargs}
    with pytest.raises(error):
        sse_client(**arguments)  # type: ignore[arg-type]


async def test_sse_client_reads_only_the_start_of_an_error_body(serve: Serve) -> None:
    async def endless_error(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=500)
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            while True:  # a body that never ends: only its start may be read
                await response.write(b"x" * 65536)
        return response

    base = await serve(route_app("/events", endless_error))
    collected = Collected(sse_client(base + "/events"))
    await collected.finished.wait()
    assert isinstance(collected.error, SSEHTTPError)
    assert collected.error.status == 500
    assert collected.error.body == "x" * 500


async def test_sse_client_bounds_a_line_that_never_ends(serve: Serve) -> None:
    attempts = 0

    async def endless_line(request: web.Request) -> web.StreamResponse:
        nonlocal attempts
        attempts += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: ")
        with contextlib.suppress(ConnectionError):
            while True:
                await response.write(b"y" * 4096)
                await asyncio.sleep(0)
        return response

    base = await serve(route_app("/events", endless_line))
    collected = Collected(sse_client(base + "/events", max_size=64 * 1024, retry=0.01))
    await collected.finished.wait()
    assert isinstance(collected.error, FrameTooLargeError)
    assert collected.error.limit == 64 * 1024
    assert attempts == 1  # not retried: the same server would only send the same line


def test_sse_client_refuses_a_bad_max_size() -> None:
    with pytest.raises(ValueError, match="max_size"):
        sse_client("http://127.0.0.1/events", max_size=0)


async def test_sse_client_bounds_the_wait_for_response_headers() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads the request, never answers it

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        url = f"http://127.0.0.1:{port}/events?token=query-secret"
        collected = Collected(sse_client(url, connect_timeout=0.2, retry=0, max_retries=1))
        await asyncio.wait_for(collected.finished.wait(), timeout=30)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert isinstance(collected.error, SSEConnectionError)
    assert "no response headers within connect_timeout=0.2 s" in str(collected.error)
    assert "2 attempt(s)" in str(collected.error) and len(accepted) == 2
    assert "secret" not in str(collected.error)


async def broken_after(request: web.Request, body: bytes) -> web.StreamResponse:
    """A 200 event stream that sends ``body``, then breaks: the connection is aborted, so the
    chunked body ends without its last chunk."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(body)
    assert request.transport is not None
    request.transport.abort()
    return response


async def test_a_200_that_breaks_before_any_event_counts_as_a_failed_attempt(
    serve: Serve,
) -> None:
    attempts = 0

    async def cut(request: web.Request) -> web.StreamResponse:
        nonlocal attempts
        attempts += 1
        return await broken_after(request, b"data: never finished")

    base = await serve(route_app("/events", cut))
    collected = Collected(sse_client(base + "/events", retry=0, max_retries=2))
    await asyncio.wait_for(collected.finished.wait(), timeout=30)
    assert isinstance(collected.error, SSEConnectionError)
    assert "after 3 attempt(s)" in str(collected.error) and attempts == 3
    assert collected.events == []


async def test_an_attempt_that_delivers_an_event_starts_the_count_again(serve: Serve) -> None:
    attempts = 0

    async def flaky(request: web.Request) -> web.StreamResponse:
        nonlocal attempts
        attempts += 1
        if attempts == 5:
            return web.Response(status=204)
        return await broken_after(request, f"id: {attempts}\ndata: {attempts}\n\n".encode())

    base = await serve(route_app("/events", flaky))
    collected = Collected(sse_client(base + "/events", retry=0, max_retries=1))
    await asyncio.wait_for(collected.finished.wait(), timeout=30)
    assert collected.error is None
    assert [e.data for e in collected.events] == ["1", "2", "3", "4"]


async def test_a_huge_retry_from_the_server_waits_at_most_max_retry_delay(serve: Serve) -> None:
    requests = 0

    async def slow_down(request: web.Request) -> web.StreamResponse:
        nonlocal requests
        requests += 1
        if requests == 2:
            return web.Response(status=204)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"retry: " + b"9" * 5000 + b"\ndata: one\n\n")
        return response  # a clean end: the client reconnects after the retry delay

    base = await serve(route_app("/events", slow_down))
    collected = Collected(sse_client(base + "/events", max_retry_delay=0.01))
    await asyncio.wait_for(collected.finished.wait(), timeout=30)
    assert (collected.error, [e.data for e in collected.events]) == (None, ["one"])
    assert requests == 2


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("ftp://user:hunter2@files.example/x?token=query-secret", "NonHttpUrlRedirectClientError"),
        ("http://[bad/x?token=query-secret", "InvalidUrlRedirectClientError"),
        ("/loop?token=query-secret", "TooManyRedirects"),
    ],
)
async def test_a_redirect_that_cannot_be_followed_is_a_protocol_error_without_secrets(
    serve: Serve, location: str, reason: str
) -> None:
    requests = 0

    async def redirect(request: web.Request) -> web.Response:
        nonlocal requests
        requests += 1
        return web.Response(status=302, headers={"Location": location})

    app = route_app("/events", redirect)
    app.router.add_get("/loop", redirect)
    base = await serve(app)
    collected = Collected(sse_client(base + "/events?key=k-secret", retry=0))
    await asyncio.wait_for(collected.finished.wait(), timeout=30)
    assert isinstance(collected.error, SSEProtocolError)
    message = str(collected.error)
    assert message.startswith(f"GET {base}/events redirected where it cannot be followed")
    assert reason in message
    assert "secret" not in message and "hunter2" not in message
    assert collected.error.__cause__ is None and collected.error.__suppress_context__
    assert requests <= 11  # not retried
