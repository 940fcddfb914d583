"""The OpenAI Responses API family: request body, stream dialect, ``OpenAIResponses`` (and Azure).

Request (``POST {base_url}/responses``): system messages become ``instructions``; user and
assistant text become input messages; an assistant message's tool calls become ``function_call``
items (``call_id``), a tool message a ``function_call_output``; the reasoning items a previous
answer kept in ``provider_data["responses_reasoning"]`` are sent back before its message; tools are
``{"type": "function", "name", "description", "parameters"}``; ``max_tokens`` is
``max_output_tokens``; an OpenAI-style ``response_format`` becomes ``text.format``; ``stop`` has
no Responses equivalent and is not sent.

Stream: named SSE events, each naming itself in its JSON ``type``: ``response.created`` (id) ->
``response.output_item.added`` (a ``function_call`` item opens a tool call: ``call_id``, ``name``)
-> ``response.output_text.delta`` / ``response.reasoning_summary_text.delta`` /
``response.function_call_arguments.delta`` (keyed by ``output_index``) -> ``response.completed``
(usage; the terminal marker) or ``response.incomplete`` (``max_output_tokens`` or
``content_filter``). ``error`` and ``response.failed`` events raise ``ProviderStreamError``. There
is no ``[DONE]``. Built-in tool items (``web_search_call``, ``file_search_call``,
``code_interpreter_call``, ``mcp_call``, ...) are server-side: never client ``tool_calls``, kept
raw in ``provider_data["responses_items"]`` when done; ``reasoning`` items (with their
``encrypted_content`` when asked for) are kept in ``provider_data["responses_reasoning"]`` to be
sent back on the next turn.

Example:
    >>> parser = ResponsesParser(provider="openai")
    >>> event = '{"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"}'
    >>> parser.feed("response.output_text.delta", event)[0].content
    'Hi'
"""

from __future__ import annotations

from typing import Any, Unpack

from rxchronos.model._dialect import (
    StreamParser,
    as_count,
    as_list,
    as_object,
    as_text,
    error_info,
    new_tool_call,
    sampling_fields,
)
from rxchronos.model._errors import ProviderConfigError, ProviderStreamError
from rxchronos.model._http import HTTPRequest
from rxchronos.model._provider import HTTPOptions, HTTPProvider, check_azure_resource
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
    "ITEMS_KEY",
    "REASONING_KEY",
    "AzureOpenAIResponses",
    "OpenAIResponses",
    "ResponsesParser",
    "parse_response",
    "responses_body",
]

ITEMS_KEY = "responses_items"
"""``provider_data`` key of the built-in (server-side) tool items, raw."""
REASONING_KEY = "responses_reasoning"
"""``provider_data`` key of the reasoning items, sent back with the assistant message."""

# -- request -------------------------------------------------------------------------------------


def _input_items(message: Message) -> list[dict[str, Any]]:
    if message.role is Role.TOOL:
        if not message.tool_call_id:
            raise ProviderConfigError(
                "a tool message needs the tool_call_id of the call it answers"
            )
        output = message.content or ""
        return [{"type": "function_call_output", "call_id": message.tool_call_id, "output": output}]
    items: list[dict[str, Any]] = []
    if message.role is Role.ASSISTANT:
        reasoning = (message.provider_data or {}).get(REASONING_KEY)
        if isinstance(reasoning, list):
            items.extend(item for item in reasoning if isinstance(item, dict))
    if message.content:
        items.append({"role": message.role.value, "content": message.content})
    items.extend(
        {
            "type": "function_call",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments or "{}",
        }
        for call in message.tool_calls
    )
    return items


def responses_body(request: ChatRequest, *, model: str, stream: bool) -> dict[str, Any]:
    """The JSON body of a Responses request (see the module docstring).

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> body = responses_body(ChatRequest(messages=[Message(role="system", content="Brief."),
        ...                                             Message(role="user", content="Hi")]),
        ...                       model="gpt-5", stream=True)
        >>> body["instructions"], body["input"]
        ('Brief.', [{'role': 'user', 'content': 'Hi'}])
    """
    system = [m.content for m in request.messages if m.role is Role.SYSTEM and m.content]
    items = [i for m in request.messages if m.role is not Role.SYSTEM for i in _input_items(m)]
    body: dict[str, Any] = {"model": model, "input": items, "stream": stream}
    if system:
        body["instructions"] = "\n\n".join(system)
    body.update(sampling_fields(request, max_tokens="max_output_tokens", stop="_unsent"))
    body.pop("_unsent", None)
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": tool.function.name,
                "description": tool.function.description,
                "parameters": tool.function.parameters,
            }
            for tool in request.tools
        ]
    fmt = request.response_format
    if fmt and fmt.get("type") == "json_schema":
        schema = fmt.get("json_schema") or {}
        body["text"] = {"format": {"type": "json_schema", **schema}}
    elif fmt and fmt.get("type") == "json_object":
        body["text"] = {"format": {"type": "json_object"}}
    return body


# -- stream dialect ------------------------------------------------------------------------------

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

    __slots__ = ("_items", "_reasoning")

    def __init__(self, *, provider: str) -> None:
        super().__init__(provider=provider)
        self._items: list[dict[str, Any]] = []
        self._reasoning: list[dict[str, Any]] = []

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
        elif kind == "response.output_item.done":
            item = as_object(payload.get("item"), "item")
            item_type = item.get("type")
            if item_type == "reasoning":
                self._reasoning.append(item)
                values["provider_data"] = {REASONING_KEY: list(self._reasoning)}
            elif item_type not in ("message", "function_call"):  # a built-in tool's item
                self._items.append(item)
                values["provider_data"] = {ITEMS_KEY: list(self._items)}
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


