"""``add_ag_ui_route``: the server side of AG-UI's ``HttpAgent`` (``POST`` a ``RunAgentInput``).

A reconnect is the same ``POST`` (same thread id and run id) with a ``Last-Event-ID`` header.
``HttpAgent`` verifies every stream from its first event, so the resumed stream starts with the
run's ``RUN_STARTED``, then a ``STATE_SNAPSHOT`` of the state at that id and the ``STEP_STARTED``,
``TEXT_MESSAGE_START``, ``REASONING_*_START`` and ``TOOL_CALL_START`` events of whatever was open
at that id ([`ReopenedRun`][rxchronos.ui.ReopenedRun]), then exactly the events that were missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jsonpatch
import pydantic
from ag_ui.core import RunAgentInput
from aiohttp import web

from rxchronos._errors import validation_problems
from rxchronos.graph import Runner
from rxchronos.model import ChatRequest
from rxchronos.model import FunctionDef
from rxchronos.model import Message
from rxchronos.model import Provider
from rxchronos.model import Role
from rxchronos.model import ToolCall
from rxchronos.model import ToolDefinition
from rxchronos.stream import BrokerProtocol
from rxchronos.ui._ag_ui import to_ag_ui
from rxchronos.ui._ag_ui import wire
from rxchronos.ui._chat_route import BadRequest
from rxchronos.ui._chat_route import check_source
from rxchronos.ui._chat_route import graph_reply
from rxchronos.ui._chat_route import read_json
from rxchronos.ui._resumable import Replies
from rxchronos.ui._resumable import Reply
from rxchronos.ui._resumable import Spelling
from rxchronos.ui._resumable import answering_503
from rxchronos.ui._resumable import json_error

__all__ = ["ReopenedRun", "add_ag_ui_route", "ag_ui_messages"]

_SPELLING = Spelling(
    headers={},
    first="RUN_STARTED",
    done=None,
    failure=lambda why: {"type": "RUN_ERROR", "message": why, "code": "resume_failed"},
)

_OPENS = {
    "STEP_STARTED": ("step", "stepName"),
    "TEXT_MESSAGE_START": ("text", "messageId"),
    "REASONING_START": ("reasoning", "messageId"),
    "REASONING_MESSAGE_START": ("reasoning_message", "messageId"),
    "TOOL_CALL_START": ("tool", "toolCallId"),
}
_CLOSES = {
    "STEP_FINISHED": ("step", "stepName"),
    "TEXT_MESSAGE_END": ("text", "messageId"),
    "REASONING_END": ("reasoning", "messageId"),
    "REASONING_MESSAGE_END": ("reasoning_message", "messageId"),
    "TOOL_CALL_END": ("tool", "toolCallId"),
}


class ReopenedRun:
    """Folds the AG-UI events a client had; says what re-opens the run at the last of them.

    Example:
        >>> run = ReopenedRun()
        >>> for e in ({"type": "RUN_STARTED", "threadId": "t", "runId": "r"},
        ...           {"type": "STATE_SNAPSHOT", "snapshot": {"n": 1}},
        ...           {"type": "STATE_DELTA",
        ...            "delta": [{"op": "replace", "path": "/n", "value": 2}]},
        ...           {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
        ...           {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "Hel"}):
        ...     run.fold(e)
        >>> [(e["type"], e.get("snapshot")) for e in run.reopened()]
        [('RUN_STARTED', None), ('STATE_SNAPSHOT', {'n': 2}), ('TEXT_MESSAGE_START', None)]
    """

    def __init__(self) -> None:
        self._started: dict[str, Any] | None = None
        self._state: Any = None
        self._open: dict[tuple[str, str], dict[str, Any]] = {}

    def fold(self, data: dict[str, Any]) -> None:
        """Take in one event the client had."""
        kind = data["type"]
        if kind == "RUN_STARTED":
            self._started = data
        elif kind == "STATE_SNAPSHOT":
            self._state = data["snapshot"]
        elif kind == "STATE_DELTA":
            self._state = jsonpatch.apply_patch(self._state, data["delta"])
        elif kind in _OPENS:
            what, key = _OPENS[kind]
            self._open[what, str(data[key])] = data
        elif kind in _CLOSES:
            what, key = _CLOSES[kind]
            self._open.pop((what, str(data[key])), None)

    def reopened(self) -> Iterable[dict[str, Any]]:
        """``RUN_STARTED``, the state, then the start of everything still open, in order."""
        if self._started is not None:
            yield self._started
        if self._state is not None:
            yield {"type": "STATE_SNAPSHOT", "snapshot": self._state}
        yield from self._open.values()


def add_ag_ui_route(
    app: web.Application,
    path: str,
    *,
    provider: Provider | None = None,
    runner: Runner | None = None,
    broker: BrokerProtocol | None = None,
) -> web.AbstractRoute:
    """Serve AG-UI's ``HttpAgent`` (and CopilotKit through it) at ``path``.

    ``POST`` takes a ``RunAgentInput`` and streams the run as AG-UI events (see
    [`to_ag_ui`][rxchronos.ui.to_ag_ui]). With ``provider``, the model answers the input's messages
    (with its tools). With ``runner``, the thread id is the graph session: the messages become the
    run's initial state under ``"messages"`` (as [`Message`][rxchronos.model.Message]\\ s dumped to
    JSON objects, which every checkpoint store saves) with the input's ``state`` merged in; an
    input whose ``resume`` answers the interrupt of the thread's paused run resumes it, each
    resolved entry's ``payload`` object merged into the state. Every event goes through
    ``broker`` (a private one when ``None``): the same ``POST`` with a ``Last-Event-ID`` header
    resumes the run after that event, re-opening what was open. A bad request gets 400 with
    ``{"error": ...}``.

    Args:
        app: the application (not yet started).
        path: the route's path, e.g. ``"/agent"``.
        provider: the model that answers (exclusive with ``runner``).
        runner: the graph that answers (exclusive with ``provider``).
        broker: where the events are kept for resuming (any rxchronos broker); the route's state is
            read back from it, so with a [`RedisBroker`][rxchronos.stream.RedisBroker] shared
            by several workers any of them resumes a reply another one started.

    Returns:
        The route.

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.model import ScriptedProvider
        >>> from rxchronos.ui import add_ag_ui_route
        >>> app = web.Application()
        >>> add_ag_ui_route(app, "/agent", provider=ScriptedProvider(["Hi!"])).method
        'POST'
    """
    check_source(provider, runner, "add_ag_ui_route")
    replies = Replies.of_route(app, broker)

    async def post(request: web.Request) -> web.StreamResponse:
        try:
            run_input = _read_input(await read_json(request))
            messages = ag_ui_messages(run_input)
            tools = _tools(run_input) if provider is not None else ()
        except BadRequest as exc:
            return json_error(400, str(exc))
        thread_id, run_id = run_input.thread_id, run_input.run_id
        topic = f"ag-ui:{thread_id}"
        after = request.headers.get("Last-Event-ID") or None
        reply = await replies.find(topic, lambda r: _run_of(r) == run_id)
        if reply is not None:  # a reconnect: the run is already under way (or over)
            if after is not None and after not in reply.ids:
                return json_error(
                    400, f"Last-Event-ID {after[:80]!r} is not an event of run {run_id[:80]!r}"
                )
            return await replies.serve(request, reply, _SPELLING, after=after, reopen=ReopenedRun)
        if after is not None:
            return json_error(
                400, f"run {run_id[:80]!r} of thread {thread_id[:80]!r} is not known here"
            )
        if runner is not None:
            answers: dict[str, Any] | None = None
            if run_input.resume:
                answers = {}
                for entry in run_input.resume:
                    if isinstance(entry.payload, dict) and entry.status == "resolved":
                        answers.update(entry.payload)
            state = dict(run_input.state) if isinstance(run_input.state, dict) else {}
            state["messages"] = messages
            source = await graph_reply(runner, thread_id, state, answers)
        else:
            assert provider is not None
            source = provider.stream_chat(ChatRequest(messages=tuple(messages), tools=tools))
        events = source.pipe(to_ag_ui(thread_id, run_id))
        return await replies.answer(request, topic, events, wire, _SPELLING)

    return app.router.add_post(path, answering_503(post))


def _tools(run_input: RunAgentInput) -> tuple[ToolDefinition, ...]:
    """The input's tools as the model's tool definitions, or `BadRequest` saying which is wrong."""
    tools = []
    for index, tool in enumerate(run_input.tools or ()):
        try:
            function = FunctionDef(
                name=tool.name,
                description=tool.description,
                parameters=tool.parameters or {"type": "object", "properties": {}},
            )
        except pydantic.ValidationError as exc:
            raise BadRequest(f"tools[{index}]: {validation_problems(exc, 'tool')}") from None
        tools.append(ToolDefinition(function=function))
    return tuple(tools)


def _run_of(reply: Reply) -> str | None:
    """The run id of a reply's ``RUN_STARTED`` (its first frame)."""
    first = reply.frames[0].data
    return (
        first.get("runId")
        if isinstance(first, dict) and first.get("type") == "RUN_STARTED"
        else None
    )


