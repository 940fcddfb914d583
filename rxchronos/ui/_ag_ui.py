"""AG-UI: the agent-user interaction protocol that CopilotKit and ``@ag-ui/client`` read.

[`to_ag_ui`][rxchronos.ui.to_ag_ui] spells a model stream or a graph run as AG-UI events, each built
(and so validated) with the official ``ag-ui-protocol`` models. The graph state goes out as one
``STATE_SNAPSHOT`` and then, after each node, a ``STATE_DELTA`` carrying an RFC 6902 JSON Patch
computed with ``jsonpatch``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import jsonpatch
import reactivex
from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)

from rxchronos._errors import ArgumentTypeError
from rxchronos.ui._translate import Say, new_id, spoken

__all__ = ["interrupt_id", "to_ag_ui"]


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
        if kind == "text_delta":
            return (TextMessageContentEvent(message_id=a, delta=b),)
        if kind == "reasoning_delta":
            return (ReasoningMessageContentEvent(message_id=a, delta=b),)
        if kind == "tool_delta":
            return (ToolCallArgsEvent(tool_call_id=a, delta=b),)
        if kind == "text_start":
            self._last_text = a
            return (TextMessageStartEvent(message_id=a, role="assistant"),)
        if kind == "text_end":
            return (TextMessageEndEvent(message_id=a),)
        if kind == "reasoning_start":
            return (ReasoningStartEvent(message_id=a), ReasoningMessageStartEvent(message_id=a))
        if kind == "reasoning_end":
            return (ReasoningMessageEndEvent(message_id=a), ReasoningEndEvent(message_id=a))
        if kind == "tool_start":
            return (
                ToolCallStartEvent(
                    tool_call_id=a, tool_call_name=b or "tool", parent_message_id=self._last_text
                ),
            )
        if kind == "tool_end":
            return (ToolCallEndEvent(tool_call_id=a),)
        if kind == "tool_result":
            content = b if isinstance(b, str) else json.dumps(b)
            return (
                ToolCallResultEvent(
                    message_id=new_id("tool"), tool_call_id=a, content=content, role="tool"
                ),
            )
        if kind == "step_start":
            return (StepStartedEvent(step_name=a),)
        if kind == "step_end":
            return (StepFinishedEvent(step_name=a),)
        if kind == "custom":
            return (CustomEvent(name=a or "custom", value=b),)
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

    def _finished(self, outcome: Any) -> RunFinishedEvent:
        return RunFinishedEvent(thread_id=self._thread_id, run_id=self._run_id, outcome=outcome)

    def _state_event(self, state: Any) -> Iterable[BaseEvent]:
        previous, self._state = self._state, state
        if previous is None:
            return (StateSnapshotEvent(snapshot=state),)
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
    result reported with [`report_tool_result`][rxchronos.ui.report_tool_result]; ``CUSTOM`` for
    ``emit()``; and ``RUN_FINISHED`` (with an ``interrupt`` outcome when the run pauses,
    ``cancelled`` when it was cancelled) or ``RUN_ERROR``. When the source fails, ``RUN_ERROR`` says
    why and the error is passed on.

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
