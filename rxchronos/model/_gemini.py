"""The Google Gemini family: the request body, the stream dialect and the provider.

The key travels only in the ``x-goog-api-key`` header, never in the URL (URLs end up in logs).

Request:

- system messages become ``systemInstruction``; user turns have role ``user``, assistant turns role
  ``model``; consecutive turns of the same role are merged (parallel function responses travel
  together);
- an assistant message's text and the code execution parts of a Gemini answer (its ``parts``)
  become its parts in order, then its tool calls become ``functionCall`` parts (``args`` is the
  parsed arguments object) with their ``thoughtSignature`` sent back unchanged;
- a tool message becomes a ``functionResponse`` part named after the call it answers (looked up by
  ``tool_call_id`` among the earlier assistant tool calls, or ``Message.name``); a JSON-object
  content is the ``response``, anything else is wrapped as ``{"result": ...}``;
- tools become ``functionDeclarations``; ``max_tokens``, ``temperature``, ``top_p``, ``stop``, an
  OpenAI-style ``response_format`` and ``reasoning_effort`` (``thinkingConfig`` with the effort's
  ``thinkingBudget`` and ``includeThoughts``) go to ``generationConfig``.

Stream: each SSE event is a whole ``GenerateContentResponse``; only ``candidates[0]`` is read.
Normalised:

- ``text`` parts -> ``content``; ``thought: true`` parts -> ``reasoning``;
- a ``functionCall`` part is a whole call with an ``args`` *object* and usually no id: it becomes
  one tool-call fragment with the next slot (two calls stay apart, even with one id), a generated
  unique id unless it has one, and the arguments as JSON text. Its ``thoughtSignature`` is kept
  in the call's ``provider_data["thought_signature"]`` (a signature on a text part goes to the
  response's ``provider_data["gemini_thought_signature"]``), to be sent back unchanged;
- Vertex AI's streamed arguments (``functionCall {name, willContinue: true}``, then ``partialArgs``
  pieces by ``jsonPath``, then an empty ``functionCall`` closing it) become the name fragment first
  and the assembled arguments object as one fragment when the call closes;
- ``executableCode`` / ``codeExecutionResult`` parts (the code execution tool) are a
  ``ServerToolCallPart`` / ``ServerToolResultPart`` named ``code_execution`` (after the text that
  came before them in the chunk), sent back unchanged in the model turn;
- ``groundingMetadata`` (Google Search grounding) is a ``google_search`` call with its
  ``webSearchQueries`` and a result holding the whole metadata (``searchEntryPoint`` included),
  then one ``CitationPart`` per grounding support and source (segment text and byte offsets);
  ``citationMetadata`` sources are citations too; metadata repeated on later chunks is not
  reported twice;
- there is no end marker: the stream is complete when it ends (EOF) after a chunk with a
  ``finishReason`` (or a ``promptFeedback.blockReason``); ``STOP`` after tool calls is
  ``StopReason.TOOL_CALL``; safety reasons are ``CONTENT_FILTER``;
- ``usageMetadata`` comes on every chunk and is not monotonic: the last one wins;
- ``{"error": {"code", "message", "status"}}`` raises ``ProviderStreamError`` (with what else the
  chunk carried as the error's partial delta).

Example:
    >>> parser = GeminiParser(provider="gemini")
    >>> chunk = '{"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}]}'
    >>> [d.content for d in parser.feed("message", chunk)]
    ['Hi']
    >>> parser.end(), parser.finished
    ([], True)
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from rxchronos._errors import InvalidArgumentError
from rxchronos.model._dialect import MalformedData
from rxchronos.model._dialect import StreamParser
from rxchronos.model._dialect import as_count
from rxchronos.model._dialect import as_list
from rxchronos.model._dialect import as_object
from rxchronos.model._dialect import as_text
from rxchronos.model._dialect import build_turns
from rxchronos.model._dialect import new_tool_call
from rxchronos.model._dialect import sampling_fields
from rxchronos.model._dialect import tool_names
from rxchronos.model._dialect import whole_answer
from rxchronos.model._http import HTTPRequest
from rxchronos.model._provider import HTTPProvider
from rxchronos.model._types import REASONING_BUDGETS
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import CitationPart
from rxchronos.model._types import ContentPart
from rxchronos.model._types import Message
from rxchronos.model._types import Role
from rxchronos.model._types import ServerToolCallPart
from rxchronos.model._types import ServerToolResultPart
from rxchronos.model._types import StopReason
from rxchronos.model._types import TextPart
from rxchronos.model._types import ToolCall
from rxchronos.model._types import ToolDefinition
from rxchronos.model._types import Usage
from rxchronos.model._types import token_usage

__all__ = [
    "CODE_EXECUTION",
    "DIALECT",
    "GOOGLE_SEARCH",
    "SIGNATURE_KEY",
    "TEXT_SIGNATURE_KEY",
    "Gemini",
    "GeminiParser",
    "contents_body",
    "parse_generate",
    "tool_result_name",
]

SIGNATURE_KEY = "thought_signature"
"""``ToolCall.provider_data`` key of a function call's ``thoughtSignature``."""
TEXT_SIGNATURE_KEY = "gemini_thought_signature"
"""``ChatResponse.provider_data`` key of a ``thoughtSignature`` given on a text part."""
DIALECT = "gemini"
"""The ``dialect`` of the parts this module makes."""
CODE_EXECUTION = "code_execution"
"""The tool name of ``executableCode`` / ``codeExecutionResult`` parts."""
GOOGLE_SEARCH = "google_search"
"""The tool name of Google Search grounding."""

