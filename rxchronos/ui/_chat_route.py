"""``add_chat_route``: the server side of ``useChat``'s default transport.

``POST {path}`` takes ``{"id": <chat id>, "messages": [<UIMessage>...], "trigger": ...}`` and
answers with the reply as a UI message stream; ``GET {path}/{chatId}/stream`` (what
``useChat({resume: true})`` sends after a reload) answers with the chat's active reply from its
start, or 204 when there is none. Both honour ``Last-Event-ID``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import reactivex
from aiohttp import web

from rxchronos._errors import ArgumentTypeError
from rxchronos.graph import Runner
from rxchronos.model import ChatRequest
from rxchronos.model import Message
from rxchronos.model import Provider
from rxchronos.model import Role
from rxchronos.model import ToolCall
from rxchronos.stream import BrokerProtocol
from rxchronos.ui._resumable import Replies
from rxchronos.ui._resumable import Spelling
from rxchronos.ui._resumable import answering_503
from rxchronos.ui._resumable import json_error
from rxchronos.ui._translate import new_id
from rxchronos.ui._ui_stream import UI_MESSAGE_STREAM_HEADERS
from rxchronos.ui._ui_stream import to_ui_message_stream

__all__ = [
    "add_chat_route",
    "check_source",
    "graph_reply",
    "is_paused",
    "read_json",
    "ui_messages",
]

_SPELLING = Spelling(
    headers=dict(UI_MESSAGE_STREAM_HEADERS),
    first="start",
    done=b"[DONE]",
    failure=lambda why: {"type": "error", "errorText": why},
)


class BadRequest(ValueError):
    """What was wrong with a request; answered with 400 and ``{"error": ...}``."""


def check_source(provider: Provider | None, runner: Runner | None, where: str) -> None:
    """Raise ``TypeError`` unless exactly one of ``provider`` and ``runner`` is given."""
    if (provider is None) == (runner is None):
        raise ArgumentTypeError(
            f"{where}() takes exactly one of provider= (a model) or runner= (a graph)"
        )
    if runner is not None and not isinstance(runner, Runner):
        raise ArgumentTypeError(
            f"runner must be a rxchronos.graph.Runner, got {type(runner).__name__}"
        )
    if provider is not None and not callable(getattr(provider, "stream_chat", None)):
        raise ArgumentTypeError(
            f"provider must be a rxchronos.model.Provider, got {type(provider).__name__}"
        )


async def is_paused(runner: Runner, session_id: str) -> bool:
    """Whether the session's latest checkpoint is a pause at an interrupt (its store says so,
    for every worker that shares it)."""
    store = runner.store
    if store is None:
        return False
    latest = await store.latest(session_id)
    return latest is not None and latest.paused


async def graph_reply(
    runner: Runner, session_id: str, state: dict[str, Any], update: dict[str, Any] | None
) -> reactivex.Observable[Any]:
    """The session's paused run resumed with ``update`` merged into its state, when there is an
    ``update`` and the session is paused at an interrupt; else a new run from ``state``.

    ``state["messages"]`` (a list of [`Message`][rxchronos.model.Message]\\ s) goes into the run
    as JSON objects, ``message.model_dump(mode="json", exclude_defaults=True)``: a state every
    checkpoint store can save (``Message.model_validate(m)`` reads one back)."""
    if update is not None and await is_paused(runner, session_id):
        return runner.stream_resume(session_id, update=update)
    messages: list[Message] = state["messages"]
    state["messages"] = [m.model_dump(mode="json", exclude_defaults=True) for m in messages]
    return runner.stream(session_id, state)


def _topic(chat_id: str) -> str:
    return f"ui-chat:{chat_id}"


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, or `BadRequest` saying why not."""
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body must be JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body is JSON nested too deeply to read") from None


