"""A provider's wire dialect: the public parser base, its JSON loader and the request helpers.

A dialect is two pure halves with no I/O, so both are testable without a server:

- a [StreamParser][rxchronos.model.StreamParser] turns one wire event into ``ChatResponse`` deltas;
- a request builder turns a [ChatRequest][rxchronos.model.ChatRequest] into the provider's JSON
  body, with [sampling_fields][rxchronos.model.sampling_fields] naming the sampling fields the
  provider's way and [build_turns][rxchronos.model.build_turns] merging turns for APIs that want
  one turn per speaker.

The HTTP base ([HTTPProvider][rxchronos.model.HTTPProvider]) feeds a parser every dispatched SSE
event as ``feed(event.event, event.data)`` (comments never reach it), or every NDJSON line as
``feed("message", line)``, and calls ``end()`` once at EOF.

Example:
    >>> from rxchronos.model import ChatResponse, StreamParser, as_text
    >>> class Lines(StreamParser):
    ...     def parse(self, event, data):
    ...         if data == "END":
    ...             self.finished = True
    ...             return []
    ...         return self.deltas({"content": as_text(self.load_object(data).get("t"), "t")})
    >>> parser = Lines(provider="lines")
    >>> [d.content for d in parser.feed("message", '{"t": "Hi"}')], parser.feed("message", "END")
    (['Hi'], [])
    >>> parser.finished
    True
"""

from __future__ import annotations

import json
from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import pydantic_core

from rxchronos._construct import constructor
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos._errors import RxChronosError
from rxchronos.model._errors import DEFAULT_ERROR_BODY_LIMIT
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._operators import ResponseCollector
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import Message
from rxchronos.model._types import Role
from rxchronos.model._types import ToolCall

__all__ = [
    "DATA_ERRORS",
    "MalformedData",
    "StreamParser",
    "ToolSlots",
    "as_count",
    "as_list",
    "as_object",
    "as_text",
    "build_turns",
    "error_info",
    "load_json",
    "new_delta",
    "new_tool_call",
    "sampling_fields",
    "tool_names",
    "whole_answer",
]

_decode = json.JSONDecoder().raw_decode
_from_json = pydantic_core.from_json

new_delta = constructor(ChatResponse, defaults=True)
"""``new_delta(values)``: a ``ChatResponse`` delta from checked values and the defaults, without
validation (the hot path; see ``rxchronos._construct``). The defaults are immutable, so sharing
them is safe."""

new_tool_call = constructor(ToolCall, defaults=True)
"""``new_tool_call(values)``: a ``ToolCall`` fragment from checked values and the defaults,
without validation."""


DATA_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)
"""What a parser hook raises for data of the wrong shape (``MalformedData`` is a ``ValueError``).
A ``ProviderStreamError`` the hook raises is none of these and passes through unchanged."""


class MalformedData(RxChronosError, ValueError):
    """Raised inside a parser's ``parse`` for data of the wrong shape; ``feed`` turns it into a
    ``ProviderStreamError`` of kind ``"malformed"`` naming the provider and the event."""


def load_json(data: str) -> Any:
    """Parse one JSON document (surrounding whitespace is fine; Anthropic pads its events).

    pydantic-core's public ``from_json`` reads it: about three times as fast as the standard
    library on a typical 150-byte chunk, which takes ``benchmarks/token_pipeline.py`` from 1,195M
    to 1,027M instructions per 20,000-chunk answer (callgrind). What it refuses goes to the
    standard library (``json.JSONDecoder.raw_decode``), which decides and names the problem. So
    the few documents only ``json`` reads (a lone surrogate, nesting past 200 levels, Unicode
    whitespace around the document) read as before, and nothing changes meaning: the two agree
    on every document both read (numbers, duplicate keys, ``NaN``; ``tests/model/test_load_json.py``
    checks it on generated documents and text).

    Raises:
        MalformedData: ``data`` is not one JSON document, or is nested too deeply to parse.
        ArgumentTypeError: ``data`` is not a str.

    Example:
        >>> load_json('{"a": [1, 2]}  ')
        {'a': [1, 2]}
    """
    if type(data) is str:  # from_json would take bytes too: this reads text only
        try:
            return _from_json(data)
        except (ValueError, TypeError):  # TypeError: a str holding a lone surrogate
            pass
    return _load_refused(data)