# -- request -------------------------------------------------------------------------------------


def tool_result_name(message: Message, names: dict[str, str]) -> str:
    """The name of the tool a ``Role.TOOL`` message answers.

    Raises:
        ValueError: neither ``Message.name`` nor a known ``tool_call_id`` names it.
    """
    name = message.name or names.get(message.tool_call_id or "")
    if not name:
        raise InvalidArgumentError(
            f"cannot tell which tool the tool message with tool_call_id={message.tool_call_id!r} "
            "answers: include the assistant message with that tool call, or set Message.name"
        )
    return name


def _response_object(content: str | None) -> dict[str, Any]:
    try:
        value = json.loads(content or "")
    except (ValueError, RecursionError):  # not JSON, or nested too deeply: sent as text
        return {"result": content or ""}
    return value if isinstance(value, dict) else {"result": value}


def _sent_part(part: ContentPart) -> dict[str, Any] | None:
    """The Gemini part that sends ``part`` back: text, and the code execution parts of a Gemini
    answer unchanged; ``None`` for the rest."""
    if isinstance(part, TextPart):
        return {"text": part.text} if part.text else None
    raw = getattr(part, "raw", None)
    if (
        part.dialect == DIALECT
        and raw
        and ("executableCode" in raw or "codeExecutionResult" in raw)
    ):
        return dict(raw)
    return None


def _model_parts(message: Message) -> list[dict[str, Any]]:
    parts = [p for p in map(_sent_part, message.parts) if p is not None]
    if message.content and not any(isinstance(p, TextPart) for p in message.parts):
        parts.append({"text": message.content})
    signature = (message.provider_data or {}).get(TEXT_SIGNATURE_KEY)
    texts = [p for p in parts if "text" in p]
    if signature and texts and not message.tool_calls:
        texts[-1]["thoughtSignature"] = signature
    for call in message.tool_calls:
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.parse_arguments()}}
        call_signature = (call.provider_data or {}).get(SIGNATURE_KEY)
        if call_signature:
            part["thoughtSignature"] = call_signature
        parts.append(part)
    return parts


def _declaration(tool: ToolDefinition) -> dict[str, Any]:
    function = tool.function
    out: dict[str, Any] = {"name": function.name, "description": function.description}
    if function.parameters.get("properties"):  # Gemini rejects an object schema with no properties
        out["parameters"] = function.parameters
    return out


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config = sampling_fields(
        request, max_tokens="maxOutputTokens", top_p="topP", stop="stopSequences"
    )
    if request.reasoning_effort is not None:
        budget = REASONING_BUDGETS[request.reasoning_effort]
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": True}
    fmt = request.response_format
    if fmt and fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema:
            config["responseJsonSchema"] = schema
    return config


def contents_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a ``generateContent`` request (see the module docstring).

    Raises:
        ToolArgumentsError: an assistant tool call's arguments are not a JSON object.
        ValueError: a tool message whose tool cannot be named.
    """
    names = tool_names(request.messages)

    def convert(message: Message) -> tuple[str, list[dict[str, Any]]]:
        if message.role is Role.ASSISTANT:
            return "model", _model_parts(message)
        if message.role is Role.TOOL:
            response = {
                "name": tool_result_name(message, names),
                "response": _response_object(message.content),
            }
            return "user", [{"functionResponse": response}]
        return "user", [{"text": message.content or ""}]

    system, contents = build_turns(request.messages, convert, parts_key="parts")
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    return body


# -- stream dialect ------------------------------------------------------------------------------

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]")


_MAX_INDEX_GAP = 1000
"""How far past a list's end a streamed ``jsonPath`` index may point (beyond: malformed)."""


