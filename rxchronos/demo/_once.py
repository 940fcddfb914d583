"""``rxchronos demo --once``: the sample agent run headless, its event stream printed as it happens.

The interrupt is approved automatically, so the run goes from ``plan`` to ``completed`` without a
person; every event of both runs (the first, which pauses, and the resume) is printed, one line
each.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import TextIO

from rxchronos.demo._agent import DEMO_QUESTION
from rxchronos.demo._agent import STEPS
from rxchronos.demo._agent import build_agent
from rxchronos.demo._agent import initial_state
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import RunState
from rxchronos.graph import RunStatus
from rxchronos.graph import StreamEvent
from rxchronos.model import Provider

__all__ = ["describe_event", "run_once"]


async def run_once(
    provider: Provider,
    *,
    out: TextIO,
    question: str = DEMO_QUESTION,
    pace: float = 0.0,
    session_id: str = "demo",
) -> RunState:
    """Run the sample agent once, approving its interrupt; print every event to ``out``.

    Args:
        provider: the model the agent asks.
        out: where to print.
        question: what the user asks.
        pace: seconds the non-model nodes pretend to work.
        session_id: the run's session id.

    Returns:
        How the run ended (``completed``, unless a node failed: then ``NodeError`` is raised).

    Example:
        >>> import asyncio, io
        >>> from rxchronos.demo import demo_provider, run_once
        >>> out = io.StringIO()
        >>> asyncio.run(run_once(demo_provider(delay=0), out=out)).status
        <RunStatus.COMPLETED: 'completed'>
        >>> out.getvalue().splitlines()[-1]
        'run completed'
    """
    runner = Runner(build_agent(provider, pace=pace), MemoryStore())
    print(f"graph {runner.graph.graph_id}: {_diagram()}   (* pauses for approval)", file=out)
    print(f"model: {provider.name}:{provider.model}", file=out)
    print(f"question: {question}", file=out, flush=True)
    subscription = runner.events.subscribe(lambda event: _print(event, out))
    try:
        result = await runner.run(session_id, initial_state(question))
        if result.status is RunStatus.PAUSED:
            print(f"-- paused before {result.node_id!r}: approving automatically", file=out)
            result = await runner.resume(session_id, update={"approved": True})
    finally:
        subscription.dispose()
    print(f"answer: {result.state.get('answer', '')}", file=out)
    print(f"run {result.status}", file=out, flush=True)
    return result


def _diagram() -> str:
    """The steps in order, parallel branches in parentheses: ``a -> (b | c) -> d*``."""
    columns: list[list[str]] = []
    together: list[str | None] = []
    for step in STEPS:
        name = step["id"] + ("*" if step["kind"] == "interrupt" else "")
        parallel = step.get("parallel")
        if parallel is not None and together and together[-1] == parallel:
            columns[-1].append(name)
        else:
            columns.append([name])
            together.append(parallel)
    return " -> ".join(c[0] if len(c) == 1 else f"({' | '.join(c)})" for c in columns)


def _print(event: StreamEvent, out: TextIO) -> None:
    print(describe_event(event), file=out, flush=True)


def describe_event(event: StreamEvent) -> str:
    """One line about ``event``: its number, type, node and what it says.

    Example:
        >>> from rxchronos.graph import StreamEvent
        >>> describe_event(StreamEvent(type="edge_transition", run_id="r", session_id="s", seq=3,
        ...     node_id="plan", data={"from": "plan", "to": "model"}, timestamp=0.0))
        '   3  edge_transition  plan     plan -> model'
    """
    detail = _DETAILS.get(str(event.type), _nothing)(event)
    line = f"{event.seq:>4}  {event.type!s:<16} {event.node_id or '':<8} {detail}"
    return line.rstrip()


def _nothing(event: StreamEvent) -> str:
    return ""


def _data(event: StreamEvent) -> Mapping[str, Any]:
    return event.data or {}


def _chunk(event: StreamEvent) -> str:
    data = _data(event)
    parts = []
    if data.get("content"):
        parts.append(repr(data["content"]))
    for call in data.get("tool_calls") or ():
        head = f"tool call {call.get('index', 0)}"
        if call.get("name"):
            head += f" {call['name']} (id {call.get('id', '')})"
        parts.append(f"{head} {call['arguments']!r}" if call.get("arguments") else head)
    if data.get("stop_reason"):
        parts.append(f"stop: {data['stop_reason']}")
    usage = data.get("usage")
    if usage:
        parts.append(
            f"usage: {usage.get('prompt_tokens', 0)} in, {usage.get('completion_tokens', 0)} out"
        )
    return ", ".join(parts)


def _response(event: StreamEvent) -> str:
    data = _data(event)
    calls = data.get("tool_calls") or ()
    names = ", ".join(f"{c.get('name')}({c.get('arguments')})" for c in calls)
    text = f"{len(data.get('content') or '')} characters of text"
    return f"{text}, tool calls: {names}" if names else text


def _branch(event: StreamEvent) -> str:
    call = _data(event).get("tool_call_id")
    return f"branch {event.task_id}, tool call {call}" if call else ""


_DETAILS: dict[str, Callable[[StreamEvent], str]] = {
    "node_start": _branch,
    "node_end": lambda e: "changed: " + (", ".join(sorted(e.update or {})) or "nothing"),
    "step_end": lambda e: "parallel step done: " + ", ".join(_data(e).get("task_ids") or ()),
    "edge_transition": lambda e: f"{_data(e).get('from')} -> {_data(e).get('to')}",
    "checkpoint": lambda e: f"step {_data(e).get('step')}, next {_data(e).get('next_node')}",
    "custom": lambda e: f"{_data(e).get('type')}: {_data(e).get('data')}",
    "model_call": lambda e: f"{_data(e).get('provider')}:{_data(e).get('model')}",
    "model_chunk": _chunk,
    "model_response": _response,
    "interrupt": lambda e: "paused for approval",
    "error": lambda e: e.error or "",
}
