"""The data types of model streaming: requests, messages, tool calls, deltas and content parts.

Everything here is an immutable pydantic v2 model (``frozen=True``); sequences are tuples.

A provider's stream is an Observable of [ChatResponse][rxchronos.model.ChatResponse] *deltas*
(``delta=True``). A delta carries any of: ``content`` text, ``reasoning`` text, ``refusal`` text,
``tool_calls`` fragments, ``parts``, ``stop_reason``, ``usage``. A tool-call fragment is
``ToolCall(index=slot, id=..., name=..., arguments=<JSON text fragment>)`` where ``index`` is the
call's slot (0, 1, ... in order of first appearance), whatever the provider keys its calls by.
``collect_response()`` folds the deltas into one final ``ChatResponse(delta=False)``.

Provider parsers build deltas on the hot path without validation (from values they have checked,
see [StreamParser][rxchronos.model.StreamParser]); users construct the types normally and get
validation. [Provider][rxchronos.model.Provider] is what every model provider offers.

Content parts: what a response holds besides its flat text, kept apart. A collected
[ChatResponse][rxchronos.model.ChatResponse] lists its ``parts`` in the order the model produced
them: [TextPart][rxchronos.model.TextPart] and [ReasoningPart][rxchronos.model.ReasoningPart]
runs, server-side tool calls and their results
([ServerToolCallPart][rxchronos.model.ServerToolCallPart],
[ServerToolResultPart][rxchronos.model.ServerToolResultPart]), citations
([CitationPart][rxchronos.model.CitationPart]) and blocks no parser knows
([UnknownPart][rxchronos.model.UnknownPart], kept raw). Client tool calls are never parts: they
are the response's ``tool_calls``, the only thing an agent loop runs.

In a stream, deltas stay cheap: text and reasoning text travel only as ``content`` and
``reasoning`` (a text delta carries no part object), and a delta's ``parts`` carry only the other
parts, each *whole* once the provider has finished it (a server tool call when its input is
complete, a citation when it arrives). The one exception is the closing fragment of a reasoning
run: a ``ReasoningPart`` with no text (an Anthropic ``signature``, a Responses reasoning item's
``id`` and ``encrypted_content``) that [collect_response][rxchronos.operators.collect_response]
attaches to the reasoning text streamed just before it.

``dialect`` names the wire dialect that made a part (``"anthropic"``, ``"gemini"``,
``"openai-responses"``, ``"openai"``); ``raw`` is the provider's own object, unchanged. A request
builder sends back only the parts of its own dialect, so a conversation can move between providers
without one provider's signatures reaching another.

Example:
    >>> from rxchronos.model import CitationPart, ChatResponse, TextPart
    >>> answer = ChatResponse(delta=False, content="Paris.", parts=[
    ...     TextPart(text="Paris."), CitationPart(url="https://en.wikipedia.org/wiki/Paris")])
    >>> [part.type for part in answer.parts]
    ['text', 'citation']
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated
from typing import Any
from typing import Literal
from typing import Protocol
from typing import runtime_checkable

import reactivex
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import SerializerFunctionWrapHandler
from pydantic import model_serializer
from pydantic import model_validator

from rxchronos._closable import AsyncResource
from rxchronos.model._errors import ToolArgumentsError

__all__ = [
    "PART_CLASSES",
    "REASONING_BUDGETS",
    "ChatRequest",
    "ChatResponse",
    "CitationPart",
    "ContentPart",
    "FunctionDef",
    "Message",
    "Provider",
    "ReasoningEffort",
    "ReasoningPart",
    "Role",
    "ServerToolCallPart",
    "ServerToolResultPart",
    "StopReason",
    "TextPart",
    "ToolCall",
    "ToolDefinition",
    "UnknownPart",
    "Usage",
    "token_usage",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


# Roles, stop reasons, token usage and tools.


ReasoningEffort = Literal["minimal", "low", "medium", "high"]
"""A request's reasoning effort."""

REASONING_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
"""Thinking tokens per effort, for APIs that take a budget (Anthropic, Gemini)."""