def _read_input(body: Any) -> RunAgentInput:
    try:
        return RunAgentInput.model_validate(body)
    except pydantic.ValidationError as exc:
        problems = validation_problems(exc, "body", 5)
        raise BadRequest(f"the body is not an AG-UI RunAgentInput: {problems}") from None


def ag_ui_messages(run_input: RunAgentInput) -> list[Message]:
    """An AG-UI input's messages as rxchronos messages (activity and reasoning ones left out).

    The tool calls the provider ran itself and their results (``metadata``
    ``{"providerExecuted": true}``, as `to_ag_ui` sends them) are left out too: they are not
    calls for anyone to answer, and the provider's own record of them is not in AG-UI messages.

    Raises:
        BadRequest: for content parts other than text.
    """
    out: list[Message] = []
    for i, message in enumerate(run_input.messages):
        raw = message.root if isinstance(message, pydantic.RootModel) else message
        role = getattr(raw, "role", None)
        content = getattr(raw, "content", None)
        if isinstance(content, list):
            texts = [getattr(p, "text", None) for p in content]
            if any(t is None for t in texts):
                raise BadRequest(f"messages[{i}]: only text content parts are supported")
            content = "".join(str(t) for t in texts)
        if role in ("system", "developer"):
            out.append(Message(role=Role.SYSTEM, content=content))
        elif role == "user":
            out.append(Message(role=Role.USER, content=content))
        elif role == "assistant":
            calls = tuple(
                ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
                for c in getattr(raw, "tool_calls", None) or ()
                if not _provider_executed(c)
            )
            out.append(Message(role=Role.ASSISTANT, content=content, tool_calls=calls))
        elif role == "tool" and not _provider_executed(raw):
            out.append(
                Message(role=Role.TOOL, content=content, tool_call_id=raw.tool_call_id)  # type: ignore[union-attr]
            )
    return out


def _provider_executed(item: Any) -> bool:
    metadata = getattr(item, "metadata", None)
    return isinstance(metadata, dict) and metadata.get("providerExecuted") is True
