"""What a model stream or a graph run *says*, in the vocabulary both frontend protocols share.

The AI SDK's UI message stream and AG-UI describe the same things with different words: a run
starts, steps open and close, text and reasoning arrive in blocks, tool calls stream their
arguments and get results, custom data and state changes flow, the run pauses, fails or ends.
`Translator` folds ``ChatResponse`` deltas and graph ``StreamEvent``\\ s into that shared
vocabulary (`Say` tuples), with the per-subscription bookkeeping (which block is open, which
tool-call slot has which id) done once; `_ui_stream` and
`_ag_ui` only spell each `Say` in their protocol.

A delta's content parts (``ChatResponse.parts``, each whole) say what the flat fields cannot: a
``CitationPart`` is a ``source``, a ``ServerToolCallPart`` a ``server_tool_call`` and its
``ServerToolResultPart`` a ``server_tool_result`` (a result whose call was never said gets its
call said first, so that no client meets a result for a call it does not know). The other parts
say nothing: text and reasoning runs already travel as ``content`` and ``reasoning``, the closing
``ReasoningPart`` of a run (an Anthropic ``signature``, a Responses item's ``id`` and
``encrypted_content``) is for the provider, not the page (the collected answer's
``Message.parts`` keep it, as a graph's state does; no page shows it, and neither protocol needs
it to assemble the message), and an ``UnknownPart`` is a block no parser knows, with nothing a
page could show.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import NamedTuple
from typing import Protocol
from typing import TypeVar

import pydantic
import pydantic_core
import reactivex
from reactivex import abc
from reactivex.disposable import SingleAssignmentDisposable

from rxchronos._errors import InvalidArgumentError
from rxchronos._errors import validation_problems
from rxchronos.graph import EventType
from rxchronos.graph import StreamEvent
from rxchronos.model import ChatResponse
from rxchronos.model import CitationPart
from rxchronos.model import ContentPart
from rxchronos.model import ServerToolCallPart
from rxchronos.model import ServerToolResultPart
from rxchronos.model import StopReason
from rxchronos.ui._tool_result import TOOL_RESULT_EVENT

__all__ = [
    "Say",
    "Speller",
    "Translator",
    "new_id",
    "spoken",
    "to_json_values",
]

_T = TypeVar("_T", covariant=True)


class Say(NamedTuple):
    """One thing to tell the frontend: ``kind`` and up to three arguments.

    ========================  ===================================================
    ``step_start``/``_end``   ``a``: the node id
    ``text_start``/``_end``   ``a``: the block id
    ``text_delta``            ``a``: the block id, ``b``: the text
    ``reasoning_*``           as text
    ``tool_start``            ``a``: call id, ``b``: tool name
    ``tool_delta``            ``a``: call id, ``b``: a fragment of the arguments' JSON
    ``tool_end``              ``a``: call id, ``b``: tool name, ``c``: the arguments' JSON
    ``tool_result``           ``a``: call id, ``b``: the output (any JSON value)
    ``source``                ``a``: a fresh source id, ``b``: the ``CitationPart``
    ``server_tool_call``      ``a``: call id, ``b``: tool name, ``c``: the input (a dict)
    ``server_tool_result``    ``a``: call id, ``b``: the result (JSON values), ``c``: is an error
    ``custom``                ``a``: the name given to ``emit()``, ``b``: its data
    ``state``                 ``a``: the whole state as JSON values
    ``interrupt``             ``a``: the node the run paused before
    ``error``                 ``a``: what went wrong
    ``cancelled``             the run was cancelled
    ``finish``                ``a``: the model's stop reason, or ``None``
    ========================  ===================================================
    """

    kind: str
    a: Any = None
    b: Any = None
    c: Any = None


def new_id(prefix: str) -> str:
    """A fresh id for a message, block or call, e.g. ``msg_3f9a0c41d2e7b865``."""
    return f"{prefix}_{secrets.token_hex(8)}"


class _Call:
    __slots__ = ("arguments", "id", "name")

    def __init__(self, call_id: str, name: str) -> None:
        self.id = call_id
        self.name = name
        self.arguments: list[str] = []


class _Lane:
    """What is open in one task of a run (one node running): its step, blocks and tool calls."""

    __slots__ = ("calls", "reasoning", "step", "text")

    def __init__(self) -> None:
        self.text: str | None = None
        self.reasoning: str | None = None
        self.calls: dict[int, _Call] = {}
        self.step: str | None = None


class Translator:
    """Per-subscription state turning model deltas and graph events into `Say`\\ s.

    Feed it with `delta` (a ``ChatResponse`` delta or its JSON form from a ``model_chunk``
    event), `event` (a graph ``StreamEvent``) and, when a model stream ends, `end`.

    Example:
        >>> from rxchronos.model import ChatResponse
        >>> t = Translator(block_ids=iter(["t1"]).__next__)
        >>> [s.kind for s in t.delta(ChatResponse(content="Hi"))] + [s.kind for s in t.end()]
        ['text_start', 'text_delta', 'text_end', 'finish']
    """

    def __init__(self, *, block_ids: Callable[[], str] | None = None) -> None:
        counter = itertools.count(1)
        prefix = secrets.token_hex(4)
        self._next_block = block_ids or (lambda: f"b{prefix}-{next(counter)}")
        # Parallel nodes of a branching graph interleave their events: each task has its lane.
        self._lanes: dict[str | None, _Lane] = {}
        self._lane = _Lane()
        self._stop: StopReason | str | None = None
        self._server_calls: set[str] = set()
        self._last_server_call = ""
        self._state_said = False
        self.said_error = False

    # -- model deltas -------------------------------------------------------------------------

    def delta(self, delta: ChatResponse | Mapping[str, Any]) -> Iterator[Say]:
        """What one delta says: reasoning, text, content parts and tool-call fragments, in that
        order."""
        parts: Iterable[Any] | None
        if isinstance(delta, ChatResponse):
            content, reasoning, calls = delta.content, delta.reasoning, delta.tool_calls
            parts = delta.parts
            stop: Any = delta.stop_reason
            fragments: Iterator[tuple[int, str, str, str]] = (
                (c.index, c.id, c.name, c.arguments) for c in calls
            )
        else:
            content = delta.get("content") or ""
            reasoning = delta.get("reasoning") or ""
            parts = delta.get("parts")
            stop = delta.get("stop_reason")
            fragments = (
                (
                    int(c.get("index", 0)),
                    str(c.get("id") or ""),
                    str(c.get("name") or ""),
                    str(c.get("arguments") or ""),
                )
                for c in delta.get("tool_calls") or ()
            )
        if stop is not None:
            self._stop = stop
        if reasoning:
            yield from self._close_text()
            if self._lane.reasoning is None:
                self._lane.reasoning = self._next_block()
                yield Say("reasoning_start", self._lane.reasoning)
            yield Say("reasoning_delta", self._lane.reasoning, reasoning)
        if content:
            yield from self._close_reasoning()
            if self._lane.text is None:
                self._lane.text = self._next_block()
                yield Say("text_start", self._lane.text)
            yield Say("text_delta", self._lane.text, content)
        if parts:
            yield from self._parts(parts)
        for index, call_id, name, arguments in fragments:
            call = self._lane.calls.get(index)
            if call is None:
                yield from self._close_text()
                yield from self._close_reasoning()
                call = self._lane.calls[index] = _Call(call_id or new_id("call"), name)
                yield Say("tool_start", call.id, name)
            elif name and not call.name:
                call.name = name
            if arguments:
                call.arguments.append(arguments)
                yield Say("tool_delta", call.id, arguments)

    def _parts(self, parts: Iterable[Any]) -> Iterator[Say]:
        for part in parts:
            if isinstance(part, Mapping):  # a part of a model_chunk event's JSON delta
                if part.get("type") not in _SPOKEN_TYPES:
                    continue
                part = _read_part(part)
            if isinstance(part, CitationPart):
                yield Say("source", new_id("src"), part)
            elif isinstance(part, ServerToolCallPart):
                yield from self._server_call(part.id, part.name, part.input)
            elif isinstance(part, ServerToolResultPart):
                call_id = part.call_id or self._last_server_call
                if call_id not in self._server_calls:
                    yield from self._server_call(call_id, part.name, {})
                yield Say(
                    "server_tool_result", call_id, to_json_values(part.content), part.is_error
                )

    def _server_call(self, call_id: str, name: str, arguments: Any) -> Iterator[Say]:
        yield from self._close_text()
        yield from self._close_reasoning()
        call_id = call_id or new_id("srvtool")
        self._server_calls.add(call_id)
        self._last_server_call = call_id
        yield Say("server_tool_call", call_id, name or "server_tool", to_json_values(arguments))

    def close_blocks(self) -> Iterator[Say]:
        """End the open text and reasoning blocks and tool calls (a model stream is over)."""
        yield from self._close_text()
        yield from self._close_reasoning()
        lane = self._lane
        calls, lane.calls = lane.calls, {}
        for call in calls.values():
            yield Say("tool_end", call.id, call.name, "".join(call.arguments))

    def model_delta(self, delta: ChatResponse) -> Iterator[Say]:
        """A delta of a model stream served on its own: the stream is one step (``model``)."""
        if self._lane.step is None:
            self._lane.step = "model"
            yield Say("step_start", self._lane.step)
        yield from self.delta(delta)

    def end(self) -> Iterator[Say]:
        """A model stream completed: close what is open, then ``finish`` with its stop reason."""
        yield from self._end_step()
        yield Say("finish", self._stop)

    def fail(self, error: BaseException) -> Iterator[Say]:
        """The source failed: close what is open and say why (once)."""
        yield from self._end_all()
        if not self.said_error:
            self.said_error = True
            yield Say("error", f"{type(error).__name__}: {error}")

    def _close_text(self) -> Iterator[Say]:
        if self._lane.text is not None:
            yield Say("text_end", self._lane.text)
            self._lane.text = None

    def _close_reasoning(self) -> Iterator[Say]:
        if self._lane.reasoning is not None:
            yield Say("reasoning_end", self._lane.reasoning)
            self._lane.reasoning = None

    # -- graph events -------------------------------------------------------------------------

    def event(self, event: StreamEvent) -> Iterator[Say]:
        """What one graph event says (``checkpoint``, ``edge_transition``: nothing)."""
        kind = event.type
        task = event.task_id
        lane = self._lanes.get(task)
        if lane is None:
            lane = self._lanes[task] = _Lane()
        self._lane = lane
        if kind is EventType.MODEL_CHUNK:
            if event.data is not None:
                yield from self.delta(event.data)
        elif kind is EventType.NODE_START:
            yield from self._end_step()
            if not self._state_said and event.state is not None:
                self._state_said = True
                yield Say("state", to_json_values(event.state))
            self._lane.step = event.node_id or ""
            yield Say("step_start", self._lane.step)
        elif kind is EventType.NODE_END:
            yield from self._end_step()
            del self._lanes[task]
            # a branch of a parallel step sees only its own writes: the step's state comes with
            # its step_end
            if event.state is not None and not (event.data or {}).get("parallel"):
                self._state_said = True
                yield Say("state", to_json_values(event.state))
        elif kind is EventType.STEP_END:
            if event.state is not None:
                self._state_said = True
                yield Say("state", to_json_values(event.state))
        elif kind is EventType.MODEL_RESPONSE:
            yield from self.close_blocks()
        elif kind is EventType.CUSTOM:
            data = event.data or {}
            name, value = str(data.get("type", "")), data.get("data")
            if name == TOOL_RESULT_EVENT and isinstance(value, Mapping):
                yield from self.close_blocks()
                yield Say("tool_result", str(value.get("tool_call_id")), value.get("output"))
            else:
                yield Say("custom", name, to_json_values(value))
        elif kind is EventType.INTERRUPT:
            yield from self._end_all()
            yield Say("interrupt", event.node_id or "")
        elif kind is EventType.COMPLETED:
            yield from self._end_all()
            yield Say("finish", None)
        elif kind is EventType.ERROR:
            yield from self._end_all()
            self.said_error = True
            yield Say("error", event.error or "the run failed")
        elif kind is EventType.CANCELLED:
            yield from self._end_all()
            yield Say("cancelled")

    def _end_all(self) -> Iterator[Say]:
        """End every open step (the run is over), the current lane last."""
        current = self._lane
        for lane in [*self._lanes.values(), current]:
            self._lane = lane
            yield from self._end_step()
        self._lanes.clear()
        self._lane = current

    def _end_step(self) -> Iterator[Say]:
        yield from self.close_blocks()
        if self._lane.step is not None:
            yield Say("step_end", self._lane.step)
            self._lane.step = None


_SPOKEN_TYPES = frozenset({"citation", "server_tool_call", "server_tool_result"})
_PART: pydantic.TypeAdapter[ContentPart] = pydantic.TypeAdapter(ContentPart)


def _read_part(data: Mapping[str, Any]) -> ContentPart:
    try:
        return _PART.validate_python(data)
    except pydantic.ValidationError as exc:
        raise InvalidArgumentError(
            f"a model_chunk event carries a {data.get('type')!r} part that is not a content "
            f"part: {validation_problems(exc, 'part', 3)}"
        ) from None


def to_json_values(value: Any) -> Any:
    """``value`` as plain JSON values (read-only graph mappings become dicts, models dumps)."""
    return pydantic_core.to_jsonable_python(value)


class Speller(Protocol[_T]):
    """One protocol's words for `Say`\\ s (one instance per subscription)."""

    def start(self) -> Iterable[_T]:
        """What the protocol sends first."""
        ...

    def say(self, said: Say) -> Iterable[_T]:
        """The protocol's items for one `Say`."""
        ...


