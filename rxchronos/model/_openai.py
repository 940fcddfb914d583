"""The OpenAI Chat Completions family: the request body, the stream dialect and the providers.

[OpenAI][rxchronos.model.OpenAI], [AzureOpenAI][rxchronos.model.AzureOpenAI],
[Mistral][rxchronos.model.Mistral], [OpenAICompatible][rxchronos.model.OpenAICompatible] and the
presets for well-known hosts (Groq, Together, DeepSeek, OpenRouter, Fireworks, Perplexity) all
speak Chat Completions; a provider only says where to send the request and how to authenticate.

Request: an assistant message's ``tool_calls`` become ``{"id", "type": "function", "function":
{"name", "arguments"}}`` entries and a tool message carries ``tool_call_id``;
``ChatRequest.metadata`` is the caller's own bookkeeping and is not sent.

Stream (``OpenAIChatParser``), every variant seen on the
wire normalised:

- usage in an extra chunk with ``choices: []`` (``include_usage``), or on the finish chunk
  (Groq, DeepSeek, Mistral); last value wins;
- tool-call fragments keyed by ``index``, with no ``index`` (Mistral), or with a new id at a used
  index (Ollama ``/v1``): all become slots (see [ToolSlots][rxchronos.model.ToolSlots]);
- ``content`` as a list of ``text`` / ``thinking`` parts (Magistral); ``reasoning_content``
  (DeepSeek) or ``reasoning`` (Groq, OpenRouter) as ``reasoning``; ``refusal`` text;
- Azure's ``prompt_filter_results`` chunk (empty id, no choices), annotation chunks with no
  ``delta``, and ``finish_reason: "content_filter"``;
- in-band errors: ``event: error``, ``data: {"error": ...}``, and an ``error`` object inside an
  otherwise normal chunk (OpenRouter), raised as ``ProviderStreamError``; what such a chunk also
  carries (usage, finish reason, content) goes on the error as its partial delta;
- citations as ``CitationPart``: ``delta.annotations`` (``url_citation``, search models and
  OpenRouter's web plugin) and Perplexity's ``search_results`` / ``citations`` (repeated on every
  chunk; each source is reported once).

Example:
    >>> parser = OpenAIChatParser(provider="openai")
    >>> [d.content for d in parser.feed("message", '{"choices":[{"delta":{"content":"Hi"}}]}')]
    ['Hi']
    >>> parser.feed("message", "[DONE]"), parser.finished
    ([], True)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from typing import ClassVar
from typing import Unpack

from rxchronos.model._dialect import MalformedData
from rxchronos.model._dialect import StreamParser
from rxchronos.model._dialect import answered_call_id
from rxchronos.model._dialect import as_count
from rxchronos.model._dialect import as_list
from rxchronos.model._dialect import as_object
from rxchronos.model._dialect import as_text
from rxchronos.model._dialect import error_info
from rxchronos.model._dialect import new_delta
from rxchronos.model._dialect import new_tool_call
from rxchronos.model._dialect import sampling_fields
from rxchronos.model._errors import ProviderConfigError
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._http import HTTPRequest
from rxchronos.model._operators import ResponseCollector
from rxchronos.model._provider import HTTPOptions
from rxchronos.model._provider import HTTPProvider
from rxchronos.model._provider import check_azure_resource
from rxchronos.model._responses import annotation_citation
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import CitationPart
from rxchronos.model._types import ContentPart
from rxchronos.model._types import Message
from rxchronos.model._types import Role
from rxchronos.model._types import StopReason
from rxchronos.model._types import ToolCall
from rxchronos.model._types import Usage
from rxchronos.model._types import token_usage

__all__ = [
    "VLLM",
    "AzureOpenAI",
    "DeepSeek",
    "Fireworks",
    "Groq",
    "Mistral",
    "OpenAI",
    "OpenAIChatParser",
    "OpenAIChatProvider",
    "OpenAICompatible",
    "OpenRouter",
    "Perplexity",
    "Together",
    "answer_tool_calls",
    "chat_body",
    "message_dict",
    "parse_completion",
    "perplexity_sources",
    "source_citation",
]

# -- request -------------------------------------------------------------------------------------


def message_dict(message: Message) -> dict[str, Any]:
    """One message in the OpenAI wire format (Cohere v2 uses the same shape)."""
    out: dict[str, Any] = {"role": message.role.value}
    if message.role is Role.ASSISTANT and message.tool_calls:
        out["content"] = message.content
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments or "{}"},
            }
            for call in message.tool_calls
        ]
    else:
        out["content"] = message.content or ""
    if message.name:
        out["name"] = message.name
    if message.role is Role.TOOL:
        out["tool_call_id"] = answered_call_id(message)
    elif message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def chat_body(
    request: ChatRequest,
    *,
    model: str | None,
    stream: bool,
    include_usage: bool,
    max_tokens_field: str = "max_tokens",
) -> dict[str, Any]:
    """The JSON body of a Chat Completions request; ``model=None`` leaves the field out (Azure).

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> body = chat_body(ChatRequest(messages=[Message(role="user", content="Hi")]),
        ...                  model="m", stream=True, include_usage=True)
        >>> body["messages"], body["stream_options"]
        ([{'role': 'user', 'content': 'Hi'}], {'include_usage': True})
    """
    body: dict[str, Any] = {"messages": [message_dict(m) for m in request.messages]}
    if model is not None:
        body["model"] = model
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    body.update(sampling_fields(request, max_tokens=max_tokens_field))
    if request.reasoning_effort is not None:
        body["reasoning_effort"] = request.reasoning_effort
    if request.tools:
        body["tools"] = [tool.model_dump(mode="json") for tool in request.tools]
    if request.response_format is not None:
        body["response_format"] = request.response_format
    return body


# -- stream dialect ------------------------------------------------------------------------------

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


def stop_reason(finish: Any, *, saw_tools: bool) -> StopReason:
    """Map an OpenAI-style ``finish_reason``; ``stop`` after tool calls counts as ``tool_call``."""
    reason = _STOP_REASONS.get(as_text(finish, "finish_reason"), StopReason.END)
    if reason is StopReason.END and saw_tools:
        return StopReason.TOOL_CALL
    return reason


def parse_usage(raw: Any) -> Usage | None:
    """A ``Usage`` from an OpenAI-style usage object, or ``None`` when there is none."""
    if not raw:
        return None
    raw = as_object(raw, "usage")
    prompt_details = as_object(raw.get("prompt_tokens_details"), "usage.prompt_tokens_details")
    completion_details = as_object(
        raw.get("completion_tokens_details"), "usage.completion_tokens_details"
    )
    cached = prompt_details.get("cached_tokens")
    if cached is None:
        cached = raw.get("prompt_cache_hit_tokens")  # DeepSeek
    return token_usage(
        as_count(raw.get("prompt_tokens"), "usage.prompt_tokens"),
        as_count(raw.get("completion_tokens"), "usage.completion_tokens"),
        as_count(raw.get("total_tokens"), "usage.total_tokens"),
        cached=as_count(cached, "usage cached tokens"),
        reasoning=as_count(completion_details.get("reasoning_tokens"), "usage reasoning tokens"),
    )


DIALECT = "openai"
"""The ``dialect`` of the parts this module makes."""


def _citations(annotations: Any) -> tuple[ContentPart, ...]:
    listed = as_list(annotations, "annotations")
    return tuple(annotation_citation(a, dialect=DIALECT) for a in listed)


def source_citation(entry: Any) -> CitationPart:
    """A ``CitationPart`` from a Perplexity ``search_results`` entry or ``citations`` URL.

    Example:
        >>> source_citation({"title": "Paris", "url": "https://a.example", "date": None}).title
        'Paris'
        >>> source_citation("https://b.example").url
        'https://b.example'
    """
    if type(entry) is str:
        return CitationPart(url=entry, dialect=DIALECT, raw={"url": entry})
    entry = as_object(entry, "search result")
    return CitationPart(
        url=as_text(entry.get("url"), "search result url"),
        title=as_text(entry.get("title"), "search result title"),
        dialect=DIALECT,
        raw=entry,
    )


def perplexity_sources(chunk: dict[str, Any], seen: dict[str, int]) -> tuple[ContentPart, ...]:
    """The Perplexity sources of ``chunk`` not reported yet: its ``search_results`` (title, url,
    date), else its ``citations`` URLs. Both are repeated whole on every chunk: ``seen`` counts,
    per field, the entries already reported, and is updated.

    Example:
        >>> seen = {}
        >>> [c.url for c in perplexity_sources({"citations": ["https://a.example"]}, seen)]
        ['https://a.example']
        >>> perplexity_sources({"citations": ["https://a.example"]}, seen)
        ()
    """
    field = "search_results" if chunk.get("search_results") else "citations"
    listed = as_list(chunk.get(field), field)
    done = seen.get(field, 0)
    if len(listed) <= done:
        return ()
    seen[field] = len(listed)
    return tuple(source_citation(entry) for entry in listed[done:])


def _arguments_text(arguments: Any) -> str:
    if arguments is None:
        return ""
    if type(arguments) is str:
        return arguments
    if type(arguments) is dict:
        return json.dumps(arguments)  # some servers send the arguments object itself
    raise MalformedData(f"tool call arguments are neither text nor an object: {arguments!r:.200}")


def _content_parts(parts: list[Any], values: dict[str, Any]) -> None:
    """Split Magistral-style content parts into content and reasoning text."""
    text: list[str] = []
    thinking: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            text.append(as_text(part.get("text"), "content part text"))
        elif kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, list):
                thinking.extend(
                    as_text(p.get("text"), "thinking part text")
                    for p in inner
                    if isinstance(p, dict)
                )
            else:
                thinking.append(as_text(inner, "thinking part"))
    if text and (joined := "".join(text)):
        values["content"] = joined
    if thinking and (joined := "".join(thinking)):
        values["reasoning"] = values.get("reasoning", "") + joined


def _reasoning_details(details: Any) -> str:
    """The text of ``reasoning_details[]`` entries (``reasoning.text``, ``reasoning.summary``)."""
    parts = []
    for entry in as_list(details, "reasoning_details"):
        entry = as_object(entry, "reasoning_details entry")
        kind = entry.get("type")
        if kind == "reasoning.text":
            parts.append(as_text(entry.get("text"), "reasoning.text"))
        elif kind == "reasoning.summary":
            parts.append(as_text(entry.get("summary"), "reasoning.summary"))
    return "".join(parts)


class _ThinkTags:
    """Splits ``<think>...</think>`` out of streamed text, tags cut across chunks included."""

    __slots__ = ("_inside", "_pending")

    def __init__(self) -> None:
        self._inside = False
        self._pending = ""

    def split(self, piece: str) -> tuple[str, str]:
        """``(content, reasoning)`` of the next piece (a possible partial tag is held back)."""
        text, self._pending = self._pending + piece, ""
        out: tuple[list[str], list[str]] = ([], [])
        while text:
            tag = "</think>" if self._inside else "<think>"
            at = text.find(tag)
            if at >= 0:
                out[self._inside].append(text[:at])
                text = text[at + len(tag) :]
                self._inside = not self._inside
                continue
            keep = next((n for n in range(len(tag) - 1, 0, -1) if text.endswith(tag[:n])), 0)
            out[self._inside].append(text[: len(text) - keep])
            self._pending = text[len(text) - keep :]
            break
        return "".join(out[0]), "".join(out[1])

    def flush(self) -> tuple[str, bool]:
        """What was held back, and whether it is inside a ``<think>`` section."""
        text, self._pending = self._pending, ""
        return text, self._inside


class OpenAIChatParser(StreamParser):
    """The Chat Completions stream dialect (see the module docstring).

    The end is ``[DONE]``; a stream that ends (EOF) without it is complete too when every choice
    it carried has finished (some compatible servers close the connection after the
    ``finish_reason`` and usage chunks); one that ends before any ``finish_reason`` is not.

    Reasoning is read from every field name servers use: ``reasoning_content``, ``reasoning``,
    and ``reasoning_details[]`` (its ``reasoning.text`` and ``reasoning.summary`` entries, when the
    delta has no plain reasoning text). With ``think_tags=True``, ``<think>...</think>`` in the
    content (models served without a reasoning parser) is reasoning, split across chunks.

    Args:
        provider: the provider name, for error messages.
        think_tags: split ``<think>`` sections out of the content into reasoning.
    """

    __slots__ = ("_finished_choices", "_open_choices", "_sourced", "_think")

    def __init__(self, *, provider: str, think_tags: bool = False) -> None:
        super().__init__(provider=provider)
        self._sourced: dict[str, int] = {}  # Perplexity source list -> entries reported
        self._open_choices: set[int] = set()
        self._finished_choices: set[int] = set()
        self._think = _ThinkTags() if think_tags else None

    def finish(self) -> list[ChatResponse]:
        """At EOF without ``[DONE]``: complete when every choice seen has finished."""
        done = self._finished_choices
        if not self.finished:
            self.finished = bool(done) and self._open_choices <= done
        if self._think is None:
            return []
        text, inside = self._think.flush()
        return self.deltas({"reasoning" if inside else "content": text}) if text else []

    def parse(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event."""
        if data == "[DONE]":
            self.finished = True
            return []
        chunk = self.load_object(data, event)
        if event == "error":
            raise self.provider_error(*error_info(chunk))
        cid = chunk.get("id")
        if cid and not self.response_id:
            self.response_id = as_text(cid, "id")
        values: dict[str, Any] = {}
        choices = chunk.get("choices")
        if choices:
            for choice in choices if type(choices) is list else as_list(choices, "choices"):
                if type(choice) is not dict:
                    raise MalformedData(f"choice is not an object: {choice!r:.200}")
                index = choice.get("index", 0)
                if index == 0:
                    self._choice(choice, values)
                elif type(index) is not int:
                    raise MalformedData(f"choice index is not an integer: {index!r:.200}")
                if choice.get("finish_reason"):
                    self._finished_choices.add(index)
                else:
                    self._open_choices.add(index)
        if "search_results" in chunk or "citations" in chunk:  # Perplexity, on every chunk
            sources = perplexity_sources(chunk, self._sourced)
            if sources:
                values["parts"] = values.get("parts", ()) + sources
        usage = chunk.get("usage")
        if not usage and "x_groq" in chunk:  # Groq also puts it in its extension field
            usage = as_object(chunk["x_groq"], "x_groq").get("usage")
        if usage:
            values["usage"] = parse_usage(usage)
        if chunk.get("error"):  # OpenRouter: the error comes with the chunk's usage; keep both
            if values:
                values["id"] = self.response_id
            raise self.provider_error(*error_info(chunk), carried=values)
        return self.deltas(values)

    def _choice(self, choice: dict[str, Any], values: dict[str, Any]) -> None:
        delta = choice.get("delta")
        if delta:
            if type(delta) is not dict:
                raise MalformedData(f"delta is not an object: {delta!r:.200}")
            content = delta.get("content")
            if content:
                if type(content) is str:
                    values["content"] = content
                elif type(content) is list:
                    _content_parts(content, values)
                else:
                    raise MalformedData(f"delta.content is not text: {content!r:.200}")
                if self._think is not None and "content" in values:
                    text, thought = self._think.split(values.pop("content"))
                    if text:
                        values["content"] = text
                    if thought:
                        values["reasoning"] = values.get("reasoning", "") + thought
            if not content or len(delta) > 1:  # a delta of text alone has nothing else
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if not reasoning and "reasoning_details" in delta:
                    reasoning = _reasoning_details(delta["reasoning_details"])
                if reasoning:
                    values["reasoning"] = as_text(reasoning, "delta.reasoning") + values.get(
                        "reasoning", ""
                    )
                refusal = delta.get("refusal")
                if refusal:
                    values["refusal"] = as_text(refusal, "delta.refusal")
                calls = delta.get("tool_calls")
                if calls:
                    values["tool_calls"] = self._fragments(as_list(calls, "delta.tool_calls"))
                annotations = delta.get("annotations")
                if annotations:
                    values["parts"] = _citations(annotations)
        finish = choice.get("finish_reason")
        if finish:
            values["stop_reason"] = stop_reason(finish, saw_tools=len(self.tool_slots) > 0)

    def _fragments(self, calls: list[Any]) -> tuple[ToolCall, ...]:
        out = []
        for call in calls:
            call = as_object(call, "tool call")
            call_id = as_text(call.get("id"), "tool call id")
            function = as_object(call.get("function"), "tool call function")
            slot = self.tool_slots.slot(call.get("index"), call_id or None)
            out.append(
                new_tool_call(
                    {
                        "index": slot,
                        "id": call_id,
                        "name": as_text(function.get("name"), "tool call name"),
                        "arguments": _arguments_text(function.get("arguments")),
                    }
                )
            )
        return tuple(out)


