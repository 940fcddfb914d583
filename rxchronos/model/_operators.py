"""Folding a model stream: the operators ``rxchronos.operators`` re-exports, and the collectors.

``ResponseCollector`` folds deltas into one final
``ChatResponse(delta=False)``; ``ToolCallAccumulator``
merges tool-call fragments by slot. Both buffer string fragments in lists and join them once (no
quadratic ``+=``), in the manner of pydantic-ai's parts manager. The HTTP layer uses a collector to
attach the partial response to an error.

The operators are functions returning ``Callable[[Observable[ChatResponse]], Observable[R]]`` for
``.pipe(...)``, built from ``reactivex.operators``: ``text()`` is a ``filter`` and a ``map``;
``accumulate_tool_calls()`` and ``collect_response()`` are a ``scan`` / ``reduce`` over an
accumulator created per subscription inside ``reactivex.defer`` (state is never shared between
subscribers). A collector that raises while folding or completing is an ``on_error``, never an
exception lost in a callback. ``coalesce_text()`` is timer-driven and keeps its own small
``create`` (its flush-before-error rule has no stock operator). ``tapped`` reports a stream into a
running graph.

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
from collections.abc import Iterable
from itertools import pairwise
from typing import Any
from typing import Self
from typing import TypeVar
from typing import cast

import reactivex
from pydantic import BaseModel
from reactivex import abc
from reactivex import operators as ops
from reactivex.disposable import CompositeDisposable
from reactivex.disposable import Disposable
from reactivex.disposable import SerialDisposable
from reactivex.scheduler import TimeoutScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxchronos._errors import InvalidArgumentError
from rxchronos._tap import current_tap
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import CitationPart
from rxchronos.model._types import ContentPart
from rxchronos.model._types import ReasoningPart
from rxchronos.model._types import ServerToolCallPart
from rxchronos.model._types import ServerToolResultPart
from rxchronos.model._types import StopReason
from rxchronos.model._types import TextPart
from rxchronos.model._types import ToolCall
from rxchronos.model._types import Usage

__all__ = [
    "ModelTap",
    "ResponseCollector",
    "ToolCallAccumulator",
    "accumulate_tool_calls",
    "citations",
    "coalesce_text",
    "collect_response",
    "content_parts",
    "reasoning",
    "server_tool_calls",
    "server_tool_results",
    "tapped",
    "text",
]

_Deltas = reactivex.Observable[ChatResponse]


class _Slot:
    __slots__ = ("arguments", "id", "name", "parts", "provider_data")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.parts: list[str] = []
        self.arguments: str | None = ""  # the joined parts, or None when parts changed since
        self.provider_data: dict[str, Any] | None = None


class ToolCallAccumulator:
    """Merges tool-call fragments by slot; one per subscription.

    Example:
        >>> acc = ToolCallAccumulator()
        >>> acc.add([ToolCall(index=0, id="a", name="f", arguments='{"x"')])
        >>> acc.add([ToolCall(index=0, arguments=": 1}")])
        >>> acc.calls()[0].arguments
        '{"x": 1}'
    """

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}

    def __bool__(self) -> bool:
        return bool(self._slots)

    def add(self, fragments: Iterable[ToolCall]) -> None:
        """Merge ``fragments`` into their slots."""
        slots = self._slots
        for frag in fragments:
            slot = slots.get(frag.index)
            if slot is None:
                slot = slots[frag.index] = _Slot()
            if not slot.id and frag.id:
                slot.id = frag.id
            if not slot.name and frag.name:
                slot.name = frag.name
            if frag.provider_data:
                slot.provider_data = {**frag.provider_data, **(slot.provider_data or {})}
            if frag.arguments:
                slot.parts.append(frag.arguments)
                slot.arguments = None

    def calls(self, *, complete: bool = False) -> list[ToolCall]:
        """The calls merged so far, by slot; ``complete=True`` turns empty arguments into ``{}``."""
        out = []
        for index in sorted(self._slots):
            slot = self._slots[index]
            if slot.arguments is None:
                joined = "".join(slot.parts)
                slot.parts = [joined]
                slot.arguments = joined
            arguments = slot.arguments
            if complete and not arguments.strip():
                arguments = "{}"
            out.append(
                ToolCall(
                    index=index,
                    id=slot.id,
                    name=slot.name,
                    arguments=arguments,
                    provider_data=slot.provider_data,
                )
            )
        return out


class _Run:
    """A run of reasoning: it starts at ``reasoning[start]``, after ``at`` content pieces."""

    __slots__ = ("at", "closing", "start")

    def __init__(self, at: int, start: int) -> None:
        self.at = at
        self.start = start
        self.closing: ReasoningPart | None = None  # the fragment that closed it


class ResponseCollector:
    """Folds deltas into one final ``ChatResponse(delta=False)``; one per subscription.

    Content, reasoning and refusal concatenate; usage and stop reason are last-value-wins; the id is
    the first non-empty one; provider data merges (later keys win). ``parts`` come out in order:
    the content between two other parts is a ``TextPart`` (citations do not cut it: they follow
    the text they cite), each run of reasoning a ``ReasoningPart`` (a text-less, unredacted
    ``ReasoningPart`` fragment right after it closes it, adding its signature and ids), every other
    part as it came. Text deltas cost nothing more for this: only reasoning and parts mark where
    they came (after how many content pieces).
    """

    __slots__ = (
        "_content",
        "_id",
        "_marks",
        "_provider_data",
        "_reasoning",
        "_refusal",
        "_run",
        "_stop_reason",
        "_tools",
        "_usage",
        "count",
    )

    def __init__(self) -> None:
        self._id = ""
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._refusal: list[str] = []
        self._usage: Usage | None = None
        self._stop_reason: StopReason | None = None
        self._tools = ToolCallAccumulator()
        self._provider_data: dict[str, Any] | None = None
        self._marks: list[tuple[int, _Run | ContentPart]] = []  # (content pieces before, entry)
        self._run: _Run | None = None  # the reasoning run still open, if any
        self.count = 0
        """How many deltas were added."""

    @classmethod
    def of(cls, deltas: Iterable[ChatResponse]) -> ChatResponse:
        """The response ``deltas`` fold into (for answers parsed whole).

        Example:
            >>> deltas = [ChatResponse(content="He"), ChatResponse(content="y")]
            >>> ResponseCollector.of(deltas).content
            'Hey'
        """
        collector = cls()
        for delta in deltas:
            collector.add(delta)
        return collector.result()

    def add(self, delta: ChatResponse) -> Self:
        """Fold one delta in; returns the collector (so that ``add`` is the accumulator of a
        ``reduce``)."""
        self.count += 1
        if not self._id and delta.id:
            self._id = delta.id
        if delta.reasoning:
            run = self._run
            if run is None or run.at != len(self._content):  # text came between: a new run
                run = self._run = _Run(len(self._content), len(self._reasoning))
                self._marks.append((run.at, run))
            self._reasoning.append(delta.reasoning)
        if delta.content:
            self._content.append(delta.content)
        if delta.parts:
            self._add_parts(delta.parts)
        if delta.refusal:
            self._refusal.append(delta.refusal)
        if delta.tool_calls:
            self._tools.add(delta.tool_calls)
        if delta.usage is not None:
            self._usage = delta.usage
        if delta.stop_reason is not None:
            self._stop_reason = delta.stop_reason
        if delta.provider_data:
            self._provider_data = {**(self._provider_data or {}), **delta.provider_data}
        return self

    def _add_parts(self, parts: Iterable[ContentPart]) -> None:
        at = len(self._content)
        for part in parts:
            run, self._run = self._run, None
            if (
                run is not None
                and run.at == at
                and isinstance(part, ReasoningPart)
                and not part.text
                and not part.redacted
            ):
                run.closing = part
                continue
            self._marks.append((at, part))

    def _parts(self) -> tuple[ContentPart, ...]:
        content, reasoning = self._content, self._reasoning
        runs = [entry for _, entry in self._marks if isinstance(entry, _Run)]
        stops = {id(run): end.start for run, end in pairwise(runs)}
        out: list[ContentPart] = []
        held: list[ContentPart] = []  # citations, after the text they cite
        done = 0

        def text_to(at: int) -> None:
            nonlocal done
            if at > done:
                out.append(TextPart(text="".join(content[done:at])))
                done = at
            out.extend(held)
            held.clear()

        for at, entry in self._marks:
            if isinstance(entry, CitationPart):
                held.append(entry)
                continue
            text_to(at)
            if not isinstance(entry, _Run):
                out.append(entry)
                continue
            text = "".join(reasoning[entry.start : stops.get(id(entry), len(reasoning))])
            closing = entry.closing
            out.append(
                ReasoningPart(text=text)
                if closing is None
                else closing.model_copy(update={"text": text})
            )
        text_to(len(content))
        return tuple(out)

    def result(self) -> ChatResponse:
        """The response collected so far, with tool calls completed (empty arguments -> ``{}``)."""
        return ChatResponse(
            id=self._id,
            content="".join(self._content),
            reasoning="".join(self._reasoning),
            refusal="".join(self._refusal),
            usage=self._usage,
            tool_calls=tuple(self._tools.calls(complete=True)),
            stop_reason=self._stop_reason,
            delta=False,
            parts=self._parts(),
            provider_data=self._provider_data,
        )

    @property
    def has_output(self) -> bool:
        """Whether any text, reasoning, refusal, tool call or part was added (not only ids and
        usage)."""
        return bool(self._content or self._reasoning or self._refusal or self._tools or self._marks)

    def partial(self) -> ChatResponse | None:
        """The response so far, or ``None`` when nothing was added (for errors)."""
        return self.result() if self.count else None


def _has_content(delta: ChatResponse) -> bool:
    return bool(delta.content)


def _content(delta: ChatResponse) -> str:
    return delta.content


def _has_tool_calls(delta: ChatResponse) -> bool:
    return bool(delta.tool_calls)


def _add_tool_calls(accumulator: ToolCallAccumulator, delta: ChatResponse) -> ToolCallAccumulator:
    accumulator.add(delta.tool_calls)
    return accumulator


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

    return reactivex.compose(ops.filter(_has_content), ops.map(_content))


def _has_reasoning(delta: ChatResponse) -> bool:
    return bool(delta.reasoning)


def _reasoning(delta: ChatResponse) -> str:
    return delta.reasoning


def reasoning() -> Callable[[_Deltas], reactivex.Observable[str]]:
    """The reasoning text of each delta (thinking, reasoning summaries); others are dropped.

    ::

        --{reasoning:"Hm"}--{content:"4"}--{reasoning:"."}--|   reasoning()
        --"Hm"-----------------------------"."--------------|

    Example:
        >>> import reactivex
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.model import ChatResponse
        >>> deltas = reactivex.of(ChatResponse(reasoning="2+2"), ChatResponse(content="4"))
        >>> seen = []
        >>> _ = deltas.pipe(rxo.reasoning()).subscribe(seen.append)
        >>> seen
        ['2+2']
    """
    return reactivex.compose(ops.filter(_has_reasoning), ops.map(_reasoning))


_P = TypeVar("_P", bound=BaseModel)


def _parts_of(kind: type[_P] | None) -> Callable[[_Deltas], reactivex.Observable[_P]]:
    def select(delta: ChatResponse) -> reactivex.Observable[_P]:
        found = [p for p in delta.parts if kind is None or isinstance(p, kind)]
        return reactivex.from_iterable(cast("list[_P]", found))

    def _has_parts(delta: ChatResponse) -> bool:
        return bool(delta.parts)

    return reactivex.compose(ops.filter(_has_parts), ops.concat_map(select))


def content_parts() -> Callable[[_Deltas], reactivex.Observable[ContentPart]]:
    """Every part the deltas carry, in order, as it arrives (server tool calls and results,
    citations, closing reasoning fragments, unknown blocks; text travels as ``content``).

    ::

        --{content}--{parts:[call]}--{parts:[result, cite]}--|   content_parts()
        -------------call------------result-cite-------------|

    Example:
        >>> import reactivex
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.model import ChatResponse, UnknownPart
        >>> deltas = reactivex.of(ChatResponse(content="Hi"),
        ...                       ChatResponse(parts=[UnknownPart(kind="new_block")]))
        >>> seen = []
        >>> _ = deltas.pipe(rxo.content_parts()).subscribe(seen.append)
        >>> [part.kind for part in seen]
        ['new_block']
    """
    return _parts_of(None)


def server_tool_calls() -> Callable[[_Deltas], reactivex.Observable[ServerToolCallPart]]:
    """Each server-side tool call (run by the provider, never by you) once its input is complete.

    ::

        --{content}--{parts:[web_search call]}--{parts:[result]}--|   server_tool_calls()
        -------------web_search call------------------------------|

    Example:
        >>> import reactivex
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.model import ChatResponse, ServerToolCallPart
        >>> call = ServerToolCallPart(id="srvtoolu_1", name="web_search", input={"query": "rx"})
        >>> seen = []
        >>> _ = reactivex.of(ChatResponse(parts=[call])).pipe(
        ...     rxo.server_tool_calls()).subscribe(seen.append)
        >>> [(c.name, c.input) for c in seen]
        [('web_search', {'query': 'rx'})]
    """
    return _parts_of(ServerToolCallPart)


def server_tool_results() -> Callable[[_Deltas], reactivex.Observable[ServerToolResultPart]]:
    """Each result of a server-side tool call, as it arrives.

    ::

        --{parts:[call]}--{parts:[result]}--|   server_tool_results()
        ------------------result------------|

    Example:
        >>> import reactivex
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.model import ChatResponse, ServerToolResultPart
        >>> result = ServerToolResultPart(call_id="srvtoolu_1", name="web_search", content=[])
        >>> seen = []
        >>> _ = reactivex.of(ChatResponse(parts=[result])).pipe(
        ...     rxo.server_tool_results()).subscribe(seen.append)
        >>> seen[0].call_id
        'srvtoolu_1'
    """
    return _parts_of(ServerToolResultPart)


def citations() -> Callable[[_Deltas], reactivex.Observable[CitationPart]]:
    """Each citation (a cited source, with its span or quoted text when the provider gives them).

    ::

        --{content:"Paris"}--{parts:[cite]}--{content:"."}--|   citations()
        ---------------------cite---------------------------|

    Example:
        >>> import reactivex
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.model import ChatResponse, CitationPart
        >>> cite = CitationPart(url="https://example.com", title="Example")
        >>> seen = []
        >>> _ = reactivex.of(ChatResponse(parts=[cite])).pipe(
        ...     rxo.citations()).subscribe(seen.append)
        >>> seen[0].url
        'https://example.com'
    """
    return _parts_of(CitationPart)


def accumulate_tool_calls() -> Callable[[_Deltas], reactivex.Observable[list[ToolCall]]]:
    """The tool calls merged so far, after each delta that carries tool-call fragments.

    A ``scan`` over a ``ToolCallAccumulator`` made
    per subscription, merging by slot (``ToolCall.index``): id and name are first-non-empty-wins,
    arguments concatenate (fragments are buffered and joined once per emission). Parallel calls
    stay apart.

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
        def per_subscription(_: abc.SchedulerBase | None) -> reactivex.Observable[list[ToolCall]]:
            return source.pipe(
                ops.filter(_has_tool_calls),
                ops.scan(_add_tool_calls, ToolCallAccumulator()),
                ops.map(ToolCallAccumulator.calls),
            )

        return reactivex.defer(per_subscription)

    return _accumulate


