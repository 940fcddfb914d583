"""The Google Gemini dialect: :class:`GeminiParser` and :func:`parse_generate`.

Each SSE event is a whole ``GenerateContentResponse``; only ``candidates[0]`` is read. Normalised:

- ``text`` parts -> ``content``; ``thought: true`` parts -> ``reasoning``;
- a ``functionCall`` part is a whole call with an ``args`` *object* and usually no id: it becomes
  one tool-call fragment with the next slot, a generated unique id (two calls to the same function
  stay apart) and the arguments as JSON text. Its ``thoughtSignature`` is kept in the call's
  ``provider_data["thought_signature"]`` (a signature on a text part goes to the response's
  ``provider_data["gemini_thought_signature"]``), to be sent back unchanged;
- Vertex AI's streamed arguments (``functionCall {name, willContinue: true}``, then ``partialArgs``
  pieces by ``jsonPath``, then an empty ``functionCall`` closing it) become the name fragment first
  and the assembled arguments object as one fragment when the call closes;
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

from rxchronos.model._dialect import ParserBase
from rxchronos.model._event_json import load_object, whole_answer
from rxchronos.model._types import (
    ChatResponse,
    StopReason,
    ToolCall,
    Usage,
    fast_delta,
    token_usage,
)

__all__ = ["SIGNATURE_KEY", "TEXT_SIGNATURE_KEY", "GeminiParser", "parse_generate"]

SIGNATURE_KEY = "thought_signature"
"""``ToolCall.provider_data`` key of a function call's ``thoughtSignature``."""
TEXT_SIGNATURE_KEY = "gemini_thought_signature"
"""``ChatResponse.provider_data`` key of a ``thoughtSignature`` given on a text part."""

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]")


def stop_reason(finish: str, *, saw_tools: bool) -> StopReason:
    """Map a Gemini ``finishReason``; ``STOP`` after tool calls is ``TOOL_CALL``."""
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
    completion = int(raw.get("candidatesTokenCount") or 0) + int(raw.get("thoughtsTokenCount") or 0)
    return token_usage(raw.get("promptTokenCount"), completion, raw.get("totalTokenCount"))


def _new_call_id(slot: int, prefix: str) -> str:
    return f"call_{prefix}_{slot}"


class _StreamedArguments:
    """The arguments object of a Vertex streamed function call, assembled from ``partialArgs``."""

    __slots__ = ("continuing", "root", "slot")

    def __init__(self, slot: int, start: Any) -> None:
        self.slot = slot
        self.root: dict[str, Any] = dict(start) if isinstance(start, dict) else {}
        self.continuing: set[str] = set()  # paths whose string value is still being streamed

    def add(self, piece: dict[str, Any]) -> None:
        path = piece.get("jsonPath") or ""
        steps: list[str | int] = []
        for match in _PATH_STEP.finditer(path, 1 if path.startswith("$") else 0):
            key, index, quoted = match.groups()
            steps.append(int(index) if index is not None else (key if key is not None else quoted))
        if not steps:
            raise ValueError(f"unsupported jsonPath {path!r}")
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
        container.extend([None] * (step + 1 - len(container)))
    container[step] = value


def _child(container: Any, step: str | int, fresh: Any) -> Any:
    if isinstance(container, list) and isinstance(step, int):
        if step >= len(container) or container[step] is None:
            _put(container, step, fresh)
        return container[step]
    return container.setdefault(step, fresh)


