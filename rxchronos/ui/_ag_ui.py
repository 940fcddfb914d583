"""AG-UI: the agent-user interaction protocol that CopilotKit and ``@ag-ui/client`` read.

[`to_ag_ui`][rxchronos.ui.to_ag_ui] spells a model stream or a graph run as AG-UI events, each an
instance of the official ``ag-ui-protocol`` models. The graph state goes out as one
``STATE_SNAPSHOT`` and then, after each node, a ``STATE_DELTA`` carrying an RFC 6902 JSON Patch
computed with ``jsonpatch``.

The events whose fields are plain strings and JSON values, made from what the translator already
checked (the per-token ``*_CONTENT``/``ARGS`` events, block and step starts and ends, ``CUSTOM``,
the snapshot), are built without validation by ``rxchronos._construct.constructor``
(a token costs a fraction of a microsecond instead of two); the others (``RUN_*``, the patch of
``STATE_DELTA`` with its operation models, tool calls and results) are validated. ``tests/ui``
checks that both kinds equal what validating the same values builds.

The content parts of an answer, and why they take these events:

- A citation (``CitationPart``) has no event type in AG-UI. The protocol's extension point for
  what it does not model is ``CUSTOM`` (``name`` and any JSON ``value``), so a citation is
  ``CUSTOM`` with ``name="citation"`` and ``value`` ``{"id", "url", "title", "citedText",
  "document", "start", "end"}`` (``start``/``end`` are ``null`` when the provider gave no span).
  ``HttpAgent`` hands ``CUSTOM`` events to its subscribers' ``onCustomEvent`` and keeps nothing
  of them in its messages.
- A tool the provider ran itself (``ServerToolCallPart``) is a tool the agent ran, which AG-UI
  shows as ``TOOL_CALL_START``/``ARGS``/``END`` followed by ``TOOL_CALL_RESULT`` (its "backend
  tool"): the call joins the assistant message's ``toolCalls`` and the result is a ``tool``
  message after it. A client runs only the calls left without a result: ``@ag-ui/client``
  computes a run's ``pendingToolCallIds`` as the calls started minus those a
  ``TOOL_CALL_RESULT`` answered, and the result (``ServerToolResultPart``) comes in the same
  run. The events carry ``metadata`` ``{"providerExecuted": true}`` (and ``"isError": true`` on
  a result the provider reports as an error); the client merges an event's metadata into the
  tool call and the tool message it builds, so it comes back with the conversation, and
  ``add_ag_ui_route`` leaves those calls and results out of what it sends the model (the
  provider's own blocks are not in AG-UI messages).
- A reasoning run's signature and ids have no event: AG-UI's ``REASONING_ENCRYPTED_VALUE`` is
  for a client that keeps encrypted reasoning to send back, and a signature is for the
  provider, not the page (the collected answer's ``Message.parts`` keep it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterable
from enum import Enum
from typing import Any
from typing import TypeVar

import jsonpatch
import reactivex
from ag_ui.core import BaseEvent
from ag_ui.core import CustomEvent
from ag_ui.core import Interrupt
from ag_ui.core import ReasoningEndEvent
from ag_ui.core import ReasoningMessageContentEvent
from ag_ui.core import ReasoningMessageEndEvent
from ag_ui.core import ReasoningMessageStartEvent
from ag_ui.core import ReasoningStartEvent
from ag_ui.core import RunErrorEvent
from ag_ui.core import RunFinishedCancelledOutcome
from ag_ui.core import RunFinishedEvent
from ag_ui.core import RunFinishedInterruptOutcome
from ag_ui.core import RunStartedEvent
from ag_ui.core import StateDeltaEvent
from ag_ui.core import StateSnapshotEvent
from ag_ui.core import StepFinishedEvent
from ag_ui.core import StepStartedEvent
from ag_ui.core import TextMessageContentEvent
from ag_ui.core import TextMessageEndEvent
from ag_ui.core import TextMessageStartEvent
from ag_ui.core import ToolCallArgsEvent
from ag_ui.core import ToolCallEndEvent
from ag_ui.core import ToolCallResultEvent
from ag_ui.core import ToolCallStartEvent

from rxchronos._construct import constructor
from rxchronos._errors import ArgumentTypeError
from rxchronos.ui._translate import Say
from rxchronos.ui._translate import new_id
from rxchronos.ui._translate import spoken

__all__ = ["CITATION_EVENT", "interrupt_id", "to_ag_ui", "trusted", "wire"]

_E = TypeVar("_E", bound=BaseEvent)


def trusted(model: type[_E]) -> Callable[..., _E]:
    """A function building ``model`` from keyword values that are already right, unvalidated.

    The fields not given get their defaults (every one of them a plain value, checked here).

    Example:
        >>> make = trusted(TextMessageContentEvent)
        >>> event = make(message_id="m1", delta="Hi")
        >>> event == TextMessageContentEvent(message_id="m1", delta="Hi")
        True
    """
    # Every field in the model's order (the given values take their places), so that the
    # instance, and its JSON, is what validating the same values makes.
    template: dict[str, Any] = {}
    aliases: list[tuple[str, str, bool]] = []  # field, JSON key, dropped when None
    for name, field in model.model_fields.items():
        aliases.append(
            (name, field.alias or name, not field.is_required() and field.default is None)
        )
        if field.default_factory is not None:
            raise ArgumentTypeError(f"{model.__name__}.{name} has a default factory")
        template[name] = None if field.is_required() else field.default
    build = constructor(model)
    _WIRE[model] = tuple(aliases)

    def make(**values: Any) -> _E:
        return build({**template, **values})

    return make


_WIRE: dict[type[BaseEvent], tuple[tuple[str, str, bool], ...]] = {}


def wire(event: BaseEvent) -> dict[str, Any]:
    """The event as AG-UI's JSON object: ``event.model_dump(mode="json", by_alias=True)``.

    An event of a kind `trusted` builds holds only strings and JSON values, so its object is
    made straight from its fields (camelCase keys, the optional ones left out when ``None``, in
    the model's order: what the model's own serializer writes, at a tenth of the cost); any
    other event goes through the serializer.

    Example:
        >>> wire(TextMessageContentEvent(message_id="m1", delta="Hi"))
        {'type': 'TEXT_MESSAGE_CONTENT', 'messageId': 'm1', 'delta': 'Hi'}
    """
    keys = _WIRE.get(type(event))
    if keys is None:
        return event.model_dump(mode="json", by_alias=True)
    values = event.__dict__
    out: dict[str, Any] = {}
    for name, key, optional in keys:
        value = values[name]
        if value is not None or not optional:
            out[key] = value.value if isinstance(value, Enum) else value
    return out


_content = trusted(TextMessageContentEvent)
_reasoning_content = trusted(ReasoningMessageContentEvent)
_tool_args = trusted(ToolCallArgsEvent)
_text_start = trusted(TextMessageStartEvent)
_text_end = trusted(TextMessageEndEvent)
_reasoning_start = trusted(ReasoningStartEvent)
_reasoning_message_start = trusted(ReasoningMessageStartEvent)
_reasoning_message_end = trusted(ReasoningMessageEndEvent)
_reasoning_end = trusted(ReasoningEndEvent)
_tool_end = trusted(ToolCallEndEvent)
_step_started = trusted(StepStartedEvent)
_step_finished = trusted(StepFinishedEvent)
_custom = trusted(CustomEvent)
_snapshot = trusted(StateSnapshotEvent)


CITATION_EVENT = "citation"
"""The ``name`` of the ``CUSTOM`` event that carries a citation."""
_PARTS = frozenset({"source", "server_tool_call", "server_tool_result"})
_PROVIDER_EXECUTED = {"providerExecuted": True}
_PROVIDER_ERROR = {"providerExecuted": True, "isError": True}


def interrupt_id(run_id: str, node_id: str) -> str:
    """The id of the AG-UI interrupt for a run paused before ``node_id``."""
    return f"{run_id}:{node_id}"


class _AgUiEvents:
    __slots__ = ("_last_text", "_run_id", "_state", "_thread_id")

    def __init__(self, thread_id: str, run_id: str) -> None:
        self._thread_id = thread_id
        self._run_id = run_id
        self._state: Any = None
        self._last_text: str | None = None

    def start(self) -> Iterable[BaseEvent]:
        return (RunStartedEvent(thread_id=self._thread_id, run_id=self._run_id),)

    def say(self, said: Say) -> Iterable[BaseEvent]:
        kind, a, b, c = said
        if kind in _PARTS:
            return self._part(said)
        if kind == "text_delta":
            return (_content(message_id=a, delta=b),)
        if kind == "reasoning_delta":
            return (_reasoning_content(message_id=a, delta=b),)
        if kind == "tool_delta":
            return (_tool_args(tool_call_id=a, delta=b),)
        if kind == "text_start":
            self._last_text = a
            return (_text_start(message_id=a, role="assistant"),)
        if kind == "text_end":
            return (_text_end(message_id=a),)
        if kind == "reasoning_start":
            return (_reasoning_start(message_id=a), _reasoning_message_start(message_id=a))
        if kind == "reasoning_end":
            return (_reasoning_message_end(message_id=a), _reasoning_end(message_id=a))
        if kind == "tool_start":
            return (
                ToolCallStartEvent(
                    tool_call_id=a, tool_call_name=b or "tool", parent_message_id=self._last_text
                ),
            )
        if kind == "tool_end":
            return (_tool_end(tool_call_id=a),)
        if kind == "tool_result":
            content = b if isinstance(b, str) else json.dumps(b)
            return (
                ToolCallResultEvent(
                    message_id=new_id("tool"), tool_call_id=a, content=content, role="tool"
                ),
            )
        if kind == "step_start":
            return (_step_started(step_name=a),)
        if kind == "step_end":
            return (_step_finished(step_name=a),)
        if kind == "custom":
            return (_custom(name=a or "custom", value=b),)
        if kind == "state":
            return self._state_event(a)
        if kind == "interrupt":
            reason = Interrupt(
                id=interrupt_id(self._run_id, a),
                reason="approval",
                message=f"the run paused before node {a!r}; resume it to continue",
            )
            outcome = RunFinishedInterruptOutcome(interrupts=[reason])
            return (self._finished(outcome),)
        if kind == "error":
            return (RunErrorEvent(message=str(a)),)
        if kind == "cancelled":
            return (self._finished(RunFinishedCancelledOutcome()),)
        if kind == "finish":
            return (self._finished(None),)
        raise AssertionError(f"unknown Say kind {kind!r} ({c!r})")

    def _part(self, said: Say) -> Iterable[BaseEvent]:
        kind, a, b, c = said
        if kind == "source":
            value = {
                "id": a,
                "url": b.url,
                "title": b.title,
                "citedText": b.cited_text,
                "document": b.document,
                "start": b.start,
                "end": b.end,
            }
            return (_custom(name=CITATION_EVENT, value=value),)
        if kind == "server_tool_call":
            return (
                ToolCallStartEvent(
                    tool_call_id=a,
                    tool_call_name=b,
                    parent_message_id=self._last_text,
                    metadata=_PROVIDER_EXECUTED,
                ),
                _tool_args(tool_call_id=a, delta=json.dumps(c)),
                _tool_end(tool_call_id=a),
            )
        content = b if isinstance(b, str) else json.dumps(b)
        return (
            ToolCallResultEvent(
                message_id=new_id("tool"),
                tool_call_id=a,
                content=content,
                role="tool",
                metadata=_PROVIDER_ERROR if c else _PROVIDER_EXECUTED,
            ),
        )

    def _finished(self, outcome: Any) -> RunFinishedEvent:
        return RunFinishedEvent(thread_id=self._thread_id, run_id=self._run_id, outcome=outcome)

    def _state_event(self, state: Any) -> Iterable[BaseEvent]:
        previous, self._state = self._state, state
        if previous is None:
            return (_snapshot(snapshot=state),)
        patch = jsonpatch.make_patch(previous, state).patch
        return (StateDeltaEvent(delta=patch),) if patch else ()


def to_ag_ui(
    thread_id: str, run_id: str
) -> Callable[[reactivex.Observable[Any]], reactivex.Observable[BaseEvent]]:
    """Spell a model stream or a graph run as AG-UI events (``ag_ui.core`` models).

    The source is ``provider.stream_chat(...)`` or ``runner.stream(...)``. The events are
    ``RUN_STARTED``; ``STATE_SNAPSHOT`` with the first state and ``STATE_DELTA`` (RFC 6902
    JSON Patch) after each node that changed it; ``STEP_STARTED``/``STEP_FINISHED`` per node (a
    bare model stream is one step, ``model``); ``TEXT_MESSAGE_START``/``CONTENT``/``END``;
    ``REASONING_START``, ``REASONING_MESSAGE_START``/``CONTENT``/``END``, ``REASONING_END``;
    ``TOOL_CALL_START``/``ARGS``/``END`` from tool-call fragments and ``TOOL_CALL_RESULT`` for a
    result reported with [`report_tool_result`][rxchronos.ui.report_tool_result]; from a delta's
    content parts, ``CUSTOM`` named ``citation`` for a citation and ``TOOL_CALL_START``/``ARGS``/
    ``END`` then ``TOOL_CALL_RESULT`` (metadata ``providerExecuted``) for a tool the provider ran;
    ``CUSTOM`` for ``emit()``; and ``RUN_FINISHED`` (with an ``interrupt`` outcome when the run
    pauses, ``cancelled`` when it was cancelled) or ``RUN_ERROR``. When the source fails,
    ``RUN_ERROR`` says why and the error is passed on.

    Args:
        thread_id: the AG-UI thread (a graph session).
        run_id: the AG-UI run.

    Returns:
        An operator for ``.pipe(...)``; each subscription has its own bookkeeping.

    Example:
        >>> import asyncio
        >>> from reactivex import operators as ops
        >>> from rxchronos.model import ChatRequest, Message, ScriptedProvider
        >>> from rxchronos.ui import to_ag_ui
        >>> provider = ScriptedProvider(["Hello"])
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
        >>> async def main():
        ...     events = provider.stream_chat(request).pipe(to_ag_ui("t1", "r1"), ops.to_list())
        ...     return [e.type.value for e in await events]
        >>> asyncio.run(main())  # doctest: +NORMALIZE_WHITESPACE
        ['RUN_STARTED', 'STEP_STARTED', 'TEXT_MESSAGE_START', 'TEXT_MESSAGE_CONTENT',
         'TEXT_MESSAGE_END', 'STEP_FINISHED', 'RUN_FINISHED']
    """
    for name, value in (("thread_id", thread_id), ("run_id", run_id)):
        if not isinstance(value, str) or not value:
            raise ArgumentTypeError(f"to_ag_ui() needs {name} as a non-empty str, got {value!r}")

    def operator(source: reactivex.Observable[Any]) -> reactivex.Observable[BaseEvent]:
        return spoken(source, lambda: _AgUiEvents(thread_id, run_id))

    return operator
