"""A bounded buffer between a synchronous producer (an Rx source) and one async consumer.

RxPY has no backpressure: a source calls ``on_next`` as fast as it likes. Wherever such a source
meets an ``await``-ing consumer (``to_async_iterator``, an SSE connection), the items wait in a
`BoundedQueue`, whose size is capped and whose *overflow policy* says, by name, what happens
when it is full:

``drop_oldest``  drop the oldest buffered item to make room (counted in ``dropped``).
``drop_newest``  drop the incoming item (counted in ``dropped``).
``error``        end the queue with [`SlowConsumerError`][rxchronos.SlowConsumerError]: the consumer
                 first receives every item buffered before the overflow, then the error; the
                 producer is told at once through ``on_overflow`` (to dispose its subscription).
``disconnect``   end the queue at once, *discarding* what is buffered (counted in ``dropped``),
                 and tell the producer through ``on_overflow``; the consumer gets the
                 ``SlowConsumerError`` next. For a consumer that can resume elsewhere, e.g. an SSE
                 client that reconnects with ``Last-Event-ID`` and is replayed what it missed.

It is built like aiohttp's ``DataQueue``: synchronous push, asynchronous pull, and one waiter
future whose ``set_result`` is guarded. The consumer takes one item (`BoundedQueue.get`)
or everything buffered at once (`BoundedQueue.get_all_nowait`, so that a burst becomes one
socket write). A consumer that does not park on `get` is told through
``on_wake`` instead (the queue went from empty to not empty, or ended).

With ``threadsafe=True`` (the default) ``push`` and ``end`` may be called from any thread: the
buffer is guarded by a lock and the consumer is woken through ``loop.call_soon_threadsafe``, so
memory stays bounded even when a foreign thread produces faster than the loop consumes. With
``threadsafe=False`` every call must come from the loop's thread and no lock is taken: that is
the broker's fan-out, where one event is pushed into every connection's queue.
`BoundedQueue.statistics` says how full the queue is and how much it dropped, like anyio's
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
import sys
import threading
from collections import deque
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Generic
from typing import Literal
from typing import TypeVar
from typing import get_args

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos._errors import SlowConsumerError

__all__ = ["OVERFLOW_POLICIES", "BoundedQueue", "Overflow", "QueueStatistics", "check_bounds"]

_T = TypeVar("_T")

_NO_LOCK = nullcontext()

Overflow = Literal["error", "disconnect", "drop_oldest", "drop_newest"]
"""Every overflow policy (see the module docstring). Each entry point takes a subset, checked by
`check_bounds`: ``to_async_iterator`` takes ``error`` and the ``drop_*`` policies, the
broker ``disconnect`` and the ``drop_*`` policies."""
OVERFLOW_POLICIES: tuple[Overflow, ...] = get_args(Overflow)


def check_bounds(
    maxsize: int | None,
    overflow: str,
    policies: Collection[str] = OVERFLOW_POLICIES,
    *,
    name: str = "maxsize",
    unbounded: bool = True,
) -> None:
    """Raise ``ValueError``/``TypeError`` for a bad size or a policy not in ``policies``.

    Args:
        maxsize: the size to check: an int >= 1, or ``None`` when ``unbounded``.
        overflow: the policy to check.
        policies: the policies the entry point allows (a subset of `OVERFLOW_POLICIES`).
        name: the size's argument name, for the error message.
        unbounded: whether ``None`` (no bound) is allowed.
    """
    if overflow not in policies:
        raise InvalidArgumentError(f"overflow must be one of {tuple(policies)}, got {overflow!r}")
    if maxsize is None and unbounded:
        return
    if isinstance(maxsize, bool) or not isinstance(maxsize, int):
        expected = "an int or None" if unbounded else "an int >= 1"
        raise ArgumentTypeError(f"{name} must be {expected}, got {type(maxsize).__name__}")
    if maxsize < 1:
        hint = " (or None for unbounded)" if unbounded else ""
        raise InvalidArgumentError(f"{name} must be >= 1{hint}, got {maxsize}")


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    """A snapshot of a `BoundedQueue`.

    Attributes:
        buffered: items waiting to be taken now.
        maxsize: the capacity (``None``: unbounded).
        overflow: the overflow policy.
        pushed: items offered so far (``pushed == delivered + dropped + buffered``, until
            `BoundedQueue.close` discards what is buffered).
        delivered: items taken by the consumer so far.
        dropped: items dropped by the overflow policy, or offered after the queue ended.
        ended: whether the producer side has ended (completed, failed or overflowed).
        consumer_waiting: whether a consumer is waiting for the next item.

    Example:
        >>> import asyncio, reactivex
        >>> from rxchronos.aio import to_async_iterator
        >>> async def main():
        ...     items = to_async_iterator(reactivex.of(1, 2, 3), maxsize=8)
        ...     seen = [n async for n in items]
        ...     stats = items.statistics()
        ...     return seen, stats.pushed, stats.delivered, stats.dropped, stats.ended
        >>> asyncio.run(main())
        ([1, 2, 3], 3, 3, 0, True)
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
    """A bounded, single-consumer queue: sync ``push``, async ``get`` on the loop.

    Create it on the event loop's thread (in a coroutine or a callback). ``get`` (or ``async for``)
    returns the items in order, then raises ``StopAsyncIteration`` after `end`, or the
    exception given to ``end``.

    Args:
        maxsize: the capacity; ``None`` for unbounded.
        overflow: what a full queue does with the next push (see the module docstring).
        on_overflow: called once, on the producer's thread, when policy ``"error"`` or
            ``"disconnect"`` ends the queue.
        on_wake: called (on the pushing thread) when the queue goes from empty to not empty and
            when it ends, for a consumer that does not wait in `get`.
        threadsafe: allow ``push`` and ``end`` from other threads (a lock per call); ``False``
            for a queue used only on the loop's thread.

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
        "_limit",
        "_lock",
        "_loop",
        "_loop_thread",
        "_maxsize",
        "_on_overflow",
        "_on_wake",
        "_overflow",
        "_overflowed",
        "_pushed",
        "_waiter",
    )

    def __init__(
        self,
        maxsize: int | None = None,
        overflow: Overflow = "drop_oldest",
        *,
        on_overflow: Callable[[], object] | None = None,
        on_wake: Callable[[], object] | None = None,
        threadsafe: bool = True,
    ) -> None:
        check_bounds(maxsize, overflow)
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._maxsize = maxsize
        self._limit = sys.maxsize if maxsize is None else maxsize
        self._overflow: Overflow = overflow
        self._on_overflow = on_overflow
        self._on_wake = on_wake
        self._items: deque[_T] = deque()
        self._lock = threading.Lock() if threadsafe else None
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._overflowed = False
        self._exception: BaseException | None = None
        self._pushed = 0
        self._delivered = 0
        self._dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ended(self) -> bool:
        """Whether the producer side has ended (or the consumer closed the queue)."""
        return self._ended

    @property
    def exception(self) -> BaseException | None:
        """What the queue ended with (the source's error, or ``SlowConsumerError``), if anything."""
        return self._exception

    @property
    def overflowed(self) -> bool:
        """Whether policy ``"error"`` or ``"disconnect"`` ended the queue."""
        return self._overflowed

    # -- the producer side --------------------------------------------------------------------

    def push(self, item: _T) -> None:
        """Offer an item; the overflow policy decides when the queue is full. Never blocks.

        Whether items were dropped shows in `statistics`.
        """
        lock = self._lock
        if lock is None:
            wake = self._offer(item)
        else:
            with lock:
                wake = self._offer(item)
        if wake is None:  # overflowed: the queue ended
            self._wake()
            if self._on_overflow is not None:
                self._on_overflow()
        elif wake:
            self._wake()

    def _offer(self, item: _T) -> bool | None:
        """Buffer ``item``; ``True``: wake the consumer; ``None``: the queue just overflowed."""
        self._pushed += 1
        if self._ended:
            self._dropped += 1
            return False
        items = self._items
        if len(items) >= self._limit:
            self._dropped += 1
            policy = self._overflow
            if policy == "drop_newest":
                return False
            if policy == "drop_oldest":
                items.popleft()
                items.append(item)
                return False
            self._ended = self._overflowed = True
            self._exception = SlowConsumerError(
                f"the consumer fell behind: {self._maxsize} items were already buffered and the "
                f"overflow policy is {policy!r}; consume faster, raise the buffer size, or choose "
                "another policy"
            )
            if policy == "disconnect":
                self._dropped += len(items)
                items.clear()
            return None
        items.append(item)
        return len(items) == 1

    def end(self, exception: BaseException | None = None) -> None:
        """End the producer side: the consumer gets what is buffered, then ``exception`` or the end.

        A second ``end`` is ignored (the first reason wins).
        """
        with self._lock or _NO_LOCK:
            if self._ended:
                return
            self._ended = True
            self._exception = exception
        self._wake()

    def close(self) -> None:
        """End the queue from the consumer side: discard what is buffered; ``get`` then stops."""
        with self._lock or _NO_LOCK:
            self._ended = True
            self._exception = None
            self._items.clear()
        self._wake()

    @contextmanager
    def unbounded(self) -> Iterator[None]:
        """Lift the limit for a while (a synchronous replay longer than the buffer must not trip
        the policy); what is buffered by then is allowed on top of ``maxsize`` until taken."""
        self._limit = sys.maxsize
        try:
            yield
        finally:
            if self._maxsize is not None:
                self._limit = self._maxsize + len(self._items)

    # -- the consumer side --------------------------------------------------------------------

    async def get(self) -> _T:
        """Take the next item, waiting for one.

        Raises:
            StopAsyncIteration: when the queue has ended and is empty.
            BaseException: the exception the queue ended with, once it is empty.
            RuntimeError: when another coroutine is already waiting on this queue.
        """
        lock = self._lock or _NO_LOCK
        while True:
            with lock:
                if self._items:
                    self._delivered += 1
                    return self._items.popleft()
                self._raise_if_ended()
                if self._waiter is not None:
                    raise RuntimeError("BoundedQueue.get(): another coroutine is already waiting")
                waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    def get_all_nowait(self) -> Sequence[_T]:
        """Take everything buffered now, oldest first (possibly nothing); never waits.

        After the end, an empty queue raises as `get` does.
        """
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            items = self._items
            if not items:
                self._raise_if_ended()
                return ()
            self._items = deque()
            self._delivered += len(items)
            if self._maxsize is not None:
                self._limit = self._maxsize
            return items
        finally:
            if lock is not None:
                lock.release()

    def _raise_if_ended(self) -> None:
        if self._ended:
            if self._exception is not None:
                raise self._exception
            raise StopAsyncIteration

    def __aiter__(self) -> BoundedQueue[_T]:
        return self

    async def __anext__(self) -> _T:
        return await self.get()

    def statistics(self) -> QueueStatistics:
        """Return a snapshot of the queue's size, capacity and counters."""
        with self._lock or _NO_LOCK:
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
        if self._waiter is None and self._on_wake is None:
            return
        if self._lock is None or threading.get_ident() == self._loop_thread:
            self._wake_on_loop()
        else:
            self._loop.call_soon_threadsafe(self._wake_on_loop)

    def _wake_on_loop(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._on_wake is not None:
            self._on_wake()