def parse_response(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming Responses answer.

    Raises:
        ProviderStreamError: the answer is an error, or ``status`` is ``failed``.
    """
    if not isinstance(payload, dict) or payload.get("error") or payload.get("status") == "failed":
        code, message = error_info(payload.get("error") if isinstance(payload, dict) else payload)
        raise ProviderStreamError(message, provider=provider, code=code)
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    items: list[dict[str, Any]] = []
    kept_reasoning: list[dict[str, Any]] = []
    refusal: list[str] = []
    for item in as_list(payload.get("output"), "output"):
        item = as_object(item, "output item")
        kind = item.get("type")
        if kind == "message":
            for part in as_list(item.get("content"), "message content"):
                part = as_object(part, "content part")
                if part.get("type") == "output_text":
                    text.append(as_text(part.get("text"), "output_text"))
                elif part.get("type") == "refusal":
                    refusal.append(as_text(part.get("refusal"), "refusal"))
        elif kind == "function_call":
            calls.append(
                ToolCall(
                    index=len(calls),
                    id=as_text(item.get("call_id"), "call_id"),
                    name=as_text(item.get("name"), "function_call name"),
                    arguments=as_text(item.get("arguments"), "function_call arguments") or "{}",
                )
            )
        elif kind == "reasoning":
            kept_reasoning.append(item)
            reasoning.extend(
                as_text(as_object(summary, "summary").get("text"), "summary")
                for summary in as_list(item.get("summary"), "reasoning summary")
            )
        else:
            items.append(item)
    reason = as_object(payload.get("incomplete_details"), "incomplete_details").get("reason")
    if reason in _INCOMPLETE:
        stop = _INCOMPLETE[reason]
    else:
        stop = StopReason.TOOL_CALL if calls else StopReason.END
    data = {
        **({ITEMS_KEY: items} if items else {}),
        **({REASONING_KEY: kept_reasoning} if kept_reasoning else {}),
    }
    return ChatResponse(
        id=as_text(payload.get("id"), "id"),
        content="".join(text),
        reasoning="".join(reasoning),
        refusal="".join(refusal),
        usage=_usage(payload.get("usage")),
        tool_calls=tuple(calls),
        stop_reason=stop,
        delta=False,
        provider_data=data or None,
    )


# -- providers -----------------------------------------------------------------------------------


class OpenAIResponses(HTTPProvider):
    """OpenAI's Responses API (``POST {base_url}/responses``), OpenAI's API for new models.

    Text, reasoning summaries, function calls (by ``call_id``), built-in tools kept apart as
    server-side items, usage with cached and reasoning tokens, ``response.incomplete`` as its stop
    reason, ``error`` / ``response.failed`` as ``ProviderStreamError``. Reasoning items are kept
    in ``provider_data`` and sent back with the assistant message on the next turn.

    Args:
        api_key: the API key (``OPENAI_API_KEY``).
        model: the default model, e.g. ``"gpt-5"``.
        base_url: the API root (default ``https://api.openai.com/v1``).
        **options: as for [OpenAI][rxchronos.model.OpenAI].

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> provider = OpenAIResponses(api_key="sk-test", model="gpt-5")
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
        >>> chunks = provider.stream_chat(request)
    """

    name = "openai"
    default_base_url = "https://api.openai.com/v1"

    def url(self) -> str:
        """Where the request goes."""
        return f"{self.base_url}/responses"

    def auth(self) -> dict[str, str]:
        """The credential headers."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        """The Responses POST."""
        body = responses_body(request, model=self.model_of(request), stream=stream)
        return HTTPRequest(self.url(), self.auth(), body)

    def new_parser(self) -> ResponsesParser:
        """A Responses stream parser."""
        return ResponsesParser(provider=self.name)

    def parse_answer(self, payload: Any) -> ChatResponse:
        """A non-streaming Responses answer."""
        return parse_response(payload, provider=self.name)


class AzureOpenAIResponses(OpenAIResponses):
    """The Responses API of an Azure OpenAI resource, authenticated with ``api-key``.

    Args:
        endpoint: the resource URL, e.g. ``"https://my-resource.openai.azure.com"``.
        api_key: the key (``AZURE_OPENAI_API_KEY``).
        deployment: the deployment name (sent as ``model``).
        api_version: the ``api-version`` query parameter.
        **options: as for [OpenAI][rxchronos.model.OpenAI].

    Example:
        >>> AzureOpenAIResponses(endpoint="https://res.openai.azure.com", api_key="k-test",
        ...                      deployment="gpt-5").url()
        'https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview'
    """

    name = "azure"

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str,
        deployment: str,
        api_version: str = "2025-04-01-preview",
        **options: Unpack[HTTPOptions],
    ) -> None:
        check_azure_resource("AzureOpenAIResponses", endpoint=endpoint, api_version=api_version)
        super().__init__(api_key=api_key, model=deployment, base_url=endpoint, **options)
        self.api_version = api_version

    def url(self) -> str:
        """The resource's Responses URL."""
        return f"{self.base_url}/openai/responses?api-version={self.api_version}"

    def auth(self) -> dict[str, str]:
        """The ``api-key`` header."""
        return {"api-key": self.api_key}