class GeminiParser(ParserBase):
    """Pure parser of a Gemini ``streamGenerateContent?alt=sse`` stream (see the module docstring).

    Args:
        provider: the provider name, for error messages.
        new_id: makes the id of a function call that came without one, from its slot (default:
            ``call_<random per stream>_<slot>``).
    """

    __slots__ = ("_new_id", "_open", "_saw_finish")

    def __init__(self, *, provider: str, new_id: Callable[[int], str] | None = None) -> None:
        super().__init__(provider=provider)
        prefix = secrets.token_hex(6)
        self._new_id = new_id or (lambda slot: _new_call_id(slot, prefix))
        self._open: _StreamedArguments | None = None
        self._saw_finish = False

    def end(self) -> list[ChatResponse]:
        """At EOF: complete when a finish reason was seen (a streamed call left open is flushed)."""
        self.finished = self._saw_finish
        if self._open is None:
            return []
        return [fast_delta({"id": self._id, "tool_calls": (self._close(),)})]

    def feed(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one SSE event (a whole ``GenerateContentResponse``)."""
        return self.feed_object(load_object(data, provider=self._provider, event=event))

    def feed_object(self, payload: dict[str, Any]) -> list[ChatResponse]:
        """Parse one ``GenerateContentResponse`` already decoded from JSON."""
        values: dict[str, Any] = {}
        candidates = payload.get("candidates")
        if candidates and isinstance(candidates[0], dict):
            self._candidate(candidates[0], values)
        block = (payload.get("promptFeedback") or {}).get("blockReason")
        if block:
            self._saw_finish = True
            values["stop_reason"] = StopReason.CONTENT_FILTER
        usage = usage_of(payload.get("usageMetadata"))
        if usage is not None:
            values["usage"] = usage
        if values:
            self._id = self._id or payload.get("responseId") or ""
            values["id"] = self._id
        error = payload.get("error")
        if error:  # whatever the chunk also carries goes on the error as its partial delta
            raise self._fail(*_error_info(error), carried=values)
        return [fast_delta(values)] if values else []

    def _candidate(self, candidate: dict[str, Any], values: dict[str, Any]) -> None:
        text: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCall] = []
        for part in (candidate.get("content") or {}).get("parts") or ():
            signature = part.get("thoughtSignature")
            call = part.get("functionCall")
            if call is not None:
                self._function_call(call, signature, calls)
                continue
            if signature:
                values["provider_data"] = {TEXT_SIGNATURE_KEY: signature}
            piece = part.get("text")
            if piece:
                (thoughts if part.get("thought") else text).append(piece)
        if text:
            values["content"] = "".join(text)
        if thoughts:
            values["reasoning"] = "".join(thoughts)
        if calls:
            values["tool_calls"] = tuple(calls)
        finish = candidate.get("finishReason")
        if finish:
            self._saw_finish = True
            values["stop_reason"] = stop_reason(finish, saw_tools=len(self._slots) > 0)

    def _function_call(
        self, call: dict[str, Any], signature: str | None, out: list[ToolCall]
    ) -> None:
        name = call.get("name")
        streaming = call.get("willContinue") is True
        pieces = call.get("partialArgs")
        if name:
            if self._open is not None:
                out.append(self._close())
            slot = len(self._slots)
            call_id = call.get("id") or self._new_id(slot)
            self._slots.slot(None, call_id)
            data = {SIGNATURE_KEY: signature} if signature else None
            if not streaming and not pieces:
                arguments = json.dumps(call.get("args") or {})
                out.append(_tool_call(slot, call_id, name, arguments, data))
                return
            out.append(_tool_call(slot, call_id, name, "", data))
            self._open = _StreamedArguments(slot, call.get("args"))
        if pieces:
            if self._open is None:
                raise self._fail("malformed_event", "partialArgs outside a streamed function call")
            for piece in pieces:
                try:
                    self._open.add(piece)
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise self._fail(
                        "malformed_event", f"bad partialArgs {piece!r:.200}: {exc}"
                    ) from None
        if self._open is not None and not streaming:
            out.append(self._close())

    def _close(self) -> ToolCall:
        assert self._open is not None
        opened, self._open = self._open, None
        return _tool_call(opened.slot, "", "", json.dumps(opened.root), None)


def _error_info(error: Any) -> tuple[str, str]:
    """``(type, message)`` of a Gemini error object: its ``status`` (else ``code``) and message."""
    if isinstance(error, dict):
        kind = error.get("status") or str(error.get("code") or "error")
        return str(kind), str(error.get("message") or json.dumps(error))
    return "error", str(error)


def _tool_call(
    slot: int, call_id: str, name: str, arguments: str, data: dict[str, Any] | None
) -> ToolCall:
    return ToolCall.model_construct(
        index=slot, id=call_id, name=name, arguments=arguments, provider_data=data
    )


def parse_generate(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming ``generateContent`` answer.

    Raises:
        ProviderStreamError: the body is an error object or not a JSON object.
    """
    parser = GeminiParser(provider=provider)
    return whole_answer(payload, parser.feed_object, parser.end, provider=provider)
