"""The OpenAI Responses API stream dialect: :class:`ResponsesParser` (parser only, no provider yet).

Named SSE events, each naming itself in its JSON ``type``: ``response.created`` (id) ->
``response.output_item.added`` (a ``function_call`` item opens a tool call: ``call_id``, ``name``)
-> ``response.output_text.delta`` / ``response.reasoning_summary_text.delta`` /
``response.function_call_arguments.delta`` (keyed by ``output_index``) -> ``response.completed``
(usage; the terminal marker) or ``response.incomplete`` (``max_output_tokens`` or
``content_filter``). ``error`` and ``response.failed`` events raise ``ProviderStreamError``. There
is no ``[DONE]``.

Example:
    >>> parser = ResponsesParser(provider="openai")
    >>> event = '{"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"}'
    >>> parser.feed("response.output_text.delta", event)[0].content
    'Hi'
"""

from __future__ import annotations

from typing import Any

from rxchronos.model._dialect import ParserBase
from rxchronos.model._event_json import load_object
from rxchronos.model._openai_dialect import error_info
from rxchronos.model._types import ChatResponse, StopReason, Usage, fast_tool_call, token_usage

__all__ = ["ResponsesParser"]

_INCOMPLETE = {
    "max_output_tokens": StopReason.MAX_TOKENS,
    "content_filter": StopReason.CONTENT_FILTER,
}


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return token_usage(raw.get("input_tokens"), raw.get("output_tokens"), raw.get("total_tokens"))


class ResponsesParser(ParserBase):
    """Pure parser of a Responses API stream (see the module docstring).

    Args:
        provider: the provider name, for error messages.
    """

    __slots__ = ()

    def feed(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event."""
        payload = load_object(data, provider=self._provider, event=event)
        kind = payload.get("type") or event
        values: dict[str, Any] = {}
        if kind == "response.output_text.delta":
            if payload.get("delta"):
                values["content"] = payload["delta"]
        elif kind == "response.reasoning_summary_text.delta":
            if payload.get("delta"):
                values["reasoning"] = payload["delta"]
        elif kind == "response.refusal.delta":
            if payload.get("delta"):
                values["refusal"] = payload["delta"]
        elif kind == "response.function_call_arguments.delta":
            slot = self._slots.slot(payload.get("output_index"), None)
            if payload.get("delta"):
                values["tool_calls"] = (fast_tool_call(slot, "", "", payload["delta"]),)
        elif kind == "response.output_item.added":
            item = payload.get("item") or {}
            if item.get("type") == "function_call":
                call_id = item.get("call_id") or ""
                slot = self._slots.slot(payload.get("output_index"), call_id or None)
                call = fast_tool_call(
                    slot, call_id, item.get("name") or "", item.get("arguments") or ""
                )
                values["tool_calls"] = (call,)
        elif kind == "response.created":
            self._id = (payload.get("response") or {}).get("id") or self._id
        elif kind in ("response.completed", "response.incomplete"):
            self.finished = True
            response = payload.get("response") or {}
            reason = (response.get("incomplete_details") or {}).get("reason")
            if reason in _INCOMPLETE:
                values["stop_reason"] = _INCOMPLETE[reason]
            else:
                saw_tools = len(self._slots) > 0
                values["stop_reason"] = StopReason.TOOL_CALL if saw_tools else StopReason.END
            usage = _usage(response.get("usage"))
            if usage is not None:
                values["usage"] = usage
        elif kind == "error" or event == "error":
            raise self._fail(*error_info(payload))
        elif kind == "response.failed":  # the failed response's usage goes on the error
            response = payload.get("response") or {}
            usage = _usage(response.get("usage"))
            carried = {"id": self._id, "usage": usage} if usage is not None else None
            raise self._fail(*error_info(response.get("error") or "failed"), carried=carried)
        return self._out(values)