def _load_refused(data: str) -> Any:
    """``data`` read by the standard library (see `load_json`): its value, or why not.

    Raises:
        ArgumentTypeError: ``data`` is not a str.
        MalformedData: it is not one JSON document.
    """
    if not isinstance(data, str):
        raise ArgumentTypeError(f"JSON to load must be a str, got {type(data).__name__}")
    try:
        try:
            value, end = _decode(data)
        except ValueError:
            value, end = _decode(data, len(data) - len(data.lstrip()))
    except ValueError as exc:
        raise MalformedData(f"not JSON ({exc}): {data[:200]!r}") from None
    except RecursionError:
        raise MalformedData(f"JSON nested too deeply ({len(data)} characters)") from None
    if end != len(data) and data[end:].strip():
        raise MalformedData(f"not one JSON document (extra data at {end}): {data[:200]!r}")
    return value


def error_info(payload: Any) -> tuple[str, str]:
    """``(code, message)`` of an error payload: ``{"error": {...}}``, ``{"error": "..."}``, ...

    The code is the payload's ``type``, ``code`` or ``status``; the message its ``message`` (or the
    payload as JSON).

    Example:
        >>> error_info({"error": {"type": "overloaded_error", "message": "Overloaded"}})
        ('overloaded_error', 'Overloaded')
    """
    err = payload.get("error", payload) if isinstance(payload, dict) else payload
    if isinstance(err, dict):
        code = err.get("type") or err.get("code") or err.get("status") or "error"
        message = err.get("message") or json.dumps(err, default=str)[:DEFAULT_ERROR_BODY_LIMIT]
        return str(code), str(message) or "an error without a message"
    return "error", str(err)[:DEFAULT_ERROR_BODY_LIMIT] or "an error without a message"


def as_text(value: Any, what: str) -> str:
    """``value`` when it is a string, ``""`` for ``None``; else ``MalformedData`` naming ``what``.

    Example:
        >>> as_text("Hi", "content"), as_text(None, "content")
        ('Hi', '')
    """
    if type(value) is str:
        return value
    if value is None:
        return ""
    raise MalformedData(f"{what} is not a string: {value!r:.200}")


def as_count(value: Any, what: str) -> int:
    """``value`` as a token count (a non-negative integer; ``None`` is 0), else ``MalformedData``.

    Example:
        >>> as_count(12, "prompt_tokens"), as_count(None, "prompt_tokens")
        (12, 0)
    """
    if value is None:
        return 0
    if type(value) is int and value >= 0:
        return value
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    raise MalformedData(f"{what} is not a token count: {value!r:.200}")


