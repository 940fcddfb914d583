"""The Anthropic Messages dialect: :class:`AnthropicParser` and :func:`parse_message`.

The stream is named events, each also naming itself in its JSON ``type``: ``message_start`` (id,
input tokens) -> per content block ``content_block_start`` / ``content_block_delta``* /
``content_block_stop`` (all with the block ``index``) -> ``message_delta`` (stop reason, cumulative
usage) -> ``message_stop``. ``ping`` can come anywhere; unknown events are tolerated.

Normalised to deltas:

- ``text_delta`` -> ``content``; ``thinking_delta`` -> ``reasoning``;
- a ``tool_use`` block gets the next tool-call *slot* (its order among tool blocks, not the raw
  block index, which counts text and thinking blocks too); ``input_json_delta`` fragments (the
  first is often ``""``) become its ``arguments``; a no-argument tool ends up as ``"{}"``;
- thinking blocks, with their opaque ``signature`` (and ``redacted_thinking`` blocks), are kept in
  ``provider_data["anthropic_thinking"]`` (the complete list so far, so last-value-wins merging is
  right) to be sent back unchanged with the assistant message;
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

from rxchronos.model._dialect import ParserBase
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._event_json import load_object
from rxchronos.model._openai_dialect import error_info
from rxchronos.model._types import (
    ChatResponse,
    StopReason,
    ToolCall,
    Usage,
    fast_tool_call,
    token_usage,
)

__all__ = ["THINKING_KEY", "AnthropicParser", "parse_message", "stop_reason", "usage_of"]

THINKING_KEY = "anthropic_thinking"
"""The ``provider_data`` key holding the thinking blocks (with signatures) to send back."""

_STOP_REASONS = {
    "end_turn": StopReason.END,
    "stop_sequence": StopReason.END,
    "pause_turn": StopReason.END,
    "max_tokens": StopReason.MAX_TOKENS,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
    "tool_use": StopReason.TOOL_CALL,
    "refusal": StopReason.CONTENT_FILTER,
}

_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})


def stop_reason(reason: str) -> StopReason:
    """Map an Anthropic ``stop_reason`` (unknown ones count as ``END``)."""
    return _STOP_REASONS.get(reason, StopReason.END)


def usage_of(raw: dict[str, Any], *, input_tokens: int | None = None) -> Usage:
    """A ``Usage`` from an Anthropic usage object; prompt tokens include cache reads and writes.

    ``input_tokens`` is the prompt count to use when ``raw`` has none (``message_delta``).
    """
    if "input_tokens" in raw:
        prompt = (
            int(raw.get("input_tokens") or 0)
            + int(raw.get("cache_creation_input_tokens") or 0)
            + int(raw.get("cache_read_input_tokens") or 0)
        )
    else:
        prompt = input_tokens or 0
    return token_usage(prompt, raw.get("output_tokens"))


class AnthropicParser(ParserBase):
    """Pure parser of an Anthropic Messages stream (see the module docstring).

    Args:
        provider: the provider name, for error messages.
    """

    __slots__ = ("_blocks", "_prompt", "_thinking", "_thinking_parts")

    def __init__(self, *, provider: str) -> None:
        super().__init__(provider=provider)
        self._blocks: dict[int, int] = {}  # block index -> tool-call slot
        self._thinking: list[dict[str, Any]] = []  # completed (signed or redacted) thinking blocks
        self._thinking_parts: dict[int, list[str]] = {}  # block index -> thinking text parts
        self._prompt: int | None = None

    def feed(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event (its type is read from the JSON ``type``, else the event name)."""
        payload = load_object(data, provider=self._provider, event=event)
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
        elif kind == "error" or event == "error":
            raise self._fail(*error_info(payload))
        return []  # ping, content_block_stop, unknown events

    def _message_start(self, payload: dict[str, Any]) -> list[ChatResponse]:
        message = payload.get("message") or {}
        self._id = message.get("id") or self._id
        usage = message.get("usage")
        if not isinstance(usage, dict):
            return []
        parsed = usage_of(usage)
        self._prompt = parsed.prompt_tokens
        return self._out({"usage": parsed})

    def _start(self, payload: dict[str, Any]) -> list[ChatResponse]:
        block = payload.get("content_block") or {}
        index = payload.get("index", 0)
        kind = block.get("type")
        if kind == "text":
            return self._out({"content": block["text"]}) if block.get("text") else []
        if kind in _TOOL_BLOCKS:
            call_id = block.get("id") or ""
            slot = self._slots.slot(("block", index), call_id or None)
            self._blocks[index] = slot
            start = block.get("input")
            arguments = json.dumps(start) if start else ""
            call = fast_tool_call(slot, call_id, block.get("name") or "", arguments)
            return self._out({"tool_calls": (call,)})
        if kind == "thinking":
            text = block.get("thinking")
            self._thinking_parts[index] = [text] if text else []
            return self._out({"reasoning": text}) if text else []
        if kind == "redacted_thinking":
            self._thinking.append({"type": "redacted_thinking", "data": block.get("data") or ""})
            return self._out({"provider_data": {THINKING_KEY: list(self._thinking)}})
        return []

    def _delta(self, payload: dict[str, Any]) -> list[ChatResponse]:
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        index = payload.get("index", 0)
        if kind == "text_delta":
            text = delta.get("text")
            return self._out({"content": text}) if text else []
        if kind == "input_json_delta":
            part = delta.get("partial_json")
            if not part:
                return []
            slot = self._blocks.get(index)
            if slot is None:
                raise self._fail(
                    "malformed_event", f"input_json_delta for block {index}, not a tool_use block"
                )
            return self._out({"tool_calls": (fast_tool_call(slot, "", "", part),)})
        if kind == "thinking_delta":
            text = delta.get("thinking")
            if not text:
                return []
            self._thinking_parts.setdefault(index, []).append(text)
            return self._out({"reasoning": text})
        if kind == "signature_delta":
            return self._signature(index, delta.get("signature") or "")
        return []  # citations_delta and delta types added later: nothing for the user

    def _signature(self, index: int, signature: str) -> list[ChatResponse]:
        parts = self._thinking_parts.pop(index, [])
        # blocks never interleave, so completion order is block order
        self._thinking.append(
            {"type": "thinking", "thinking": "".join(parts), "signature": signature}
        )
        return self._out({"provider_data": {THINKING_KEY: list(self._thinking)}})

    def _message_delta(self, payload: dict[str, Any]) -> list[ChatResponse]:
        values: dict[str, Any] = {}
        reason = (payload.get("delta") or {}).get("stop_reason")
        if reason:
            values["stop_reason"] = stop_reason(reason)
        usage = payload.get("usage")
        if isinstance(usage, dict):
            values["usage"] = usage_of(usage, input_tokens=self._prompt)
        return self._out(values) if values else []


