"""The broker contract, checked on every broker: the in-process ``Broker`` and ``RedisBroker``
(on the shared Redis, a namespace per test; skipped without Redis unless
``RXCHRONOS_REQUIRE_REDIS=1``). A new backend joins by adding a case to the ``broker`` fixture.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rxchronos.stream import Broker, BrokerClosedError, BrokerProtocol, Control, Event

from .conftest import eventually


@pytest.fixture(params=["Broker", "RedisBroker"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "Broker":
        async with Broker() as memory:
            yield memory
        return
    from rxchronos.stream import RedisBroker

    from .redis_servers import drop_namespace, new_namespace

    url = request.getfixturevalue("url")  # skips without Redis
    namespace = new_namespace()
    try:
        async with RedisBroker(url, namespace=namespace) as redis_broker:
            yield redis_broker
    finally:
        drop_namespace(url, namespace)


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


async def test_ids_increase_strictly_per_topic_in_publish_order(broker: Any) -> None:
    assert isinstance(broker, BrokerProtocol)
    seen = Seen(broker, topics="run-1")
    await attached(broker, 1)
    for n in range(30):
        broker.publish(Event(type="n", data=n), topic="run-1")
    await broker.flush()
    await eventually(lambda: len(seen.events) == 30)
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


async def test_after_close_subscribers_complete_and_publish_is_refused(broker: Any) -> None:
    seen = Seen(broker, topics="run-1")
    await attached(broker, 1)
    await broker.aclose()
    await eventually(lambda: seen.completed)
    assert broker.closed
    with pytest.raises(BrokerClosedError):
        broker.publish(Event(type="n"), topic="run-1")
    await asyncio.sleep(0)
