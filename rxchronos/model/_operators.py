"""Operators over a model stream of ``ChatResponse`` deltas, re-exported by ``rxchronos.operators``.

Each is a function returning ``Callable[[Observable[ChatResponse]], Observable[R]]`` for
``.pipe(...)``; the state they keep (collectors, buffers, timers) is created per subscription.

Example:
    >>> import reactivex
    >>> from rxchronos import operators as rxo
    >>> from rxchronos.model import ChatResponse
    >>> deltas = reactivex.of(ChatResponse(content="Hel"), ChatResponse(content="lo"))
    >>> deltas.pipe(rxo.text()).subscribe(print)  # doctest: +ELLIPSIS
    Hel
    lo
    <...>
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import reactivex
from reactivex import abc
from reactivex.disposable import CompositeDisposable, SerialDisposable
from reactivex.scheduler import TimeoutScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxchronos.model._collect import ResponseCollector, ToolCallAccumulator
from rxchronos.model._types import ChatResponse, ToolCall

__all__ = ["accumulate_tool_calls", "coalesce_text", "collect_response", "text"]

_Deltas = reactivex.Observable[ChatResponse]


def text() -> Callable[[_Deltas], reactivex.Observable[str]]:
    """The content text of each delta; deltas without content are dropped.

    ::

        --{content:"He"}--{usage}--{content:"llo"}--|   text()
        --"He"---------------------"llo"------------|

    Example:
        >>> import asyncio
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.model import ChatRequest, Message, ScriptedProvider
        >>> async def main() -> None:
        ...     provider = ScriptedProvider(["Hello there"])
        ...     request = ChatRequest(messages=[Message(role="user", content="Hi")])
        ...     chunks = provider.stream_chat(request)
        ...     chunks.pipe(rxo.text()).subscribe(lambda t: print(repr(t)))
        >>> asyncio.run(main())
        'Hello '
        'there'
    """

    def _text(source: _Deltas) -> reactivex.Observable[str]:
        def subscribe(
            observer: abc.ObserverBase[str], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            emit = observer.on_next

            def on_next(delta: ChatResponse) -> None:
                content = delta.content
                if content:
                    emit(content)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _text


def accumulate_tool_calls() -> Callable[[_Deltas], reactivex.Observable[list[ToolCall]]]:
    """The tool calls merged so far, after each delta that carries tool-call fragments.

    A ``scan`` by slot (``ToolCall.index``): id and name are first-non-empty-wins, arguments
    concatenate (fragments are buffered and joined once per emission). Parallel calls stay apart.

    ::

        --{tc0:'{"ci'}--{content}--{tc0:'ty":1}', tc1:'{}'}--|   accumulate_tool_calls()
        --[c0:'{"ci']---------------[c0:'{"city":1}', c1:'{}']--|

    Example:
        >>> import reactivex
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.model import ChatResponse, ToolCall
        >>> deltas = reactivex.of(
        ...     ChatResponse(tool_calls=[ToolCall(index=0, id="c1", name="add", arguments='{"a"')]),
        ...     ChatResponse(tool_calls=[ToolCall(index=0, arguments=": 1}")]),
        ... )
        >>> calls = []
        >>> _ = deltas.pipe(rxo.accumulate_tool_calls()).subscribe(calls.append)
        >>> [(c.name, c.arguments) for c in calls[-1]]
        [('add', '{"a": 1}')]
    """

    def _accumulate(source: _Deltas) -> reactivex.Observable[list[ToolCall]]:
        def subscribe(
            observer: abc.ObserverBase[list[ToolCall]], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            accumulator = ToolCallAccumulator()

            def on_next(delta: ChatResponse) -> None:
                if delta.tool_calls:
                    accumulator.add(delta.tool_calls)
                    observer.on_next(accumulator.calls())

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _accumulate


def collect_response() -> Callable[[_Deltas], reactivex.Observable[ChatResponse]]:
    """One final ``ChatResponse(delta=False)`` when the stream completes.

    Full content, reasoning and refusal text; completed tool calls (empty arguments become
    ``"{}"``); the last usage and stop reason; the id. Errors pass through (provider errors carry
    the partial response). Awaitable: ``final = await chunks.pipe(rxo.collect_response())``.

    ::

        --{content:"He"}--{content:"llo", stop}--{usage}--|   collect_response()
        ---------------------------------------------------{content:"Hello", stop, usage}|

    Example:
        >>> import asyncio
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.model import ChatRequest, Message, ScriptedProvider
        >>> async def main() -> str:
        ...     chunks = ScriptedProvider(["Hi!"]).stream_chat(
        ...         ChatRequest(messages=[Message(role="user", content="Hello")]))
        ...     return (await chunks.pipe(rxo.collect_response())).content
        >>> asyncio.run(main())
        'Hi!'
    """

    def _collect(source: _Deltas) -> reactivex.Observable[ChatResponse]:
        def subscribe(
            observer: abc.ObserverBase[ChatResponse], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            collector = ResponseCollector()

            def on_completed() -> None:
                observer.on_next(collector.result())
                observer.on_completed()

            return source.subscribe(
                collector.add, observer.on_error, on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _collect


def _default_scheduler() -> abc.SchedulerBase:
    try:
        return AsyncIOScheduler(asyncio.get_running_loop())
    except RuntimeError:
        return TimeoutScheduler.singleton()


def coalesce_text(
    seconds: float, scheduler: abc.SchedulerBase | None = None
) -> Callable[[reactivex.Observable[Any]], reactivex.Observable[str]]:
    """Batch text for UIs: emit the text gathered during ``seconds`` after the first piece.

    Lossless: every character arrives, in order; nothing is emitted for quiet periods; what is
    pending is flushed before completion and before an error. Accepts ``ChatResponse`` deltas
    (their content) or plain strings. The timer runs on ``scheduler``, by default an
    ``AsyncIOScheduler`` on the running loop.

    ::

        --"a"-"b"-------"c"----"d"-|   coalesce_text(3 ticks)
        ---------"ab"-------------"cd"|

    Args:
        seconds: the batching window; must be positive.
        scheduler: where the timers run.

    Raises:
        ValueError: when ``seconds`` is not positive.

    Example:
        >>> import reactivex
        >>> from rxchronos import operators as rxo
        >>> out = []
        >>> _ = reactivex.of("a", "b", "c").pipe(rxo.coalesce_text(0.05)).subscribe(out.append)
        >>> out
        ['abc']
    """
    if not seconds > 0:
        raise ValueError(f"coalesce_text() needs a positive window in seconds, got {seconds!r}")

    def _coalesce(source: reactivex.Observable[Any]) -> reactivex.Observable[str]:
        def subscribe(
            observer: abc.ObserverBase[str], scheduler_: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            timers = scheduler or scheduler_ or _default_scheduler()
            pending: list[str] = []
            timer = SerialDisposable()

            def flush(*_: Any) -> None:
                timer.disposable = None
                if pending:
                    joined = "".join(pending)
                    pending.clear()
                    observer.on_next(joined)

            def on_next(item: Any) -> None:
                piece = item if isinstance(item, str) else item.content
                if not piece:
                    return
                if not pending:
                    timer.disposable = timers.schedule_relative(seconds, flush)
                pending.append(piece)

            def on_error(exc: Exception) -> None:
                flush()
                observer.on_error(exc)

            def on_completed() -> None:
                flush()
                observer.on_completed()

            subscription = source.subscribe(on_next, on_error, on_completed, scheduler=scheduler_)
            return CompositeDisposable(subscription, timer)

        return reactivex.create(subscribe)

    return _coalesce
