"""The Anthropic Messages family: the request body, the stream dialect and the provider.

Request:

- system messages go to the top-level ``system`` text (joined with blank lines);
- an assistant message becomes content blocks: its ``parts`` in order (signed ``thinking`` and
  ``redacted_thinking`` blocks, text, the server tool blocks of an Anthropic answer, unchanged;
  citations and other dialects' parts are not sent), its ``content`` as text when no part is
  text, then one ``tool_use`` block per tool call (``input`` is the parsed arguments object);
- a tool message becomes a ``tool_result`` block in a user turn; consecutive turns of the same role
  are merged, so the results of parallel calls travel together as Anthropic requires;
- tools become ``{"name", "description", "input_schema"}``; ``max_tokens`` is required by the API
  and defaults to ``DEFAULT_MAX_TOKENS``; ``reasoning_effort`` enables ``thinking`` with the
  effort's budget (``REASONING_BUDGETS``, below ``max_tokens``; with no ``max_tokens`` the budget
  plus ``DEFAULT_MAX_TOKENS`` is sent); ``stop`` becomes ``stop_sequences``;
  ``response_format`` has no Messages-API equivalent and ``metadata`` is the caller's own: neither
  is sent.

Stream: named events, each also naming itself in its JSON ``type``: ``message_start`` (id, input
tokens) -> per content block ``content_block_start`` / ``content_block_delta``* /
``content_block_stop`` (all with the block ``index``) -> ``message_delta`` (stop reason,
cumulative usage) -> ``message_stop``. ``ping`` can come anywhere; unknown events are tolerated.
Normalised to deltas:

- ``text_delta`` -> ``content``; ``thinking_delta`` -> ``reasoning``;
- a ``tool_use`` block gets the next tool-call *slot* (its order among tool blocks, not the raw
  block index, which counts text and thinking blocks too); ``input_json_delta`` fragments (the
  first is often ``""``) become its ``arguments``; a no-argument tool ends up as ``"{}"``; an
  ``input_json_delta`` for a block that is no open tool block (never started, stopped, or text)
  is a ``ProviderStreamError`` of kind ``"malformed"``;
- a thinking block's ``signature_delta`` is a ``ReasoningPart(signature=...)`` closing its
  reasoning run; a ``redacted_thinking`` block is a ``ReasoningPart(redacted=True)`` with its
  ``data`` as the signature: both are sent back unchanged with the assistant message;
- ``server_tool_use`` and ``mcp_tool_use`` blocks are ``ServerToolCallPart`` (their streamed
  input assembled), ``*_tool_result`` and ``mcp_tool_result`` blocks ``ServerToolResultPart``,
  each as one part when the block stops; server-side tool calls are never client ``tool_calls``;
- ``citations_delta`` is a ``CitationPart``; every other block (types added later) is an
  ``UnknownPart``, kept raw: no block ever fails the stream; unknown delta types carry nothing;
- ``message_delta`` usage is cumulative: each one replaces the last;
- ``event: error`` (e.g. ``overloaded_error`` after HTTP 200) raises ``ProviderStreamError``.

Example:
    >>> parser = AnthropicParser(provider="anthropic")
    >>> delta = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}'
    >>> parser.feed("content_block_delta", delta)[0].content
    'Hi'
    >>> parser.feed("message_stop", '{"type":"message_stop"}'), parser.finished
    ([], True)
"""

from __future__ import annotations

import json
from typing import Any

from rxchronos._errors import InvalidArgumentError
from rxchronos.model._dialect import MalformedData
from rxchronos.model._dialect import StreamParser
from rxchronos.model._dialect import answered_call_id
from rxchronos.model._dialect import as_count
from rxchronos.model._dialect import as_list
from rxchronos.model._dialect import as_object
from rxchronos.model._dialect import as_text
from rxchronos.model._dialect import build_turns
from rxchronos.model._dialect import error_info
from rxchronos.model._dialect import new_tool_call
from rxchronos.model._dialect import sampling_fields
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._http import HTTPRequest
from rxchronos.model._operators import ResponseCollector
from rxchronos.model._provider import HTTPProvider
from rxchronos.model._types import REASONING_BUDGETS
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import CitationPart
from rxchronos.model._types import ContentPart
from rxchronos.model._types import Message
from rxchronos.model._types import ReasoningPart
from rxchronos.model._types import Role
from rxchronos.model._types import ServerToolCallPart
from rxchronos.model._types import ServerToolResultPart
from rxchronos.model._types import StopReason
from rxchronos.model._types import TextPart
from rxchronos.model._types import ToolCall
from rxchronos.model._types import UnknownPart
from rxchronos.model._types import Usage
from rxchronos.model._types import token_usage

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DIALECT",
    "Anthropic",
    "AnthropicParser",
    "block_part",
    "citation_part",
    "messages_body",
    "parse_message",
]

