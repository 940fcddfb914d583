"""The Cohere family (Chat API v2): request body, dialect, [Cohere][rxchronos.model.Cohere].

The stream is SSE with the event type in the JSON ``type``: ``message-start`` (id) ->
``content-delta`` (text, or ``thinking`` for reasoning models) / ``tool-plan-delta`` (the model's
plan, reported as ``reasoning``) / ``tool-call-start`` / ``tool-call-delta`` / ``tool-call-end``
(with ``index``; ``tool_calls`` in a delta is one object, not a list) -> ``message-end`` (finish
reason and usage; the terminal marker); ``citation-start`` is a ``CitationPart`` (the cited span
and its first source). The request body uses v2 messages, which follow the OpenAI
shape (tool calls and ``tool_call_id`` round-trip the same way).

Example:
    >>> parser = CohereParser(provider="cohere")
    >>> event = '{"type": "content-delta", "delta": {"message": {"content": {"text": "Hi"}}}}'
    >>> parser.feed("content-delta", event)[0].content
    'Hi'
"""

from __future__ import annotations

from typing import Any

from rxchronos.model._dialect import StreamParser
from rxchronos.model._dialect import as_count
from rxchronos.model._dialect import as_list
from rxchronos.model._dialect import as_object
from rxchronos.model._dialect import as_text
from rxchronos.model._dialect import error_info
from rxchronos.model._dialect import new_delta
from rxchronos.model._dialect import new_tool_call
from rxchronos.model._dialect import sampling_fields
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._http import HTTPRequest
from rxchronos.model._openai import answer_tool_calls
from rxchronos.model._openai import message_dict
from rxchronos.model._operators import ResponseCollector
from rxchronos.model._provider import HTTPProvider
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import CitationPart
from rxchronos.model._types import StopReason
from rxchronos.model._types import Usage
from rxchronos.model._types import token_usage

__all__ = ["Cohere", "CohereParser"]

_STOP_REASONS = {
    "MAX_TOKENS": StopReason.MAX_TOKENS,
    "TOOL_CALL": StopReason.TOOL_CALL,
    "ERROR_TOXIC": StopReason.CONTENT_FILTER,
}


def _usage(raw: Any) -> Usage | None:
    if not raw:
        return None
    raw = as_object(raw, "usage")
    counts = raw.get("tokens") or raw.get("billed_units")
    if not counts:
        return None
    counts = as_object(counts, "usage tokens")
    return token_usage(
        as_count(counts.get("input_tokens"), "input_tokens"),
        as_count(counts.get("output_tokens"), "output_tokens"),
    )


DIALECT = "cohere"
"""The ``dialect`` of the parts this module makes."""


def citation_part(citation: Any) -> CitationPart:
    """A ``CitationPart`` from a Cohere citation: the span of the answer (``start``, ``end``,
    ``text``) and its first source (a document's ``title`` / ``url``, else the source ``id``).

    Example:
        >>> citation_part({"start": 0, "end": 5, "text": "Sunny", "sources": [{"type": "document",
        ...     "id": "doc:0", "document": {"title": "Forecast"}}]}).document
        'Forecast'
    """
    citation = as_object(citation, "citation")
    sources = as_list(citation.get("sources"), "citation sources")
    source = as_object(sources[0], "citation source") if sources else {}
    document = as_object(source.get("document"), "citation document")
    start, end = citation.get("start"), citation.get("end")
    return CitationPart(
        url=as_text(document.get("url"), "document url"),
        title=as_text(document.get("title"), "document title"),
        cited_text=as_text(citation.get("text"), "citation text"),
        document=as_text(document.get("title") or source.get("id"), "citation source id"),
        start=None if start is None else as_count(start, "citation start"),
        end=None if end is None else as_count(end, "citation end"),
        dialect=DIALECT,
        raw=citation,
    )


def _arguments(arguments: Any) -> str:
    return as_text(arguments, "tool call arguments")


def _stop_reason(reason: Any) -> StopReason:
    return _STOP_REASONS.get(as_text(reason, "finish_reason"), StopReason.END)


