"""The bounded queue behind to_async_iterator: policies, ending, statistics, threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rxchronos import SlowConsumerError
from rxchronos._queue import BoundedQueue
from rxchronos._queue import QueueStatistics


async def drain(queue: BoundedQueue[int]) -> list[int]:
    return [item async for item in queue]


async def test_unbounded_keeps_everything_in_order() -> None:
    queue: BoundedQueue[int] = BoundedQueue()
    for n in range(1000):
        queue.push(n)
    queue.end()
    assert await drain(queue) == list(range(1000))


async def test_drop_oldest_and_drop_newest() -> None:
    oldest: BoundedQueue[int] = BoundedQueue(2, "drop_oldest")
    newest: BoundedQueue[int] = BoundedQueue(2, "drop_newest")
    for n in range(5):
        oldest.push(n)
        newest.push(n)
    assert len(oldest) == len(newest) == 2
    oldest.end()
    newest.end()
    assert await drain(oldest) == [3, 4]
    assert await drain(newest) == [0, 1]


async def test_error_policy_ends_the_queue_after_the_buffered_items() -> None:
    overflows: list[str] = []
    queue: BoundedQueue[int] = BoundedQueue(2, "error", on_overflow=lambda: overflows.append("!"))
    for n in range(5):
        queue.push(n)
    assert overflows == ["!"]  # called once, at the overflow
    assert [await queue.get(), await queue.get()] == [0, 1]
    with pytest.raises(SlowConsumerError):
        await queue.get()
    stats = queue.statistics()
    assert (stats.pushed, stats.delivered, stats.dropped, stats.ended) == (5, 2, 3, True)


async def test_end_with_an_exception_after_the_items() -> None:
    queue: BoundedQueue[int] = BoundedQueue()
    queue.push(1)
    queue.end(ValueError("source failed"))
    queue.end()  # the first reason wins
    assert await queue.get() == 1
    with pytest.raises(ValueError, match="source failed"):
        await queue.get()


async def test_a_waiting_consumer_is_woken_by_push_end_and_close() -> None:
    queue: BoundedQueue[int] = BoundedQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert queue.statistics().consumer_waiting
    queue.push(9)
    assert await getter == 9
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(StopAsyncIteration):
        await getter


async def test_close_discards_what_is_buffered() -> None:
    queue: BoundedQueue[int] = BoundedQueue()
    queue.push(1)
    queue.close()
    queue.push(2)
    assert await drain(queue) == []
    assert queue.statistics().dropped == 1


async def test_only_one_consumer_may_wait() -> None:
    queue: BoundedQueue[int] = BoundedQueue()
    first = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await queue.get()
    queue.push(1)
    assert await first == 1


async def test_a_cancelled_get_leaves_the_queue_usable() -> None:
    queue: BoundedQueue[int] = BoundedQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert not queue.statistics().consumer_waiting
    queue.push(3)
    assert await queue.get() == 3


async def test_push_from_another_thread_wakes_the_consumer() -> None:
    queue: BoundedQueue[int] = BoundedQueue(100, "error")
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    thread = threading.Thread(target=queue.push, args=(42,))
    thread.start()
    assert await getter == 42
    thread.join()


async def test_statistics_snapshot() -> None:
    queue: BoundedQueue[str] = BoundedQueue(3, "drop_newest")
    for item in "abcd":
        queue.push(item)
    await queue.get()
    assert queue.statistics() == QueueStatistics(
        buffered=2,
        maxsize=3,
        overflow="drop_newest",
        pushed=4,
        delivered=1,
        dropped=1,
        ended=False,
        consumer_waiting=False,
    )


async def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="overflow must be one of"):
        BoundedQueue(1, "block")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maxsize must be >= 1"):
        BoundedQueue(0)
    with pytest.raises(TypeError, match="maxsize must be an int"):
        BoundedQueue(True)


async def test_disconnect_policy_ends_at_once_and_discards_the_buffer() -> None:
    overflows: list[str] = []
    queue: BoundedQueue[int] = BoundedQueue(
        2, "disconnect", on_overflow=lambda: overflows.append("!")
    )
    for n in range(4):
        queue.push(n)
    assert overflows == ["!"]
    assert queue.ended and queue.overflowed and len(queue) == 0
    with pytest.raises(SlowConsumerError, match="'disconnect'"):
        queue.get_all_nowait()
    stats = queue.statistics()
    assert (stats.pushed, stats.delivered, stats.dropped) == (4, 0, 4)


async def test_get_all_nowait_takes_everything_in_order_then_ends() -> None:
    queue: BoundedQueue[int] = BoundedQueue(10, threadsafe=False)
    assert list(queue.get_all_nowait()) == []
    for n in range(3):
        queue.push(n)
    assert list(queue.get_all_nowait()) == [0, 1, 2]
    queue.push(3)
    queue.end()
    assert list(queue.get_all_nowait()) == [3]
    with pytest.raises(StopAsyncIteration):
        queue.get_all_nowait()
    assert queue.statistics().delivered == 4


async def test_on_wake_fires_when_items_arrive_in_an_empty_queue_and_at_the_end() -> None:
    wakes: list[int] = []
    queue: BoundedQueue[int] = BoundedQueue(
        10, on_wake=lambda: wakes.append(len(queue)), threadsafe=False
    )
    queue.push(1)
    queue.push(2)  # not empty already: no second wake
    queue.get_all_nowait()
    queue.push(3)
    queue.end()
    assert wakes == [1, 1, 1]


async def test_unbounded_lifts_the_limit_until_the_consumer_takes() -> None:
    queue: BoundedQueue[int] = BoundedQueue(2, "disconnect", threadsafe=False)
    with queue.unbounded():
        for n in range(5):
            queue.push(n)
    queue.push(5)  # the replayed items are allowed on top of maxsize
    assert not queue.ended
    assert list(queue.get_all_nowait()) == [0, 1, 2, 3, 4, 5]
    for n in range(3):
        queue.push(n)
    assert queue.overflowed  # the plain limit again


async def test_a_loop_only_queue_takes_no_lock() -> None:
    queue: BoundedQueue[int] = BoundedQueue(threadsafe=False)
    assert queue._lock is None
    queue.push(1)
    queue.end()
    assert [n async for n in queue] == [1]
