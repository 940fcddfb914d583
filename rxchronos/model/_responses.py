"""The OpenAI Responses API family: request body, stream dialect, ``OpenAIResponses`` (and Azure).

Request (``POST {base_url}/responses``): system messages become ``instructions``; user and
assistant text become input messages; an assistant message's tool calls become ``function_call``
items (``call_id``), a tool message a ``function_call_output``; the reasoning items and built-in
tool items of a previous Responses answer (its ``parts``) are sent back unchanged, in order, before
its function calls (a reasoning item must come with the item that followed it); tools are
``{"type": "function", "name", "description", "parameters"}``; ``max_tokens`` is
``max_output_tokens``; ``reasoning_effort`` becomes ``reasoning: {effort, summary: "auto"}``
(so the summaries stream); an OpenAI-style ``response_format`` becomes ``text.format``; ``stop``
has no Responses equivalent and is not sent.

Stream: named SSE events, each naming itself in its JSON ``type``: ``response.created`` (id) ->
``response.output_item.added`` (a ``function_call`` item opens a tool call: ``call_id``, ``name``)
-> ``response.output_text.delta`` / ``response.reasoning_summary_text.delta`` /
``response.function_call_arguments.delta`` (keyed by ``output_index``) -> ``response.completed``
(usage; the terminal marker) or ``response.incomplete`` (``max_output_tokens`` or
``content_filter``). ``error`` and ``response.failed`` events raise ``ProviderStreamError``. There
is no ``[DONE]``. Parts, each when its item is done:

- built-in tool items (``web_search_call``, ``file_search_call``, ``code_interpreter_call``,
  ``mcp_call``, ``image_generation_call``, ``mcp_list_tools``) are server-side: a
  ``ServerToolCallPart`` (with the item as ``raw``) and, when the item carries results, a
  ``ServerToolResultPart``; never client ``tool_calls``;
- a ``reasoning`` item is a ``ReasoningPart`` closing the summary text streamed before it (its
  ``id``, its ``encrypted_content`` as the signature when asked for), sent back on the next turn;
- ``response.output_text.annotation.added`` (``url_citation``, ``file_citation``,
  ``container_file_citation``, ``file_path``) is a ``CitationPart``;
- any other item type is an ``UnknownPart``, kept raw.

Example:
    >>> parser = ResponsesParser(provider="openai")
    >>> event = '{"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"}'
    >>> parser.feed("response.output_text.delta", event)[0].content
    'Hi'
"""

from __future__ import annotations

import json
from typing import Any
from typing import Unpack

from rxchronos.model._dialect import StreamParser
from rxchronos.model._dialect import answered_call_id
from rxchronos.model._dialect import as_count
from rxchronos.model._dialect import as_list
from rxchronos.model._dialect import as_object
from rxchronos.model._dialect import as_text
from rxchronos.model._dialect import error_info
from rxchronos.model._dialect import new_tool_call
from rxchronos.model._dialect import sampling_fields
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._http import HTTPRequest
from rxchronos.model._operators import ResponseCollector
from rxchronos.model._provider import HTTPOptions
from rxchronos.model._provider import HTTPProvider
from rxchronos.model._provider import check_azure_resource
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
    "DIALECT",
    "AzureOpenAIResponses",
    "OpenAIResponses",
    "ResponsesParser",
    "annotation_citation",
    "item_parts",
    "parse_response",
    "responses_body",
]

DIALECT = "openai-responses"
"""The ``dialect`` of the parts this module makes."""

# -- request -------------------------------------------------------------------------------------


def _part_item(part: ContentPart) -> dict[str, Any] | None:
    """The input item that sends ``part`` back, or ``None`` when it is not sent."""
    if isinstance(part, TextPart):
        return {"role": "assistant", "content": part.text} if part.text else None
    if part.dialect != DIALECT or isinstance(part, ServerToolResultPart | CitationPart):
        return None  # a result travels in its call's item; citations in the text's annotations
    if isinstance(part, ReasoningPart) and part.raw is None and part.id:  # made by hand
        summary = [{"type": "summary_text", "text": part.text}] if part.text else []
        item: dict[str, Any] = {"type": "reasoning", "id": part.id, "summary": summary}
        if part.signature:
            item["encrypted_content"] = part.signature
        return item
    return part.raw


