"""The OpenAI Chat Completions dialect (OpenAI, Azure, Mistral and the OpenAI-compatible family).

:class:`OpenAIChatParser` is the pure stream parser; :func:`parse_completion` reads a non-streaming
answer. Both normalise every variant seen on the wire:

- usage in an extra chunk with ``choices: []`` (``include_usage``), or on the finish chunk
  (Groq, DeepSeek, Mistral); last value wins;
- tool-call fragments keyed by ``index``, with no ``index`` (Mistral, Gemini's OpenAI endpoint), or
  with a new id at a used index (Ollama ``/v1``): all become slots (see ``ToolSlots``);
- ``content`` as a list of ``text`` / ``thinking`` parts (Magistral); ``reasoning_content``
  (DeepSeek) or ``reasoning`` (Groq, OpenRouter) as ``reasoning``; ``refusal`` text;
- Azure's ``prompt_filter_results`` chunk (empty id, no choices), annotation chunks with no
  ``delta``, and ``finish_reason: "content_filter"``;
- in-band errors: ``event: error``, ``data: {"error": ...}``, and an ``error`` object inside an
  otherwise normal chunk (OpenRouter), all raised as ``ProviderStreamError``; what such a chunk
  also carries (usage, finish reason, content) goes on the error as its partial delta.

Example:
    >>> parser = OpenAIChatParser(provider="openai")
    >>> [d.content for d in parser.feed("message", '{"choices":[{"delta":{"content":"Hi"}}]}')]
    ['Hi']
"""

from __future__ import annotations

import json
from typing import Any

from rxchronos.model._dialect import ParserBase
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._types import (
    ChatResponse,
    StopReason,
    ToolCall,
    Usage,
    fast_delta,
    fast_tool_call,
    token_usage,
)

__all__ = ["OpenAIChatParser", "error_info", "parse_completion", "parse_usage", "stop_reason"]

_STOP_REASONS = {
    "stop": StopReason.END,
    "end_turn": StopReason.END,
    "eos": StopReason.END,
    "length": StopReason.MAX_TOKENS,
    "max_tokens": StopReason.MAX_TOKENS,
    "model_length": StopReason.MAX_TOKENS,
    "tool_calls": StopReason.TOOL_CALL,
    "function_call": StopReason.TOOL_CALL,
    "content_filter": StopReason.CONTENT_FILTER,
}


def stop_reason(finish: str, *, saw_tools: bool) -> StopReason:
    """Map an OpenAI-style ``finish_reason``; ``stop`` after tool calls counts as ``tool_call``."""
    reason = _STOP_REASONS.get(finish, StopReason.END)
    if reason is StopReason.END and saw_tools:
        return StopReason.TOOL_CALL
    return reason


def error_info(payload: Any) -> tuple[str, str]:
    """``(type, message)`` from an error payload: ``{"error": {...}}``, ``{"error": "..."}``, ..."""
    err = payload.get("error", payload) if isinstance(payload, dict) else payload
    if isinstance(err, dict):
        kind = err.get("type") or err.get("code") or err.get("status") or "error"
        message = err.get("message") or json.dumps(err)
        return str(kind), str(message)
    return "error", str(err)


def parse_usage(raw: Any) -> Usage | None:
    """A ``Usage`` from an OpenAI-style usage object, or ``None`` when there is none."""
    if not isinstance(raw, dict):
        return None
    return token_usage(
        raw.get("prompt_tokens"), raw.get("completion_tokens"), raw.get("total_tokens")
    )


def _arguments_text(arguments: Any) -> str:
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments)  # some servers send the arguments object itself


def _content_parts(parts: list[Any], values: dict[str, Any]) -> None:
    """Split Magistral-style content parts into content and reasoning text."""
    text: list[str] = []
    thinking: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            text.append(part.get("text") or "")
        elif kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                thinking.append(inner)
            elif isinstance(inner, list):
                thinking.extend(p.get("text") or "" for p in inner if isinstance(p, dict))
    if text and (joined := "".join(text)):
        values["content"] = joined
    if thinking and (joined := "".join(thinking)):
        values["reasoning"] = values.get("reasoning", "") + joined


