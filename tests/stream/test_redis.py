"""RedisBroker on a real Redis: ids and history in Redis, resuming on another broker with no gap
and no duplicate, reset for ids it cannot serve, finished topics, and the faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from reactivex import operators as ops

from rxchronos.stream import BrokerClosedError
from rxchronos.stream import BrokerError
from rxchronos.stream import BrokerUnavailableError
from rxchronos.stream import Control
from rxchronos.stream import Event
from rxchronos.stream import RedisBroker

from .conftest import Serve
from .conftest import SSEReader
from .conftest import eventually
from .conftest import open_stream
from .conftest import publish_numbers
from .redis_servers import free_port
from .redis_servers import new_namespace
from .redis_servers import private_redis


def seq(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


def routes(broker: RedisBroker, **options: Any) -> web.Application:
    app = web.Application()
    broker.add_sse_route(app, "/runs/{topic}", **options)
    return app


@asynccontextmanager
async def two_brokers(url: str, namespace: str) -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    """Two started brokers on one Redis namespace (two workers of one app), closed on exit."""
    async with (
        RedisBroker(url, namespace=namespace) as first,
        RedisBroker(url, namespace=namespace) as second,
    ):
        yield first, second


async def collect(observable: Any, count: int) -> list[Event]:
    result: list[Event] = await asyncio.wait_for(
        observable.pipe(ops.take(count), ops.to_list()), 20
    )
    return result


async def test_events_get_ids_in_redis_and_reach_subscribers_in_order(
    url: str, namespace: str
) -> None:
    async with RedisBroker(url, namespace=namespace) as broker:
        seen: list[Event] = []
        _ = broker.subscribe(topics="run-1").subscribe(seen.append)
        await asyncio.sleep(0.1)  # attached
        returned = [broker.publish(Event(type="n", data=n), topic="run-1") for n in range(50)]
        assert all(e.id is None and e.topic == "run-1" for e in returned)
        await broker.flush()
        await eventually(lambda: len(seen) == 50)
        assert [e.data for e in seen] == list(range(50))
        assert [seq(e.id or "") for e in seen] == list(range(1, 51))
        assert len({(e.id or "").rsplit("-", 1)[0] for e in seen}) == 1


async def test_a_second_broker_resumes_exactly_after_an_id(url: str, namespace: str) -> None:
    async with two_brokers(url, namespace) as (first, second):
        live = first.subscribe(topics="t")
        reading = asyncio.ensure_future(collect(live, 10))
        await asyncio.sleep(0.1)
        for n in range(10):
            first.publish(Event(type="n", data=n), topic="t")
        await first.flush()
        got = await reading
        resumed = asyncio.ensure_future(
            collect(second.subscribe(topics="t", last_event_id=got[3].id), 8)
        )
        await asyncio.sleep(0.1)
        first.publish(Event(type="n", data=10), topic="t")
        first.publish(Event(type="n", data=11), topic="t")
        await first.flush()
        after = await resumed
        assert [e.data for e in after] == list(range(4, 12))
        assert [seq(e.id or "") for e in after] == list(range(5, 13))


async def test_resume_while_publishing_has_no_gap_and_no_duplicate_at_the_seam(
    url: str, namespace: str
) -> None:
    total = 400
    async with two_brokers(url, namespace) as (publisher, reader):
        for n in range(50):
            publisher.publish(Event(type="n", data=n), topic="t")
        await publisher.flush()
        first_id = f"{(await _epoch(url, namespace, 't'))}-10"
        task = asyncio.ensure_future(
            publish_numbers(publisher, "t", range(50, total), every=7, pause=0)
        )
        got = await collect(reader.subscribe(topics="t", last_event_id=first_id), total - 10)
        await task
        assert [e.data for e in got] == list(range(10, total))


async def _epoch(url: str, namespace: str, topic: str) -> str:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        epoch = await client.hget(f"{namespace}:meta:{topic}", "e")
    finally:
        await client.aclose()
    assert epoch is not None
    return str(epoch.decode())


@pytest.mark.parametrize(
    ("make_id", "reason"),
    [
        (lambda epoch: "nonsense", "invalid_id"),
        (lambda epoch: "zz9-3", "unknown_epoch"),
        (lambda epoch: f"{epoch}-999", "unknown_id"),
        (lambda epoch: f"{epoch}-1", "too_old"),
    ],
)
async def test_an_id_it_cannot_serve_gives_one_reset_then_live_events(
    url: str, namespace: str, make_id: Callable[[str], str], reason: str
) -> None:
    async with RedisBroker(url, namespace=namespace, replay_size=1) as broker:
        for n in range(600):  # MAXLEN ~ trims whole nodes: far more than replay_size
            broker.publish(Event(type="n", data=n), topic="t")
        await broker.flush()
        epoch = await _epoch(url, namespace, "t")
        got = asyncio.ensure_future(
            collect(broker.subscribe(topics="t", last_event_id=make_id(epoch)), 2)
        )
        await asyncio.sleep(0.1)
        broker.publish(Event(type="live"), topic="t")
        await broker.flush()
        reset, live = await got
        assert reset.type == "reset" and reset.data["reason"] == reason
        assert reset.id == f"{epoch}-600"
        assert (live.type, live.id) == ("live", f"{epoch}-601")


@pytest.mark.parametrize("last_event_id", ["\n", "a\x00b", "\udcff", "\ud800-1"])
async def test_a_bad_id_resuming_several_topics_gets_a_reset_without_an_id(
    serve: Serve, http: aiohttp.ClientSession, url: str, namespace: str, last_event_id: str
) -> None:
    # the reset used to carry the client's id as its own: a 500 for CR, LF or NUL, and a
    # UnicodeEncodeError in the serving loop for a surrogate
    async with RedisBroker(url, namespace=namespace) as broker:
        (reset,) = await collect(broker.subscribe(last_event_id=last_event_id), 1)
        assert (reset.type, reset.id, reset.data["reason"]) == ("reset", None, "several_topics")
        assert reset.to_sse().startswith(b"data: ")
        if last_event_id.isascii():  # what a query string can carry
            app = web.Application()
            app.router.add_get("/events", broker.sse_handler())
            base = await serve(app)
            reader = await open_stream(http, f"{base}/events?last_event_id={quote(last_event_id)}")
            wire = await reader.next()
            assert (wire.id, json.loads(wire.data)["data"]["reason"]) == ("", "several_topics")
            broker.publish(Event(type="live"), topic="t")
            await broker.flush()
            assert json.loads((await reader.next()).data)["type"] == "live"


async def test_a_finished_topic_ends_streams_everywhere_and_a_reconnect_gets_204(
    serve: Serve, http: aiohttp.ClientSession, url: str, namespace: str
) -> None:
    async with two_brokers(url, namespace) as (a, b):
        base_a = await serve(routes(a, retry=0.05))
        base_b = await serve(routes(b, retry=0.05))
        reader = await open_stream(http, f"{base_a}/runs/run-9")
        a.publish(Event(type="step"), topic="run-9")
        b.finish_topic("run-9")
        await b.flush()
        events = await asyncio.wait_for(reader.rest(), 20)
        assert [json.loads(e.data)["type"] for e in events] == ["step", "done"]
        for base in (base_a, base_b):
            async with http.get(
                f"{base}/runs/run-9", headers={"Last-Event-ID": events[-1].id}
            ) as r:
                assert r.status == 204
        assert a.is_finished("run-9") and b.is_finished("run-9")


async def test_sse_resume_on_another_worker_over_the_wire(
    serve: Serve, http: aiohttp.ClientSession, url: str, namespace: str
) -> None:
    async with two_brokers(url, namespace) as (a, b):
        base_a, base_b = await serve(routes(a)), await serve(routes(b))
        reader = await open_stream(http, f"{base_a}/runs/t")
        for n in range(5):
            a.publish(Event(type="n", data=n), topic="t")
        await a.flush()
        first = await reader.take(3)
        reader.response.close()
        for n in range(5, 8):
            a.publish(Event(type="n", data=n), topic="t")
        await a.flush()
        again = await open_stream(http, f"{base_b}/runs/t", {"Last-Event-ID": first[-1].id})
        rest = await again.take(5)
        assert [json.loads(e.data)["data"] for e in first + rest] == list(range(8))


async def test_redis_unreachable_at_start_names_the_url_without_the_password() -> None:
    port = free_port()
    broker = RedisBroker(f"redis://user:hunter2@127.0.0.1:{port}/0")
    with pytest.raises(BrokerUnavailableError) as caught:
        await broker.start()
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "hunter2" not in str(caught.value)


async def test_publish_after_close_and_flush_before_start_are_refused(url: str) -> None:
    broker = RedisBroker(url, namespace=new_namespace())
    with pytest.raises(BrokerClosedError):
        await broker.flush()
    await broker.aclose()
    with pytest.raises(BrokerClosedError):
        broker.publish(Event(type="late"))


async def test_redis_dying_ends_sse_streams_then_everything_recovers_with_a_new_epoch(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    with private_redis() as server:
        async with RedisBroker(server.url, namespace="fault", outbox_size=100) as broker:
            base = await serve(routes(broker, retry=0.05))
            reader = await open_stream(http, f"{base}/runs/t")
            broker.publish(Event(type="before"), topic="t")
            await broker.flush()
            (before,) = await reader.take(1)
            server.stop()
            assert await asyncio.wait_for(reader.rest(), 20) == []  # ended cleanly
            kept = [broker.publish(Event(type="n", data=n), topic="t") for n in range(100)]
            assert len(kept) == 100
            with pytest.raises(BrokerUnavailableError, match="outbox"):
                broker.publish(Event(type="too_many"), topic="t")
            with pytest.raises(BrokerUnavailableError):
                await broker.flush()
            server.start()  # empty: no persistence, so a new epoch
            await asyncio.wait_for(broker.flush(), 20)
            broker.publish(Event(type="after"), topic="t")

            async def reconnect() -> tuple[SSEReader, Any]:
                while True:  # the first attempts may come while the feed is still down
                    response = await http.get(
                        f"{base}/runs/t", headers={"Last-Event-ID": before.id or ""}
                    )
                    attempt = SSEReader(response)
                    if await _has_event(attempt):
                        return attempt, (await attempt.take(1))[0]
                    await asyncio.sleep(0.05)

            again, first = await asyncio.wait_for(reconnect(), 20)
            reset = json.loads(first.data)
            assert reset["type"] == "reset" and reset["data"]["reason"] == "unknown_epoch"
            assert seq(first.id) == 101  # the 100 kept in the outbox, then "after"
            broker.publish(Event(type="later"), topic="t")
            await broker.flush()
            (later,) = await again.take(1)
            assert json.loads(later.data)["type"] == "later"
            assert seq(later.id) == 102


async def _has_event(reader: SSEReader) -> bool:
    try:
        await asyncio.wait_for(reader.until_raw(b"data:"), 2)
    except (EOFError, TimeoutError):
        return False
    return True


async def test_a_control_command_reaches_every_worker_and_waits_as_a_flag(
    url: str, namespace: str
) -> None:
    async with two_brokers(url, namespace) as (sender, runner):
        seen: list[Control] = []
        runner.controls.subscribe(seen.append)
        await sender.control("session-7", "cancel")
        await eventually(lambda: seen == [Control("session-7", "cancel")])
        assert await runner.take_control("session-7") == "cancel"  # a run starting later sees it
        assert await runner.take_control("session-7") is None  # read once
        with pytest.raises(TypeError):
            await sender.control("session-7", "two\nlines")


async def test_a_reset_for_a_finished_topic_then_ends_the_subscription(
    url: str, namespace: str
) -> None:
    async with RedisBroker(url, namespace=namespace) as broker:
        broker.publish(Event(type="step"), topic="run")
        broker.finish_topic("run")
        await broker.flush()
        got = await asyncio.wait_for(
            broker.subscribe(topics="run", last_event_id="zz-1").pipe(ops.to_list()), 20
        )
        assert [e.type for e in got] == ["reset"]


async def test_history_is_what_every_worker_reads_back_of_a_topic(url: str, namespace: str) -> None:
    async with two_brokers(url, namespace) as (writer, reader):
        assert await reader.history("run-h") == []
        for n in range(3):
            writer.publish(Event(type="n", data={"n": n}), topic="run-h")
        writer.publish(Event(type="other"), topic="run-x")
        writer.finish_topic("run-h")
        await writer.flush()
        kept = await reader.history("run-h")
        assert [(e.type, e.data) for e in kept] == [
            ("n", {"n": 0}),
            ("n", {"n": 1}),
            ("n", {"n": 2}),
            ("done", {"topic": "run-h"}),
        ]
        assert [seq(e.id or "") for e in kept] == [1, 2, 3, 4]
        assert all(e.topic == "run-h" for e in kept)
        replayed = await collect(
            reader.subscribe(topics="run-h", last_event_id=kept[0].id), 3
        )  # the same ids a resuming subscriber gets
        assert [e.id for e in replayed] == [e.id for e in kept[1:]]


async def test_a_controls_subscriber_that_raises_does_not_stop_the_live_feed(
    url: str, namespace: str
) -> None:
    reported: list[BaseException] = []
    asyncio.get_running_loop().set_exception_handler(
        lambda loop, context: reported.append(context["exception"])
    )
    async with RedisBroker(url, namespace=namespace) as broker:

        def refuse(control: Control) -> None:
            raise RuntimeError(f"cannot take {control.command}")

        broker.controls.subscribe(refuse)
        await broker.control("session-1", "cancel")
        await eventually(lambda: bool(reported))
        assert [str(e) for e in reported] == ["cannot take cancel"]
        seen: list[Event] = []
        broker.subscribe(topics="t").subscribe(seen.append)
        await eventually(lambda: broker.stats().subscribers == 1)
        broker.publish(Event(type="after"), topic="t")
        await broker.flush()
        await eventually(lambda: len(seen) == 1)


_GARBAGE = [
    ("live", b"not json", "not '<epoch> <offset>"),
    ("live", b"e1 x 0 1 1 t{}", "the offset is not a number"),
    ("live", b"e1 " + b"9" * 5000 + b' 0 1 1 t{"type":"x"}', "the offset is not a number"),
    ("live", b"e1 1 0 1 99999 t{}", "the topic length is longer"),
    ("live", b"e1 1 2 1 1 t{}", "the finish flag"),
    ("live", b"e-1 1 0 1 1 t{}", "the epoch"),
    ("live", b'e1 1 0 999999999999999 1 t{"type":"x"}', "the stamp is not a time"),
    ("live", b'e1 1 0 1 1 \xff{"type":"x"}', "the topic is not UTF-8"),
    ("live", b"e1 1 0 1 1 t[1, 2]", "not an event's JSON"),
    ("live", b'e1 1 0 1 1 t{"type":7}', "not an event's JSON"),
    ("live", b'e1 1 0 1 1 t{"type":"x","data":NaN}', "not JSON"),
    ("live", b'e1 1 0 1 1 t{"type":"x",\n\n"data":1}', "raw line break"),
    ("live", b'e1 1 0 1 1 t{"type":"a\\nb"}', "must not contain CR, LF or NUL"),
    ("live", b"e1 1 0 1 1 t" + b"x" * 1_000_000, "not JSON"),
    ("ctl", b"\xff\xfe", "not UTF-8"),
    ("ctl", b"session-without-command", "not '<session id>\\n<command>'"),
    ("ctl", b"s\n", "not '<session id>\\n<command>'"),
]


async def test_malformed_messages_on_its_channels_are_skipped_and_the_feed_goes_on(
    url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    import redis.asyncio as aioredis

    async with RedisBroker(url, namespace=namespace) as broker:
        seen: list[Event] = []
        ended: list[object] = []
        controls: list[Control] = []
        broker.subscribe(topics="t").subscribe(
            seen.append, ended.append, lambda: ended.append("completed")
        )
        broker.controls.subscribe(controls.append)
        await eventually(lambda: broker.stats().subscribers == 1)
        other = aioredis.Redis.from_url(url)  # some other client, on the broker's channels
        try:
            for channel, garbage, _ in _GARBAGE:
                await other.publish(f"{namespace}:{channel}", garbage)
        finally:
            await other.aclose()
        broker.publish(Event(type="after"), topic="t")
        await broker.flush()
        await broker.control("session-1", "cancel")
        await asyncio.wait_for(eventually(lambda: len(seen) == 1 and len(controls) == 1), 10)
        assert [e.type for e in seen] == ["after"] and ended == []
        assert controls == [Control("session-1", "cancel")]
    warnings = [r for r in caplog.records if r.name == "rxchronos.stream"]
    assert len(warnings) == len(_GARBAGE)
    for record, (channel, garbage, problem) in zip(warnings, _GARBAGE, strict=True):
        text = record.getMessage()
        assert record.levelname == "WARNING"
        assert f"channel '{namespace}:{channel}'" in text
        assert problem in text, text
        assert f"{len(garbage)} bytes" in text
        assert len(text) < 800  # never the whole of a huge message


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"x": "1"}, "it has no 's' field"),
        ({"s": "soon", "p": "{}"}, "ValueError: invalid literal for int()"),
        ({"s": "1", "p": "not json"}, "InvalidArgumentError: not JSON"),
        ({"s": "9" * 30, "p": '{"type":"n","data":1}'}, "OverflowError"),
    ],
)
async def test_a_history_entry_the_broker_did_not_write_is_a_broker_error_naming_it(
    url: str, namespace: str, fields: dict[str, str], reason: str
) -> None:
    async with RedisBroker(url, namespace=namespace) as broker:
        broker.publish(Event(type="n", data=1), topic="run")
        await broker.flush()
        (first,) = await broker.history("run")
        other = aioredis.Redis.from_url(url)
        try:  # another client writes into the topic's history
            await other.xadd(f"{namespace}:hist:run", fields, id="0-2")  # type: ignore[arg-type]
            await other.hset(f"{namespace}:meta:run", "o", 2)
        finally:
            await other.aclose()
        message = r"the history of topic 'run' in Redis holds entry 0-2, which the broker did not"
        with pytest.raises(BrokerError, match=message) as raised:
            await broker.history("run")
        assert reason in str(raised.value)
        resumed = broker.subscribe(topics="run", last_event_id=first.id).pipe(ops.to_list())
        with pytest.raises(BrokerError, match=message):
            await asyncio.wait_for(resumed, 20)