def _input_items(message: Message) -> list[dict[str, Any]]:
    if message.role is Role.TOOL:
        output = message.content or ""
        call_id = answered_call_id(message)
        return [{"type": "function_call_output", "call_id": call_id, "output": output}]
    items = [i for i in map(_part_item, message.parts) if i is not None]
    if message.content and not any(isinstance(p, TextPart) for p in message.parts):
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
    if request.reasoning_effort is not None:
        body["reasoning"] = {"effort": request.reasoning_effort, "summary": "auto"}
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


def _stop_reason(response: dict[str, Any], *, saw_tools: bool) -> StopReason:
    details = as_object(response.get("incomplete_details"), "incomplete_details")
    reason = details.get("reason")
    if reason in _INCOMPLETE:
        return _INCOMPLETE[reason]
    return StopReason.TOOL_CALL if saw_tools else StopReason.END


def _offset(value: Any, what: str) -> int | None:
    return None if value is None else as_count(value, what)


def annotation_citation(annotation: Any, *, dialect: str = DIALECT) -> CitationPart:
    """A ``CitationPart`` from an output text annotation (``url_citation``, ``file_citation``,
    ``container_file_citation``, ``file_path``); a Chat Completions annotation, whose fields are
    nested under its type (``{"type": "url_citation", "url_citation": {...}}``), too.

    Example:
        >>> annotation_citation({"type": "url_citation", "url": "https://a.example", "title": "A",
        ...                      "start_index": 0, "end_index": 5}).end
        5
    """
    annotation = as_object(annotation, "annotation")
    fields = annotation.get(as_text(annotation.get("type"), "annotation type"))
    found = as_object(fields, "annotation fields") if type(fields) is dict else annotation
    return CitationPart(
        url=as_text(found.get("url"), "annotation url"),
        title=as_text(found.get("title"), "annotation title"),
        document=as_text(found.get("filename") or found.get("file_id"), "annotation file"),
        start=_offset(found.get("start_index", found.get("index")), "annotation start"),
        end=_offset(found.get("end_index"), "annotation end"),
        dialect=dialect,
        raw=annotation,
    )


_BUILT_IN = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
    "mcp_call": "mcp",
    "image_generation_call": "image_generation",
    "mcp_list_tools": "mcp_list_tools",
}
"""The output items of tools OpenAI runs itself, and the tool names of their parts."""

_RESULT_FIELDS = ("results", "outputs", "output", "result", "tools")


def _item_input(item: dict[str, Any]) -> dict[str, Any]:
    action = item.get("action")
    if (
        type(action) is dict
    ):  # web_search_call: {"type": "search", "query": ...}; sources are results
        return {k: v for k, v in action.items() if k != "sources"}
    arguments = item.get("arguments")
    if type(arguments) is str:  # mcp_call: JSON text
        try:
            parsed = json.loads(arguments or "{}")
        except (ValueError, RecursionError):
            return {}  # kept as text in raw
        return parsed if type(parsed) is dict else {}
    return {k: item[k] for k in ("queries", "code", "container_id", "prompt") if k in item}


def item_parts(item: dict[str, Any]) -> tuple[ContentPart, ...]:
    """The parts of a done output item that is neither a message, a function call nor
    reasoning: a built-in tool's call and its result (when it carries one), else an
    ``UnknownPart``.

    Example:
        >>> [p.type for p in item_parts({"type": "web_search_call", "id": "ws_1",
        ...                              "action": {"type": "search", "query": "rx"}})]
        ['server_tool_call']
    """
    kind = as_text(item.get("type"), "item type")
    name = _BUILT_IN.get(kind)
    if name is None:
        return (UnknownPart(kind=kind, dialect=DIALECT, raw=item),)
    call_id = as_text(item.get("id"), f"{kind} id")
    if kind == "mcp_call":
        name = as_text(item.get("name"), "mcp_call name") or name
    call = ServerToolCallPart(
        id=call_id,
        name=name,
        input=_item_input(item),
        server=as_text(item.get("server_label"), f"{kind} server_label"),
        dialect=DIALECT,
        raw=item,
    )
    error = item.get("error")
    content = next((item[k] for k in _RESULT_FIELDS if item.get(k) is not None), None)
    action = item.get("action")
    if content is None and type(action) is dict and action.get("sources") is not None:
        content = action["sources"]  # web_search_call with include=["...action.sources"]
    if content is None and not error:
        return (call,)
    result = ServerToolResultPart(
        call_id=call_id,
        name=name,
        content=content if content is not None else error,
        is_error=bool(error) or item.get("status") in ("failed", "incomplete"),
        dialect=DIALECT,
        raw=item,
    )
    return call, result


