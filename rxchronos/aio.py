"""Bridges between asyncio and reactivex: async iterables in, async iterators out.

* :func:`from_async_iterable` turns an async iterable (an async generator, an aiohttp response's
  ``iter_any()``, ...) into a cold Observable: each subscription runs one iteration in a task on
  the running loop, and disposing the subscription cancels that task and closes the iterator.
* :func:`to_async_iterator` turns any Observable into an async iterator, with a bounded buffer and
  a named overflow policy between the (push-based) source and the (pull-based) consumer.

Example:
    >>> import asyncio
    >>> from reactivex import operators as ops
    >>> async def numbers():
    ...     for n in range(5):
    ...         yield n
    >>> async def main():
    ...     squares = from_async_iterable(numbers).pipe(ops.map(lambda n: n * n))
    ...     return [n async for n in to_async_iterator(squares)]
    >>> asyncio.run(main())
    [0, 1, 4, 9, 16]
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, TypeVar

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable, SingleAssignmentDisposable

from rxchronos._closable import AsyncClosable
from rxchronos._errors import RxChronosError
from rxchronos._loop import running_loop
from rxchronos._queue import BoundedQueue, Overflow, QueueStatistics, check_bounds

__all__ = ["ObservableIterator", "from_async_iterable", "to_async_iterator"]

_T = TypeVar("_T")


def from_async_iterable(factory: Callable[[], AsyncIterable[_T]]) -> reactivex.Observable[_T]:
    """A cold Observable of the items of an async iterable, one iteration per subscription.

    Subscribe on the event loop's thread. Each subscription calls ``factory()`` and iterates the
    result in its own task; items are emitted on the loop thread. Disposing the subscription
    cancels the task and closes the iterator (an async generator's ``finally`` runs). An exception
    raised by the iterable goes to ``on_error``; reaching its end is ``on_completed``. An exception
    raised by a subscriber's ``on_next`` is not the source's error: it ends the iteration (closing
    the iterator) and is reported to the loop's exception handler.

    Args:
        factory: a callable returning a fresh async iterable, e.g. an async generator function.

    Raises:
        TypeError: when ``factory`` is not callable.

    Example:
        >>> import asyncio
        >>> async def ticks():
        ...     for n in range(3):
        ...         await asyncio.sleep(0)
        ...         yield n
        >>> async def main():
        ...     done = asyncio.get_running_loop().create_future()
        ...     seen = []
        ...     from_async_iterable(ticks).subscribe(
        ...         seen.append, done.set_exception, lambda: done.set_result(seen))
        ...     return await done
        >>> asyncio.run(main())
        [0, 1, 2]
    """
    if not callable(factory):
        raise TypeError(
            "from_async_iterable() takes a function returning an async iterable (so that each "
            f"subscription gets a fresh one), e.g. from_async_iterable(lambda: source()); "
            f"got {type(factory).__name__}"
        )

    def subscribe(
        observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        loop = running_loop("from_async_iterable(...).subscribe()")
        return _Pump(factory, observer, loop).start()

    return reactivex.create(subscribe)


class _Pump:
    """One subscription of :func:`from_async_iterable`: a task iterating into an observer."""

    __slots__ = ("_disposed", "_factory", "_loop", "_loop_thread", "_observer", "_task")

    def __init__(
        self,
        factory: Callable[[], AsyncIterable[Any]],
        observer: abc.ObserverBase[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._factory = factory
        self._observer = observer
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._disposed = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> abc.DisposableBase:
        self._task = self._loop.create_task(self._run())
        return Disposable(self._dispose)

    def _dispose(self) -> None:
        if self._disposed:
            return
        self._disposed = True
        task = self._task
        if task is None or task.done() or self._loop.is_closed():
            return
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(task.cancel)
        elif asyncio.current_task(self._loop) is not task:
            task.cancel()
        # else: disposed from inside our own on_next; the loop below sees the flag and stops

    async def _run(self) -> None:
        observer = self._observer
        try:
            iterable = self._factory()
            iterator = aiter(iterable)
        except Exception as exc:
            observer.on_error(exc)
            return
        try:
            while not self._disposed:
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    if not self._disposed:  # not our disposal: the loop is shutting down, say
                        self._emit_error(RxChronosError("the async iterable was cancelled"))
                    raise
                except Exception as exc:
                    self._emit_error(exc)
                    return
                if self._disposed or not self._deliver(observer.on_next, item):
                    return
            if not self._disposed:
                self._deliver(observer.on_completed)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    def _emit_error(self, exc: Exception) -> None:
        if not self._disposed:
            self._deliver(self._observer.on_error, exc)

    def _deliver(self, callback: Callable[..., None], *args: Any) -> bool:
        """Call an observer method; report (not propagate) what it raises. True when it returned."""
        try:
            callback(*args)
        except Exception as exc:
            self._disposed = True
            self._loop.call_exception_handler(
                {
                    "message": (
                        "an observer of from_async_iterable() raised; the iteration was stopped "
                        "and the iterator closed"
                    ),
                    "exception": exc,
                    "task": self._task,
                }
            )
            return False
        return True


def to_async_iterator(
    observable: reactivex.Observable[_T],
    *,
    maxsize: int | None = None,
    overflow: Overflow = "drop_oldest",
) -> ObservableIterator[_T]:
    """An async iterator over the items of ``observable``, through a bounded buffer.

    The subscription starts at the first ``__anext__`` (on the loop thread) and is disposed when
    the iteration ends: on completion, on error, on ``aclose()``, when leaving ``async with``, or
    when the iterator is dropped after a ``break``. ``on_error`` is raised in the consumer. Items
    may arrive from another thread; the buffer is then filled under a lock and the consumer woken
    with ``loop.call_soon_threadsafe``.

    Args:
        observable: any Observable.
        maxsize: the buffer's capacity; ``None`` (the default) for unbounded.
        overflow: what a full buffer does: ``"drop_oldest"``, ``"drop_newest"``, or ``"error"``
            (raise :class:`~rxchronos.SlowConsumerError` in the consumer, after the items buffered
            before the overflow, and dispose the subscription at once).

    Raises:
        ValueError: for an unknown ``overflow`` or a ``maxsize`` below 1.

    Example:
        >>> import asyncio, reactivex
        >>> async def main():
        ...     async with to_async_iterator(reactivex.of(1, 2, 3), maxsize=8) as items:
        ...         return [n async for n in items]
        >>> asyncio.run(main())
        [1, 2, 3]
    """
    if not isinstance(observable, reactivex.Observable):
        raise TypeError(
            f"to_async_iterator() takes a reactivex Observable, got {type(observable).__name__}"
        )
    check_bounds(maxsize, overflow)
    return ObservableIterator(observable, maxsize, overflow)


class ObservableIterator(AsyncClosable, AsyncIterator[_T]):
    """The async iterator returned by :func:`to_async_iterator`; also an async context manager.

    Example:
        >>> import asyncio, reactivex
        >>> async def main():
        ...     async with to_async_iterator(reactivex.of(1, 2, 3, 4, 5), maxsize=2) as items:
        ...         return [n async for n in items], items.statistics().dropped
        >>> asyncio.run(main())  # "drop_oldest": the buffer of 2 kept the last two
        ([4, 5], 3)
        >>> async def first(observable):
        ...     items = to_async_iterator(observable)
        ...     try:
        ...         return await anext(items)
        ...     finally:
        ...         await items.aclose()  # disposes the subscription
        >>> asyncio.run(first(reactivex.concat(reactivex.of("hello"), reactivex.never())))
        'hello'
    """

    __slots__ = ("_done", "_maxsize", "_observable", "_overflow", "_queue", "_subscription")

    def __init__(
        self, observable: reactivex.Observable[_T], maxsize: int | None, overflow: Overflow
    ) -> None:
        self._observable = observable
        self._maxsize = maxsize
        self._overflow: Overflow = overflow
        self._queue: BoundedQueue[_T] | None = None
        self._subscription: abc.DisposableBase | None = None
        self._done = False

    async def __anext__(self) -> _T:
        if self._done:
            raise StopAsyncIteration
        queue = self._queue if self._queue is not None else self._subscribe()
        try:
            return await queue.get()
        except asyncio.CancelledError:
            raise  # the consumer was cancelled; the iterator stays usable
        except BaseException:
            self._finish()
            raise

    async def aclose(self) -> None:
        """Stop: dispose the subscription and discard what is buffered. Idempotent."""
        self._finish()

    def statistics(self) -> QueueStatistics | None:
        """The buffer's statistics, or ``None`` before the first ``__anext__``."""
        return self._queue.statistics() if self._queue is not None else None

    def __del__(self) -> None:
        if not self._done:
            self._finish()

    def _subscribe(self) -> BoundedQueue[_T]:
        loop = running_loop("to_async_iterator(...).__anext__()")
        # The overflow callback holds the subscription's holder, not self: no reference cycle, so
        # dropping the iterator after a ``break`` disposes at once (``__del__``). The holder also
        # disposes a subscription assigned after an overflow during a synchronous subscribe.
        holder = SingleAssignmentDisposable()
        queue: BoundedQueue[_T] = BoundedQueue(
            self._maxsize, self._overflow, on_overflow=lambda: _on_loop(loop, holder.dispose)
        )
        self._queue = queue
        self._subscription = holder
        holder.disposable = self._observable.subscribe(queue.push, queue.end, queue.end)
        return queue

    def _finish(self) -> None:
        self._done = True
        if self._queue is not None:
            self._queue.close()
        if self._subscription is not None:
            self._subscription.dispose()


def _on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run ``callback`` now when on the loop's thread, else soon on the loop."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback()
    else:
        loop.call_soon_threadsafe(callback)