API_VERSION = "2023-06-01"

# -- request -------------------------------------------------------------------------------------

DIALECT = "anthropic"
"""The ``dialect`` of the parts this module makes."""

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` sent when the request does not set one (the Messages API requires it)."""

_MIN_THINKING = 1024
"""The smallest ``thinking.budget_tokens`` the Messages API takes."""


def _part_block(part: ContentPart) -> dict[str, Any] | None:
    """The content block that sends ``part`` back, or ``None`` when it is not sent."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    if part.dialect != DIALECT:
        return None
    if isinstance(part, ReasoningPart):
        if part.redacted:
            return {"type": "redacted_thinking", "data": part.signature}
        if part.signature:
            return {"type": "thinking", "thinking": part.text, "signature": part.signature}
        return None
    if isinstance(part, ServerToolCallPart | ServerToolResultPart | UnknownPart):
        return part.raw
    return None  # citations travel with the text they cite only in the answer


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks = [b for b in map(_part_block, message.parts) if b is not None]
    if message.content and not any(isinstance(p, TextPart) for p in message.parts):
        blocks.append({"type": "text", "text": message.content})
    blocks.extend(
        {
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": call.parse_arguments(),
        }
        for call in message.tool_calls
    )
    return blocks


def _turn(message: Message) -> tuple[str, list[dict[str, Any]]]:
    if message.role is Role.ASSISTANT:
        return "assistant", _assistant_blocks(message)
    if message.role is Role.TOOL:
        result = {
            "type": "tool_result",
            "tool_use_id": answered_call_id(message),
            "content": message.content or "",
        }
        return "user", [result]
    return "user", [{"type": "text", "text": message.content or ""}]


def messages_body(request: ChatRequest, *, model: str, stream: bool) -> dict[str, Any]:
    """The JSON body of a Messages request (see the module docstring).

    Raises:
        ToolArgumentsError: an assistant tool call's arguments are not a JSON object.
        ValueError: a tool message without ``tool_call_id``.
    """
    system, turns = build_turns(request.messages, _turn, parts_key="content")
    body: dict[str, Any] = {
        "model": model,
        "messages": turns,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if request.reasoning_effort is not None:
        budget = REASONING_BUDGETS[request.reasoning_effort]
        if request.max_tokens is None:
            body["max_tokens"] = budget + DEFAULT_MAX_TOKENS  # room for the answer after thinking
        elif request.max_tokens <= _MIN_THINKING:
            raise InvalidArgumentError(
                f"reasoning_effort needs max_tokens above {_MIN_THINKING} for Anthropic (the "
                f"smallest thinking budget), got max_tokens={request.max_tokens}"
            )
        else:
            budget = min(budget, request.max_tokens - 1)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if system:
        body["system"] = system
    if stream:
        body["stream"] = True
    body.update(sampling_fields(request, max_tokens=None, stop="stop_sequences"))
    if request.tools:
        body["tools"] = [
            {
                "name": tool.function.name,
                "description": tool.function.description,
                "input_schema": tool.function.parameters,
            }
            for tool in request.tools
        ]
    return body


# -- stream dialect ------------------------------------------------------------------------------

_STOP_REASONS = {
    "end_turn": StopReason.END,
    "stop_sequence": StopReason.END,
    "pause_turn": StopReason.PAUSED,
    "max_tokens": StopReason.MAX_TOKENS,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
    "tool_use": StopReason.TOOL_CALL,
    "refusal": StopReason.CONTENT_FILTER,
}

_TOOL_BLOCKS = frozenset({"tool_use"})
"""The only blocks that are client tool calls (``server_tool_use``, ``mcp_tool_use`` are run by
Anthropic itself)."""

_SERVER_CALLS = frozenset({"server_tool_use", "mcp_tool_use"})


def _position(value: Any, what: str) -> int | None:
    if value is None:
        return None
    return as_count(value, what)


def citation_part(citation: Any) -> CitationPart:
    """A ``CitationPart`` from an Anthropic citation (web search result, document character,
    page or block location, search result location).

    Example:
        >>> citation_part({"type": "web_search_result_location", "url": "https://a.example",
        ...                "title": "A", "cited_text": "It is sunny."}).url
        'https://a.example'
    """
    citation = as_object(citation, "citation")
    start = end = None
    for first, last in _CITATION_SPANS:
        if first in citation:
            start = _position(citation.get(first), f"citation {first}")
            end = _position(citation.get(last), f"citation {last}")
            break
    return CitationPart(
        url=as_text(citation.get("url") or citation.get("source"), "citation url"),
        title=as_text(citation.get("title"), "citation title"),
        cited_text=as_text(citation.get("cited_text"), "cited_text"),
        document=as_text(citation.get("document_title"), "citation document_title"),
        start=start,
        end=end,
        dialect=DIALECT,
        raw=citation,
    )


_CITATION_SPANS = (
    ("start_char_index", "end_char_index"),
    ("start_page_number", "end_page_number"),
    ("start_block_index", "end_block_index"),
)


def block_part(block: dict[str, Any], names: dict[str, str]) -> ContentPart:
    """The part of a content block that is neither text, thinking nor a client ``tool_use``.

    ``names`` maps the ids of the server tool calls seen so far to their names (a result is named
    after its call); a call adds itself.

    Example:
        >>> names = {}
        >>> block_part({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
        ...             "input": {"query": "rx"}}, names).type
        'server_tool_call'
        >>> block_part({"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
        ...             "content": []}, names).name
        'web_search'
    """
    kind = as_text(block.get("type"), "block type")
    if kind in _SERVER_CALLS:
        call_id = as_text(block.get("id"), f"{kind} id")
        name = as_text(block.get("name"), f"{kind} name")
        names[call_id] = name
        given = block.get("input")
        return ServerToolCallPart(
            id=call_id,
            name=name,
            input=given if type(given) is dict else {},
            server=as_text(block.get("server_name"), f"{kind} server_name"),
            dialect=DIALECT,
            raw=block,
        )
    if kind.endswith("_tool_result"):
        call_id = as_text(block.get("tool_use_id"), f"{kind} tool_use_id")
        content = block.get("content")
        failed = block.get("is_error") is True or (
            type(content) is dict and str(content.get("type", "")).endswith("_error")
        )
        return ServerToolResultPart(
            call_id=call_id,
            name=names.get(call_id) or kind.removesuffix("_tool_result"),
            content=content,
            is_error=failed,
            dialect=DIALECT,
            raw=block,
        )
    return UnknownPart(kind=kind, dialect=DIALECT, raw=block)


def stop_reason(reason: Any) -> StopReason:
    """Map an Anthropic ``stop_reason`` (unknown ones count as ``END``)."""
    return _STOP_REASONS.get(as_text(reason, "stop_reason"), StopReason.END)


def usage_of(raw: dict[str, Any], *, start: Usage | None = None) -> Usage:
    """A ``Usage`` from an Anthropic usage object; prompt tokens include cache reads and writes.

    ``start`` is ``message_start``'s usage, whose prompt counts a ``message_delta`` without
    ``input_tokens`` keeps.
    """
    cached = as_count(raw.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
    written = as_count(raw.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
    if "input_tokens" in raw:
        prompt = as_count(raw.get("input_tokens"), "usage.input_tokens") + cached + written
    elif start is not None:
        prompt = start.prompt_tokens
        cached = cached or start.cached_prompt_tokens
        written = written or start.cache_write_tokens
    else:
        prompt = 0
    output = as_count(raw.get("output_tokens"), "usage.output_tokens")
    return token_usage(prompt, output, cached=cached, cache_write=written)


def _fragment(slot: int, call_id: str, name: str, arguments: str) -> ToolCall:
    return new_tool_call({"index": slot, "id": call_id, "name": name, "arguments": arguments})


class AnthropicParser(StreamParser):
    """The Anthropic Messages stream dialect (see the module docstring).

    Args:
        provider: the provider name, for error messages.
    """

    __slots__ = ("_blocks", "_names", "_others", "_start_usage")

    def __init__(self, *, provider: str) -> None:
        super().__init__(provider=provider)
        self._others: dict[int, tuple[dict[str, Any], list[str]]] = {}  # index -> block, input
        self._blocks: dict[int, int] = {}  # block index -> tool-call slot
        self._names: dict[str, str] = {}  # server tool call id -> name
        self._start_usage: Usage | None = None

    def parse(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event (its type is read from the JSON ``type``, else the event name)."""
        payload = self.load_object(data, event)
        kind = payload.get("type") or event
        if kind == "content_block_delta":
            return self._delta(payload)
        if kind == "content_block_start":
            return self._start(payload)
        if kind == "message_delta":
            return self._message_delta(payload)
        if kind == "message_start":
            return self._message_start(payload)
        if kind == "message_stop":
            self.finished = True
        elif kind == "content_block_stop":
            return self._stop(payload)
        elif kind == "error" or event == "error":
            raise self.provider_error(*error_info(payload))
        return []  # ping, unknown events

    def whole(self, payload: dict[str, Any], blocks: list[Any]) -> list[ChatResponse]:
        """The deltas of a whole (non-streaming) answer: each block as if it had streamed, then
        its stop reason and usage."""
        self.response_id = as_text(payload.get("id"), "id")
        out: list[ChatResponse] = []
        for index, block in enumerate(blocks):
            event = {"index": index, "content_block": block}
            out.extend(self._start(event))
            out.extend(self._stop(event))
        values: dict[str, Any] = {}
        reason = payload.get("stop_reason")
        if reason:
            values["stop_reason"] = stop_reason(reason)
        usage = payload.get("usage")
        if usage:
            values["usage"] = usage_of(as_object(usage, "usage"))
        out.extend(self.deltas(values))
        self.finished = True
        return out

    @staticmethod
    def _index(payload: dict[str, Any]) -> int:
        index = payload.get("index", 0)
        if type(index) is not int:
            raise MalformedData(f"block index is not an integer: {index!r:.200}")
        return index

    def _message_start(self, payload: dict[str, Any]) -> list[ChatResponse]:
        message = as_object(payload.get("message"), "message")
        self.response_id = as_text(message.get("id"), "message.id") or self.response_id
        usage = message.get("usage")
        if not usage:
            return []
        parsed = usage_of(as_object(usage, "message.usage"))
        self._start_usage = parsed
        return self.deltas({"usage": parsed})

    def _start(self, payload: dict[str, Any]) -> list[ChatResponse]:
        block = as_object(payload.get("content_block"), "content_block")
        index = self._index(payload)
        kind = block.get("type")
        if kind == "text":
            text = as_text(block.get("text"), "text block")
            values: dict[str, Any] = {"content": text} if text else {}
            cited = as_list(block.get("citations"), "text block citations")
            if cited:  # a whole answer's text block carries its citations
                values["parts"] = tuple(map(citation_part, cited))
            return self.deltas(values)
        if kind in _TOOL_BLOCKS:
            call_id = as_text(block.get("id"), "tool_use id")
            slot = self.tool_slots.slot(("block", index), call_id or None)
            self._blocks[index] = slot
            start = as_object(block.get("input"), "tool_use input")
            arguments = json.dumps(start) if start else ""
            name = as_text(block.get("name"), "tool_use name")
            return self.deltas({"tool_calls": (_fragment(slot, call_id, name, arguments),)})
        if kind == "thinking":
            text = as_text(block.get("thinking"), "thinking block")
            signature = as_text(block.get("signature"), "thinking signature")
            out = self.deltas({"reasoning": text}) if text else []
            if signature:  # a whole answer's block is signed at once
                out.extend(self._signature(signature))
            return out
        if kind == "redacted_thinking":
            data = as_text(block.get("data"), "redacted_thinking data")
            part = ReasoningPart(signature=data, redacted=True, dialect=DIALECT)
            return self.deltas({"parts": (part,)})
        self._others[index] = (dict(block), [])  # kept raw, completed at content_block_stop
        return []

    def _stop(self, payload: dict[str, Any]) -> list[ChatResponse]:
        index = self._index(payload)
        self._blocks.pop(index, None)  # its call is whole: no more input_json_delta for it
        other = self._others.pop(index, None)
        if other is None:
            return []
        block, parts = other
        if parts:
            text = "".join(parts)
            try:
                block["input"] = json.loads(text)
            except (ValueError, RecursionError):  # kept as text
                block["partial_json"] = text
        return self.deltas({"parts": (block_part(block, self._names),)})

    def _delta(self, payload: dict[str, Any]) -> list[ChatResponse]:
        delta = as_object(payload.get("delta"), "delta")
        kind = delta.get("type")
        index = self._index(payload)
        if kind == "text_delta":
            text = as_text(delta.get("text"), "text_delta")
            return self.deltas({"content": text}) if text else []
        if kind == "input_json_delta":
            part = as_text(delta.get("partial_json"), "partial_json")
            if not part:
                return []
            slot = self._blocks.get(index)
            if slot is None:  # a server or MCP tool's input: kept with its raw block
                other = self._others.get(index)
                if other is None:
                    raise MalformedData(
                        f"input_json_delta for content block {index}, which is not an open "
                        "tool block (no content_block_start opened it, or it was stopped)"
                    )
                other[1].append(part)
                return []
            return self.deltas({"tool_calls": (_fragment(slot, "", "", part),)})
        if kind == "thinking_delta":
            text = as_text(delta.get("thinking"), "thinking_delta")
            return self.deltas({"reasoning": text}) if text else []
        if kind == "signature_delta":
            return self._signature(as_text(delta.get("signature"), "signature"))
        if kind == "citations_delta":
            return self.deltas({"parts": (citation_part(delta.get("citation")),)})
        return []  # delta types added later: nothing for the user

    def _signature(self, signature: str) -> list[ChatResponse]:
        # blocks never interleave: the signature closes the reasoning streamed just before it
        return self.deltas({"parts": (ReasoningPart(signature=signature, dialect=DIALECT),)})

    def _message_delta(self, payload: dict[str, Any]) -> list[ChatResponse]:
        values: dict[str, Any] = {}
        reason = as_object(payload.get("delta"), "delta").get("stop_reason")
        if reason:
            values["stop_reason"] = stop_reason(reason)
        usage = payload.get("usage")
        if usage:
            values["usage"] = usage_of(as_object(usage, "usage"), start=self._start_usage)
        return self.deltas(values)


def parse_message(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming Messages answer.

    Raises:
        ProviderStreamError: the body is an error object or not a message.
    """
    if not isinstance(payload, dict) or payload.get("type") == "error" or "error" in payload:
        code, message = error_info(payload)
        raise ProviderStreamError(message, provider=provider, code=code)
    blocks = payload.get("content")
    if not isinstance(blocks, list):
        raise ProviderStreamError("answer has no content list", provider=provider, kind="malformed")
    parser = AnthropicParser(provider=provider)
    return ResponseCollector.of(parser.guarded(parser.whole, "answer", payload, blocks))


# -- provider ------------------------------------------------------------------------------------


class Anthropic(HTTPProvider):
    """Anthropic's Messages API (``POST {base_url}/v1/messages``).

    Text, tool calls (``tool_use`` blocks, numbered in order of appearance), extended thinking as
    ``reasoning`` with its signature kept in a ``ReasoningPart`` and sent back with the assistant
    message, server-side tools and citations as parts, cumulative usage, ``ping`` events (not
    progress for the idle timeout) and in-band
    ``event: error`` (``ProviderStreamError``). A tool input cut by ``max_tokens`` ends with
    ``StopReason.MAX_TOKENS`` and the arguments as far as they came.

    Args:
        api_key: the API key (``ANTHROPIC_API_KEY``), sent as ``x-api-key``; never shown in errors
            or reprs.
        model: the default model, e.g. ``"claude-sonnet-4-5"``.
        base_url: the API root (default ``https://api.anthropic.com``).
        **options: ``session`` (an ``aiohttp.ClientSession`` you own), ``timeout``
            ([Timeouts][rxchronos.model.Timeouts]), ``max_retries``, ``retry``
            ([RetryPolicy][rxchronos.model.RetryPolicy]), ``error_body_limit``.

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> claude = Anthropic(api_key="sk-ant-test", model="claude-sonnet-4-5")
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")], max_tokens=256)
        >>> chunks = claude.stream_chat(request)   # cold: sent on subscribe, inside a running loop
    """

    name = "anthropic"
    default_base_url = "https://api.anthropic.com"

    def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        """The Messages POST, authenticated with ``x-api-key``."""
        headers = {"x-api-key": self.api_key, "anthropic-version": API_VERSION}
        body = messages_body(request, model=self.model_of(request), stream=stream)
        return HTTPRequest(f"{self.base_url}/v1/messages", headers, body)

    def new_parser(self) -> AnthropicParser:
        """A Messages stream parser."""
        return AnthropicParser(provider=self.name)

    def parse_answer(self, payload: Any) -> ChatResponse:
        """A non-streaming Messages answer."""
        return parse_message(payload, provider=self.name)