def _reasoning_part(item: dict[str, Any]) -> ReasoningPart:
    return ReasoningPart(
        id=as_text(item.get("id"), "reasoning id"),
        signature=as_text(item.get("encrypted_content"), "reasoning encrypted_content"),
        dialect=DIALECT,
        raw=item,
    )


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
        elif kind == "response.output_item.done":
            item = as_object(payload.get("item"), "item")
            item_type = item.get("type")
            if item_type == "reasoning":
                values["parts"] = (_reasoning_part(item),)
            elif item_type not in ("message", "function_call"):  # a built-in tool's item
                values["parts"] = item_parts(item)
        elif kind == "response.output_text.annotation.added":
            values["parts"] = (annotation_citation(payload.get("annotation")),)
        elif kind == "response.created":
            response = as_object(payload.get("response"), "response")
            self.response_id = as_text(response.get("id"), "response id") or self.response_id
        elif kind in ("response.completed", "response.incomplete"):
            self.finished = True
            response = as_object(payload.get("response"), "response")
            values["stop_reason"] = _stop_reason(response, saw_tools=len(self.tool_slots) > 0)
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
    parser = ResponsesParser(provider=provider)
    return ResponseCollector.of(parser.guarded(_whole, "answer", parser, payload))


def _whole(parser: ResponsesParser, payload: dict[str, Any]) -> list[ChatResponse]:
    """The deltas of a whole answer: each output item as the stream would have reported it."""
    parser.response_id = as_text(payload.get("id"), "id")
    out: list[ChatResponse] = []
    calls = 0
    for item in as_list(payload.get("output"), "output"):
        item = as_object(item, "output item")
        kind = item.get("type")
        values: dict[str, Any] = {}
        if kind == "message":
            for part in as_list(item.get("content"), "message content"):
                part = as_object(part, "content part")
                if part.get("type") == "output_text":
                    values = {"content": as_text(part.get("text"), "output_text")}
                    annotations = as_list(part.get("annotations"), "annotations")
                    if annotations:
                        values["parts"] = tuple(map(annotation_citation, annotations))
                elif part.get("type") == "refusal":
                    values = {"refusal": as_text(part.get("refusal"), "refusal")}
                out.extend(parser.deltas(values))
            continue
        if kind == "function_call":
            call = _fragment(
                calls,
                as_text(item.get("call_id"), "call_id"),
                as_text(item.get("name"), "function_call name"),
                as_text(item.get("arguments"), "function_call arguments"),
            )
            calls += 1
            values["tool_calls"] = (call,)
        elif kind == "reasoning":
            summary = "".join(
                as_text(as_object(entry, "summary").get("text"), "summary")
                for entry in as_list(item.get("summary"), "reasoning summary")
            )
            if summary:
                out.extend(parser.deltas({"reasoning": summary}))
            values["parts"] = (_reasoning_part(item),)
        else:
            values["parts"] = item_parts(item)
        out.extend(parser.deltas(values))
    end: dict[str, Any] = {"stop_reason": _stop_reason(payload, saw_tools=calls > 0)}
    usage = _usage(payload.get("usage"))
    if usage is not None:
        end["usage"] = usage
    out.extend(parser.deltas(end))
    return out


# -- providers -----------------------------------------------------------------------------------


class OpenAIResponses(HTTPProvider):
    """OpenAI's Responses API (``POST {base_url}/responses``), OpenAI's API for new models.

    Text, reasoning summaries, function calls (by ``call_id``), built-in tools kept apart as
    server-side parts, citations from annotations, usage with cached and reasoning tokens,
    ``response.incomplete`` as its stop reason, ``error`` / ``response.failed`` as
    ``ProviderStreamError``. Reasoning items are kept as parts and sent back with the assistant
    message on the next turn.

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
        """The credential headers (``Authorization: Bearer``)."""
        return self.bearer_auth()

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