def parse_message(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming Messages answer.

    Raises:
        ProviderStreamError: the body is an error object or not a message.
    """
    if not isinstance(payload, dict) or payload.get("type") == "error" or "error" in payload:
        error_type, message = error_info(payload)
        raise ProviderStreamError(message, provider=provider, type=error_type)
    blocks = payload.get("content")
    if not isinstance(blocks, list):
        raise ProviderStreamError("answer has no content list", provider=provider, type="malformed")
    text: list[str] = []
    reasoning: list[str] = []
    thinking: list[dict[str, Any]] = []
    calls: list[ToolCall] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(block.get("text") or "")
        elif kind in _TOOL_BLOCKS:
            calls.append(
                ToolCall(
                    index=len(calls),
                    id=block.get("id") or "",
                    name=block.get("name") or "",
                    arguments=json.dumps(block.get("input") or {}),
                )
            )
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
            thinking.append(block)
        elif kind == "redacted_thinking":
            thinking.append(block)
    reason = payload.get("stop_reason")
    usage = payload.get("usage")
    return ChatResponse(
        id=payload.get("id") or "",
        content="".join(text),
        reasoning="".join(reasoning),
        usage=usage_of(usage) if isinstance(usage, dict) else None,
        tool_calls=tuple(calls),
        stop_reason=stop_reason(reason) if reason else None,
        delta=False,
        provider_data={THINKING_KEY: thinking} if thinking else None,
    )
