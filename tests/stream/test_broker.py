"""The Broker without HTTP: multicast, topics, replay at the seam, resets, finish, close, stats."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import reactivex
from pydantic import BaseModel

from rxchronos.aio import to_async_iterator
from rxchronos.stream import Broker
from rxchronos.stream import BrokerClosedError
from rxchronos.stream import BrokerError
from rxchronos.stream import Event


class Recorder:
    """Collects what one subscription receives."""

    def __init__(self, observable: reactivex.Observable[Event]) -> None:
        self.events: list[Event] = []
        self.completed = False
        self.errors: list[Exception] = []
        self.subscription = observable.subscribe(
            self.events.append, self.errors.append, self._complete
        )

    def _complete(self) -> None:
        self.completed = True

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    @property
    def data(self) -> list[Any]:
        return [e.data for e in self.events]


def publish_numbers(broker: Broker, numbers: range, topic: str | None = None) -> list[Event]:
    return [broker.publish(Event(type="n", data=n), topic=topic) for n in numbers]


def test_every_subscriber_gets_every_event_stamped_with_increasing_ids() -> None:
    broker = Broker()
    first, second = Recorder(broker.subscribe("a")), Recorder(broker.subscribe("b"))
    stamped = publish_numbers(broker, range(3))
    assert first.data == second.data == [0, 1, 2]
    assert [e.id for e in stamped] == [f"{broker.epoch}-{n}" for n in (1, 2, 3)]
    assert first.events == stamped


def test_publish_returns_a_stamped_copy_and_leaves_the_input_alone() -> None:
    broker = Broker()
    original = Event(type="x", data={"k": 1})
    stamped = broker.publish(original, topic="t")
    assert (original.id, original.topic) == (None, None)
    assert (stamped.type, stamped.data, stamped.topic) == ("x", {"k": 1}, "t")


def test_topics_are_isolated() -> None:
    broker = Broker()
    only_a = Recorder(broker.subscribe(topics="a"))
    a_and_b = Recorder(broker.subscribe(topics=["a", "b"]))
    everything = Recorder(broker.subscribe())
    broker.publish(Event(type="to_a"), topic="a")
    broker.publish(Event(type="to_b"), topic="b")
    broker.publish(Event(type="to_c"), topic="c")
    broker.publish(Event(type="no_topic"))
    assert only_a.types == ["to_a"]
    assert a_and_b.types == ["to_a", "to_b"]
    assert everything.types == ["to_a", "to_b", "to_c", "no_topic"]


def test_resuming_replays_exactly_the_missed_events_then_goes_live() -> None:
    broker = Broker()
    stamped = publish_numbers(broker, range(1, 6))
    resumed = Recorder(broker.subscribe(last_event_id=stamped[1].id))
    publish_numbers(broker, range(6, 8))
    assert resumed.data == [3, 4, 5, 6, 7]
    ids = [e.id for e in resumed.events]
    assert len(set(ids)) == len(ids)


def test_resuming_with_topics_replays_only_those_topics() -> None:
    broker = Broker()
    start = broker.publish(Event(type="start"), topic="a")
    broker.publish(Event(type="other"), topic="b")
    broker.publish(Event(type="mine"), topic="a")
    assert Recorder(broker.subscribe(topics="a", last_event_id=start.id)).types == ["mine"]


def test_resuming_at_the_newest_id_replays_nothing_and_no_reset() -> None:
    broker = Broker()
    last = publish_numbers(broker, range(3))[-1]
    assert Recorder(broker.subscribe(last_event_id=last.id)).events == []


def test_an_id_older_than_the_ring_gives_one_reset_then_live_events() -> None:
    broker = Broker(replay_size=2)
    stamped = publish_numbers(broker, range(5))
    resumed = Recorder(broker.subscribe(last_event_id=stamped[0].id))
    broker.publish(Event(type="live"))
    assert resumed.types == ["reset", "live"]
    reset = resumed.events[0]
    assert reset.data == {"reason": "too_old", "last_event_id": stamped[0].id}
    assert reset.id == stamped[-1].id  # resuming from the reset's id continues without a gap
    assert Recorder(broker.subscribe(last_event_id=reset.id)).types == ["live"]


def test_an_id_from_the_future_gives_a_reset() -> None:
    broker = Broker()
    resumed = Recorder(broker.subscribe(last_event_id=f"{broker.epoch}-99"))
    assert resumed.events[0].data["reason"] == "unknown_id"


def test_unsubscribe_completes_every_subscription_of_that_client() -> None:
    broker = Broker()
    tab1, tab2, other = (Recorder(broker.subscribe(c)) for c in ("c1", "c1", "c2"))
    assert broker.unsubscribe("c1") == 2
    broker.publish(Event(type="after"))
    assert tab1.completed and tab2.completed and not other.completed
    assert tab1.events == tab2.events == []
    assert other.types == ["after"]
    assert broker.stats().subscribers == 1


def test_disposing_a_subscription_detaches_it() -> None:
    broker = Broker()
    recorder = Recorder(broker.subscribe(topics="t"))
    recorder.subscription.dispose()
    broker.publish(Event(type="x"), topic="t")
    assert recorder.events == []
    assert broker.stats().subscribers == 0
    assert broker._subscriptions.watched_topics == frozenset()


def test_finish_topic_sends_done_and_completes_its_subscribers() -> None:
    broker = Broker()
    run = Recorder(broker.subscribe(topics="s1"))
    both = Recorder(broker.subscribe(topics=["s1", "s2"]))
    everything = Recorder(broker.subscribe())
    done = broker.finish_topic("s1")
    assert (done.type, done.data, done.topic) == ("done", {"topic": "s1"}, "s1")
    assert run.types == ["done"] and run.completed
    assert both.types == ["done"] and not both.completed
    assert everything.types == ["done"] and not everything.completed
    broker.finish_topic("s2")
    assert both.completed


def test_a_finished_topic_completes_new_subscribers_after_their_replay() -> None:
    broker = Broker()
    first = broker.publish(Event(type="step"), topic="s1")
    broker.publish(Event(type="step"), topic="s1")
    broker.finish_topic("s1")
    late = Recorder(broker.subscribe(topics="s1"))
    assert late.events == [] and late.completed
    resumed = Recorder(broker.subscribe(topics="s1", last_event_id=first.id))
    assert resumed.types == ["step", "done"] and resumed.completed


def test_publishing_to_a_finished_topic_reopens_it() -> None:
    broker = Broker()
    broker.finish_topic("s1")
    assert broker.is_finished("s1")
    broker.publish(Event(type="again"), topic="s1")
    assert not broker.is_finished("s1")
    assert not Recorder(broker.subscribe(topics="s1")).completed


def test_close_completes_everyone_and_refuses_more_events() -> None:
    broker = Broker()
    subscriber = Recorder(broker.subscribe("c"))
    hot = Recorder(broker.events)
    broker.close()
    broker.close()  # idempotent
    assert subscriber.completed and hot.completed
    with pytest.raises(BrokerClosedError):
        broker.publish(Event(type="late"))
    assert Recorder(broker.subscribe()).completed


def test_events_is_hot_and_sees_everything_from_now_on() -> None:
    broker = Broker()
    broker.publish(Event(type="before"))
    hot = Recorder(broker.events)
    broker.publish(Event(type="after"), topic="any")
    assert hot.types == ["after"]


def test_a_subscriber_that_raises_does_not_cost_the_others_their_event() -> None:
    broker = Broker()

    def explode(_: Event) -> None:
        raise RuntimeError("subscriber bug")

    broker.subscribe().subscribe(explode)
    healthy = Recorder(broker.subscribe())
    with pytest.raises(RuntimeError, match="subscriber bug"):  # outside a loop: re-raised after
        broker.publish(Event(type="x"))
    assert healthy.types == ["x"]


async def test_inside_a_loop_a_raising_subscriber_reaches_the_exception_handler() -> None:
    broker = Broker()
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: reported.append(ctx))

    def divide_by_zero(_: Event) -> None:
        print(1 / 0)

    broker.subscribe().subscribe(divide_by_zero)
    healthy = Recorder(broker.subscribe())
    broker.publish(Event(type="x"))
    assert healthy.types == ["x"]
    assert isinstance(reported[0]["exception"], ZeroDivisionError)


def test_objects_with_a_type_can_be_published() -> None:
    class RunEvent(BaseModel):
        type: str
        seq: int

    broker = Broker()
    recorder = Recorder(broker.subscribe())
    broker.publish(RunEvent(type="node_end", seq=4), topic="s")
    broker.publish({"type": "custom", "progress": 0.5})
    assert recorder.types == ["node_end", "custom"]
    assert recorder.data == [{"seq": 4}, {"progress": 0.5}]


def test_bad_publishes_are_refused_without_using_an_id() -> None:
    broker = Broker()
    with pytest.raises(TypeError):
        broker.publish(Event(type="x", data=object()))
    with pytest.raises(TypeError, match="topic"):
        broker.publish(Event(type="x"), topic="")
    assert broker.publish(Event(type="ok")).id == f"{broker.epoch}-1"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"overflow": "block"}, ValueError),
        ({"buffer_size": 0}, ValueError),
        ({"replay_size": -1}, ValueError),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        Broker(**kwargs)


def test_bad_topics_are_refused() -> None:
    broker = Broker()
    with pytest.raises(ValueError, match="at least one"):
        broker.subscribe(topics=[])
    with pytest.raises(TypeError, match="topic"):
        broker.subscribe(topics=[""])


def test_stats_report_subscribers_and_the_ring() -> None:
    broker = Broker(replay_size=3)
    Recorder(broker.subscribe("c1", topics=["b", "a"]))
    publish_numbers(broker, range(5))
    stats = broker.stats()
    assert (stats.subscribers, stats.published, stats.replay_buffered) == (1, 5, 3)
    assert stats.subscriptions[0].client_id == "c1"
    assert stats.subscriptions[0].topics == ("a", "b")


async def test_publish_threadsafe_publishes_on_the_loop() -> None:
    broker = Broker()
    recorder = Recorder(broker.subscribe())
    loop_thread = threading.get_ident()
    seen_on: list[int] = []
    broker.events.subscribe(lambda _: seen_on.append(threading.get_ident()))
    future = await asyncio.to_thread(broker.publish_threadsafe, Event(type="t"), topic="x")
    stamped = await asyncio.wrap_future(future)
    assert recorder.events == [stamped]
    assert seen_on == [loop_thread]


async def test_publish_from_another_thread_is_refused_loudly() -> None:
    broker = Broker()
    with pytest.raises(BrokerError, match="publish_threadsafe"):
        await asyncio.to_thread(broker.publish, Event(type="t"))


def test_publish_threadsafe_needs_a_loop() -> None:
    with pytest.raises(BrokerError, match="loop"):
        Broker().publish_threadsafe(Event(type="t"))


async def test_a_stalled_async_consumer_never_slows_the_publisher() -> None:
    broker = Broker(replay_size=10)
    stalled = to_async_iterator(broker.subscribe(), maxsize=5, overflow="drop_oldest")
    first = asyncio.ensure_future(anext(stalled))
    await asyncio.sleep(0)  # the iterator subscribes on its first __anext__
    fast = Recorder(broker.subscribe())
    publish_numbers(broker, range(10_000))
    assert len(fast.events) == 10_000
    got = [(await first).data] + [(await anext(stalled)).data for _ in range(4)]
    assert got == [9995, 9996, 9997, 9998, 9999]
    await stalled.aclose()
    assert broker.stats().subscribers == 1


def test_last_event_id_marks_the_point_to_replay_from() -> None:
    broker = Broker()
    assert broker.last_event_id == f"{broker.epoch}-0"
    broker.publish(Event(type="before"))
    mark = broker.last_event_id
    broker.publish(Event(type="a"), topic="t")
    broker.publish(Event(type="b"), topic="t")
    assert broker.last_event_id.endswith("-3")
    seen: list[str] = []
    broker.subscribe(topics=["t"], last_event_id=mark).subscribe(lambda e: seen.append(e.type))
    assert seen == ["a", "b"]


async def test_history_is_the_topics_events_still_in_the_ring() -> None:
    broker = Broker(replay_size=4)
    broker.publish(Event(type="a"), topic="t")
    for n in range(3):
        broker.publish(Event(type="b", data=n), topic="other")
    assert [e.type for e in await broker.history("t")] == ["a"]
    broker.publish(Event(type="c"), topic="t")  # the ring of 4 lets "a" go
    broker.finish_topic("t")
    kept = await broker.history("t")
    assert [e.type for e in kept] == ["c", "done"]
    assert [e.id for e in kept] == [f"{broker.epoch}-5", f"{broker.epoch}-6"]
    assert await broker.history("nothing") == []
