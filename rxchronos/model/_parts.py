"""The content parts of an answer: what a response holds besides its flat text, kept apart.

A collected [ChatResponse][rxchronos.model.ChatResponse] lists its ``parts`` in the order the
model produced them: [TextPart][rxchronos.model.TextPart] and
[ReasoningPart][rxchronos.model.ReasoningPart] runs, server-side tool calls and their results
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

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

__all__ = [
    "PART_CLASSES",
    "CitationPart",
    "ContentPart",
    "ReasoningPart",
    "ServerToolCallPart",
    "ServerToolResultPart",
    "TextPart",
    "UnknownPart",
]


class _Part(BaseModel):
    """The base of the parts: frozen, and ``type`` in every dump (``exclude_defaults`` too), so
    a dumped part validates back to its own class."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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