def answer_tool_calls(
    listed: Any, what: str, *, arguments: Callable[[Any], str], number_ids: bool
) -> tuple[ToolCall, ...]:
    """The ``tool_calls`` of a whole answer's message, OpenAI-shaped (``{"id", "function":
    {"name", "arguments"}}``, as Cohere v2 sends them too), in order.

    Args:
        listed: the message's ``tool_calls`` (``None``: no calls).
        what: its name in error messages.
        arguments: reads one call's ``arguments`` as text (``""`` becomes ``"{}"``).
        number_ids: a call without an id gets ``call_<i>``.

    Example:
        >>> calls = answer_tool_calls([{"function": {"name": "f"}}], "tool_calls",
        ...                           arguments=_arguments_text, number_ids=True)
        >>> calls[0].id, calls[0].name, calls[0].arguments
        ('call_0', 'f', '{}')
    """
    calls = []
    for i, call in enumerate(as_list(listed, what)):
        function = as_object(as_object(call, "tool call").get("function"), "tool call function")
        call_id = as_text(call.get("id"), "tool call id")
        calls.append(
            ToolCall(
                index=i,
                id=(call_id or f"call_{i}") if number_ids else call_id,
                name=as_text(function.get("name"), "tool call name"),
                arguments=arguments(function.get("arguments")) or "{}",
            )
        )
    return tuple(calls)