def add_chat_route(
    app: web.Application,
    path: str,
    *,
    provider: Provider | None = None,
    runner: Runner | None = None,
    broker: BrokerProtocol | None = None,
) -> web.AbstractRoute:
    """Serve ``useChat`` (AI SDK) at ``path``: ``POST`` a conversation, ``GET`` to resume.

    With ``provider``, the model answers the conversation. With ``runner``, the chat id is the
    graph session: the conversation becomes the run's initial state under ``"messages"`` (as
    [`Message`][rxchronos.model.Message]\\ s dumped to JSON objects, which every checkpoint store
    saves: ``Message.model_validate(m)`` reads one back); when the session's last run paused at
    an interrupt, the next request resumes it, with the body's ``"resume"`` object (if any)
    merged into the state (the run keeps its own ``"messages"``). Replies keep running when the
    client leaves; every frame goes through ``broker`` (a private one when ``None``) so that
    ``GET {path}/{chatId}/stream`` serves the active reply from its start (204 when there is
    none) and a ``Last-Event-ID`` header resumes after that frame. A bad request gets 400 with
    ``{"error": ...}``.

    Args:
        app: the application (not yet started).
        path: the route's path, e.g. ``"/api/chat"`` (``useChat``'s default).
        provider: the model that answers (exclusive with ``runner``).
        runner: the graph that answers (exclusive with ``provider``).
        broker: where the frames are kept for resuming (any rxchronos broker); the route's state is
            read back from it, so with a [`RedisBroker`][rxchronos.stream.RedisBroker] shared
            by several workers any of them resumes a reply another one started.

    Returns:
        The ``POST`` route.

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.model import ScriptedProvider
        >>> from rxchronos.ui import add_chat_route
        >>> app = web.Application()
        >>> route = add_chat_route(app, "/api/chat", provider=ScriptedProvider(["Hi!"]))
        >>> route.method, [r.resource.canonical for r in app.router.routes()][1]
        ('POST', '/api/chat/{chat_id}/stream')
    """
    check_source(provider, runner, "add_chat_route")
    replies = Replies.of_route(app, broker)
    base = path.rstrip("/")

    async def post(request: web.Request) -> web.StreamResponse:
        try:
            chat_id, messages, resume = _read_chat(await read_json(request))
        except BadRequest as exc:
            return json_error(400, str(exc))
        message_id = new_id("msg")
        if runner is not None:
            source = await graph_reply(runner, chat_id, {"messages": messages}, resume)
        else:
            assert provider is not None
            source = provider.stream_chat(ChatRequest(messages=tuple(messages)))
        parts = source.pipe(to_ui_message_stream(message_id=message_id))
        return await replies.answer(request, _topic(chat_id), parts, dict, _SPELLING)

    async def resume(request: web.Request) -> web.StreamResponse:
        chat_id = request.match_info["chat_id"]
        after = request.headers.get("Last-Event-ID") or None
        if after is None:
            reply = await replies.find(_topic(chat_id))
            if reply is None or reply.finished:
                return web.Response(status=204)
        else:
            reply = await replies.find(
                _topic(chat_id), lambda r: after in r.ids or after == r.since
            )
            if reply is None:
                return json_error(
                    400, f"Last-Event-ID {after[:80]!r} is not a frame of chat {chat_id[:80]!r}"
                )
        return await replies.serve(request, reply, _SPELLING, after=after)

    route = app.router.add_post(base or "/", answering_503(post))
    app.router.add_get(f"{base}/{{chat_id}}/stream", answering_503(resume))
    return route


def _read_chat(body: Any) -> tuple[str, list[Message], dict[str, Any]]:
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: {"id": ..., "messages": [...]}')
    chat_id = body.get("id")
    if not isinstance(chat_id, str) or not chat_id:
        raise BadRequest('"id" (the chat id) must be a non-empty string')
    resume = body.get("resume", {})
    if not isinstance(resume, dict):
        raise BadRequest('"resume" must be an object (merged into the state of a paused run)')
    return chat_id, ui_messages(body.get("messages")), resume


def ui_messages(raw: Any) -> list[Message]:
    """The AI SDK's ``UIMessage``\\ s as rxchronos messages.

    Text parts become the content; an assistant's tool parts become its ``tool_calls``, and
    those with an output a ``tool`` message each. Other parts (reasoning, steps, data, files,
    sources, and the tools the provider ran itself: ``providerExecuted``) are not sent back to
    the model.

    Raises:
        BadRequest: saying which message or part is malformed.
    """
    if not isinstance(raw, list) or not raw:
        raise BadRequest('"messages" must be a non-empty list of UI messages')
    out: list[Message] = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}] must be an object")
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise BadRequest(f"messages[{i}].role must be system, user or assistant, got {role!r}")
        parts = message.get("parts")
        if not isinstance(parts, list):
            raise BadRequest(f"messages[{i}].parts must be a list")
        texts: list[str] = []
        calls: list[ToolCall] = []
        results: list[Message] = []
        for j, part in enumerate(parts):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise BadRequest(f'messages[{i}].parts[{j}] must be an object with a "type"')
            kind = part["type"]
            if kind == "text":
                if not isinstance(part.get("text"), str):
                    raise BadRequest(f"messages[{i}].parts[{j}].text must be a string")
                texts.append(part["text"])
            elif (
                role == "assistant"
                and (kind.startswith("tool-") or kind == "dynamic-tool")
                and part.get("providerExecuted") is not True
            ):
                call, result = _tool_part(part, f"messages[{i}].parts[{j}]")
                calls.append(call)
                if result is not None:
                    results.append(result)
        content = "".join(texts) or None
        out.append(Message(role=Role(role), content=content, tool_calls=tuple(calls)))
        out.extend(results)
    return out


def _tool_part(part: Mapping[str, Any], where: str) -> tuple[ToolCall, Message | None]:
    call_id = part.get("toolCallId")
    if not isinstance(call_id, str) or not call_id:
        raise BadRequest(f"{where}.toolCallId must be a non-empty string")
    kind = str(part["type"])
    name = part.get("toolName") if kind == "dynamic-tool" else kind[len("tool-") :]
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{where} names no tool")
    call = ToolCall(id=call_id, name=name, arguments=json.dumps(part.get("input") or {}))
    if part.get("state") != "output-available":
        return call, None
    output = part.get("output")
    content = output if isinstance(output, str) else json.dumps(output)
    return call, Message(role=Role.TOOL, tool_call_id=call_id, name=name, content=content)
