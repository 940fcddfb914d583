"""The Anthropic Messages family: the request body, the stream dialect and the provider.

Request:

- system messages go to the top-level ``system`` text (joined with blank lines);
- an assistant message becomes content blocks: its signed thinking blocks first (from
  ``provider_data["anthropic_thinking"]``, unchanged), then its text, then one ``tool_use`` block
  per tool call (``input`` is the parsed arguments object);
- a tool message becomes a ``tool_result`` block in a user turn; consecutive turns of the same role
  are merged, so the results of parallel calls travel together as Anthropic requires;
- tools become ``{"name", "description", "input_schema"}``; ``max_tokens`` is required by the API
  and defaults to ``DEFAULT_MAX_TOKENS``; ``stop`` becomes ``stop_sequences``;
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
  first is often ``""``) become its ``arguments``; a no-argument tool ends up as ``"{}"``;
- thinking blocks, with their opaque ``signature`` (and ``redacted_thinking`` blocks), are kept in
  ``provider_data["anthropic_thinking"]`` (the complete list so far, so last-value-wins merging is
  right) to be sent back unchanged with the assistant message;
- every other block (``server_tool_use`` and ``mcp_tool_use`` with their streamed input,
  ``web_search_tool_result``, ``mcp_tool_result``, blocks added later) is kept raw in
  ``provider_data["anthropic_blocks"]`` and never fails the stream; server-side tool calls are not
  client ``tool_calls``;
- ``citations_delta`` and unknown delta types carry nothing for the user;
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
from rxchronos.model._dialect import (
    MalformedData,
    StreamParser,
    as_count,
    as_object,
    as_text,
    build_turns,
    error_info,
    new_tool_call,
    sampling_fields,
)
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._http import HTTPRequest
from rxchronos.model._provider import HTTPProvider
from rxchronos.model._types import (
    ChatRequest,
    ChatResponse,
    Message,
    Role,
    StopReason,
    ToolCall,
    Usage,
    token_usage,
)

__all__ = [
    "BLOCKS_KEY",
    "DEFAULT_MAX_TOKENS",
    "THINKING_KEY",
    "Anthropic",
    "AnthropicParser",
    "messages_body",
    "parse_message",
]

API_VERSION = "2023-06-01"

# -- request -------------------------------------------------------------------------------------

THINKING_KEY = "anthropic_thinking"
"""The ``provider_data`` key holding the thinking blocks (with signatures) to send back."""

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` sent when the request does not set one (the Messages API requires it)."""


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    thinking = (message.provider_data or {}).get(THINKING_KEY)
    if isinstance(thinking, list):
        blocks.extend(block for block in thinking if isinstance(block, dict))
    if message.content:
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
        if not message.tool_call_id:
            raise InvalidArgumentError(
                "a tool message needs the tool_call_id of the call it answers"
            )
        result = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
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
    "pause_turn": StopReason.END,
    "max_tokens": StopReason.MAX_TOKENS,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
    "tool_use": StopReason.TOOL_CALL,
    "refusal": StopReason.CONTENT_FILTER,
}

_TOOL_BLOCKS = frozenset({"tool_use"})
"""The only blocks that are client tool calls (``server_tool_use``, ``mcp_tool_use`` are run by
Anthropic itself)."""