def stop_reason(finish: Any, *, saw_tools: bool) -> StopReason:
    """Map a Gemini ``finishReason``; ``STOP`` after tool calls is ``TOOL_CALL``."""
    finish = as_text(finish, "finishReason")
    if finish == "MAX_TOKENS":
        return StopReason.MAX_TOKENS
    if finish in _FILTERED:
        return StopReason.CONTENT_FILTER
    return StopReason.TOOL_CALL if saw_tools else StopReason.END


def usage_of(raw: Any) -> Usage | None:
    """A ``Usage`` from ``usageMetadata`` (thinking tokens count as completion), or ``None``."""
    if not isinstance(raw, dict) or not (
        "promptTokenCount" in raw or "candidatesTokenCount" in raw or "totalTokenCount" in raw
    ):
        return None
    thoughts = as_count(raw.get("thoughtsTokenCount"), "thoughtsTokenCount")
    completion = as_count(raw.get("candidatesTokenCount"), "candidatesTokenCount") + thoughts
    return token_usage(
        as_count(raw.get("promptTokenCount"), "promptTokenCount"),
        completion,
        as_count(raw.get("totalTokenCount"), "totalTokenCount"),
        cached=as_count(raw.get("cachedContentTokenCount"), "cachedContentTokenCount"),
        reasoning=thoughts,
    )


def _new_call_id(slot: int, prefix: str) -> str:
    return f"call_{prefix}_{slot}"