class CohereParser(StreamParser):
    """The Cohere v2 chat stream dialect (see the module docstring).

    Args:
        provider: the provider name, for error messages.
    """

    __slots__ = ()

    def parse(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event."""
        payload = self.load_object(data, event)
        kind = payload.get("type") or event
        delta = as_object(payload.get("delta"), "delta")
        message = as_object(delta.get("message"), "delta.message")
        values: dict[str, Any] = {}
        if kind == "content-delta":
            content = as_object(message.get("content"), "content")
            text = as_text(content.get("text"), "content text")
            if text:
                values["content"] = text
            thinking = as_text(content.get("thinking"), "content thinking")
            if thinking:
                values["reasoning"] = thinking
        elif kind == "tool-plan-delta":
            plan = as_text(message.get("tool_plan"), "tool_plan")
            if plan:
                values["reasoning"] = plan
        elif kind in ("tool-call-start", "tool-call-delta"):
            call = as_object(message.get("tool_calls"), "tool_calls")
            function = as_object(call.get("function"), "tool call function")
            call_id = as_text(call.get("id"), "tool call id")
            slot = self.tool_slots.slot(payload.get("index"), call_id or None)
            fragment = new_tool_call(
                {
                    "index": slot,
                    "id": call_id,
                    "name": as_text(function.get("name"), "tool call name"),
                    "arguments": as_text(function.get("arguments"), "tool call arguments"),
                }
            )
            values["tool_calls"] = (fragment,)
        elif kind == "citation-start":
            values["parts"] = (citation_part(message.get("citations")),)
        elif kind == "message-start":
            self.response_id = as_text(payload.get("id"), "id") or self.response_id
        elif kind == "message-end":
            self.finished = True
            self._message_end(delta, values)
        elif kind == "error" or event == "error":
            raise self.provider_error(*error_info(payload))
        return self.deltas(values)  # none for content-start/-end, tool-call-end, citation-end, ...

    def _message_end(self, delta: dict[str, Any], values: dict[str, Any]) -> None:
        """Finish reason and usage; an error here keeps them as the error's partial delta."""
        usage = _usage(delta.get("usage"))
        if usage is not None:
            values["usage"] = usage
        reason = delta.get("finish_reason")
        error = delta.get("error")
        if reason == "ERROR" or error:
            values["id"] = self.response_id
            code, text = ("error", str(error)) if error else ("ERROR", "generation failed")
            raise self.provider_error(code, text, carried=values)
        if reason:
            values["stop_reason"] = _stop_reason(reason)


def parse_chat(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming v2 chat answer.

    Raises:
        ProviderStreamError: the body is an error object, or says the generation failed.
    """
    if not isinstance(payload, dict) or "message" not in payload:
        code, text = error_info(payload)
        raise ProviderStreamError(text, provider=provider, code=code)
    message = as_object(payload.get("message"), "message")
    text = "".join(
        as_text(part.get("text"), "content text")
        for part in as_list(message.get("content"), "content")
        if isinstance(part, dict) and part.get("type") == "text"
    )
    calls = answer_tool_calls(
        message.get("tool_calls"), "tool_calls", arguments=_arguments, number_ids=False
    )
    reason = payload.get("finish_reason")
    cited = as_list(message.get("citations"), "citations")
    response = ResponseCollector.of(
        [
            new_delta(
                {
                    "id": as_text(payload.get("id"), "id"),
                    "content": text,
                    "reasoning": as_text(message.get("tool_plan"), "tool_plan"),
                    "usage": _usage(payload.get("usage")),
                    "tool_calls": calls,
                    "stop_reason": _stop_reason(reason) if reason else None,
                    "parts": tuple(map(citation_part, cited)),
                }
            )
        ]
    )
    if reason == "ERROR":  # keep the usage and text of the failed answer on the error
        raise ProviderStreamError(
            "generation failed", provider=provider, code="ERROR", partial=response
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
        **options: as for [OpenAI][rxchronos.model.OpenAI].

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> cohere = Cohere(api_key="co-test", model="command-a-03-2025")
        >>> chunks = cohere.stream_chat(ChatRequest(messages=[Message(role="user", content="Hi")]))
    """

    name = "cohere"
    default_base_url = "https://api.cohere.com"

    def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        """The v2 chat POST."""
        body = chat_body(request, model=self.model_of(request), stream=stream)
        return HTTPRequest(f"{self.base_url}/v2/chat", self.bearer_auth(), body)

    def new_parser(self) -> CohereParser:
        """A v2 chat stream parser."""
        return CohereParser(provider=self.name)

    def parse_answer(self, payload: Any) -> ChatResponse:
        """A non-streaming v2 chat answer."""
        return parse_chat(payload, provider=self.name)