class Role(StrEnum):
    """Who wrote a message (a ``str`` enum: ``Role.USER == "user"``).

    Example:
        >>> from rxchronos.model import Message, Role
        >>> Message(role=Role.SYSTEM, content="Be brief.").role == "system"
        True
        >>> Role("assistant")
        <Role.ASSISTANT: 'assistant'>
    """

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class StopReason(StrEnum):
    """Why the model stopped, normalised across providers.

    Example:
        >>> import asyncio
        >>> from rxchronos.model import ChatRequest, Message, ToolCall
        >>> from rxchronos.model import ScriptedProvider, ScriptedReply
        >>> provider = ScriptedProvider(["Done.", ScriptedReply(tool_calls=[ToolCall(name="now")])])
        >>> request = ChatRequest(messages=[Message(role="user", content="What time is it?")])
        >>> async def main():
        ...     return [(await provider.chat(request)).stop_reason for _ in range(2)]
        >>> asyncio.run(main())
        [<StopReason.END: 'end'>, <StopReason.TOOL_CALL: 'tool_call'>]
    """

    END = "end"
    """The answer is complete (OpenAI ``stop``, Anthropic ``end_turn``, Gemini ``STOP``)."""
    MAX_TOKENS = "max_tokens"
    """Cut by the token limit: the content (or a tool's arguments) may be incomplete."""
    TOOL_CALL = "tool_call"
    """The model asks for one or more tool calls."""
    CONTENT_FILTER = "content_filter"
    """The provider's safety filter blocked (part of) the answer."""
    PAUSED = "paused"
    """The provider paused a long turn of server-side tools (Anthropic ``pause_turn``): send the
    answer back as it is (``final.to_message()``) to let the model go on."""


class Usage(BaseModel):
    """Token counts, as billed. In a stream, the last ``usage`` wins (never sum them).

    ``prompt_tokens`` counts every prompt token, cached ones included (``cached_prompt_tokens`` and
    ``cache_write_tokens`` say how many of them were read from or written to the provider's prompt
    cache); ``completion_tokens`` counts every output token, reasoning included
    (``reasoning_tokens`` says how many). ``prompt + completion == total`` wherever the provider
    reports a total.

    Example:
        >>> Usage(prompt_tokens=10, completion_tokens=5).total
        15
    """

    model_config = _FROZEN

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)
    cached_prompt_tokens: int = Field(default=0, ge=0)
    """Prompt tokens read from the cache (OpenAI ``prompt_tokens_details.cached_tokens``,
    Anthropic ``cache_read_input_tokens``, Gemini ``cachedContentTokenCount``, DeepSeek
    ``prompt_cache_hit_tokens``, Responses ``input_tokens_details.cached_tokens``)."""
    cache_write_tokens: int = Field(default=0, ge=0)
    """Prompt tokens written to the cache (Anthropic ``cache_creation_input_tokens``)."""
    reasoning_tokens: int = Field(default=0, ge=0)
    """Completion tokens spent reasoning (OpenAI ``completion_tokens_details.reasoning_tokens``,
    Gemini ``thoughtsTokenCount``, Responses ``output_tokens_details.reasoning_tokens``)."""

    @model_validator(mode="before")
    @classmethod
    def _accept_total(cls, data: Any) -> Any:
        if isinstance(data, dict) and "total" in data and "total_tokens" not in data:
            data = {**data, "total_tokens": data["total"]}
            del data["total"]
        return data

    @property
    def total(self) -> int:
        """``total_tokens``, or prompt + completion when the provider did not say."""
        return self.total_tokens or self.prompt_tokens + self.completion_tokens


class ToolCall(BaseModel):
    """A tool call, or (in a delta) a fragment of one.

    In a delta, ``index`` is the call's slot and ``arguments`` is a fragment of JSON text; id and
    name usually come only on a call's first fragment. In a final response, ``arguments`` is the
    complete JSON text of the arguments object.

    Example:
        >>> call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')
        >>> call.parse_arguments()
        {'city': 'Paris'}
    """

    model_config = _FROZEN

    index: int = Field(default=0, ge=0)
    id: str = ""
    name: str = ""
    arguments: str = ""
    provider_data: dict[str, Any] | None = None
    """Opaque provider data to send back unchanged (e.g. a Gemini ``thoughtSignature``)."""

    def parse_arguments(self) -> dict[str, Any]:
        """Parse ``arguments`` as a JSON object (empty text counts as ``{}``).

        Raises:
            ToolArgumentsError: the text is not valid JSON, is nested too deeply to parse, or is
                not a JSON object; the error keeps the raw text in ``.arguments``.
        """
        raw = self.arguments
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise self._bad_arguments(f"are not valid JSON: {exc}") from exc
        except RecursionError:
            problem = f"are JSON nested too deeply to parse ({len(raw)} characters)"
            raise self._bad_arguments(problem) from None
        if not isinstance(value, dict):
            raise self._bad_arguments("are JSON but not an object")
        return value

    def _bad_arguments(self, problem: str) -> ToolArgumentsError:
        return ToolArgumentsError(
            f"arguments of tool call {self.name!r} (id {self.id!r}) {problem}",
            name=self.name,
            call_id=self.id,
            arguments=self.arguments,
        )