def parse_completion(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming Chat Completions body.

    Raises:
        ProviderStreamError: the body is an error object, or has no choices.
    """
    if not isinstance(payload, dict) or payload.get("error"):
        code, text = error_info(payload)
        raise ProviderStreamError(text, provider=provider, code=code)
    choices = as_list(payload.get("choices"), "choices")
    if not choices:
        raise ProviderStreamError("response has no choices", provider=provider, kind="malformed")
    choice = as_object(choices[0], "choice")
    message = as_object(choice.get("message"), "message")
    values: dict[str, Any] = {}
    content = message.get("content")
    if type(content) is list:
        _content_parts(content, values)
    elif content:
        values["content"] = as_text(content, "message.content")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning:
        values["reasoning"] = as_text(reasoning, "message.reasoning") + values.get("reasoning", "")
    calls = answer_tool_calls(
        message.get("tool_calls"), "message.tool_calls", arguments=_arguments_text, number_ids=True
    )
    parts = _citations(message.get("annotations")) if message.get("annotations") else ()
    if "search_results" in payload or "citations" in payload:
        parts += perplexity_sources(payload, {})
    finish = choice.get("finish_reason")
    values.update(
        id=as_text(payload.get("id"), "id"),
        refusal=as_text(message.get("refusal"), "message.refusal"),
        usage=parse_usage(payload.get("usage")),
        tool_calls=calls,
        stop_reason=stop_reason(finish, saw_tools=bool(calls)) if finish else None,
        parts=parts,
    )
    return ResponseCollector.of([new_delta(values)])


# -- providers -----------------------------------------------------------------------------------


class OpenAIChatProvider(HTTPProvider):
    """A provider speaking Chat Completions at ``{base_url}/chat/completions``.

    Subclasses set ``name`` and ``default_base_url`` and may override ``url()``, ``auth()``,
    ``include_usage`` (send ``stream_options.include_usage``), ``max_tokens_field`` and
    ``send_model``. The constructor is [HTTPProvider][rxchronos.model.HTTPProvider]'s.
    """

    include_usage: bool = True
    max_tokens_field: str = "max_tokens"
    send_model: bool = True
    think_tags: bool = False

    def url(self) -> str:
        """Where the request goes."""
        return f"{self.base_url}/chat/completions"

    def auth(self) -> dict[str, str]:
        """The credential headers (``Authorization: Bearer`` when there is a key)."""
        return self.bearer_auth()

    def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        """The Chat Completions POST."""
        body = chat_body(
            request,
            model=self.model_of(request) if self.send_model else None,
            stream=stream,
            include_usage=self.include_usage,
            max_tokens_field=self.max_tokens_field,
        )
        return HTTPRequest(self.url(), self.auth(), body)

    def new_parser(self) -> OpenAIChatParser:
        """A Chat Completions stream parser."""
        return OpenAIChatParser(provider=self.name, think_tags=self.think_tags)

    def parse_answer(self, payload: Any) -> ChatResponse:
        """A non-streaming Chat Completions answer."""
        return parse_completion(payload, provider=self.name)


class OpenAI(OpenAIChatProvider):
    """OpenAI's Chat Completions API.

    Args:
        api_key: the API key (``OPENAI_API_KEY``); never shown in errors or reprs.
        model: the default model, e.g. ``"gpt-4o"``.
        base_url: the API root (default ``https://api.openai.com/v1``).
        **options: ``session`` (an ``aiohttp.ClientSession`` you own), ``timeout``
            ([Timeouts][rxchronos.model.Timeouts]), ``max_retries`` (before the first delta, on
            connection errors, 429 and 5xx), ``retry`` ([RetryPolicy][rxchronos.model.RetryPolicy]),
            ``error_body_limit`` (see [HTTPOptions][rxchronos.model.HTTPOptions]).

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> provider = OpenAI(api_key="sk-test", model="gpt-4o")
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
        >>> chunks = provider.stream_chat(request)
    """

    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    max_tokens_field = "max_completion_tokens"


class AzureOpenAI(OpenAIChatProvider):
    """Azure OpenAI: a deployment's Chat Completions endpoint, authenticated with ``api-key``.

    Handles Azure's stream quirks: the leading ``prompt_filter_results`` chunk, content-filter
    annotation chunks, and ``finish_reason: "content_filter"`` (``StopReason.CONTENT_FILTER``).

    Args:
        endpoint: the resource URL, e.g. ``"https://my-resource.openai.azure.com"``.
        api_key: the key (``AZURE_OPENAI_API_KEY``).
        deployment: the deployment name (also used as ``model``).
        api_version: the ``api-version`` query parameter.
        **options: as for [OpenAI][rxchronos.model.OpenAI].

    Example:
        >>> azure = AzureOpenAI(endpoint="https://res.openai.azure.com", api_key="k-test",
        ...                     deployment="gpt-4o")
        >>> azure.model
        'gpt-4o'
    """

    name = "azure"
    send_model = False

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str,
        deployment: str,
        api_version: str = "2024-10-21",
        **options: Unpack[HTTPOptions],
    ) -> None:
        if not isinstance(deployment, str) or not deployment:
            raise ProviderConfigError(f"AzureOpenAI needs a deployment name, got {deployment!r}")
        check_azure_resource("AzureOpenAI", endpoint=endpoint, api_version=api_version)
        super().__init__(api_key=api_key, model=deployment, base_url=endpoint, **options)
        self.deployment = deployment
        self.api_version = api_version

    def url(self) -> str:
        """The deployment's Chat Completions URL."""
        return (
            f"{self.base_url}/openai/deployments/{self.deployment}/chat/completions"
            f"?api-version={self.api_version}"
        )

    def auth(self) -> dict[str, str]:
        """The ``api-key`` header."""
        return {"api-key": self.api_key}


class Mistral(OpenAIChatProvider):
    """Mistral's chat API (tool calls arrive whole without ``index``; Magistral's list content).

    Args:
        api_key: the API key (``MISTRAL_API_KEY``).
        model: the default model, e.g. ``"mistral-small-latest"``.
        base_url: the API root (default ``https://api.mistral.ai/v1``).
        **options: as for [OpenAI][rxchronos.model.OpenAI].

    Example:
        >>> Mistral(api_key="k-test", model="mistral-small-latest").name
        'mistral'
    """

    name = "mistral"
    default_base_url = "https://api.mistral.ai/v1"
    include_usage = False  # Mistral puts usage on the finish chunk


class OpenAICompatible(OpenAIChatProvider):
    """Any server that speaks the OpenAI Chat Completions API (vLLM, LM Studio, llama.cpp, ...).

    The parser copes with what these servers do differently: index-less tool-call fragments, a
    new id at a used index (a new call), usage on the finish chunk, ``reasoning`` /
    ``reasoning_content``, error objects inside chunks, ``event: error`` and ``:`` keep-alive
    comments.

    Args:
        name: a name for errors and graph events, e.g. ``"vllm"``.
        base_url: the API root, e.g. ``"http://localhost:8000/v1"``.
        api_key: sent as ``Authorization: Bearer``; ``None`` sends no credentials.
        model: the default model.
        include_usage: send ``stream_options.include_usage`` (turn off for servers that reject it).
        think_tags: read ``<think>...</think>`` in the content as reasoning (for models served
            without a reasoning parser); by default the tags stay in the content.
        **options: as for [OpenAI][rxchronos.model.OpenAI].

    Example:
        >>> local = OpenAICompatible(name="local", base_url="http://127.0.0.1:8080/v1", model="m")
        >>> local.name
        'local'
    """

    name = ""  # given to the constructor; a preset sets it on its class
    requires_key: ClassVar[bool] = False

    def __init__(
        self,
        *,
        name: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str,
        include_usage: bool | None = None,
        think_tags: bool = False,
        **options: Unpack[HTTPOptions],
    ) -> None:
        name = type(self).name if name is None else name
        if not isinstance(name, str) or not name:
            raise ProviderConfigError(f"{type(self).__name__} needs a non-empty name, got {name!r}")
        super().__init__(api_key=api_key, model=model, base_url=base_url, **options)
        self.name = name
        if include_usage is not None:
            self.include_usage = include_usage
        self.think_tags = think_tags


class _Preset(OpenAICompatible):
    """A named OpenAI-compatible host (``name``, ``default_base_url``); the key is required.

    Constructed as ``Preset(api_key=..., model=..., base_url=None, **options)``.
    """

    requires_key: ClassVar[bool] = True


class Groq(_Preset):
    """Groq (``GROQ_API_KEY``); usage comes on the finish chunk, errors as ``event: error``.

    Example:
        >>> Groq(api_key="gsk-test", model="llama-3.3-70b-versatile").base_url
        'https://api.groq.com/openai/v1'
    """

    name = "groq"
    default_base_url = "https://api.groq.com/openai/v1"


class Together(_Preset):
    """Together AI (``TOGETHER_API_KEY``).

    Example:
        >>> Together(api_key="t-test", model="meta-llama/Llama-3.3-70B-Instruct-Turbo").name
        'together'
    """

    name = "together"
    default_base_url = "https://api.together.xyz/v1"


class DeepSeek(_Preset):
    """DeepSeek (``DEEPSEEK_API_KEY``); ``reasoning_content`` becomes ``reasoning``.

    Example:
        >>> DeepSeek(api_key="d-test", model="deepseek-reasoner").name
        'deepseek'
    """

    name = "deepseek"
    default_base_url = "https://api.deepseek.com/v1"


class OpenRouter(_Preset):
    """OpenRouter (``OPENROUTER_API_KEY``); its keep-alive comments are not progress.

    Example:
        >>> OpenRouter(api_key="or-test", model="openai/gpt-4o").name
        'openrouter'
    """

    name = "openrouter"
    default_base_url = "https://openrouter.ai/api/v1"


class Fireworks(_Preset):
    """Fireworks AI (``FIREWORKS_API_KEY``).

    Example:
        >>> Fireworks(api_key="fw-test", model="accounts/fireworks/models/llama-v3p1-8b").name
        'fireworks'
    """

    name = "fireworks"
    default_base_url = "https://api.fireworks.ai/inference/v1"


class Perplexity(_Preset):
    """Perplexity (``PERPLEXITY_API_KEY``).

    Example:
        >>> Perplexity(api_key="pplx-test", model="sonar").name
        'perplexity'
    """

    name = "perplexity"
    default_base_url = "https://api.perplexity.ai"
    include_usage = False


class VLLM(OpenAICompatible):
    """A vLLM server's OpenAI-compatible API (``vllm serve <model>``); no key unless the server was
    started with ``--api-key``.

    Reasoning models served with a reasoning parser stream ``reasoning_content`` (read as
    ``reasoning``); tool calls need the server's ``--enable-auto-tool-choice`` and a tool parser.

    Example:
        >>> VLLM(model="Qwen/Qwen3-8B").base_url
        'http://localhost:8000/v1'
    """

    name = "vllm"
    default_base_url = "http://localhost:8000/v1"