def _texts(text: list[str], thoughts: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if text:
        values["content"] = "".join(text)
    if thoughts:
        values["reasoning"] = "".join(thoughts)
    return values


def _offset(value: Any, what: str) -> int | None:
    return None if value is None else as_count(value, what)


_SOURCES = ("web", "retrievedContext", "maps")
"""The kinds of grounding chunk, each ``{uri, title, ...}``."""


class _StreamedArguments:
    """The arguments object of a Vertex streamed function call, assembled from ``partialArgs``."""

    __slots__ = ("continuing", "root", "slot")

    def __init__(self, slot: int, start: Any) -> None:
        self.slot = slot
        self.root: dict[str, Any] = dict(start) if isinstance(start, dict) else {}
        self.continuing: set[str] = set()  # paths whose string value is still being streamed

    def add(self, piece: dict[str, Any]) -> None:
        piece = as_object(piece, "partialArgs entry")
        path = as_text(piece.get("jsonPath"), "jsonPath")
        steps: list[str | int] = []
        for match in _PATH_STEP.finditer(path, 1 if path.startswith("$") else 0):
            key, index, quoted = match.groups()
            steps.append(int(index) if index is not None else (key if key is not None else quoted))
        if not steps:
            raise MalformedData(f"unsupported jsonPath {path!r:.200}")
        value: Any = None
        for field in ("stringValue", "numberValue", "boolValue", "nullValue"):
            if field in piece:
                value = piece[field] if field != "nullValue" else None
                break
        container: Any = self.root
        for step, following in zip(steps, [*steps[1:], None], strict=True):
            if following is None:
                break
            fresh: Any = [] if isinstance(following, int) else {}
            container = _child(container, step, fresh)
        last = steps[-1]
        if isinstance(value, str) and path in self.continuing:
            value = _get(container, last) + value
        _put(container, last, value)
        if piece.get("willContinue") and isinstance(value, str):
            self.continuing.add(path)
        else:
            self.continuing.discard(path)


def _get(container: Any, step: str | int) -> Any:
    return container[step]


def _put(container: Any, step: str | int, value: Any) -> None:
    if isinstance(container, list) and isinstance(step, int):
        if step > len(container) + _MAX_INDEX_GAP:
            raise MalformedData(f"jsonPath index {step} far past the list's end")
        container.extend([None] * (step + 1 - len(container)))
    container[step] = value


def _child(container: Any, step: str | int, fresh: Any) -> Any:
    if isinstance(container, list) and isinstance(step, int):
        if step >= len(container) or container[step] is None:
            _put(container, step, fresh)
        return container[step]
    return container.setdefault(step, fresh)


class GeminiParser(StreamParser):
    """The Gemini ``streamGenerateContent?alt=sse`` dialect (see the module docstring).

    Args:
        provider: the provider name, for error messages.
        new_id: makes the id of a function call that came without one, from its slot (default:
            ``call_<random per stream>_<slot>``).
    """

    __slots__ = (
        "_cited",
        "_code_calls",
        "_code_id",
        "_new_id",
        "_open",
        "_saw_finish",
        "_searched",
    )

    def __init__(self, *, provider: str, new_id: Callable[[int], str] | None = None) -> None:
        super().__init__(provider=provider)
        prefix = secrets.token_hex(6)
        self._new_id = new_id or (lambda slot: _new_call_id(slot, prefix))
        self._open: _StreamedArguments | None = None
        self._saw_finish = False
        self._code_calls = 0
        self._code_id = ""
        self._searched: set[tuple[Any, ...]] = set()
        self._cited: set[tuple[Any, ...]] = set()

    def finish(self) -> list[ChatResponse]:
        """At EOF: complete when a finish reason was seen (a streamed call left open is flushed)."""
        self.finished = self._saw_finish
        if self._open is None:
            return []
        return self.deltas({"tool_calls": (self._close(),)})

    def parse(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event (a whole ``GenerateContentResponse``)."""
        return self.parse_object(self.load_object(data, event))

    def parse_object(self, payload: dict[str, Any]) -> list[ChatResponse]:
        """Parse one ``GenerateContentResponse`` already decoded from JSON."""
        values: dict[str, Any] = {}
        early: list[ChatResponse] = []
        candidates = as_list(payload.get("candidates"), "candidates")
        if candidates:
            if not self.response_id:
                self.response_id = as_text(payload.get("responseId"), "responseId")
            early = self._candidate(as_object(candidates[0], "candidate"), values)
        block = as_object(payload.get("promptFeedback"), "promptFeedback").get("blockReason")
        if block:
            self._saw_finish = True
            values["stop_reason"] = StopReason.CONTENT_FILTER
        usage = usage_of(payload.get("usageMetadata"))
        if usage is not None:
            values["usage"] = usage
        if values and not self.response_id:
            self.response_id = as_text(payload.get("responseId"), "responseId")
        error = payload.get("error")
        if error:  # whatever the chunk also carries goes on the error as its partial delta
            if values:
                values["id"] = self.response_id
            raise self.provider_error(*_error_info(error), carried=values)
        if early:
            return [*early, *self.deltas(values)]
        return self.deltas(values)

    def _candidate(self, candidate: dict[str, Any], values: dict[str, Any]) -> list[ChatResponse]:
        """Fill ``values`` from the candidate; the deltas that must come first (text before a
        code execution part of the same chunk) are returned."""
        text: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCall] = []
        parts: list[ContentPart] = []
        early: list[ChatResponse] = []
        content = as_object(candidate.get("content"), "candidate content")
        for part in as_list(content.get("parts"), "content parts"):
            part = as_object(part, "part")
            signature = as_text(part.get("thoughtSignature"), "thoughtSignature")
            call = part.get("functionCall")
            if call is not None:
                self._function_call(as_object(call, "functionCall"), signature, calls)
                continue
            if "executableCode" in part or "codeExecutionResult" in part:
                if text or thoughts:  # the text before it comes first
                    early.extend(self.deltas(_texts(text, thoughts)))
                    text, thoughts = [], []
                parts.append(self._code_part(part))
                early.extend(self.deltas({"parts": tuple(parts)}))
                parts.clear()
                continue
            if signature:
                values["provider_data"] = {TEXT_SIGNATURE_KEY: signature}
            piece = as_text(part.get("text"), "part text")
            if piece:
                (thoughts if part.get("thought") else text).append(piece)
        values.update(_texts(text, thoughts))
        if calls:
            values["tool_calls"] = tuple(calls)
        grounding = candidate.get("groundingMetadata")
        if grounding:
            parts.extend(self._grounding(as_object(grounding, "groundingMetadata")))
        cited = candidate.get("citationMetadata")
        if cited:
            parts.extend(self._recitations(as_object(cited, "citationMetadata")))
        if parts:
            values["parts"] = tuple(parts)
        finish = candidate.get("finishReason")
        if finish:
            self._saw_finish = True
            values["stop_reason"] = stop_reason(finish, saw_tools=len(self.tool_slots) > 0)
        return early

    def _code_part(self, part: dict[str, Any]) -> ContentPart:
        code = part.get("executableCode")
        if code is not None:
            code = as_object(code, "executableCode")
            self._code_calls += 1
            # pairs the call with its result: unique in the answer, and with its responseId
            made = f"{self.response_id or 'code'}_code_{self._code_calls}"
            self._code_id = as_text(code.get("id"), "executableCode id") or made
            return ServerToolCallPart(
                id=self._code_id,
                name=CODE_EXECUTION,
                input={k: code[k] for k in ("language", "code") if k in code},
                dialect=DIALECT,
                raw=part,
            )
        result = as_object(part.get("codeExecutionResult"), "codeExecutionResult")
        outcome = as_text(result.get("outcome"), "codeExecutionResult outcome")
        return ServerToolResultPart(
            call_id=as_text(result.get("id"), "codeExecutionResult id") or self._code_id,
            name=CODE_EXECUTION,
            content={k: result[k] for k in ("outcome", "output") if k in result},
            is_error=bool(outcome) and outcome != "OUTCOME_OK",
            dialect=DIALECT,
            raw=part,
        )

    def _grounding(self, metadata: dict[str, Any]) -> list[ContentPart]:
        """The Google Search call and result (once per set of queries) and each new citation."""
        out: list[ContentPart] = []
        queries = as_list(metadata.get("webSearchQueries"), "webSearchQueries")
        if queries and tuple(queries) not in self._searched:
            self._searched.add(tuple(queries))
            call_id = f"google_search_{len(self._searched)}"
            data = {"queries": [as_text(q, "webSearchQuery") for q in queries]}
            out.append(
                ServerToolCallPart(
                    id=call_id, name=GOOGLE_SEARCH, input=data, dialect=DIALECT, raw=metadata
                )
            )
            out.append(
                ServerToolResultPart(
                    call_id=call_id,
                    name=GOOGLE_SEARCH,
                    content=metadata,
                    dialect=DIALECT,
                    raw=metadata,
                )
            )
        chunks = [
            as_object(c, "groundingChunk")
            for c in as_list(metadata.get("groundingChunks"), "groundingChunks")
        ]
        used: set[int] = set()
        for support in as_list(metadata.get("groundingSupports"), "groundingSupports"):
            support = as_object(support, "groundingSupport")
            segment = as_object(support.get("segment"), "groundingSupport segment")
            for index in as_list(support.get("groundingChunkIndices"), "groundingChunkIndices"):
                if type(index) is not int or not 0 <= index < len(chunks):
                    raise MalformedData(f"groundingChunkIndices entry out of range: {index!r:.50}")
                used.add(index)
                raw = {"groundingChunk": chunks[index], "groundingSupport": support}
                out.extend(self._citation(chunks[index], segment, raw))
        for index, chunk in enumerate(chunks):
            if index not in used:
                out.extend(self._citation(chunk, {}, {"groundingChunk": chunk}))
        return out

    def _citation(
        self, chunk: dict[str, Any], segment: dict[str, Any], raw: dict[str, Any]
    ) -> list[ContentPart]:
        source = next(
            (as_object(chunk[k], f"groundingChunk {k}") for k in _SOURCES if k in chunk), {}
        )
        return self._cite(
            url=as_text(source.get("uri"), "grounding uri"),
            title=as_text(source.get("title"), "grounding title"),
            cited_text=as_text(segment.get("text"), "segment text"),
            start=_offset(segment.get("startIndex"), "segment startIndex"),
            end=_offset(segment.get("endIndex"), "segment endIndex"),
            raw=raw,
        )

    def _recitations(self, metadata: dict[str, Any]) -> list[ContentPart]:
        out: list[ContentPart] = []
        for source in as_list(metadata.get("citationSources"), "citationSources"):
            source = as_object(source, "citationSource")
            out.extend(
                self._cite(
                    url=as_text(source.get("uri"), "citation uri"),
                    title=as_text(source.get("title"), "citation title"),
                    cited_text="",
                    start=_offset(source.get("startIndex"), "citation startIndex"),
                    end=_offset(source.get("endIndex"), "citation endIndex"),
                    raw=source,
                )
            )
        return out

    def _cite(
        self,
        *,
        url: str,
        title: str,
        cited_text: str,
        start: int | None,
        end: int | None,
        raw: dict[str, Any],
    ) -> list[ContentPart]:
        """A ``CitationPart``, unless the same one came on an earlier chunk (Gemini repeats its
        metadata)."""
        key = (url, title, cited_text, start, end)
        if key in self._cited:
            return []
        self._cited.add(key)
        part = CitationPart(
            url=url,
            title=title,
            cited_text=cited_text,
            start=start,
            end=end,
            dialect=DIALECT,
            raw=raw,
        )
        return [part]

    def _function_call(self, call: dict[str, Any], signature: str, out: list[ToolCall]) -> None:
        name = as_text(call.get("name"), "functionCall name")
        streaming = call.get("willContinue") is True
        pieces = as_list(call.get("partialArgs"), "partialArgs")
        if name:
            if self._open is not None:
                out.append(self._close())
            slot = len(self.tool_slots)
            call_id = as_text(call.get("id"), "functionCall id") or self._new_id(slot)
            self.tool_slots.new_slot(call_id)  # a call of its own, even with a known id
            data = {SIGNATURE_KEY: signature} if signature else None
            args = as_object(call.get("args"), "functionCall args")
            if not streaming and not pieces:
                out.append(_tool_call(slot, call_id, name, json.dumps(args), data))
                return
            out.append(_tool_call(slot, call_id, name, "", data))
            self._open = _StreamedArguments(slot, args)
        if pieces:
            if self._open is None:
                raise MalformedData("partialArgs outside a streamed function call")
            for piece in pieces:
                self._open.add(piece)
        if self._open is not None and not streaming:
            out.append(self._close())

    def _close(self) -> ToolCall:
        assert self._open is not None
        opened, self._open = self._open, None
        return _tool_call(opened.slot, "", "", json.dumps(opened.root), None)


def _error_info(error: Any) -> tuple[str, str]:
    """``(code, message)`` of a Gemini error object: its ``status`` (else ``code``) and message."""
    if isinstance(error, dict):
        code = error.get("status") or str(error.get("code") or "error")
        return str(code), str(error.get("message") or json.dumps(error))
    return "error", str(error)


def _tool_call(
    slot: int, call_id: str, name: str, arguments: str, data: dict[str, Any] | None
) -> ToolCall:
    return new_tool_call(
        {"index": slot, "id": call_id, "name": name, "arguments": arguments, "provider_data": data}
    )


def parse_generate(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming ``generateContent`` answer.

    Raises:
        ProviderStreamError: the body is an error object or not a JSON object.
    """
    parser = GeminiParser(provider=provider)
    return whole_answer(parser, parser.parse_object, payload)


# -- provider ------------------------------------------------------------------------------------


class Gemini(HTTPProvider):
    """Google Gemini (``POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse``).

    Whole function calls get distinct generated ids and are reported as
    ``StopReason.TOOL_CALL`` although the wire says ``STOP``; ``thought: true`` parts are
    ``reasoning``; ``thoughtSignature`` values are kept in ``provider_data`` and sent back with the
    assistant message; the last ``usageMetadata`` wins. The stream is complete at EOF after a chunk
    with a ``finishReason`` (else ``IncompleteStreamError``).

    Args:
        api_key: the API key (``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``), sent as
            ``x-goog-api-key``; never in the URL, errors or reprs.
        model: the default model, e.g. ``"gemini-2.5-flash"`` (a ``models/`` prefix is fine).
        base_url: the API root (default ``https://generativelanguage.googleapis.com``).
        **options: as for [OpenAI][rxchronos.model.OpenAI].

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> gemini = Gemini(api_key="AIza-test", model="gemini-2.5-flash")
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
        >>> chunks = gemini.stream_chat(request)   # cold: sent on subscribe, inside a running loop
    """

    name = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com"

    def _url(self, request: ChatRequest, method: str) -> str:
        model = self.model_of(request).removeprefix("models/")
        return f"{self.base_url}/v1beta/models/{quote(model, safe='')}:{method}"

    def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        """The ``streamGenerateContent`` (or ``generateContent``) POST."""
        headers = {"x-goog-api-key": self.api_key}
        if stream:
            url = self._url(request, "streamGenerateContent") + "?alt=sse"
        else:
            url = self._url(request, "generateContent")
        return HTTPRequest(url, headers, contents_body(request))

    def new_parser(self) -> GeminiParser:
        """A Gemini stream parser."""
        return GeminiParser(provider=self.name)

    def parse_answer(self, payload: Any) -> ChatResponse:
        """A non-streaming ``generateContent`` answer."""
        return parse_generate(payload, provider=self.name)