_TERMINAL = frozenset({"finish", "interrupt", "cancelled", "error"})


def spoken(
    source: reactivex.Observable[Any], make_speller: Callable[[], Speller[_T]]
) -> reactivex.Observable[_T]:
    """``source`` (``ChatResponse`` deltas or ``StreamEvent``\\ s) in one protocol's items.

    Each subscription gets its own `Translator` and speller. When a model stream
    completes, the open blocks are closed and ``finish`` is said; when the source fails, the
    failure is said (once) and then passed on as the error.
    """

    def subscribe(
        observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        translator = Translator()
        speller = make_speller()
        on_next = observer.on_next
        ended = False

        def tell(saids: Iterable[Say]) -> None:
            nonlocal ended
            for said in saids:
                if said.kind in _TERMINAL:
                    ended = True
                for item in speller.say(said):
                    on_next(item)

        subscription = SingleAssignmentDisposable()
        stopped = False

        def next_item(item: Any) -> None:
            if stopped:
                return
            try:
                if isinstance(item, StreamEvent):
                    tell(translator.event(item))
                    return
                if isinstance(item, ChatResponse):
                    tell(translator.model_delta(item))
                    return
            except InvalidArgumentError as exc:  # a graph event with a malformed content part
                subscription.dispose()
                error(exc)
                return
            subscription.dispose()
            error(
                TypeError(
                    "the rxchronos.ui operators read ChatResponse deltas (provider."
                    "stream_chat) or graph StreamEvents (runner.stream), got a "
                    f"{type(item).__name__}"
                )
            )

        def error(exc: Exception) -> None:
            nonlocal stopped
            if stopped:
                return
            stopped = True
            try:
                tell(translator.fail(exc))
            finally:
                observer.on_error(exc)

        def completed() -> None:
            nonlocal stopped
            if stopped:
                return
            stopped = True
            if not ended:
                tell(translator.end())
            observer.on_completed()

        for item in speller.start():
            on_next(item)
        subscription.disposable = source.subscribe(next_item, error, completed, scheduler=scheduler)
        return subscription

    return reactivex.create(subscribe)
