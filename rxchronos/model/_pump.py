"""One subscription of a provider stream: a task on the running loop feeding one observer.

:func:`task_stream` makes the cold Observable the asynchronous providers return. Each subscription
runs ``run(emit)`` in its own task on the running loop (subscribing where no loop runs is a
:class:`~rxchronos._loop.NoRunningLoopError`), and disposing the subscription cancels that task.

- ``emit(delta)`` hands a delta to the subscriber's ``on_next``;
- the run's exception goes to ``on_error``; its normal end is ``on_completed``;
- an exception raised by the subscriber's own ``on_next`` is not the provider's failure: it stops
  the run (so a response being read is closed) and goes to the loop's exception handler, and the
  subscriber gets no ``on_error`` for its own bug.

Example:
    >>> import asyncio
    >>> from rxchronos.model import ChatResponse
    >>> async def two(emit):
    ...     emit(ChatResponse(content="a"))
    ...     await asyncio.sleep(0)
    ...     emit(ChatResponse(content="b"))
    >>> async def main():
    ...     done = asyncio.get_running_loop().create_future()
    ...     seen = []
    ...     task_stream(two, what="two").subscribe(
    ...         lambda d: seen.append(d.content), done.set_exception, lambda: done.set_result(seen))
    ...     return await done
    >>> asyncio.run(main())
    ['a', 'b']
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable

from rxchronos._loop import running_loop
from rxchronos.model._types import ChatResponse

__all__ = ["Emit", "task_stream"]

Emit = Callable[[ChatResponse], None]
"""Hands one delta to the subscriber."""


class _SubscriberError(Exception):
    """Carries an exception raised by the subscriber's ``on_next`` out of the run."""


def task_stream(
    run: Callable[[Emit], Awaitable[None]],
    *,
    what: str,
    tasks: set[asyncio.Task[None]] | None = None,
) -> reactivex.Observable[ChatResponse]:
    """A cold Observable running ``run(emit)`` in a task per subscription (see the module doc).

    Args:
        run: the producer of one subscription.
        what: names the call for the error when no loop runs (e.g. ``"OpenAI.stream_chat()"``).
        tasks: a set that holds each running task until it ends (so it is not collected early,
            and the owner can see what is running).
    """

    def subscribe(
        observer: abc.ObserverBase[ChatResponse], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        task = running_loop(what).create_task(_pump(run, observer, what))
        if tasks is not None:
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def cancel() -> None:
            task.cancel()

        return Disposable(cancel)

    return reactivex.create(subscribe)


async def _pump(
    run: Callable[[Emit], Awaitable[None]], observer: abc.ObserverBase[ChatResponse], what: str
) -> None:
    on_next = observer.on_next

    def emit(delta: ChatResponse) -> None:
        try:
            on_next(delta)
        except Exception as exc:
            raise _SubscriberError() from exc

    try:
        await run(emit)
    except _SubscriberError as wrapper:
        asyncio.get_running_loop().call_exception_handler(
            {"message": f"{what}: a subscriber's on_next raised", "exception": wrapper.__cause__}
        )
        return
    except Exception as exc:
        observer.on_error(exc)
        return
    observer.on_completed()
