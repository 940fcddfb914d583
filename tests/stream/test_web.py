"""The aiohttp SSE layer over real connections on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import reactivex
from aiohttp import web

from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream.web import add_sse_route
from rxchronos.stream.web import close_streams
from rxchronos.stream.web import sse_response

from .conftest import Serve
from .conftest import SSEReader
from .conftest import eventually
from .conftest import flood_a_frozen_client
from .conftest import frozen_client
from .conftest import open_stream
from .conftest import route_app
from .conftest import topic_app


def app_with(broker: Broker, **options: Any) -> web.Application:
    app = web.Application()
    app.router.add_get("/events", broker.sse_handler("client-123", **options))
    app.on_shutdown.append(close_streams)
    return app


async def test_headers_and_the_connect_preamble(serve: Serve, http: aiohttp.ClientSession) -> None:
    base = await serve(app_with(Broker()))
    async with http.get(base + "/events") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        assert "Connection" not in response.headers
        assert "Content-Encoding" not in response.headers
        assert await response.content.readany() == b"retry: 3000\n: connected\n"


async def test_frames_have_id_and_data_and_no_event_line(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(app_with(broker))
    reader = await open_stream(http, base + "/events")
    stamped = broker.publish(Event(type="node_end", data={"node": "extract", "status": "done"}))
    (event,) = await reader.take(1)
    assert (event.event, event.id) == ("message", stamped.id)
    expected = {"type": "node_end", "data": {"node": "extract", "status": "done"}}
    assert json.loads(event.data) == expected
    assert b"event:" not in reader.raw


async def test_named_events_carry_the_type_except_reserved_names(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(app_with(broker, named_events=True))
    reader = await open_stream(http, base + "/events")
    broker.publish(Event(type="token", data="Hi"))
    broker.publish(Event(type="error", data="boom"))
    assert [e.event for e in await reader.take(2)] == ["token", "message"]


async def test_last_event_id_header_resumes_exactly_after_it(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(app_with(broker))
    stamped = [broker.publish(Event(type="n", data=n)) for n in range(5)]
    reader = await open_stream(http, base + "/events", {"Last-Event-ID": stamped[1].id or ""})
    broker.publish(Event(type="n", data=5))
    assert [json.loads(e.data)["data"] for e in await reader.take(4)] == [2, 3, 4, 5]


async def test_last_event_id_query_parameter_for_a_first_connection(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(app_with(broker))
    stamped = [broker.publish(Event(type="n", data=n)) for n in range(3)]
    reader = await open_stream(http, f"{base}/events?last_event_id={stamped[0].id}")
    assert [json.loads(e.data)["data"] for e in await reader.take(2)] == [1, 2]
    # A browser reconnecting sends the header and keeps the URL: the header wins.
    reader = await open_stream(
        http, f"{base}/events?last_event_id={stamped[0].id}", {"Last-Event-ID": stamped[1].id or ""}
    )
    assert [json.loads(e.data)["data"] for e in await reader.take(1)] == [2]


async def test_a_replay_longer_than_the_buffer_is_delivered_whole(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker(buffer_size=2)
    base = await serve(app_with(broker))
    first = broker.publish(Event(type="n", data=0))
    for n in range(1, 50):
        broker.publish(Event(type="n", data=n))
    reader = await open_stream(http, base + "/events", {"Last-Event-ID": first.id or ""})
    assert [json.loads(e.data)["data"] for e in await reader.take(49)] == list(range(1, 50))


async def test_idle_streams_get_comment_heartbeats(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    base = await serve(app_with(Broker(), heartbeat=0.05))
    reader = await open_stream(http, base + "/events")
    await reader.until_raw(b": connected\n: ping\n: ping\n")  # and again while it stays idle
    assert reader.decoder.feed(b"\n") == []  # comments only: no event


async def test_a_client_leaving_an_idle_stream_is_noticed_and_disposed(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(app_with(broker))  # handler_cancellation is off
    reader = await open_stream(http, base + "/events")
    await eventually(lambda: broker.stats().subscribers == 1)
    reader.response.close()
    await eventually(lambda: broker.stats().subscribers == 0)


async def test_two_connections_with_one_client_id_both_get_everything(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(app_with(broker))
    tab1 = await open_stream(http, base + "/events")
    tab2 = await open_stream(http, base + "/events")
    for n in range(3):
        broker.publish(Event(type="n", data=n))
    assert [e.id for e in await tab1.take(3)] == [e.id for e in await tab2.take(3)]
    assert {s.client_id for s in broker.stats().subscriptions} == {"client-123"}
    assert broker.unsubscribe("client-123") == 2
    assert await tab1.rest() == [] and await tab2.rest() == []


async def test_a_frozen_client_is_cut_off_by_the_write_timeout(serve: Serve) -> None:
    broker = Broker(buffer_size=4, replay_size=8, overflow="drop_oldest")
    base = await serve(topic_app(broker, write_timeout=0.3))
    assert await flood_a_frozen_client(broker, base) <= 4
    stats = broker.stats()
    assert stats.disconnects == 0  # not an overflow: drop_oldest never overflows
    assert stats.dropped > 0


async def test_a_stalled_client_does_not_slow_or_starve_the_others(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker(buffer_size=4, overflow="drop_newest")
    base = await serve(topic_app(broker))
    with frozen_client(base, "/runs/r1"):
        healthy = await open_stream(http, base + "/runs/r1")
        await eventually(lambda: broker.stats().subscribers == 2)
        payload = "y" * 65536
        got = []
        for n in range(300):  # in step with the healthy client; the stalled one never reads
            broker.publish(Event(type="n", data={"n": n, "pad": payload}), topic="r1")
            got.append(json.loads((await healthy.next()).data)["data"]["n"])
        assert got == list(range(300))
        assert max(s.dropped for s in broker.stats().subscriptions) > 0


async def test_shutdown_closes_open_streams_at_once_and_cleanly(
    http: aiohttp.ClientSession,
) -> None:
    broker = Broker()
    app = web.Application()
    add_sse_route(app, "/runs/{topic}", broker)
    app.router.add_get("/events", broker.sse_handler())
    runner = web.AppRunner(app)  # aiohttp's default: wait up to 60 s for open handlers
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    readers = [
        await open_stream(http, base + "/runs/a"),
        await open_stream(http, base + "/runs/b"),
        await open_stream(http, base + "/events"),
    ]
    await asyncio.wait_for(runner.cleanup(), timeout=30)  # a hang fails here, not after 60 s
    for reader in readers:
        assert await reader.rest() == []  # a clean end of the chunked body, not a reset
    assert broker.stats().subscribers == 0


async def test_authorize_refuses_with_403_or_401_before_streaming(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    asked: list[str | None] = []

    async def authorize(request: web.Request, topic: str | None) -> bool:
        asked.append(topic)
        if "Authorization" not in request.headers:
            raise web.HTTPUnauthorized()
        return request.headers["Authorization"] == f"Bearer {topic}-reader"

    base = await serve(topic_app(broker, "/runs/{topic}/events", authorize=authorize))
    async with http.get(base + "/runs/s1/events") as response:
        assert response.status == 401
    wrong = {"Authorization": "Bearer s2-reader"}
    async with http.get(base + "/runs/s1/events", headers=wrong) as response:
        assert response.status == 403
        assert response.headers["Content-Type"].startswith("text/plain")
    right = {"Authorization": "Bearer s1-reader"}
    reader = await open_stream(http, base + "/runs/s1/events", right)
    assert asked == ["s1", "s1", "s1"]
    assert broker.stats().subscribers == 1
    reader.response.close()


async def test_a_sync_authorize_and_a_topic_from_the_query(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()

    def only_public(request: web.Request, topic: str | None) -> bool:
        return topic == "public"

    base = await serve(topic_app(broker, "/events", authorize=only_public))
    async with http.get(base + "/events?topic=secret") as response:
        assert response.status == 403
    async with http.get(base + "/events") as response:
        assert response.status == 403  # no topic: the authorizer said no to "everything"
    reader = await open_stream(http, base + "/events?topic=public&client_id=me")
    assert broker.stats().subscriptions[0].client_id == "me"
    reader.response.close()


async def test_a_client_never_receives_another_topics_events(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(topic_app(broker))
    reader = await open_stream(http, base + "/runs/mine")
    broker.publish(Event(type="secret"), topic="theirs")
    broker.publish(Event(type="public"))
    broker.publish(Event(type="ok"), topic="mine")
    broker.finish_topic("theirs")
    broker.finish_topic("mine")
    assert [json.loads(e.data)["type"] for e in await reader.rest()] == ["ok", "done"]


async def test_a_finished_topic_sends_done_closes_and_answers_204_later(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    broker = Broker()
    base = await serve(topic_app(broker))
    reader = await open_stream(http, base + "/runs/s1")
    step = broker.publish(Event(type="step"), topic="s1")
    broker.publish(Event(type="step"), topic="s1")
    done = broker.finish_topic("s1")
    events = await reader.rest()
    assert [json.loads(e.data)["type"] for e in events] == ["step", "step", "done"]
    assert events[-1].id == done.id
    async with http.get(base + "/runs/s1", headers={"Last-Event-ID": done.id or ""}) as response:
        assert response.status == 204  # a browser stops reconnecting
    async with http.get(base + "/runs/s1") as response:
        assert response.status == 204
    # A client that dropped before the end still gets what it missed, then the end.
    late = await open_stream(http, base + "/runs/s1", {"Last-Event-ID": step.id or ""})
    assert [json.loads(e.data)["type"] for e in await late.rest()] == ["step", "done"]
    broker.publish(Event(type="again"), topic="s1")  # reopens the topic
    reopened = await open_stream(http, base + "/runs/s1")
    reopened.response.close()


async def test_sse_response_streams_any_observable(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        items = reactivex.of("plain text", Event(type="tick", data=1), {"type": "dict", "x": 2})
        return await sse_response(request, items, retry=None, headers={"X-Extra": "1"})

    base = await serve(route_app("/", handler))
    async with http.get(base + "/") as response:
        assert response.headers["X-Extra"] == "1"
        reader = SSEReader(response)
        events = await reader.rest()
    assert not reader.raw.startswith(b"retry:")
    assert [e.data for e in events] == [
        "plain text",
        '{"type":"tick","data":1}',
        '{"type":"dict","data":{"x":2}}',
    ]


async def test_an_empty_observable_answers_204(serve: Serve, http: aiohttp.ClientSession) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await sse_response(request, reactivex.empty())

    base = await serve(route_app("/", handler))
    async with http.get(base + "/") as response:
        assert response.status == 204


async def test_a_failing_observable_drops_the_connection_and_reaches_aiohttp(
    serve: Serve, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        items = reactivex.concat(
            reactivex.of(Event(type="before")), reactivex.throw(RuntimeError("source broke"))
        )
        return await sse_response(request, items)

    base = await serve(route_app("/", handler))
    async with http.get(base + "/") as response:
        reader = SSEReader(response)
        assert json.loads((await reader.next()).data)["type"] == "before"
        with pytest.raises(aiohttp.ClientPayloadError):
            await reader.rest()  # not a clean end: the client knows the stream broke
    await eventually(lambda: "source broke" in caplog.text)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"heartbeat": 0}, ValueError),
        ({"heartbeat": "15"}, TypeError),
        ({"write_timeout": -1}, ValueError),
        ({"retry": -0.5}, ValueError),
    ],
)
def test_bad_options_are_refused_when_the_route_is_made(
    options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Broker().sse_handler(**options)
    with pytest.raises(error):
        add_sse_route(web.Application(), "/x", Broker(), **options)