def as_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object, ``{}`` for ``None``; else ``MalformedData``.

    Example:
        >>> as_object({"a": 1}, "usage"), as_object(None, "usage")
        ({'a': 1}, {})
    """
    if type(value) is dict:
        return value
    if value is None:
        return {}
    raise MalformedData(f"{what} is not an object: {value!r:.200}")


def as_list(value: Any, what: str) -> list[Any]:
    """``value`` when it is a JSON array, ``[]`` for ``None``; else ``MalformedData``.

    Example:
        >>> as_list([1], "choices"), as_list(None, "choices")
        ([1], [])
    """
    if type(value) is list:
        return value
    if value is None:
        return []
    raise MalformedData(f"{what} is not a list: {value!r:.200}")


class StreamParser(ABC):
    """Base of a dialect's stream parser: wire events in, ``ChatResponse`` deltas out.

    Subclasses implement the hook [parse][rxchronos.model.StreamParser.parse] (and may override
    [finish][rxchronos.model.StreamParser.finish]); the HTTP layer calls the template methods
    ``feed`` and ``end``, which turn anything a hook raises about the data (``MalformedData``, or
    a ``TypeError``/``KeyError``/... from data of a wrong shape) into a
    [ProviderStreamError][rxchronos.model.ProviderStreamError] of kind ``"malformed"`` naming the
    provider and the event.

    A parser must:

    - return ``[]`` for events that carry nothing for the user (pings, role-only chunks): an empty
      return means "no progress" for the idle timeout;
    - raise ``self.provider_error(code, message)`` for an in-band error (never skip it); when the
      failing event also carries data (usage next to an error), pass it as ``carried=values``: it
      becomes the error's partial delta and is folded into the partial response;
    - set ``finished`` once the provider's end marker was seen (``[DONE]``, ``message_stop``);
      EOF before that is an [IncompleteStreamError][rxchronos.model.IncompleteStreamError].
      ``finish()`` may set it at EOF for dialects whose end is EOF after a final chunk (Gemini);
    - give tool-call fragments their *slot* as ``index`` (``self.tool_slots``).

    Attributes:
        finished: whether the end marker was seen.
        tool_slots: the [ToolSlots][rxchronos.model.ToolSlots] of this stream.
        response_id: the response id, stamped on every delta by ``deltas()``.

    Args:
        provider: the provider's name, for error messages.

    Example:
        >>> class Words(StreamParser):
        ...     def parse(self, event, data):
        ...         if event == "done":
        ...             self.finished = True
        ...             return []
        ...         return self.deltas({"content": as_text(self.load_object(data)["w"], "w")})
        >>> parser = Words(provider="words")
        >>> parser.feed("message", '{"w": "Hi"}')[0].content
        'Hi'
        >>> try:
        ...     parser.feed("message", '{"w": 5}')
        ... except ProviderStreamError as exc:
        ...     print(exc.kind, "-", exc.message)
        malformed - 'message' event: w is not a string: 5
    """

    __slots__ = ("finished", "provider", "response_id", "tool_slots")

    def __init__(self, *, provider: str) -> None:
        self.provider = provider
        self.tool_slots = ToolSlots()
        self.response_id = ""
        self.finished = False

    # -- the hooks -------------------------------------------------------------------------------

    @abstractmethod
    def parse(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one wire event: the SSE event type and data, or ``"message"`` and an NDJSON line.

        Raises:
            MalformedData: the data has the wrong shape (``feed`` names the provider and event).
            ProviderStreamError: the provider reported an error (``self.provider_error(...)``).
        """

    def finish(self) -> list[ChatResponse]:
        """Called once at EOF: the last deltas, if any; may set ``finished``. Nothing by default."""
        return []

    # -- what the HTTP layer calls ---------------------------------------------------------------

    def feed(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one wire event (see [parse][rxchronos.model.StreamParser.parse]).

        Raises:
            ProviderStreamError: an in-band error, or data that cannot be read (``"malformed"``).
        """
        try:
            return self.parse(event, data)
        except DATA_ERRORS as exc:
            raise self.event_error(exc, event) from None

    def event_error(self, exc: Exception, event: str) -> ProviderStreamError:
        """What ``feed`` raises when ``parse`` raised ``exc`` (one of ``DATA_ERRORS``) for an
        event of type ``event``: a ``"malformed"`` error naming the provider and the event."""
        return self._data_error(exc, f"{event!r} event")

    def end(self) -> list[ChatResponse]:
        """At EOF: [finish][rxchronos.model.StreamParser.finish], with ``feed``'s error rules."""
        return self.guarded(self.finish, "end of stream")

    def guarded(
        self, hook: Callable[..., list[ChatResponse]], where: str, *args: Any
    ) -> list[ChatResponse]:
        """``hook(*args)``, with what it raises about the data as a ``"malformed"`` error.

        ``where`` names the input in the message (``"'message' event"``, ``"answer"``).
        """
        try:
            return hook(*args)
        except DATA_ERRORS as exc:
            raise self._data_error(exc, where) from None

    def _data_error(self, exc: Exception, where: str) -> ProviderStreamError:
        # The cause is dropped on purpose: its text is kept here, its traceback only points into
        # the parser at data the provider sent.
        if isinstance(exc, RecursionError):
            return self.malformed(f"{where}: nested too deeply")
        text = str(exc) if isinstance(exc, MalformedData) else f"{type(exc).__name__}: {exc}"
        return self.malformed(f"{where}: {text}"[:DEFAULT_ERROR_BODY_LIMIT])

    # -- helpers for subclasses ------------------------------------------------------------------

    def malformed(self, what: str) -> ProviderStreamError:
        """A ``ProviderStreamError`` of kind ``"malformed"``: ``what`` says what was wrong."""
        return ProviderStreamError(what, provider=self.provider, kind="malformed")

    def provider_error(
        self, code: str, message: str, *, carried: dict[str, Any] | None = None
    ) -> ProviderStreamError:
        """An in-band error the provider reported; ``carried`` is the failing event's own data
        (as delta values), kept as the error's ``partial``."""
        partial = new_delta(carried) if carried else None
        return ProviderStreamError(
            message, provider=self.provider, kind="provider_error", code=code, partial=partial
        )

    def load_object(self, data: str, event: str = "message") -> dict[str, Any]:
        """``data`` parsed as a JSON object.

        Raises:
            MalformedData: not JSON, or not an object.
            ProviderStreamError: not JSON in an ``error`` event (the text is the error message).
        """
        if type(data) is str:  # from_json would take bytes too: this reads text only
            try:
                payload = _from_json(data)  # load_json, inline: this is once per chunk
            except (ValueError, TypeError):
                payload = self._refused_object(data, event)
        else:
            payload = self._refused_object(data, event)
        if type(payload) is not dict:
            raise MalformedData(f"not a JSON object: {data[:200]!r}")
        return payload

    def _refused_object(self, data: str, event: str) -> Any:
        """What `load_object` reads through the standard library; in an ``error`` event, text
        that is not JSON is the provider's error message."""
        try:
            return _load_refused(data)
        except MalformedData:
            if event == "error":
                text = data[:DEFAULT_ERROR_BODY_LIMIT] or "an error event without data"
                raise self.provider_error("error", text) from None
            raise

    def deltas(self, values: dict[str, Any]) -> list[ChatResponse]:
        """``values`` as the one delta of an event, stamped with the response id; none if empty.

        The values must have the field types (they are not validated): check wire values with
        [as_text][rxchronos.model.as_text] and friends first.
        """
        if not values:
            return []
        values["id"] = self.response_id
        return [new_delta(values)]


def whole_answer(
    parser: StreamParser, parse_object: Callable[[dict[str, Any]], list[ChatResponse]], payload: Any
) -> ChatResponse:
    """A ``ChatResponse(delta=False)`` from a non-streaming answer shaped like one stream event
    (Gemini, Ollama): ``parse_object(payload)`` and ``parser.end()``, collected.

    Raises:
        ProviderStreamError: ``payload`` is not a JSON object, or the parser rejects it.
    """
    if type(payload) is not dict:
        raise parser.malformed("answer is not a JSON object")
    return ResponseCollector.of([*parser.guarded(parse_object, "answer", payload), *parser.end()])


class ToolSlots:
    """Maps a provider's way of keying tool calls to slots 0, 1, ... in order of first appearance.

    - a fragment with a wire ``key`` (OpenAI ``index``, Anthropic block index) goes to that key's
      slot, unless it brings an id different from the one already in that slot: a new id at a used
      key is a new call (Ollama's ``/v1`` gives every parallel call ``index: 0``);
    - a fragment with no key but an id goes to that id's slot (Mistral);
    - a fragment with neither continues the latest slot (or opens the first one);
    - a call that arrives whole takes ``new_slot``.

    Example:
        >>> slots = ToolSlots()
        >>> [slots.slot(0, "a"), slots.slot(0, None), slots.slot(0, "b"), slots.slot(None, "c")]
        [0, 0, 1, 2]
    """

    __slots__ = ("_by_id", "_by_key", "_ids", "_latest")

    def __init__(self) -> None:
        self._by_key: dict[object, int] = {}
        self._by_id: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._latest = -1

    def __len__(self) -> int:
        return len(self._ids)

    def new_slot(self, call_id: str | None) -> int:
        """A new slot, whatever ``call_id`` is: for a call that arrives whole (Gemini, Ollama), so
        that two calls stay two even when they bring the same id.

        Example:
            >>> slots = ToolSlots()
            >>> [slots.new_slot("a"), slots.new_slot("a"), slots.slot(None, "a")]
            [0, 1, 1]
        """
        slot = len(self._ids)
        self._ids.append(call_id)
        if call_id:
            self._by_id[call_id] = slot
        self._latest = slot
        return slot

    def slot(self, key: object | None, call_id: str | None) -> int:
        """The slot of a fragment with wire key ``key`` and id ``call_id`` (either may be None).

        Raises:
            MalformedData: ``key`` is not a number or string, or ``call_id`` is not a string.
        """
        if call_id is not None and type(call_id) is not str:
            raise MalformedData(f"tool call id is not a string: {call_id!r:.200}")
        if key is None:
            if call_id:
                found = self._by_id.get(call_id)
                if found is None:
                    return self.new_slot(call_id)
                self._latest = found
                return found
            return self._latest if self._latest >= 0 else self.new_slot(None)
        if not isinstance(key, int | str | tuple) or isinstance(key, bool):
            raise MalformedData(f"tool call index is not a number: {key!r:.200}")
        found = self._by_key.get(key)
        if found is not None:
            known = self._ids[found]
            if not call_id or known == call_id:
                self._latest = found
                return found
            if not known:
                self._ids[found] = call_id
                self._by_id[call_id] = found
                self._latest = found
                return found
        slot = self.new_slot(call_id)
        self._by_key[key] = slot
        return slot


def sampling_fields(
    request: ChatRequest,
    *,
    max_tokens: str | None,
    temperature: str = "temperature",
    top_p: str = "top_p",
    stop: str = "stop",
) -> dict[str, Any]:
    """The sampling fields ``request`` sets, each under the provider's own name.

    Args:
        request: the request.
        max_tokens: the name for ``max_tokens``; ``None`` leaves it out (the caller sends it).
        temperature: the name for ``temperature``.
        top_p: the name for ``top_p``.
        stop: the name for ``stop`` (sent as a list).

    Returns:
        A new dict in the order above, without the fields the request leaves unset.

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")], top_p=0.5,
        ...                       stop=["."])
        >>> sampling_fields(request, max_tokens="max_tokens", top_p="p", stop="stop_sequences")
        {'p': 0.5, 'stop_sequences': ['.']}
    """
    fields: dict[str, Any] = {}
    if max_tokens is not None and request.max_tokens is not None:
        fields[max_tokens] = request.max_tokens
    if request.temperature is not None:
        fields[temperature] = request.temperature
    if request.top_p is not None:
        fields[top_p] = request.top_p
    if request.stop:
        fields[stop] = list(request.stop)
    return fields


def build_turns(
    messages: Iterable[Message],
    convert: Callable[[Message], tuple[str, list[Any]]],
    *,
    parts_key: str,
) -> tuple[str, list[dict[str, Any]]]:
    """The system text and the merged turns, for APIs that keep the system prompt apart and want
    the parts of one speaker in one turn (Anthropic, Gemini).

    ``convert(message) -> (role, parts)``; system messages are joined by blank lines; a message
    with no parts is left out; consecutive messages with the same role share one turn
    ``{"role": role, parts_key: [...]}``.

    Example:
        >>> from rxchronos.model import Message
        >>> build_turns(
        ...     [Message(role="system", content="Be brief."), Message(role="user", content="Hi"),
        ...      Message(role="user", content="There?")],
        ...     lambda m: ("user", [m.content]), parts_key="parts")
        ('Be brief.', [{'role': 'user', 'parts': ['Hi', 'There?']}])
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role is Role.SYSTEM:
            if message.content:
                system.append(message.content)
            continue
        role, parts = convert(message)
        if not parts:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1][parts_key].extend(parts)
        else:
            turns.append({"role": role, parts_key: parts})
    return "\n\n".join(system), turns


def answered_call_id(message: Message) -> str:
    """The ``tool_call_id`` of a ``Role.TOOL`` message, for the APIs that match a tool result to
    its call by id (Chat Completions and its kin, Responses, Anthropic, Cohere).

    Raises:
        InvalidArgumentError: the message has none (the API would reject the request).

    Example:
        >>> answered_call_id(Message(role="tool", tool_call_id="c1", content="21"))
        'c1'
    """
    if not message.tool_call_id:
        raise InvalidArgumentError(
            "a tool message needs the tool_call_id of the call it answers: "
            "Message(role='tool', tool_call_id=call.id, content=...)"
        )
    return message.tool_call_id


def tool_names(messages: Iterable[Message]) -> dict[str, str]:
    """Tool-call id -> tool name, from the assistant messages (for APIs that answer by name).

    Example:
        >>> from rxchronos.model import Message, ToolCall
        >>> tool_names([Message(role="assistant", tool_calls=[ToolCall(id="c1", name="now")])])
        {'c1': 'now'}
    """
    return {
        call.id: call.name
        for message in messages
        if message.role is Role.ASSISTANT
        for call in message.tool_calls
        if call.id
    }