BLOCKS_KEY = "anthropic_blocks"
"""The ``provider_data`` key holding the other content blocks (server tool calls and results,
MCP blocks, blocks added after this parser), raw, with a streamed ``input`` assembled."""


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

    __slots__ = (
        "_blocks",
        "_others",
        "_others_done",
        "_start_usage",
        "_thinking",
        "_thinking_parts",
    )

    def __init__(self, *, provider: str) -> None:
        super().__init__(provider=provider)
        self._others: dict[int, tuple[dict[str, Any], list[str]]] = {}  # index -> block, input
        self._others_done: list[dict[str, Any]] = []
        self._blocks: dict[int, int] = {}  # block index -> tool-call slot
        self._thinking: list[dict[str, Any]] = []  # completed (signed or redacted) thinking blocks
        self._thinking_parts: dict[int, list[str]] = {}  # block index -> thinking text parts
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
            return self.deltas({"content": text}) if text else []
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
            self._thinking_parts[index] = [text] if text else []
            return self.deltas({"reasoning": text}) if text else []
        if kind == "redacted_thinking":
            data = as_text(block.get("data"), "redacted_thinking data")
            self._thinking.append({"type": "redacted_thinking", "data": data})
            return self.deltas({"provider_data": {THINKING_KEY: list(self._thinking)}})
        self._others[index] = (dict(block), [])  # kept raw, completed at content_block_stop
        return []

    def _stop(self, payload: dict[str, Any]) -> list[ChatResponse]:
        other = self._others.pop(self._index(payload), None)
        if other is None:
            return []
        block, parts = other
        if parts:
            text = "".join(parts)
            try:
                block["input"] = json.loads(text)
            except ValueError:
                block["partial_json"] = text
        self._others_done.append(block)
        return self.deltas({"provider_data": {BLOCKS_KEY: list(self._others_done)}})

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
                if other is not None:
                    other[1].append(part)
                return []
            return self.deltas({"tool_calls": (_fragment(slot, "", "", part),)})
        if kind == "thinking_delta":
            text = as_text(delta.get("thinking"), "thinking_delta")
            if not text:
                return []
            self._thinking_parts.setdefault(index, []).append(text)
            return self.deltas({"reasoning": text})
        if kind == "signature_delta":
            return self._signature(index, as_text(delta.get("signature"), "signature"))
        return []  # citations_delta and delta types added later: nothing for the user

    def _signature(self, index: int, signature: str) -> list[ChatResponse]:
        parts = self._thinking_parts.pop(index, [])
        # blocks never interleave, so completion order is block order
        self._thinking.append(
            {"type": "thinking", "thinking": "".join(parts), "signature": signature}
        )
        return self.deltas({"provider_data": {THINKING_KEY: list(self._thinking)}})

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
    text: list[str] = []
    reasoning: list[str] = []
    thinking: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    calls: list[ToolCall] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(as_text(block.get("text"), "text block"))
        elif kind in _TOOL_BLOCKS:
            calls.append(
                ToolCall(
                    index=len(calls),
                    id=as_text(block.get("id"), "tool_use id"),
                    name=as_text(block.get("name"), "tool_use name"),
                    arguments=json.dumps(as_object(block.get("input"), "tool_use input")),
                )
            )
        elif kind == "thinking":
            reasoning.append(as_text(block.get("thinking"), "thinking block"))
            thinking.append(block)
        elif kind == "redacted_thinking":
            thinking.append(block)
        elif isinstance(block, dict):
            others.append(block)
    reason = payload.get("stop_reason")
    usage = payload.get("usage")
    return ChatResponse(
        id=as_text(payload.get("id"), "id"),
        content="".join(text),
        reasoning="".join(reasoning),
        usage=usage_of(as_object(usage, "usage")) if usage else None,
        tool_calls=tuple(calls),
        stop_reason=stop_reason(reason) if reason else None,
        delta=False,
        provider_data={
            **({THINKING_KEY: thinking} if thinking else {}),
            **({BLOCKS_KEY: others} if others else {}),
        }
        or None,
    )


# -- provider ------------------------------------------------------------------------------------


class Anthropic(HTTPProvider):
    """Anthropic's Messages API (``POST {base_url}/v1/messages``).

    Text, tool calls (``tool_use`` blocks, numbered in order of appearance), extended thinking as
    ``reasoning`` with its signature kept in ``provider_data`` and sent back with the assistant
    message, cumulative usage, ``ping`` events (not progress for the idle timeout) and in-band
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
