"""The Ollama native dialect (``/api/chat`` NDJSON): :class:`OllamaParser` and :func:`parse_chat`.

One JSON object per line. Normalised:

- ``message.content`` -> ``content``; ``message.thinking`` -> ``reasoning`` (a ``response`` field,
  the ``/api/generate`` shape, is read as content too);
- ``message.tool_calls`` arrive whole, with ``arguments`` as an *object* and often no id: each call
  becomes one fragment with the next slot, a generated unique id (unless Ollama sent one) and the
  arguments as JSON text;
- the last line has ``done: true`` (the terminal marker), ``done_reason`` (``"stop"`` even when
  tools were called: then it is ``StopReason.TOOL_CALL``; ``"length"`` is ``MAX_TOKENS``) and the
  counts ``prompt_eval_count`` / ``eval_count`` (the usage);
- an ``{"error": "..."}`` line (also after HTTP 200) raises ``ProviderStreamError``.

Example:
    >>> parser = OllamaParser(provider="ollama")
    >>> [d.content for d in parser.feed("message", '{"message": {"content": "Hi"}, "done": false}')]
    ['Hi']
    >>> last = parser.feed("message", '{"done": true, "done_reason": "stop", "eval_count": 1}')
    >>> last[0].stop_reason, parser.finished
    (<StopReason.END: 'end'>, True)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from rxchronos.model._dialect import ParserBase
from rxchronos.model._event_json import load_object, whole_answer
from rxchronos.model._types import (
    ChatResponse,
    StopReason,
    ToolCall,
    fast_delta,
    fast_tool_call,
    token_usage,
)

__all__ = ["OllamaParser", "parse_chat"]


def stop_reason(done_reason: str, *, saw_tools: bool) -> StopReason:
    """Map a ``done_reason``; ``stop`` after tool calls is ``TOOL_CALL``."""
    if done_reason == "length":
        return StopReason.MAX_TOKENS
    return StopReason.TOOL_CALL if saw_tools else StopReason.END


class OllamaParser(ParserBase):
    """Pure parser of an Ollama ``/api/chat`` NDJSON stream (see the module docstring).

    Args:
        provider: the provider name, for error messages.
        new_id: makes the id of a tool call that came without one, from its slot (default:
            ``call_<random per stream>_<slot>``).
    """

    __slots__ = ("_new_id",)

    def __init__(self, *, provider: str, new_id: Callable[[int], str] | None = None) -> None:
        super().__init__(provider=provider)
        prefix = secrets.token_hex(6)
        self._new_id = new_id or (lambda slot: f"call_{prefix}_{slot}")

    def feed(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one NDJSON line (``event`` is ``"message"``)."""
        return self.feed_object(load_object(data, provider=self._provider, event=event))

    def feed_object(self, payload: dict[str, Any]) -> list[ChatResponse]:
        """Parse one line's object already decoded from JSON."""
        values: dict[str, Any] = {}
        message = payload.get("message")
        if isinstance(message, dict):
            if message.get("content"):
                values["content"] = message["content"]
            if message.get("thinking"):
                values["reasoning"] = message["thinking"]
            calls = message.get("tool_calls")
            if calls:
                values["tool_calls"] = tuple(self._call(call) for call in calls)
        else:
            if payload.get("response"):
                values["content"] = payload["response"]
            if payload.get("thinking"):
                values["reasoning"] = payload["thinking"]
        if payload.get("done"):
            self.finished = True
            reason = payload.get("done_reason") or "stop"
            values["stop_reason"] = stop_reason(reason, saw_tools=len(self._slots) > 0)
            if "prompt_eval_count" in payload or "eval_count" in payload:
                counts = payload.get("prompt_eval_count"), payload.get("eval_count")
                values["usage"] = token_usage(*counts)
        error = payload.get("error")
        if error:  # whatever the line also carries goes on the error as its partial delta
            text = error.get("message") or json.dumps(error) if isinstance(error, dict) else error
            raise self._fail("error", str(text), carried=values)
        return [fast_delta(values)] if values else []

    def _call(self, call: Any) -> ToolCall:
        if not isinstance(call, dict):
            raise self._fail("malformed_event", f"tool call is not an object: {call!r:.200}")
        function = call.get("function") or {}
        slot = len(self._slots)
        call_id = call.get("id") or self._new_id(slot)
        slot = self._slots.slot(None, call_id)
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
        return fast_tool_call(slot, call_id, function.get("name") or "", text)


def parse_chat(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming ``/api/chat`` answer.

    Raises:
        ProviderStreamError: the body is an error object or not a JSON object.
    """
    parser = OllamaParser(provider=provider)
    return whole_answer(payload, parser.feed_object, parser.end, provider=provider)