class OpenAIChatParser(ParserBase):
    """Pure parser of a Chat Completions stream (see the module docstring).

    Args:
        provider: the provider name, for error messages.
    """

    __slots__ = ()

    def feed(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event; the stream's end is ``[DONE]``."""
        if data == "[DONE]":
            self.finished = True
            return []
        chunk = self._load(event, data)
        if event == "error":
            raise self._fail(*error_info(chunk))
        if type(chunk) is not dict:
            raise self._fail("malformed_chunk", f"not a JSON object: {data[:200]!r}")
        cid = chunk.get("id")
        if cid and not self._id:
            self._id = cid
        values: dict[str, Any] = {}
        choices = chunk.get("choices")
        if choices:
            for choice in choices:
                if choice.get("index", 0) == 0:
                    self._choice(choice, values)
                    break
        usage = chunk.get("usage")
        if usage:
            values["usage"] = parse_usage(usage)
        if values:
            values["id"] = self._id
        if chunk.get("error"):  # OpenRouter: the error comes with the chunk's usage; keep both
            raise self._fail(*error_info(chunk), carried=values)
        return [fast_delta(values)] if values else []

    def _choice(self, choice: dict[str, Any], values: dict[str, Any]) -> None:
        delta = choice.get("delta")
        if delta:
            content = delta.get("content")
            if content:
                if type(content) is str:
                    values["content"] = content
                elif isinstance(content, list):
                    _content_parts(content, values)
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                values["reasoning"] = reasoning + values.get("reasoning", "")
            refusal = delta.get("refusal")
            if refusal:
                values["refusal"] = refusal
            calls = delta.get("tool_calls")
            if calls:
                values["tool_calls"] = self._fragments(calls)
        finish = choice.get("finish_reason")
        if finish:
            values["stop_reason"] = stop_reason(finish, saw_tools=len(self._slots) > 0)

    def _fragments(self, calls: list[Any]) -> tuple[ToolCall, ...]:
        out = []
        for call in calls:
            if not isinstance(call, dict):
                raise self._fail("malformed_chunk", f"tool call is not an object: {call!r:.200}")
            call_id = call.get("id") or ""
            function = call.get("function") or {}
            slot = self._slots.slot(call.get("index"), call_id or None)
            out.append(
                fast_tool_call(
                    slot,
                    call_id,
                    function.get("name") or "",
                    _arguments_text(function.get("arguments")),
                )
            )
        return tuple(out)


def parse_completion(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming Chat Completions body.

    Raises:
        ProviderStreamError: the body is an error object or has no choices.
    """
    if not isinstance(payload, dict) or payload.get("error"):
        kind, text = error_info(payload)
        raise ProviderStreamError(text, provider=provider, type=kind)
    choices = payload.get("choices") or []
    if not choices:
        raise ProviderStreamError("response has no choices", provider=provider, type="malformed")
    choice = choices[0]
    message: dict[str, Any] = choice.get("message") or {}
    values: dict[str, Any] = {}
    content = message.get("content")
    if isinstance(content, str):
        values["content"] = content
    elif isinstance(content, list):
        _content_parts(content, values)
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        values["reasoning"] = reasoning + values.get("reasoning", "")
    calls = [
        ToolCall(
            index=i,
            id=call.get("id") or f"call_{i}",
            name=(call.get("function") or {}).get("name") or "",
            arguments=_arguments_text((call.get("function") or {}).get("arguments")) or "{}",
        )
        for i, call in enumerate(message.get("tool_calls") or [])
    ]
    finish = choice.get("finish_reason")
    return ChatResponse(
        id=payload.get("id") or "",
        refusal=message.get("refusal") or "",
        usage=parse_usage(payload.get("usage")),
        tool_calls=tuple(calls),
        stop_reason=stop_reason(finish, saw_tools=bool(calls)) if finish else None,
        delta=False,
        **values,
    )
