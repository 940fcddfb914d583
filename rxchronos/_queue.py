"""A bounded buffer between a synchronous producer (an Rx source) and one async consumer.

RxPY has no backpressure: a source calls ``on_next`` as fast as it likes. Wherever such a source
meets an ``await``-ing consumer, the items wait in a :class:`BoundedQueue`, whose size is capped
and whose *overflow policy* says, by name, what happens when it is full:

``drop_oldest``  drop the oldest buffered item to make room (counted in ``dropped``).
``drop_newest``  drop the incoming item (counted in ``dropped``).
``error``        end the queue with :class:`~rxchronos.SlowConsumerError`: the consumer first
                 receives every item buffered before the overflow, then the error; the producer is
                 told at once through ``on_overflow`` (to dispose its subscription).

It is built like aiohttp's ``DataQueue``: synchronous push, asynchronous pull, and one waiter
future whose ``set_result`` is guarded. ``push`` and ``end`` may be called from any thread (the
buffer is guarded by a lock and the consumer is woken through ``loop.call_soon_threadsafe``), so
memory stays bounded even when a foreign thread produces faster than the loop consumes.
:meth:`BoundedQueue.statistics` says how full the queue is and how much it dropped, like anyio's
memory streams.

Example:
    >>> import asyncio
    >>> async def main():
    ...     queue = BoundedQueue(maxsize=2, overflow="drop_oldest")
    ...     for n in range(5):
    ...         queue.push(n)
    ...     queue.end()
    ...     return [n async for n in queue], queue.statistics().dropped
    >>> asyncio.run(main())
    ([3, 4], 3)
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, get_args

from rxchronos._errors import SlowConsumerError

__all__ = ["OVERFLOW_POLICIES", "BoundedQueue", "Overflow", "QueueStatistics", "check_bounds"]

_T = TypeVar("_T")

Overflow = Literal["drop_oldest", "drop_newest", "error"]
OVERFLOW_POLICIES: tuple[str, ...] = get_args(Overflow)


def check_bounds(maxsize: int | None, overflow: str) -> None:
    """Raise ``ValueError``/``TypeError`` for a bad ``maxsize`` or an unknown overflow policy."""
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
    if maxsize is None:
        return
    if isinstance(maxsize, bool) or not isinstance(maxsize, int):
        raise TypeError(f"maxsize must be an int or None, got {type(maxsize).__name__}")
    if maxsize < 1:
        raise ValueError(f"maxsize must be >= 1 (or None for unbounded), got {maxsize}")


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    """A snapshot of a :class:`BoundedQueue`.

    Attributes:
        buffered: items waiting to be taken now.
        maxsize: the capacity (``None``: unbounded).
        overflow: the overflow policy.
        pushed: items offered so far (``pushed == delivered + dropped + buffered``, until
            :meth:`BoundedQueue.close` discards what is buffered).
        delivered: items taken by the consumer so far.
        dropped: items dropped by the overflow policy, or offered after the queue ended.
        ended: whether the producer side has ended (completed, failed or overflowed).
        consumer_waiting: whether a consumer is waiting for the next item.
    """

    buffered: int
    maxsize: int | None
    overflow: Overflow
    pushed: int
    delivered: int
    dropped: int
    ended: bool
    consumer_waiting: bool


class BoundedQueue(Generic[_T]):
    """A bounded, single-consumer queue: sync ``push`` from any thread, async ``get`` on the loop.

    Create it on the event loop's thread (in a coroutine or a callback). ``get`` (or ``async for``)
    returns the items in order, then raises ``StopAsyncIteration`` after :meth:`end`, or the
    exception given to ``end``.

    Args:
        maxsize: the capacity; ``None`` for unbounded.
        overflow: what a full queue does with the next push (see the module docstring).
        on_overflow: called once, on the producer's thread, when policy ``"error"`` ends the queue.

    Example:
        >>> import asyncio
        >>> async def main():
        ...     queue = BoundedQueue(maxsize=1, overflow="error")
        ...     queue.push("a")
        ...     queue.push("b")  # full: the queue ends with SlowConsumerError
        ...     first = await queue.get()
        ...     try:
        ...         await queue.get()
        ...     except SlowConsumerError:
        ...         return first, queue.statistics().dropped
        >>> asyncio.run(main())
        ('a', 1)
    """

    __slots__ = (
        "_delivered",
        "_dropped",
        "_ended",
        "_exception",
        "_items",
        "_lock",
        "_loop",
        "_loop_thread",
        "_maxsize",
        "_on_overflow",
        "_overflow",
        "_pushed",
        "_waiter",
    )

    def __init__(
        self,
        maxsize: int | None = None,
        overflow: Overflow = "drop_oldest",
        *,
        on_overflow: Callable[[], object] | None = None,
    ) -> None:
        check_bounds(maxsize, overflow)
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._maxsize = maxsize
        self._overflow: Overflow = overflow
        self._on_overflow = on_overflow
        self._items: deque[_T] = deque()
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._exception: BaseException | None = None
        self._pushed = 0
        self._delivered = 0
        self._dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: _T) -> None:
        """Offer an item; the overflow policy decides when the queue is full. Never blocks.

        Safe from any thread. Whether items were dropped shows in :meth:`statistics`.
        """
        overflowed = False
        with self._lock:
            self._pushed += 1
            if self._ended:
                self._dropped += 1
                return
            if self._maxsize is not None and len(self._items) >= self._maxsize:
                self._dropped += 1
                if self._overflow == "drop_newest":
                    return
                if self._overflow == "drop_oldest":
                    self._items.popleft()
                else:
                    self._ended = overflowed = True
                    self._exception = SlowConsumerError(
                        f"the consumer fell behind: {self._maxsize} items were already buffered "
                        "and the overflow policy is 'error'; consume faster, raise maxsize, or "
                        "choose overflow='drop_oldest' or 'drop_newest'"
                    )
            if not overflowed:
                self._items.append(item)
        self._wake()
        if overflowed and self._on_overflow is not None:
            self._on_overflow()

    def end(self, exception: BaseException | None = None) -> None:
        """End the producer side: the consumer gets what is buffered, then ``exception`` or the end.

        A second ``end`` is ignored (the first reason wins). Safe from any thread.
        """
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._exception = exception
        self._wake()

    def close(self) -> None:
        """End the queue from the consumer side: discard what is buffered; ``get`` then stops."""
        with self._lock:
            self._ended = True
            self._exception = None
            self._items.clear()
        self._wake()

    async def get(self) -> _T:
        """Take the next item, waiting for one.

        Raises:
            StopAsyncIteration: when the queue has ended and is empty.
            BaseException: the exception the queue ended with, once it is empty.
            RuntimeError: when another coroutine is already waiting on this queue.
        """
        while True:
            with self._lock:
                if self._items:
                    self._delivered += 1
                    return self._items.popleft()
                if self._ended:
                    if self._exception is not None:
                        raise self._exception
                    raise StopAsyncIteration
                if self._waiter is not None:
                    raise RuntimeError("BoundedQueue.get(): another coroutine is already waiting")
                waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    def __aiter__(self) -> BoundedQueue[_T]:
        return self

    async def __anext__(self) -> _T:
        return await self.get()

    def statistics(self) -> QueueStatistics:
        """Return a snapshot of the queue's size, capacity and counters."""
        with self._lock:
            return QueueStatistics(
                buffered=len(self._items),
                maxsize=self._maxsize,
                overflow=self._overflow,
                pushed=self._pushed,
                delivered=self._delivered,
                dropped=self._dropped,
                ended=self._ended,
                consumer_waiting=self._waiter is not None,
            )

    def _wake(self) -> None:
        if self._waiter is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wake_on_loop()
        else:
            self._loop.call_soon_threadsafe(self._wake_on_loop)

    def _wake_on_loop(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