def collect_response() -> Callable[[_Deltas], reactivex.Observable[ChatResponse]]:
    """One final ``ChatResponse(delta=False)`` when the stream completes.

    Full content, reasoning and refusal text; completed tool calls (empty arguments become
    ``"{}"``); the last usage and stop reason; the id. A ``reduce`` over a
    ``ResponseCollector`` made per subscription.
    Errors pass through (provider errors carry the partial response), and so does a failure of the
    collector itself. Awaitable: ``final = await chunks.pipe(rxo.collect_response())``.

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
        def per_subscription(_: abc.SchedulerBase | None) -> reactivex.Observable[ChatResponse]:
            return source.pipe(
                ops.reduce(ResponseCollector.add, ResponseCollector()),
                ops.map(ResponseCollector.result),
            )

        return reactivex.defer(per_subscription)

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
        raise InvalidArgumentError(
            f"coalesce_text() needs a positive window in seconds, got {seconds!r}"
        )

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


class ModelTap:
    """What one model stream reports into the running graph run: ``model_call`` (provider,
    model) when it starts, one ``model_chunk`` per delta (a JSON-able dict) and
    ``model_response`` (the collected response) at its end.

    `start` looks up the context-variable tap of a graph run; outside a run there is none and it
    returns ``None``, so a stream outside a graph pays nothing per delta. A provider whose
    stream is a producer (``from_producer``) uses it inside the producer; `tapped` puts it
    around any other Observable.

    Example:
        >>> from rxchronos._tap import reset_tap, set_tap
        >>> seen = []
        >>> token = set_tap(lambda kind, data: seen.append(kind))
        >>> tap = ModelTap.start(provider="p", model="m")
        >>> tap.reporting(lambda delta: print(delta.content))(ChatResponse(content="Hi"))
        Hi
        >>> tap.finish()
        >>> reset_tap(token)
        >>> seen, ModelTap.start(provider="p", model="m")
        (['model_call', 'model_chunk', 'model_response'], None)
    """

    __slots__ = ("_collector", "_model", "_provider", "_tap")

    def __init__(self, tap: Callable[[str, Any], None], provider: str, model: str) -> None:
        self._tap = tap
        self._provider = provider
        self._model = model
        self._collector = ResponseCollector()

    @classmethod
    def start(cls, *, provider: str, model: str) -> ModelTap | None:
        """The tap of the graph run this code runs in, ``model_call`` reported; ``None``
        outside a run."""
        tap = current_tap()
        if tap is None:
            return None
        tap("model_call", {"provider": provider, "model": model})
        return cls(tap, provider, model)

    def reporting(self, on_next: Callable[[ChatResponse], None]) -> Callable[[ChatResponse], None]:
        """``on_next``, each delta reported first (and kept for the response)."""
        tap = self._tap
        add = self._collector.add

        def report(delta: ChatResponse) -> None:
            tap("model_chunk", delta.model_dump(mode="json", exclude_defaults=True))
            add(delta)
            on_next(delta)

        return report

    def finish(self) -> None:
        """Report the collected response: the stream has completed.

        Raises:
            Exception: what collecting the response raised (the stream's error then).
        """
        data: dict[str, Any] = self._collector.result().model_dump(mode="json")
        self._tap("model_response", {"provider": self._provider, "model": self._model, **data})


def tapped(
    source: reactivex.Observable[ChatResponse], *, provider: str, model: str
) -> reactivex.Observable[ChatResponse]:
    """``source``, reporting into the running graph of each subscriber, if any (a `ModelTap`
    started at subscribe time).

    Example:
        >>> from rxchronos._tap import reset_tap, set_tap
        >>> seen = []
        >>> token = set_tap(lambda kind, data: seen.append(kind))
        >>> source = reactivex.of(ChatResponse(content="Hi"))
        >>> _ = tapped(source, provider="p", model="m").subscribe()
        >>> reset_tap(token)
        >>> seen
        ['model_call', 'model_chunk', 'model_response']
    """

    def subscribe(
        observer: abc.ObserverBase[ChatResponse], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        tap = ModelTap.start(provider=provider, model=model)
        if tap is None:
            return source.subscribe(observer, scheduler=scheduler)

        def on_completed() -> None:
            try:
                tap.finish()
            except Exception as exc:
                observer.on_error(exc)
                return
            observer.on_completed()

        subscription = source.subscribe(
            tap.reporting(observer.on_next), observer.on_error, on_completed, scheduler=scheduler
        )
        return Disposable(subscription.dispose)

    return reactivex.create(subscribe)
