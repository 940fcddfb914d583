"""The asyncio <-> Rx bridges: from_async_iterable and to_async_iterator."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
import reactivex
from reactivex import operators as ops
from reactivex.abc import ObserverBase
from reactivex.subject import Subject

from rxchronos import RxChronosError
from rxchronos import SlowConsumerError
from rxchronos.aio import DEFAULT_MAXSIZE
from rxchronos.aio import from_async_iterable
from rxchronos.aio import to_async_iterator


class Recorder(ObserverBase[Any]):
    """An observer that records what it receives and resolves ``done`` at the end."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.errors: list[Exception] = []
        self.completed = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_next(self, item: Any) -> None:
        self.items.append(item)

    def on_error(self, error: Exception) -> None:
        self.errors.append(error)
        self.done.set_result(None)

    def on_completed(self) -> None:
        self.completed = True
        self.done.set_result(None)


async def settle(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Let the loop run until no task beyond ``before`` is left; return the ones that are."""
    for _ in range(100):
        extra = asyncio.all_tasks() - before
        if not extra:
            return extra
        await asyncio.sleep(0)
    return asyncio.all_tasks() - before


class Source:
    """An async generator factory that records calls, progress and whether its finally ran."""

    def __init__(self, items: list[Any], *, then_wait: bool = False, fail: Exception | None = None):
        self.items = items
        self.then_wait = then_wait
        self.fail = fail
        self.calls = 0
        self.yielded = 0
        self.closed = asyncio.Event()
        self.forever = asyncio.Event()

    def __call__(self) -> AsyncIterator[Any]:
        self.calls += 1
        return self._generate()

    async def _generate(self) -> AsyncIterator[Any]:
        try:
            for item in self.items:
                await asyncio.sleep(0)
                self.yielded += 1
                yield item
            if self.fail is not None:
                raise self.fail
            if self.then_wait:
                await self.forever.wait()
        finally:
            self.closed.set()


# --- from_async_iterable ---------------------------------------------------------------------


async def test_items_then_completion_in_order() -> None:
    source = Source([1, 2, 3])
    recorder = Recorder()
    from_async_iterable(source).subscribe(recorder)
    await recorder.done
    assert recorder.items == [1, 2, 3]
    assert recorder.completed and not recorder.errors
    assert source.closed.is_set()


async def test_cold_one_iteration_per_subscription() -> None:
    source = Source(["a", "b"])
    observable = from_async_iterable(source)
    await asyncio.sleep(0)
    assert source.calls == 0  # nothing happens before subscribe
    first, second = Recorder(), Recorder()
    observable.subscribe(first)
    observable.subscribe(second)
    await asyncio.gather(first.done, second.done)
    assert source.calls == 2
    assert first.items == second.items == ["a", "b"]


async def test_disposal_cancels_the_pump_and_closes_the_iterator() -> None:
    before = asyncio.all_tasks()
    source = Source(["x"], then_wait=True)
    recorder = Recorder()
    subscription = from_async_iterable(source).subscribe(recorder)
    while not recorder.items:
        await asyncio.sleep(0)
    assert len(asyncio.all_tasks() - before) == 1  # the pump is running
    subscription.dispose()
    await source.closed.wait()
    assert await settle(before) == set()
    assert not recorder.done.done()  # disposal is neither an error nor a completion


async def test_disposal_before_the_pump_starts_never_calls_the_factory() -> None:
    before = asyncio.all_tasks()
    source = Source([1])
    from_async_iterable(source).subscribe(Recorder()).dispose()
    assert await settle(before) == set()
    assert source.calls == 0


async def test_disposal_from_another_thread() -> None:
    before = asyncio.all_tasks()
    source = Source([1], then_wait=True)
    recorder = Recorder()
    subscription = from_async_iterable(source).subscribe(recorder)
    while not recorder.items:
        await asyncio.sleep(0)
    await asyncio.to_thread(subscription.dispose)
    await source.closed.wait()
    assert await settle(before) == set()


async def test_source_error_goes_to_on_error() -> None:
    boom = ValueError("boom")
    source = Source([1, 2], fail=boom)
    recorder = Recorder()
    from_async_iterable(source).subscribe(recorder)
    await recorder.done
    assert recorder.items == [1, 2]
    assert recorder.errors == [boom]
    assert not recorder.completed
    assert source.closed.is_set()


async def test_subscriber_error_goes_to_its_on_error_and_closes_the_iterator() -> None:
    before = asyncio.all_tasks()
    source = Source([1, 2, 3], then_wait=True)
    errors: list[Exception] = []
    bug = KeyError("bug in the subscriber")

    def on_next(item: int) -> None:
        if item == 2:
            raise bug

    from_async_iterable(source).subscribe(on_next, errors.append)
    await source.closed.wait()
    assert await settle(before) == set()
    assert errors == [bug]
    assert source.yielded == 2  # the iteration stopped at the failing item


async def test_disposal_inside_on_next_stops_the_iteration() -> None:
    before = asyncio.all_tasks()
    source = Source(list(range(10)), then_wait=True)
    recorder = Recorder()
    from_async_iterable(source).pipe(ops.take(3)).subscribe(recorder)
    await recorder.done
    await source.closed.wait()
    assert recorder.items == [0, 1, 2] and recorder.completed
    assert source.yielded == 3
    assert await settle(before) == set()


async def test_factory_that_does_not_return_an_async_iterable_is_an_error() -> None:
    recorder = Recorder()
    from_async_iterable(lambda: [1, 2]).subscribe(recorder)  # type: ignore[arg-type, return-value]
    await recorder.done
    assert isinstance(recorder.errors[0], TypeError)


def test_factory_must_be_callable() -> None:
    async def gen() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError, match="function returning an async iterable"):
        from_async_iterable(gen())  # type: ignore[arg-type]


def test_subscribing_outside_the_loop_is_an_error() -> None:
    errors: list[Exception] = []
    from_async_iterable(Source([1])).subscribe(on_error=errors.append)
    assert isinstance(errors[0], RxChronosError)
    assert "event loop" in str(errors[0])


# --- to_async_iterator -----------------------------------------------------------------------


async def test_iterates_an_observable_lazily() -> None:
    subscriptions = 0

    def make() -> reactivex.Observable[int]:
        nonlocal subscriptions
        subscriptions += 1
        return reactivex.of(1, 2, 3)

    iterator = to_async_iterator(reactivex.defer(lambda _: make()))
    assert subscriptions == 0
    assert [n async for n in iterator] == [1, 2, 3]
    assert subscriptions == 1
    with pytest.raises(StopAsyncIteration):
        await iterator.__anext__()


async def test_round_trip_through_both_bridges_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    source = Source(list(range(5)))
    items = [n async for n in to_async_iterator(from_async_iterable(source))]
    assert items == [0, 1, 2, 3, 4]
    assert await settle(before) == set()


async def test_on_error_is_raised_in_the_consumer() -> None:
    boom = RuntimeError("boom")
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="boom"):
        async for n in to_async_iterator(reactivex.concat(reactivex.of(1), reactivex.throw(boom))):
            seen.append(n)
    assert seen == [1]


@pytest.mark.parametrize(
    ("overflow", "expected", "dropped"),
    [("drop_oldest", [7, 8, 9], 7), ("drop_newest", [0, 1, 2], 7)],
)
async def test_bounded_buffer_drops_by_policy(
    overflow: Any, expected: list[int], dropped: int
) -> None:
    iterator = to_async_iterator(reactivex.from_iterable(range(10)), maxsize=3, overflow=overflow)
    assert iterator.statistics() is None
    assert [n async for n in iterator] == expected
    stats = iterator.statistics()
    assert stats is not None
    assert (stats.pushed, stats.dropped, stats.delivered, stats.buffered) == (10, dropped, 3, 0)


async def test_overflow_error_raises_after_the_buffered_items_and_disposes() -> None:
    subject: Subject[int] = Subject()
    iterator = to_async_iterator(subject, maxsize=3, overflow="error")
    first = asyncio.ensure_future(iterator.__anext__())
    await asyncio.sleep(0)  # subscribed, waiting
    for n in range(6):
        subject.on_next(n)
    assert not subject.observers  # disposed at the overflow
    assert await first == 0
    assert [await iterator.__anext__() for _ in range(2)] == [1, 2]
    with pytest.raises(SlowConsumerError, match="overflow policy is 'error'"):
        await iterator.__anext__()
    with pytest.raises(StopAsyncIteration):
        await iterator.__anext__()


async def test_overflow_error_during_a_synchronous_subscribe_disposes() -> None:
    disposed = False

    def subscribe(observer: Any, _scheduler: Any = None) -> Any:
        for n in range(5):
            observer.on_next(n)

        def dispose() -> None:
            nonlocal disposed
            disposed = True

        return dispose

    iterator = to_async_iterator(reactivex.create(subscribe), maxsize=2, overflow="error")
    assert await iterator.__anext__() == 0
    assert disposed
    assert await iterator.__anext__() == 1
    with pytest.raises(SlowConsumerError):
        await iterator.__anext__()


async def test_break_disposes_the_subscription() -> None:
    subject: Subject[int] = Subject()

    async def consume() -> list[int]:
        got = []
        async for n in to_async_iterator(subject):
            got.append(n)
            break
        return got

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    assert len(subject.observers) == 1
    subject.on_next(1)
    assert await task == [1]
    assert not subject.observers


async def test_break_closes_an_async_source_and_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    source = Source(list(range(100)), then_wait=True)
    async for n in to_async_iterator(from_async_iterable(source)):
        if n == 2:
            break
    await source.closed.wait()
    assert await settle(before) == set()
    assert source.yielded < 100


async def test_aclose_and_async_with_dispose() -> None:
    subject: Subject[int] = Subject()
    iterator = to_async_iterator(subject)
    waiting = asyncio.ensure_future(iterator.__anext__())
    await asyncio.sleep(0)
    assert len(subject.observers) == 1
    await iterator.aclose()
    assert not subject.observers
    with pytest.raises(StopAsyncIteration):
        await waiting  # a waiting consumer is released
    await iterator.aclose()  # idempotent

    async with to_async_iterator(subject) as items:
        pending = asyncio.ensure_future(items.__anext__())
        await asyncio.sleep(0)
        subject.on_next(5)
        assert await pending == 5
        assert len(subject.observers) == 1
    assert not subject.observers


async def test_a_cancelled_consumer_can_carry_on() -> None:
    subject: Subject[int] = Subject()
    iterator = to_async_iterator(subject)
    waiting = asyncio.ensure_future(iterator.__anext__())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(subject.observers) == 1  # still subscribed
    subject.on_next(7)
    assert await iterator.__anext__() == 7
    await iterator.aclose()


async def test_values_from_another_thread_arrive_in_order() -> None:
    subject: Subject[int] = Subject()
    iterator = to_async_iterator(subject, maxsize=None)  # unbounded: nothing may be dropped
    first = asyncio.ensure_future(iterator.__anext__())
    await asyncio.sleep(0)

    def produce() -> None:
        for n in range(2000):
            subject.on_next(n)
        subject.on_completed()

    thread = threading.Thread(target=produce)
    thread.start()
    items = [await first] + [n async for n in iterator]
    thread.join()
    assert items == list(range(2000))


async def test_a_foreign_thread_cannot_grow_the_buffer_past_maxsize() -> None:
    subject: Subject[int] = Subject()
    iterator = to_async_iterator(subject, maxsize=10, overflow="drop_oldest")
    first = asyncio.ensure_future(iterator.__anext__())
    await asyncio.sleep(0)
    peak = 0

    def produce() -> None:
        nonlocal peak
        for n in range(5000):
            subject.on_next(n)
            stats = iterator.statistics()
            assert stats is not None
            peak = max(peak, stats.buffered)
        subject.on_completed()

    await asyncio.to_thread(produce)
    items = [await first] + [n async for n in iterator]
    stats = iterator.statistics()
    assert stats is not None
    assert peak <= 10
    assert items == sorted(items) and items[-1] == 4999
    assert stats.delivered + stats.dropped == stats.pushed == 5000


async def test_the_default_buffer_is_bounded_and_loud() -> None:
    fits = to_async_iterator(reactivex.from_iterable(range(DEFAULT_MAXSIZE)))
    assert [n async for n in fits] == list(range(DEFAULT_MAXSIZE))
    stats = fits.statistics()
    assert stats is not None
    assert (stats.maxsize, stats.overflow, stats.dropped) == (DEFAULT_MAXSIZE, "error", 0)

    burst = to_async_iterator(reactivex.from_iterable(range(DEFAULT_MAXSIZE + 1)))
    got: list[int] = []
    with pytest.raises(SlowConsumerError, match=f"{DEFAULT_MAXSIZE} items were already buffered"):
        async for n in burst:
            got.append(n)
    assert got == list(range(DEFAULT_MAXSIZE))  # what was buffered arrives, then the error


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="overflow must be one of"):
        to_async_iterator(reactivex.empty(), overflow="disconnect")  # the broker's, not ours
    with pytest.raises(ValueError, match="overflow must be one of"):
        to_async_iterator(reactivex.empty(), maxsize=1, overflow="block")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maxsize must be >= 1"):
        to_async_iterator(reactivex.empty(), maxsize=0)
    with pytest.raises(TypeError, match="maxsize must be an int"):
        to_async_iterator(reactivex.empty(), maxsize=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes a reactivex Observable"):
        to_async_iterator([1, 2])  # type: ignore[arg-type]
