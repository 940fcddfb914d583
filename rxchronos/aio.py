"""Bridges between asyncio and reactivex: a task per subscription in, async iterators out.

* [`from_producer`][rxchronos.from_producer] is the one way rxchronos runs asynchronous work per
  subscription: a coroutine function ``produce(emit)`` becomes a cold Observable, each subscription
  running it in its own task on the running loop. The model providers, the graph runner's cold
  ``stream()`` and the SSE client are built on it.
* [`from_async_iterable`][rxchronos.from_async_iterable] turns an async iterable (an async
  generator, an aiohttp response's ``iter_any()``, ...) into a cold Observable; it is a producer
  that emits each item.
* [`to_async_iterator`][rxchronos.to_async_iterator] turns any Observable into an async iterator,
  with a bounded buffer and a named overflow policy between the (push-based) source and the
  (pull-based) consumer.

The rules of a subscription of [`from_producer`][rxchronos.from_producer] (and so of
[`from_async_iterable`][rxchronos.from_async_iterable]):

1. Subscribing where no asyncio loop runs is a [`NoRunningLoopError`][rxchronos.NoRunningLoopError]
   naming the call (``what``), raised by ``subscribe`` or given to the observer's ``on_error``.
2. One task per subscription on the running loop. Disposing the subscription cancels it: the
   producer sees ``CancelledError`` at its next ``await`` (or from its next ``emit``), so an
   ``async with`` around an HTTP response closes it. A dispose from another thread is routed
   through ``loop.call_soon_threadsafe``; a dispose after the end does nothing. The task never
   ends with an exception nobody retrieves.
3. The producer's exception goes to ``on_error``; its normal return is ``on_completed``; nothing
   reaches the observer after either (``emit`` then raises ``CancelledError``: the subscription is
   over). A ``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``,
   ``GeneratorExit``, one of the producer's own) reaches ``on_error`` as a
   [`RxChronosError`][rxchronos.RxChronosError] whose ``__cause__`` it is; ``KeyboardInterrupt``
   and ``SystemExit`` are then raised again from the loop, so that they still stop the program.
4. An exception raised by the subscriber's own ``on_next`` stops the producer (``emit`` raises
   ``CancelledError`` into it) and is then given to that subscriber's ``on_error``, so a chain
   someone awaits ends with it instead of waiting forever. What the producer raised while stopping
   is reported to the loop's exception handler.
5. An exception raised by ``on_completed`` or ``on_error`` itself (and an exception the producer
   raises after a disposal, when nobody listens any more) goes to the loop's exception handler,
   with the call named: never lost, never left un-retrieved in a task.
6. A cancellation of the task that is not a disposal (the loop shutting down, say) is an
   ``on_error`` with a [`RxChronosError`][rxchronos.RxChronosError] saying so.

``emit`` is a plain call: the subscriber's ``on_next`` inside a ``try``, nothing allocated per
item. Call it on the loop's thread, from the producer.

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
from collections.abc import AsyncIterable
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from types import BuiltinFunctionType
from types import FunctionType
from types import MethodType
from typing import Any
from typing import TypeVar

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.disposable import SingleAssignmentDisposable

from rxchronos._closable import AsyncClosable
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import RxChronosError
from rxchronos._loop import NoRunningLoopError
from rxchronos._loop import running_loop
from rxchronos._queue import BoundedQueue
from rxchronos._queue import Overflow
from rxchronos._queue import QueueStatistics
from rxchronos._queue import check_bounds

__all__ = [
    "DEFAULT_MAXSIZE",
    "ObservableIterator",
    "QueueStatistics",
    "from_async_iterable",
    "from_producer",
    "to_async_iterator",
]

_T = TypeVar("_T")
_CALLBACKS = frozenset({FunctionType, MethodType, BuiltinFunctionType})
"""Types of ``on_next`` that are plain callbacks, never observers: ``subscribe`` need not ask
further (an ``isinstance`` against the observer ABC costs more than the rest of the check)."""

DEFAULT_MAXSIZE = 1024
"""The buffer size of [`to_async_iterator`][rxchronos.to_async_iterator] when none is given."""

ITERATOR_OVERFLOW: tuple[Overflow, ...] = ("error", "drop_oldest", "drop_newest")
"""The overflow policies [`to_async_iterator`][rxchronos.to_async_iterator] takes."""

# asyncio keeps only weak references to tasks: a producer suspended on a future nobody else holds
# would otherwise be collected mid-run. Each task leaves the set as its coroutine ends (a done
# callback would cost a trip through the loop per subscription), or, when it is cancelled before
# its coroutine started, from a done callback added then.
_RUNNING: set[asyncio.Task[None]] = set()


def from_producer(
    produce: Callable[[Callable[[_T], None]], Awaitable[None]],
    *,
    what: str = "from_producer(...).subscribe()",
) -> reactivex.Observable[_T]:
    """A cold Observable running ``produce(emit)`` in a task per subscription.

    ``produce`` is a coroutine function given ``emit``, which hands one item to the subscriber.
    Returning is the end of the stream, raising is its error; the rules for disposal, for a
    subscriber that raises and for threads are those of the module docstring.

    Args:
        produce: the work of one subscription, e.g. reading one HTTP response.
        what: names the call in errors and reports, e.g. ``"OpenAI.stream_chat()"``.

    Raises:
        TypeError: when ``produce`` is not callable.

    Example:
        >>> import asyncio
        >>> async def countdown(emit):
        ...     for n in (3, 2, 1):
        ...         emit(n)
        ...         await asyncio.sleep(0)
        >>> async def main():
        ...     return [n async for n in to_async_iterator(from_producer(countdown))]
        >>> asyncio.run(main())
        [3, 2, 1]
    """
    if not callable(produce):
        raise ArgumentTypeError(
            f"{what}: from_producer() takes a coroutine function produce(emit), "
            f"got {type(produce).__name__}"
        )

    return _Producer(produce, what)


class _Producer(reactivex.Observable[_T]):
    """The Observable [`from_producer`][rxchronos.from_producer] returns: a subscription goes
    straight to its task.

    ``reactivex.Observable.subscribe`` runs every subscription through the current-thread
    trampoline and wraps the observer in an ``AutoDetachObserver``, so that a source emitting
    synchronously during ``subscribe`` can still be cancelled. A producer never emits during
    ``subscribe`` (it runs in a task), and `_Production` already stops delivering at the
    end, so here that costs only time (the trampoline per subscription, and the wrapper's own
    ``on_next`` per item). In ``benchmarks/graph_overhead.py`` (a 3-node graph, ``runner.stream``
    per run of nine events, full runs on one 2-CPU machine) a node costs 12.9 µs through
    ``Observable.subscribe`` against 7.3 µs this way (callgrind: 353k against 254k instructions
    per run).
    ``subscribe`` is overridden (taking an observer or callbacks, as reactivex's does; callbacks
    are called as they are) and so is ``_subscribe_core``, reactivex's hook for Observable
    subclasses, which operators call. ``tests/test_aio_versions.py`` checks that the installed
    reactivex still calls them so (the same parameters, ``Observable.subscribe`` ending in
    ``_subscribe_core``), whatever its release.
    """

    def __init__(
        self, produce: Callable[[Callable[[_T], None]], Awaitable[None]], what: str
    ) -> None:
        super().__init__()
        self._produce = produce
        self._what = what

    def subscribe(
        self,
        on_next: abc.ObserverBase[_T] | abc.OnNext[_T] | None = None,
        on_error: abc.OnError | None = None,
        on_completed: abc.OnCompleted | None = None,
        *,
        scheduler: abc.SchedulerBase | None = None,
    ) -> abc.DisposableBase:
        """Subscribe an observer or callbacks, as ``reactivex.Observable.subscribe`` does.

        Callbacks are called as they are (``reactivex.Observer`` makes two calls per item); a
        missing ``on_error`` raises the error, as reactivex's does."""
        if type(on_next) not in _CALLBACKS and (
            isinstance(on_next, abc.ObserverBase) or callable(getattr(on_next, "on_next", None))
        ):
            return self._subscribe_core(on_next, scheduler)  # type: ignore[arg-type]
        callback: Callable[[Any], None] = on_next or _ignore  # type: ignore[assignment]
        return self._start(callback, on_error or _raise, on_completed or _nothing)

    def _subscribe_core(
        self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self._start(observer.on_next, observer.on_error, observer.on_completed)

    def _start(
        self,
        on_next: Callable[[Any], None],
        on_error: Callable[[Exception], None],
        on_completed: Callable[[], None],
    ) -> abc.DisposableBase:
        try:
            loop = running_loop(self._what)
        except NoRunningLoopError as exc:
            on_error(exc)
            return Disposable()
        return _Production(self._produce, on_next, on_error, on_completed, loop, self._what)


def _ignore(_item: Any) -> None:
    pass


def _ended(*_args: Any) -> None:
    """``emit`` and its switch once the subscription's task is over (see `_Production._run`)."""


def _raise(error: BaseException) -> None:
    raise error


def _nothing() -> None:
    pass


class _Production(abc.DisposableBase):
    """One subscription of [`from_producer`][rxchronos.from_producer]: a task running the producer
    into the subscriber's callbacks, and the disposable that stops it (one object: reactivex's
    ``Disposable`` takes a lock)."""

    __slots__ = (
        "_cancelled",
        "_emit",
        "_failure",
        "_loop",
        "_loop_thread",
        "_on_completed",
        "_on_error",
        "_produce",
        "_stop_emit",
        "_stopped",
        "_task",
        "_what",
    )

    def __init__(
        self,
        produce: Callable[[Callable[[Any], None]], Awaitable[None]],
        on_next: Callable[[Any], None],
        on_error: Callable[[Exception], None],
        on_completed: Callable[[], None],
        loop: asyncio.AbstractEventLoop,
        what: str,
    ) -> None:
        self._produce = produce
        self._on_error = on_error
        self._on_completed = on_completed
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._what = what
        self._stopped = False  # nothing more reaches the subscriber
        self._cancelled = False  # the producer was told (a CancelledError is on its way)
        self._failure: Exception | None = None  # what the subscriber's on_next raised

        # The producer's ``emit``: a closure over the subscriber's ``on_next`` (measurably cheaper
        # per item than a bound method with a flag), and the switch that makes it refuse from
        # then on (it swaps ``on_next`` for `_refuse`).
        def emit(item: Any) -> None:
            try:
                on_next(item)
            except Exception as exc:
                self._fail(exc)

        def stop_emit() -> None:
            nonlocal on_next
            on_next = self._refuse

        self._emit: Callable[[Any], None] = emit
        self._stop_emit: Callable[[], None] = stop_emit
        task = self._task = loop.create_task(self._run())
        if not task.done():  # an eager task factory may have run it to its end already
            _RUNNING.add(task)

    def _stop(self) -> None:
        self._stopped = True
        self._stop_emit()

    def _fail(self, exc: Exception) -> None:
        """The subscriber's ``on_next`` raised ``exc``: stop, and stop the producer at once."""
        self._stop()
        self._cancelled = True
        self._failure = exc
        raise asyncio.CancelledError(f"{self._what}: the subscriber's on_next raised") from exc

    def _refuse(self, _item: object) -> None:
        self._cancelled = True
        raise asyncio.CancelledError(f"{self._what}: the subscription is over")

    def dispose(self) -> None:
        """Cancel the producer's task (rule 2)."""
        if self._stopped:
            return  # after the end, or a second dispose
        self._stop()
        if self._loop.is_closed():
            return
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._cancel)
        elif asyncio.current_task(self._loop) is self._task:
            # Disposed from inside our own on_next (``take(n)``, say): the producer's next emit
            # raises, and if it awaits first the cancellation meets it there.
            self._loop.call_soon(self._cancel)
        else:
            self._cancel()

    def _cancel(self) -> None:
        task = self._task
        if not self._cancelled and task is not None and not task.done():
            self._cancelled = True
            task.cancel()
            task.add_done_callback(_RUNNING.discard)  # `_run` may never start

    async def _run(self) -> None:
        try:
            await self._produce(self._emit)
        except asyncio.CancelledError:
            if self._failure is not None:
                self._end(self._on_error, "on_error", self._failure)
                return  # our own signal, not a cancellation of the task
            if not self._stopped:
                self._end(
                    self._on_error,
                    "on_error",
                    RxChronosError(f"{self._what} was cancelled before it finished"),
                )
            raise
        except BaseException as exc:
            if self._failure is not None:
                self._report("the producer raised while stopping for the subscriber", exc)
                self._end(self._on_error, "on_error", self._failure)
            elif self._stopped:
                self._report("the producer raised after the subscription was disposed", exc)
            elif isinstance(exc, Exception):
                self._end(self._on_error, "on_error", exc)
            else:  # KeyboardInterrupt, SystemExit, GeneratorExit, ...: not an on_error value
                error = RxChronosError(
                    f"{self._what} stopped: its producer raised {type(exc).__name__}: {exc}"
                )
                error.__cause__ = exc
                self._end(self._on_error, "on_error", error)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                # it still stops the program, raised from the loop itself (as asyncio raises it
                # from a callback) rather than left in the task, where nobody would retrieve it
                self._loop.call_soon(_raise, exc)
        else:
            if self._failure is not None:
                self._end(self._on_error, "on_error", self._failure)
            elif not self._stopped:
                self._end(self._on_completed, "on_completed")
        finally:
            _RUNNING.discard(self._task)
            # ``emit`` and its switch refer to this object: let go of them, so that a finished
            # subscription is freed by its reference count, not left to the cyclic collector
            self._emit = self._stop_emit = _ended

    def _end(self, callback: Callable[..., None], name: str, *args: Any) -> None:
        """Deliver the end (``name`` is the subscriber's callback); what it raises goes to the
        loop's handler."""
        self._stop()
        self._cancelled = True
        try:
            callback(*args)
        except Exception as exc:
            self._report(f"the subscriber's {name} raised", exc)

    def _report(self, message: str, exc: BaseException) -> None:
        self._loop.call_exception_handler(
            {"message": f"{self._what}: {message}", "exception": exc, "task": self._task}
        )


