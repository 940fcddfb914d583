"""The broker contract, checked on every broker: the in-process ``Broker`` and ``RedisBroker``
(on the shared Redis, a namespace per test; skipped without Redis unless
``RXCHRONOS_REQUIRE_REDIS=1``). A new backend joins by adding a case to the ``open_broker``
fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from rxchronos import ArgumentTypeError
from rxchronos import InvalidArgumentError
from rxchronos import SlowConsumerError
from rxchronos.stream import Broker
from rxchronos.stream import BrokerClosedError
from rxchronos.stream import BrokerProtocol
from rxchronos.stream import BrokerUnavailableError
from rxchronos.stream import Control
from rxchronos.stream import Event
from rxchronos.stream import SubscriberStats
from rxchronos.stream._serve import BROKER_POLICIES
from rxchronos.stream._serve import FrameSink

from .conftest import Serve
from .conftest import eventually
from .conftest import flood_a_frozen_client
from .conftest import open_stream
from .conftest import topic_app

OpenBroker = Callable[..., Awaitable[Any]]


@pytest.fixture(params=["Broker", "RedisBroker"])
async def open_broker(request: pytest.FixtureRequest) -> AsyncIterator[OpenBroker]:
    """Opens brokers of one kind with the given settings; all are closed after the test."""
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "Broker":

            async def open_memory(**settings: Any) -> Any:
                return await stack.enter_async_context(Broker(**settings))

            yield open_memory
            return
        from rxchronos.stream import RedisBroker

        from .redis_servers import drop_namespace
        from .redis_servers import new_namespace

        url = request.getfixturevalue("url")  # skips without Redis

        async def open_redis(**settings: Any) -> Any:
            namespace = new_namespace()
            stack.callback(drop_namespace, url, namespace)
            broker = RedisBroker(url, namespace=namespace, **settings)
            return await stack.enter_async_context(broker)

        yield open_redis


@pytest.fixture
async def broker(open_broker: OpenBroker) -> Any:
    return await open_broker()


def offset(event: Event) -> int:
    return int((event.id or "").rsplit("-", 1)[1])


async def attached(broker: Any, count: int) -> None:
    await eventually(lambda: broker.stats().subscribers == count)


class Seen:
    """What one subscription received, and whether it completed."""

    def __init__(self, broker: Any, **options: Any) -> None:
        self.events: list[Event] = []
        self.completed = False
        self.errors: list[Exception] = []
        broker.subscribe(**options).subscribe(
            self.events.append, self.errors.append, self._complete
        )

    def _complete(self) -> None:
        self.completed = True

    def types(self) -> list[str]:
        return [e.type for e in self.events]


async def publish_numbers(
    broker: Any, topic: str, numbers: range, seen: Seen | None = None
) -> None:
    """Publish events ``n`` (``data=n``) to ``topic`` and store them; with ``seen``, wait until
    that subscription has received the last one."""
    for n in numbers:
        broker.publish(Event(type="n", data=n), topic=topic)
    await broker.flush()
    if seen is not None:
        await eventually(lambda: bool(seen.events) and seen.events[-1].data == numbers[-1])


async def test_ids_increase_strictly_per_topic_in_publish_order(broker: Any) -> None:
    assert isinstance(broker, BrokerProtocol)
    seen = Seen(broker, topics="run-1")
    await attached(broker, 1)
    await publish_numbers(broker, "run-1", range(30), seen)
    assert [e.data for e in seen.events] == list(range(30))
    offsets = [offset(e) for e in seen.events]
    assert all(a < b for a, b in itertools.pairwise(offsets))
    assert len({(e.id or "").rsplit("-", 1)[0] for e in seen.events}) == 1
    assert broker.stats().published >= 30
    assert [e.data for e in await broker.history("run-1")] == list(range(30))


async def test_last_event_id_resumes_exactly_after_it_then_live(broker: Any) -> None:
    for n in range(10):
        broker.publish(Event(type="n", data=n), topic="run-1")
    await broker.flush()
    history = await broker.history("run-1")
    resumed = Seen(broker, topics="run-1", last_event_id=history[3].id)
    await eventually(lambda: len(resumed.events) == 6)
    await attached(broker, 1)
    broker.publish(Event(type="n", data=10), topic="run-1")
    await broker.flush()
    await eventually(lambda: len(resumed.events) == 7)
    assert [e.data for e in resumed.events] == list(range(4, 11))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [("not-an-id!", "invalid_id"), ("42", "invalid_id"), ("otherepoch-1", "unknown_epoch")],
)
async def test_an_id_that_cannot_be_resumed_gives_one_reset_then_live(
    broker: Any, bad: str, reason: str
) -> None:
    broker.publish(Event(type="n", data=0), topic="run-1")
    await broker.flush()
    seen = Seen(broker, topics="run-1", last_event_id=bad)
    await eventually(lambda: len(seen.events) == 1)
    await attached(broker, 1)
    broker.publish(Event(type="n", data=1), topic="run-1")
    await broker.flush()
    await eventually(lambda: len(seen.events) == 2)
    assert seen.types() == ["reset", "n"]
    assert seen.events[0].data == {"reason": reason, "last_event_id": bad}


async def test_a_finished_topic_ends_with_done_and_a_resume_completes(broker: Any) -> None:
    live = Seen(broker, topics="run-1")
    await attached(broker, 1)
    first = broker.publish(Event(type="n", data=0), topic="run-1")
    broker.finish_topic("run-1")
    await broker.flush()
    await eventually(lambda: live.completed)
    assert live.types() == ["n", "done"] and live.errors == []
    assert broker.is_finished("run-1")
    start = first.id or _before((await broker.history("run-1"))[0].id or "")
    again = Seen(broker, topics="run-1", last_event_id=start)
    await eventually(lambda: again.completed)
    assert again.types()[-1] == "done"


def _before(event_id: str) -> str:
    epoch, _, n = event_id.rpartition("-")
    return f"{epoch}-{int(n) - 1}"


async def test_a_control_reaches_controls_and_stays_as_the_flag_once(broker: Any) -> None:
    received: list[Control] = []
    broker.controls.subscribe(received.append)
    await broker.control("session-1", "cancel")
    await eventually(lambda: Control("session-1", "cancel") in received)
    assert await broker.take_control("session-1") == "cancel"
    assert await broker.take_control("session-1") is None


@pytest.mark.parametrize(
    ("session_id", "error", "message"),
    [
        ("s-\ud800", InvalidArgumentError, "session_id must be text UTF-8 can encode"),
        ("a\nb", ArgumentTypeError, "session_id must be a non-empty one-line string"),
        ("", ArgumentTypeError, "session_id must be a non-empty one-line string"),
        (7, ArgumentTypeError, "session_id must be a non-empty one-line string, got 7"),
    ],
)
async def test_take_control_refuses_a_session_id_no_control_could_name(
    broker: Any, session_id: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await broker.take_control(session_id)


async def test_after_close_subscribers_complete_and_publish_is_refused(broker: Any) -> None:
    seen = Seen(broker, topics="run-1")
    await attached(broker, 1)
    await broker.aclose()
    await eventually(lambda: seen.completed)
    assert broker.closed
    with pytest.raises(BrokerClosedError):
        broker.publish(Event(type="n"), topic="run-1")
    await asyncio.sleep(0)


# -- a consumer that does not keep up --------------------------------------------------------

# What a 4-frame buffer that is never read keeps of the events 0..9 of its topic, and how many
# frames its policy drops (``disconnect`` discards the buffer and ends it instead).
KEPT = {"drop_oldest": ([6, 7, 8, 9], 6), "drop_newest": ([0, 1, 2, 3], 6), "disconnect": ([], 0)}


def slow_sink(broker: Any) -> FrameSink:
    """An SSE connection's buffer, with the broker's settings, that nobody reads."""
    return FrameSink(
        encode=lambda event: json.dumps(event.data).encode(),
        size=broker.buffer_size,
        overflow=broker.overflow,
    )


async def publish_to_a_slow_and_a_fast_consumer(broker: Any, sink: FrameSink) -> Any:
    """Attach ``sink`` (client ``slow``) beside a subscriber that keeps up, publish the events
    0..9 to topic ``t`` and wait until the fast one has them all; returns the sink's
    registration."""
    fast = Seen(broker, topics="t")
    await attached(broker, 1)
    registration = await broker.attach(sink, client_id="slow", topics=frozenset({"t"}))
    await publish_numbers(broker, "t", range(10), fast)
    return registration


def slow_stats(broker: Any) -> SubscriberStats:
    (stats,) = [s for s in broker.stats().subscriptions if s.client_id == "slow"]
    return stats


@pytest.mark.parametrize("policy", BROKER_POLICIES)
async def test_a_buffer_nobody_reads_follows_the_overflow_policy(
    open_broker: OpenBroker, policy: str
) -> None:
    broker = await open_broker(buffer_size=4, overflow=policy)
    sink = slow_sink(broker)
    registration = await publish_to_a_slow_and_a_fast_consumer(broker, sink)
    kept, dropped = KEPT[policy]
    stats = slow_stats(broker)
    assert (stats.buffer_size, stats.overflow) == (4, policy)
    assert (stats.buffered, stats.dropped, stats.delivered) == (len(kept), dropped, 0)
    assert (broker.stats().dropped, broker.stats().disconnects) == (dropped, 0)
    if policy == "disconnect":
        assert sink.queue.overflowed and isinstance(sink.queue.exception, SlowConsumerError)
        with pytest.raises(SlowConsumerError):
            sink.queue.get_all_nowait()
    else:
        assert not sink.queue.ended
        assert [json.loads(frame) for frame in sink.queue.get_all_nowait()] == kept
        assert slow_stats(broker).delivered == len(kept)
    registration.dispose()  # what the SSE route does when its connection ends
    after = broker.stats()
    assert after.subscribers == 1
    assert (after.dropped, after.disconnects) == (dropped, int(policy == "disconnect"))


async def test_a_frozen_sse_client_is_disconnected_and_counted(
    open_broker: OpenBroker, serve: Serve
) -> None:
    broker = await open_broker(buffer_size=4, replay_size=8)
    base = await serve(topic_app(broker))
    assert await flood_a_frozen_client(broker, base) <= 4
    stats = broker.stats()
    assert (stats.subscribers, stats.disconnects, stats.dropped) == (0, 1, 0)


# -- stats() -----------------------------------------------------------------------------------


def plain(client_id: str, *topics: str) -> SubscriberStats:
    """The snapshot of a plain Rx subscriber (no buffer of its own)."""
    return SubscriberStats(client_id=client_id, topics=topics)


async def test_stats_after_known_publishes_and_subscriptions(open_broker: OpenBroker) -> None:
    broker = await open_broker(replay_size=64, buffer_size=8, overflow="drop_oldest")
    one = Seen(broker, client_id="a", topics="t1")
    both = Seen(broker, client_id="b", topics=["t2", "t1"])
    await attached(broker, 2)
    sink = slow_sink(broker)
    await broker.attach(sink, client_id="c", topics=frozenset({"t2"}))
    await publish_numbers(broker, "t1", range(3))
    await publish_numbers(broker, "t2", range(3, 5), both)
    stats = broker.stats()
    assert sorted(stats.subscriptions, key=lambda s: s.client_id or "") == [
        plain("a", "t1"),
        plain("b", "t1", "t2"),
        SubscriberStats("c", ("t2",), buffered=2, buffer_size=8, overflow="drop_oldest"),
    ]
    assert (stats.subscribers, stats.published, stats.dropped, stats.disconnects) == (3, 5, 0, 0)
    assert stats.replay_size == 64
    # the history is kept here by the in-process broker only (in Redis for RedisBroker)
    assert stats.replay_buffered == (5 if isinstance(broker, Broker) else 0)
    assert broker.unsubscribe("a") == 1
    await eventually(lambda: one.completed)  # RedisBroker's subscribe() ends in its task
    assert broker.stats().subscribers == 2
    broker.finish_topic("t2")  # completes "c" (only t2), not "b" (t1 too)
    await broker.flush()
    await eventually(lambda: broker.stats().subscribers == 1)
    stats = broker.stats()
    assert stats.subscriptions == (plain("b", "t1", "t2"),)
    assert (stats.published, sink.queue.ended, len(sink.queue)) == (6, True, 3)


# -- flush() -----------------------------------------------------------------------------------


async def test_flush_after_aclose_is_refused(broker: Any) -> None:
    broker.publish(Event(type="n"), topic="t")
    await broker.flush()
    await broker.aclose()
    with pytest.raises(BrokerClosedError, match="close"):
        await broker.flush()


async def test_a_subscriber_that_raises_fails_neither_flush_nor_the_others(broker: Any) -> None:
    reported: list[BaseException] = []
    asyncio.get_running_loop().set_exception_handler(
        lambda loop, context: reported.append(context["exception"])
    )

    def explode(event: Event) -> None:
        raise RuntimeError(f"subscriber failed on {event.data}")

    broker.subscribe(topics="t").subscribe(explode)  # no on_error: what it raises is reported
    calm = Seen(broker, topics="t")
    await attached(broker, 2)
    await publish_numbers(broker, "t", range(3), calm)
    await publish_numbers(broker, "t", range(3, 4), calm)  # delivery goes on after the failure
    assert [e.data for e in calm.events] == [0, 1, 2, 3] and calm.errors == []
    # Broker reports each failed on_next and keeps the subscriber; RedisBroker's subscribe()
    # ends that subscription with its first failure (as from_producer does), reported too.
    assert reported and str(reported[0]) == "subscriber failed on 0"
    assert all(isinstance(e, RuntimeError) for e in reported)


async def test_a_redis_that_goes_away_fails_flush_and_keeps_the_events() -> None:
    from rxchronos.stream import RedisBroker

    from .redis_servers import private_redis

    with private_redis() as server:
        async with RedisBroker(server.url, namespace="flush", close_timeout=0.5) as broker:
            broker.publish(Event(type="n", data=0), topic="t")
            await broker.flush()
            server.stop()
            broker.publish(Event(type="n", data=1), topic="t")
            with pytest.raises(BrokerUnavailableError, match=f"127.0.0.1:{server.port}.*outbox"):
                await broker.flush()
            server.start()  # empty (no persistence): the kept event starts a new history
            await asyncio.wait_for(broker.flush(), 20)
            assert [e.data for e in await broker.history("t")] == [1]
            server.stop()
            broker.publish(Event(type="n", data=2), topic="t")
            with pytest.raises(BrokerUnavailableError, match=r"1 event\(s\) could not be stored"):
                await broker.aclose()


# -- HTTP 204: the client must not reconnect -------------------------------------------------


async def test_a_finished_topic_answers_204_and_a_resume_before_its_end_does_not(
    broker: Any, serve: Serve, http: aiohttp.ClientSession
) -> None:
    base = await serve(topic_app(broker))
    url = f"{base}/runs/run-1"
    live = await open_stream(http, url)  # an open topic streams
    broker.publish(Event(type="step"), topic="run-1")
    broker.finish_topic("run-1")
    await broker.flush()
    assert [json.loads(e.data)["type"] for e in await live.rest()] == ["step", "done"]
    step, done = await broker.history("run-1")
    for headers in ({}, {"Last-Event-ID": done.id or ""}):
        async with http.get(url, headers=headers) as response:
            assert response.status == 204, headers
    late = await open_stream(http, url, {"Last-Event-ID": step.id or ""})
    (end,) = await late.rest()
    assert (json.loads(end.data)["type"], end.id) == ("done", done.id)
    bad = await open_stream(http, url, {"Last-Event-ID": "not-an-id!"})
    (reset,) = await bad.rest()
    assert (json.loads(reset.data)["type"], reset.id) == ("reset", done.id)
    async with http.get(url, headers={"Last-Event-ID": reset.id or ""}) as response:
        assert response.status == 204  # resuming from the reset: the topic is over


async def test_a_closed_broker_ends_its_streams_and_answers_204(
    broker: Any, serve: Serve, http: aiohttp.ClientSession
) -> None:
    base = await serve(topic_app(broker))
    live = await open_stream(http, f"{base}/runs/run-1")
    await attached(broker, 1)
    await broker.aclose()
    assert await live.rest() == []
    async with http.get(f"{base}/runs/run-1") as response:
        assert response.status == 204
