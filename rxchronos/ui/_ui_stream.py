"""The AI SDK's UI message stream: what ``useChat`` (``@ai-sdk/react``) and ``readUIMessageStream``
read.

[`to_ui_message_stream`][rxchronos.ui.to_ui_message_stream] spells a model stream or a graph run as
the stream's parts (plain dicts, one JSON object per SSE ``data:`` line); the routes in
[`rxchronos.ui`][rxchronos.ui] send them with the protocol's header
([`UI_MESSAGE_STREAM_HEADERS`][rxchronos.ui.UI_MESSAGE_STREAM_HEADERS]) and its ``[DONE]``
terminator.

The content parts of an answer have chunks of their own: a citation with a URL is a
``source-url`` chunk, one without (a cited document) a ``source-document`` chunk; a tool call the
provider ran itself (a ``ServerToolCallPart``) is ``tool-input-start`` then
``tool-input-available`` with ``providerExecuted: true``, and its result ``tool-output-available``
(``tool-output-error`` when the provider reports an error) with ``providerExecuted: true``: the
AI SDK keeps the flag on the message's tool part, so the page shows the call and its result and
nothing sends it back as a call for the client to run (``add_chat_route`` leaves such parts out
of the conversation it rebuilds). A reasoning run's signature has no chunk: the AI SDK needs none
to assemble or show the reasoning, and a signature is for the provider, not the page (the
collected answer's ``Message.parts`` keep it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import reactivex

from rxchronos._errors import ArgumentTypeError
from rxchronos.model import CitationPart
from rxchronos.ui._translate import Say
from rxchronos.ui._translate import spoken

__all__ = ["UI_MESSAGE_STREAM_HEADERS", "UIPart", "to_ui_message_stream"]

UIPart = dict[str, Any]
"""One part of the UI message stream, e.g. ``{"type": "text-delta", "id": "b1", "delta": "Hi"}``."""

UI_MESSAGE_STREAM_HEADERS: Mapping[str, str] = {"x-vercel-ai-ui-message-stream": "v1"}
"""The header that tells the AI SDK the body is a UI message stream (besides SSE's own)."""

_FINISH_REASONS = {
    "end": "stop",
    "max_tokens": "length",
    "tool_call": "tool-calls",
    "content_filter": "content-filter",
}


class _UIParts:
    __slots__ = ("_message_id", "_state")

    def __init__(self, message_id: str | None, state: bool) -> None:
        self._message_id = message_id
        self._state = state

    def start(self) -> Iterable[UIPart]:
        if self._message_id is None:
            return ({"type": "start"},)
        return ({"type": "start", "messageId": self._message_id},)

    def say(self, said: Say) -> Iterable[UIPart]:
        kind, a, b, _ = said
        if kind == "text_delta":
            return ({"type": "text-delta", "id": a, "delta": b},)
        if kind == "reasoning_delta":
            return ({"type": "reasoning-delta", "id": a, "delta": b},)
        if kind == "tool_delta":
            return ({"type": "tool-input-delta", "toolCallId": a, "inputTextDelta": b},)
        if kind in _BLOCKS:
            return ({"type": _BLOCKS[kind], "id": a},)
        if kind == "step_start":
            return ({"type": "start-step"},)
        if kind == "step_end":
            return ({"type": "finish-step"},)
        if kind == "tool_start":
            return ({"type": "tool-input-start", "toolCallId": a, "toolName": b},)
        if kind == "tool_end":
            return (_tool_input(a, b, said.c),)
        if kind == "tool_result":
            return ({"type": "tool-output-available", "toolCallId": a, "output": b},)
        if kind == "custom":
            return ({"type": f"data-{a or 'custom'}", "data": b},)
        if kind == "state":
            return ({"type": "data-state", "id": "state", "data": a},) if self._state else ()
        if kind == "source":
            return (_source(a, b),)
        if kind == "server_tool_call":
            return (
                {
                    "type": "tool-input-start",
                    "toolCallId": a,
                    "toolName": b,
                    "providerExecuted": True,
                },
                {
                    "type": "tool-input-available",
                    "toolCallId": a,
                    "toolName": b,
                    "input": said.c,
                    "providerExecuted": True,
                },
            )
        if kind == "server_tool_result":
            if said.c:
                text = b if isinstance(b, str) else json.dumps(b)
                return (
                    {
                        "type": "tool-output-error",
                        "toolCallId": a,
                        "errorText": text,
                        "providerExecuted": True,
                    },
                )
            return (
                {
                    "type": "tool-output-available",
                    "toolCallId": a,
                    "output": b,
                    "providerExecuted": True,
                },
            )
        if kind == "interrupt":
            return (
                {"type": "data-interrupt", "data": {"node": a}},
                {"type": "finish", "finishReason": "other"},
            )
        if kind == "error":
            return ({"type": "error", "errorText": str(a)},)
        if kind == "cancelled":
            return ({"type": "abort", "reason": "the run was cancelled"},)
        if kind == "finish":
            reason = _FINISH_REASONS.get(str(a), "stop") if a is not None else "stop"
            return ({"type": "finish", "finishReason": reason},)
        raise AssertionError(f"unknown Say kind {kind!r}")


_BLOCKS = {
    "text_start": "text-start",
    "text_end": "text-end",
    "reasoning_start": "reasoning-start",
    "reasoning_end": "reasoning-end",
}


def _source(source_id: str, citation: CitationPart) -> UIPart:
    """A ``source-url`` chunk for a citation with a URL, else a ``source-document`` chunk.

    A document citation names no media type: an Anthropic page location cites a PDF
    (``application/pdf``), anything else is ``text/plain`` (what the AI SDK's own OpenAI
    provider says for a file citation). The title is the citation's title, else the document's
    name; ``filename`` is the file's name when the provider gave one (Responses
    ``file_citation``).
    """
    if citation.url:
        if citation.title:
            return {
                "type": "source-url",
                "sourceId": source_id,
                "url": citation.url,
                "title": citation.title,
            }
        return {"type": "source-url", "sourceId": source_id, "url": citation.url}
    raw = citation.raw or {}
    media_type = "application/pdf" if raw.get("type") == "page_location" else "text/plain"
    part: UIPart = {
        "type": "source-document",
        "sourceId": source_id,
        "mediaType": media_type,
        "title": citation.title or citation.document or "cited document",
    }
    filename = raw.get("filename")
    if isinstance(filename, str) and filename:
        part["filename"] = filename
    return part


def _tool_input(call_id: str, name: str, arguments: str) -> UIPart:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError as exc:
        return {
            "type": "tool-input-error",
            "toolCallId": call_id,
            "toolName": name,
            "input": arguments,
            "errorText": f"the arguments of tool call {name!r} are not valid JSON: {exc}",
        }
    return {"type": "tool-input-available", "toolCallId": call_id, "toolName": name, "input": value}


def to_ui_message_stream(
    *, message_id: str | None = None, state: bool = True
) -> Callable[[reactivex.Observable[Any]], reactivex.Observable[UIPart]]:
    """Spell a model stream or a graph run as AI SDK UI message stream parts.

    The source is ``provider.stream_chat(...)`` (``ChatResponse`` deltas) or
    ``runner.stream(...)`` (graph ``StreamEvent``\\ s). The parts are ``start``; per graph node
    ``start-step``/``finish-step``; ``text-start``/``-delta``/``-end`` and
    ``reasoning-start``/``-delta``/``-end`` blocks; ``tool-input-start``/``-delta`` and
    ``tool-input-available`` (or ``tool-input-error`` for arguments that are not JSON) from
    tool-call fragments; ``tool-output-available`` for a result reported with
    [`report_tool_result`][rxchronos.ui.report_tool_result]; from a delta's content parts,
    ``source-url`` / ``source-document`` for a citation and ``tool-input-start``,
    ``tool-input-available`` and ``tool-output-available`` (or ``tool-output-error``) with
    ``providerExecuted: true`` for a tool the provider ran; ``data-<name>`` for ``emit(name,
    data)``; ``data-state`` (one part, id ``state``, updated after every node); ``data-interrupt``
    when the run pauses; ``error``; ``abort`` for a cancelled run; ``finish``. When the source
    fails, the open blocks are closed, an ``error`` part says why, and the error is passed on.

    Args:
        message_id: the assistant message's id in the ``start`` part; ``None``: the client
            picks one.
        state: send the graph state as the ``data-state`` part.

    Returns:
        An operator for ``.pipe(...)``: ``Observable[ChatResponse | StreamEvent]`` to
        ``Observable[dict]``; each subscription has its own bookkeeping.

    Example:
        >>> import asyncio
        >>> from reactivex import operators as ops
        >>> from rxchronos.model import ChatRequest, Message, ScriptedProvider
        >>> from rxchronos.ui import to_ui_message_stream
        >>> provider = ScriptedProvider(["Hello there"], fragment_size=6)
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
        >>> async def main():
        ...     parts = provider.stream_chat(request).pipe(to_ui_message_stream(), ops.to_list())
        ...     return [p["type"] for p in await parts]
        >>> asyncio.run(main())  # doctest: +NORMALIZE_WHITESPACE
        ['start', 'start-step', 'text-start', 'text-delta', 'text-delta', 'text-end', 'finish-step',
         'finish']
    """
    if message_id is not None and not isinstance(message_id, str):
        raise ArgumentTypeError(
            f"message_id must be a str or None, got {type(message_id).__name__}"
        )

    def operator(source: reactivex.Observable[Any]) -> reactivex.Observable[UIPart]:
        return spoken(source, lambda: _UIParts(message_id, state))

    return operator