def from_async_iterable(factory: Callable[[], AsyncIterable[_T]]) -> reactivex.Observable[_T]:
    """A cold Observable of the items of an async iterable, one iteration per subscription.

    Each subscription calls ``factory()`` and iterates the result in its own task (a producer of
    [`from_producer`][rxchronos.from_producer], with its rules); disposing the subscription closes
    the iterator (an async generator's ``finally`` runs). An exception raised by the iterable goes
    to ``on_error``; reaching its end is ``on_completed``.

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
        raise ArgumentTypeError(
            "from_async_iterable() takes a function returning an async iterable (so that each "
            f"subscription gets a fresh one), e.g. from_async_iterable(lambda: source()); "
            f"got {type(factory).__name__}"
        )

    async def iterate(emit: Callable[[_T], None]) -> None:
        iterator = aiter(factory())
        try:
            async for item in iterator:
                emit(item)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    return from_producer(iterate, what="from_async_iterable(...).subscribe()")


def to_async_iterator(
    observable: reactivex.Observable[_T],
    *,
    maxsize: int | None = DEFAULT_MAXSIZE,
    overflow: Overflow = "error",
) -> ObservableIterator[_T]:
    """An async iterator over the items of ``observable``, through a bounded buffer.

    The subscription starts at the first ``__anext__`` (on the loop thread) and is disposed when
    the iteration ends: on completion, on error, on ``aclose()``, when leaving ``async with``, or
    when the iterator is dropped after a ``break``. ``on_error`` is raised in the consumer. Items
    may arrive from another thread; the buffer is then filled under a lock and the consumer woken
    with ``loop.call_soon_threadsafe``.

    Args:
        observable: any Observable.
        maxsize: the buffer's capacity ([`DEFAULT_MAXSIZE`][rxchronos.aio.DEFAULT_MAXSIZE] unless
            given); ``None`` for unbounded, only for a source known to be finite and small.
        overflow: what a full buffer does. ``"error"`` (the default) disposes the subscription at
            once and raises [`SlowConsumerError`][rxchronos.SlowConsumerError], naming the size, in
            the consumer after the items buffered before the overflow. ``"drop_oldest"`` and
            ``"drop_newest"`` are lossy: they drop items (counted in ``statistics().dropped``)
            and go on.

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
        raise ArgumentTypeError(
            f"to_async_iterator() takes a reactivex Observable, got {type(observable).__name__}"
        )
    check_bounds(maxsize, overflow, ITERATOR_OVERFLOW)
    return ObservableIterator(observable, maxsize, overflow)


class ObservableIterator(AsyncClosable, AsyncIterator[_T]):
    """The async iterator returned by [`to_async_iterator`][rxchronos.to_async_iterator]; also an
    async context manager.

    Example:
        >>> import asyncio, reactivex
        >>> async def main():
        ...     numbers = reactivex.of(1, 2, 3, 4, 5)
        ...     async with to_async_iterator(numbers, maxsize=2, overflow="drop_oldest") as items:
        ...         return [n async for n in items], items.statistics().dropped
        >>> asyncio.run(main())  # lossy by choice: the buffer of 2 kept the last two
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