class FunctionDef(BaseModel):
    """A function the model may call, in the OpenAI function format.

    Example:
        >>> FunctionDef(name="get_weather", parameters={"type": "object", "properties": {}}).name
        'get_weather'
    """

    model_config = _FROZEN

    name: str = Field(min_length=1)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    """A JSON Schema for the arguments object."""


class ToolDefinition(BaseModel):
    """A tool offered to the model (``{"type": "function", "function": {...}}``).

    Example:
        >>> tool = ToolDefinition(function=FunctionDef(name="get_time"))
        >>> tool.type
        'function'
    """

    model_config = _FROZEN

    type: str = "function"
    function: FunctionDef


# Content parts: what an answer holds besides its flat text (see the module docstring).


class _Part(BaseModel):
    """The base of the parts: frozen, and ``type`` in every dump (``exclude_defaults`` too), so
    a dumped part validates back to its own class."""

    model_config = _FROZEN

    @model_serializer(mode="wrap")
    def _with_type(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {"type": getattr(self, "type"), **data}  # noqa: B009 (declared by each part)


class TextPart(_Part):
    """A run of answer text (what ``content`` holds, cut where other parts come between).

    Example:
        >>> TextPart(text="Hello").type
        'text'
    """

    type: Literal["text"] = "text"
    text: str = ""


class ReasoningPart(_Part):
    """A run of reasoning, with what the provider wants sent back unchanged on the next turn.

    - Anthropic ``thinking`` block: ``text`` and its ``signature``; a ``redacted_thinking`` block:
      ``redacted=True`` and its encrypted ``data`` as ``signature``;
    - Responses ``reasoning`` item: the summary as ``text``, the item ``id``, its
      ``encrypted_content`` (when asked for with ``include``) as ``signature``, the item as
      ``raw``;
    - other providers: ``text`` only (nothing to send back).

    Example:
        >>> ReasoningPart(text="2 + 2 is 4", signature="EqQB...", dialect="anthropic").redacted
        False
    """

    type: Literal["reasoning"] = "reasoning"
    text: str = ""
    signature: str = ""
    """Opaque data proving the reasoning (Anthropic ``signature``, Responses
    ``encrypted_content``, the ``data`` of a redacted block)."""
    redacted: bool = False
    """Anthropic ``redacted_thinking``: the reasoning is encrypted in ``signature``."""
    id: str = ""
    """The reasoning item's id (Responses ``rs_...``)."""
    dialect: str = ""
    raw: dict[str, Any] | None = None


class ServerToolCallPart(_Part):
    """A tool call the provider ran itself: never a client tool call, never to be run by you.

    Anthropic ``server_tool_use`` (web search, web fetch, code execution) and ``mcp_tool_use``
    (``server`` is the MCP server's name); Gemini ``executableCode`` (``name="code_execution"``,
    ``input`` holds ``language`` and ``code``) and Google Search grounding
    (``name="google_search"``, ``input`` holds the ``queries``); Responses built-in tool items
    (``web_search_call``, ``file_search_call``, ``code_interpreter_call``, ``mcp_call``,
    ``image_generation_call``, ...; ``name`` is the item type without ``_call``).

    Example:
        >>> ServerToolCallPart(id="srvtoolu_1", name="web_search", input={"query": "rx"}).input
        {'query': 'rx'}
    """

    type: Literal["server_tool_call"] = "server_tool_call"
    id: str = ""
    name: str = ""
    input: dict[str, Any] = Field(default_factory=dict)
    """The call's input (a streamed input assembled; input that is not a JSON object stays only
    in ``raw``)."""
    server: str = ""
    """The MCP server (Anthropic ``server_name``, Responses ``server_label``), else empty."""
    dialect: str = ""
    raw: dict[str, Any] | None = None


class ServerToolResultPart(_Part):
    """The result of a server-side tool call, as the provider reports it.

    Anthropic ``*_tool_result`` blocks (``web_search_tool_result``, ``web_fetch_tool_result``,
    ``code_execution_tool_result``, ...) and ``mcp_tool_result``; Gemini ``codeExecutionResult``
    and grounding metadata; the results a Responses built-in tool item carries (``results``,
    ``outputs``, ``output``, ``action.sources``, ``result``).

    Example:
        >>> ServerToolResultPart(call_id="srvtoolu_1", name="web_search", content=[]).is_error
        False
    """

    type: Literal["server_tool_result"] = "server_tool_result"
    call_id: str = ""
    """The id of the [ServerToolCallPart][rxchronos.model.ServerToolCallPart] it answers."""
    name: str = ""
    content: Any = None
    """The result as JSON data, the provider's own shape."""
    is_error: bool = False
    dialect: str = ""
    raw: dict[str, Any] | None = None


class CitationPart(_Part):
    """A source the answer cites.

    ``url`` and ``title`` name the source (a document citation has ``document`` and no URL);
    ``cited_text`` is the quoted text or the span of the answer it supports; ``start`` / ``end``
    are the span's offsets as the provider counts them (Responses: characters of the output text;
    Gemini: bytes of the candidate text; Anthropic documents: characters or pages of the
    document), ``None`` when it gives none. Anthropic ``citations_delta``, Responses
    ``url_citation`` / ``file_citation`` annotations, Chat Completions ``annotations``, Gemini
    grounding supports and citation metadata, Perplexity ``search_results`` / ``citations``.

    Example:
        >>> CitationPart(url="https://example.com", title="Example").cited_text
        ''
    """

    type: Literal["citation"] = "citation"
    url: str = ""
    title: str = ""
    cited_text: str = ""
    document: str = ""
    """A cited document's title, file name or id (Anthropic documents, Responses files)."""
    start: int | None = None
    end: int | None = None
    dialect: str = ""
    raw: dict[str, Any] | None = None


class UnknownPart(_Part):
    """A block or item this version does not model, kept raw (it never fails a stream).

    Example:
        >>> UnknownPart(kind="container_upload", dialect="anthropic", raw={"type": "x"}).kind
        'container_upload'
    """

    type: Literal["unknown"] = "unknown"
    kind: str = ""
    """The provider's type name of the block or item."""
    dialect: str = ""
    raw: dict[str, Any] | None = None


ContentPart = Annotated[
    TextPart
    | ReasoningPart
    | ServerToolCallPart
    | ServerToolResultPart
    | CitationPart
    | UnknownPart,
    Field(discriminator="type"),
]
"""One part of an answer: a pydantic discriminated union on ``type``."""

PART_CLASSES: tuple[type[BaseModel], ...] = (
    TextPart,
    ReasoningPart,
    ServerToolCallPart,
    ServerToolResultPart,
    CitationPart,
    UnknownPart,
)
"""The classes of [ContentPart][rxchronos.model.ContentPart], for ``isinstance`` checks."""


# Messages, requests and responses.


class Message(BaseModel):
    """One message of a conversation.

    An assistant message may carry ``tool_calls``; the answer to a call is a ``Role.TOOL`` message
    with the call's id in ``tool_call_id``.

    Example:
        >>> Message(role="user", content="Hi").role
        <Role.USER: 'user'>
    """

    model_config = _FROZEN

    role: Role
    content: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    """The model's reasoning text, for providers that want it sent back."""
    parts: tuple[ContentPart, ...] = ()
    """An assistant answer's [content parts][rxchronos.model.ContentPart], in order (what
    ``ChatResponse.to_message()`` keeps): the request builders send back those of their own
    dialect where the provider requires them (Anthropic signed and redacted thinking and server
    tool blocks, Responses reasoning and built-in tool items, Gemini code execution parts)."""
    provider_data: dict[str, Any] | None = None
    """Opaque provider data to send back unchanged (e.g. a Gemini ``thoughtSignature``)."""


class ChatRequest(BaseModel):
    """What to ask the model. ``model=None`` uses the provider's model.

    Example:
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")], max_tokens=50)
        >>> len(request.messages)
        1
    """

    model_config = _FROZEN

    messages: tuple[Message, ...] = Field(min_length=1)
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    tools: tuple[ToolDefinition, ...] = ()
    stop: tuple[str, ...] = ()
    response_format: dict[str, Any] | None = None
    reasoning_effort: ReasoningEffort | None = None
    """How hard a reasoning model thinks: OpenAI ``reasoning_effort``, Responses
    ``reasoning.effort`` (with summaries), an Anthropic ``thinking`` or Gemini ``thinkingBudget``
    budget from [REASONING_BUDGETS][rxchronos.model.REASONING_BUDGETS]; ``None`` sends nothing."""
    metadata: dict[str, Any] | None = None


class ChatResponse(BaseModel):
    """A delta of a streamed answer (``delta=True``) or a whole answer (``delta=False``).

    ``content``, ``reasoning`` and ``tool_calls`` are the flat view; ``parts`` keeps apart what
    else the answer holds (see [ContentPart][rxchronos.model.ContentPart]). In a delta, ``parts``
    holds only whole non-text parts (and the closing fragment of a reasoning run); in a collected
    answer it is every part in order, text and reasoning runs included.

    Example:
        >>> ChatResponse(content="Hello", delta=False).content
        'Hello'
    """

    model_config = _FROZEN

    id: str = ""
    content: str = ""
    reasoning: str = ""
    refusal: str = ""
    """Refusal text (OpenAI structured outputs), kept apart from ``content``."""
    role: Role = Role.ASSISTANT
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: StopReason | None = None
    delta: bool = True
    parts: tuple[ContentPart, ...] = ()
    """The answer's content parts (see above)."""
    provider_data: dict[str, Any] | None = None
    """Opaque provider data (e.g. a Gemini ``thoughtSignature``) to send back unchanged."""

    def to_message(self) -> Message:
        """This (final) response as the assistant message to append to the conversation.

        Example:
            >>> ChatResponse(content="4", delta=False).to_message().content
            '4'
        """
        return Message(
            role=Role.ASSISTANT,
            content=self.content or None,
            tool_calls=self.tool_calls,
            reasoning=self.reasoning or None,
            parts=self.parts,
            provider_data=self.provider_data,
        )


def token_usage(
    prompt: int,
    completion: int,
    total: int = 0,
    *,
    cached: int = 0,
    cache_write: int = 0,
    reasoning: int = 0,
) -> Usage:
    """A ``Usage`` from checked wire counts (no total: prompt + completion), without validation.

    Example:
        >>> token_usage(12, 0, cached=4).total_tokens
        12
    """
    return Usage.model_construct(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total or prompt + completion,
        cached_prompt_tokens=cached,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
    )


@runtime_checkable
class Provider(AsyncResource, Protocol):
    """A model provider.

    ``stream_chat(request)`` is cold: each subscription sends one request; disposing the
    subscription cancels it and closes its connection. Its items are ``ChatResponse`` deltas, and it
    completes only after the provider's terminal marker.

    Example:
        >>> import asyncio
        >>> from rxchronos.model import ChatRequest, Message, ScriptedProvider
        >>> async def ask(provider: Provider, question: str) -> str:  # any provider will do
        ...     request = ChatRequest(messages=[Message(role="user", content=question)])
        ...     async with provider:
        ...         answer = await provider.chat(request)
        ...     return f"{provider.name}: {answer.content}"
        >>> asyncio.run(ask(ScriptedProvider(["Paris."]), "The capital of France?"))
        'scripted: Paris.'
    """

    @property
    def name(self) -> str:
        """The provider's name, e.g. ``"openai"``."""
        ...

    @property
    def model(self) -> str:
        """The default model, used when a request does not name one."""
        ...

    def stream_chat(self, request: ChatRequest) -> reactivex.Observable[ChatResponse]:
        """The answer to ``request`` as a cold Observable of deltas."""
        ...

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """The whole answer to ``request`` (``delta=False``)."""
        ...

    async def aclose(self) -> None:
        """Release what the provider owns (its HTTP session)."""
        ...
