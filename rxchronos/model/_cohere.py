"""The :class:`Cohere` provider (Chat API v2) and its dialect, :class:`CohereParser`.

The stream is SSE with the event type in the JSON ``type``: ``message-start`` (id) ->
``content-delta`` (text, or ``thinking`` for reasoning models) / ``tool-plan-delta`` (the model's
plan, reported as ``reasoning``) / ``tool-call-start`` / ``tool-call-delta`` / ``tool-call-end``
(with ``index``; ``tool_calls`` in a delta is one object, not a list) -> ``message-end`` (finish
reason and usage; the terminal marker). The request body uses v2 messages, which follow the OpenAI
shape (tool calls and ``tool_call_id`` round-trip the same way).

Example:
    >>> parser = CohereParser(provider="cohere")
    >>> event = '{"type": "content-delta", "delta": {"message": {"content": {"text": "Hi"}}}}'
    >>> parser.feed("content-delta", event)[0].content
    'Hi'
"""

from __future__ import annotations

from typing import Any

from rxchronos.model._dialect import ParserBase
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._event_json import load_object
from rxchronos.model._http import HTTPProvider, HTTPRequest
from rxchronos.model._openai_dialect import error_info
from rxchronos.model._openai_request import message_dict
from rxchronos.model._sampling import sampling_fields
from rxchronos.model._types import (
    ChatRequest,
    ChatResponse,
    StopReason,
    ToolCall,
    Usage,
    fast_tool_call,
    token_usage,
)

__all__ = ["Cohere", "CohereParser"]

_STOP_REASONS = {
    "MAX_TOKENS": StopReason.MAX_TOKENS,
    "TOOL_CALL": StopReason.TOOL_CALL,
    "ERROR_TOXIC": StopReason.CONTENT_FILTER,
}


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    counts = raw.get("tokens") or raw.get("billed_units")
    if not isinstance(counts, dict):
        return None
    return token_usage(counts.get("input_tokens"), counts.get("output_tokens"))


class CohereParser(ParserBase):
    """Pure parser of a Cohere v2 chat stream (see the module docstring).

    Args:
        provider: the provider name, for error messages.
    """

    __slots__ = ()

    def feed(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event."""
        payload = load_object(data, provider=self._provider, event=event)
        kind = payload.get("type") or event
        message = (payload.get("delta") or {}).get("message") or {}
        values: dict[str, Any] = {}
        if kind == "content-delta":
            content = message.get("content") or {}
            if content.get("text"):
                values["content"] = content["text"]
            if content.get("thinking"):
                values["reasoning"] = content["thinking"]
        elif kind == "tool-plan-delta":
            if message.get("tool_plan"):
                values["reasoning"] = message["tool_plan"]
        elif kind in ("tool-call-start", "tool-call-delta"):
            call = message.get("tool_calls") or {}
            function = call.get("function") or {}
            call_id = call.get("id") or ""
            slot = self._slots.slot(payload.get("index"), call_id or None)
            fragment = fast_tool_call(
                slot, call_id, function.get("name") or "", function.get("arguments") or ""
            )
            values["tool_calls"] = (fragment,)
        elif kind == "message-start":
            self._id = payload.get("id") or self._id
        elif kind == "message-end":
            self.finished = True
            self._message_end(payload.get("delta") or {}, values)
        elif kind == "error" or event == "error":
            raise self._fail(*error_info(payload))
        return self._out(values)  # none for content-start/-end, tool-call-end, citations, ...

    def _message_end(self, delta: dict[str, Any], values: dict[str, Any]) -> None:
        """Finish reason and usage; an error here keeps them as the error's partial delta."""
        usage = _usage(delta.get("usage"))
        if usage is not None:
            values["usage"] = usage
        reason = delta.get("finish_reason")
        error = delta.get("error")
        if reason == "ERROR" or error:
            values["id"] = self._id
            kind, text = ("error", str(error)) if error else ("ERROR", "generation failed")
            raise self._fail(kind, text, carried=values)
        if reason:
            values["stop_reason"] = _STOP_REASONS.get(reason, StopReason.END)


def parse_chat(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming v2 chat answer."""
    if not isinstance(payload, dict) or "message" not in payload:
        kind, text = error_info(payload)
        raise ProviderStreamError(text, provider=provider, type=kind)
    message = payload.get("message") or {}
    text = "".join(
        part.get("text") or ""
        for part in message.get("content") or ()
        if isinstance(part, dict) and part.get("type") == "text"
    )
    calls = tuple(
        ToolCall(
            index=i,
            id=call.get("id") or "",
            name=(call.get("function") or {}).get("name") or "",
            arguments=(call.get("function") or {}).get("arguments") or "{}",
        )
        for i, call in enumerate(message.get("tool_calls") or ())
    )
    reason = payload.get("finish_reason")
    response = ChatResponse(
        id=payload.get("id") or "",
        content=text,
        reasoning=message.get("tool_plan") or "",
        usage=_usage(payload.get("usage")),
        tool_calls=calls,
        stop_reason=_STOP_REASONS.get(reason, StopReason.END) if reason else None,
        delta=False,
    )
    if reason == "ERROR":  # keep the usage and text of the failed answer on the error
        raise ProviderStreamError(
            "generation failed", provider=provider, type="ERROR", partial=response
        )
    return response


def chat_body(request: ChatRequest, *, model: str, stream: bool) -> dict[str, Any]:
    """The JSON body of a v2 chat request."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [message_dict(m) for m in request.messages],
        "stream": stream,
    }
    if request.tools:
        body["tools"] = [tool.model_dump(mode="json") for tool in request.tools]
    body.update(sampling_fields(request, max_tokens="max_tokens", top_p="p", stop="stop_sequences"))
    fmt = request.response_format
    if fmt and fmt.get("type") in ("json_object", "json_schema"):
        schema = (fmt.get("json_schema") or {}).get("schema")
        body["response_format"] = {"type": "json_object"}
        if schema:
            body["response_format"]["json_schema"] = schema
    return body


class Cohere(HTTPProvider):
    """Cohere's Chat API v2 (``POST {base_url}/v2/chat``).

    Args:
        api_key: the API key (``CO_API_KEY`` or ``COHERE_API_KEY``), sent as a Bearer token.
        model: the default model, e.g. ``"command-a-03-2025"``.
        base_url: the API root (default ``https://api.cohere.com``).
        **options: ``session``, ``timeout``, ``max_retries``, ``retry`` (see
            :class:`~rxchronos.model.OpenAI`).

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> cohere = Cohere(api_key="co-test", model="command-a-03-2025")
        >>> chunks = cohere.stream_chat(ChatRequest(messages=[Message(role="user", content="Hi")]))
    """

    name = "cohere"
    default_base_url = "https://api.cohere.com"

    def _request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        body = chat_body(request, model=self._model_of(request), stream=stream)
        return HTTPRequest(f"{self.base_url}/v2/chat", headers, body)

    def _new_parser(self) -> CohereParser:
        return CohereParser(provider=self.name)

    def _parse_chat(self, payload: Any) -> ChatResponse:
        return parse_chat(payload, provider=self.name)
