"""The OpenAI Responses API stream dialect: ``ResponsesParser``.

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

from rxchronos.model._dialect import (
    StreamParser,
    as_count,
    as_object,
    as_text,
    error_info,
    new_tool_call,
)
from rxchronos.model._types import ChatResponse, StopReason, ToolCall, Usage, token_usage

__all__ = ["ResponsesParser"]

_INCOMPLETE = {
    "max_output_tokens": StopReason.MAX_TOKENS,
    "content_filter": StopReason.CONTENT_FILTER,
}


def _usage(raw: Any) -> Usage | None:
    if not raw:
        return None
    raw = as_object(raw, "usage")
    inputs = as_object(raw.get("input_tokens_details"), "usage.input_tokens_details")
    outputs = as_object(raw.get("output_tokens_details"), "usage.output_tokens_details")
    return token_usage(
        as_count(raw.get("input_tokens"), "usage.input_tokens"),
        as_count(raw.get("output_tokens"), "usage.output_tokens"),
        as_count(raw.get("total_tokens"), "usage.total_tokens"),
        cached=as_count(inputs.get("cached_tokens"), "usage cached tokens"),
        reasoning=as_count(outputs.get("reasoning_tokens"), "usage reasoning tokens"),
    )


def _fragment(slot: int, call_id: str, name: str, arguments: str) -> ToolCall:
    return new_tool_call({"index": slot, "id": call_id, "name": name, "arguments": arguments})


class ResponsesParser(StreamParser):
    """The Responses API stream dialect (see the module docstring).

    Args:
        provider: the provider name, for error messages.
    """

    __slots__ = ()

    def parse(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event."""
        payload = self.load_object(data, event)
        kind = payload.get("type") or event
        values: dict[str, Any] = {}
        if kind == "response.output_text.delta":
            text = as_text(payload.get("delta"), "output_text delta")
            if text:
                values["content"] = text
        elif kind == "response.reasoning_summary_text.delta":
            text = as_text(payload.get("delta"), "reasoning_summary_text delta")
            if text:
                values["reasoning"] = text
        elif kind == "response.refusal.delta":
            text = as_text(payload.get("delta"), "refusal delta")
            if text:
                values["refusal"] = text
        elif kind == "response.function_call_arguments.delta":
            slot = self.tool_slots.slot(payload.get("output_index"), None)
            text = as_text(payload.get("delta"), "function_call_arguments delta")
            if text:
                values["tool_calls"] = (_fragment(slot, "", "", text),)
        elif kind == "response.output_item.added":
            item = as_object(payload.get("item"), "item")
            if item.get("type") == "function_call":
                call_id = as_text(item.get("call_id"), "call_id")
                slot = self.tool_slots.slot(payload.get("output_index"), call_id or None)
                name = as_text(item.get("name"), "function_call name")
                arguments = as_text(item.get("arguments"), "function_call arguments")
                values["tool_calls"] = (_fragment(slot, call_id, name, arguments),)
        elif kind == "response.created":
            response = as_object(payload.get("response"), "response")
            self.response_id = as_text(response.get("id"), "response id") or self.response_id
        elif kind in ("response.completed", "response.incomplete"):
            self.finished = True
            response = as_object(payload.get("response"), "response")
            details = as_object(response.get("incomplete_details"), "incomplete_details")
            reason = details.get("reason")
            if reason in _INCOMPLETE:
                values["stop_reason"] = _INCOMPLETE[reason]
            else:
                saw_tools = len(self.tool_slots) > 0
                values["stop_reason"] = StopReason.TOOL_CALL if saw_tools else StopReason.END
            usage = _usage(response.get("usage"))
            if usage is not None:
                values["usage"] = usage
        elif kind == "error" or event == "error":
            raise self.provider_error(*error_info(payload))
        elif kind == "response.failed":  # the failed response's usage goes on the error
            response = as_object(payload.get("response"), "response")
            usage = _usage(response.get("usage"))
            carried = {"id": self.response_id, "usage": usage} if usage is not None else None
            raise self.provider_error(
                *error_info(response.get("error") or "failed"), carried=carried
            )
        return self.deltas(values)
