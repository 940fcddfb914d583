"""The demo's sample agent: plan -> model -> tool -> approval -> answer, as a state graph.

The ``model`` node streams an answer that calls a tool (``get_forecast``), the ``tool`` node runs
it, the ``approve`` node is an interrupt (the run pauses for a human), and the ``answer`` node
streams the final answer from the model. Both model calls happen inside nodes, so their deltas
reach the run's event stream as ``model_chunk`` events without any wiring.

The state stays JSON (messages as dicts) so that every event can be published over SSE.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rxchronos import operators as rxo
from rxchronos._errors import InvalidArgumentError
from rxchronos.graph import CompiledGraph, StateGraph, emit
from rxchronos.model import (
    ChatRequest,
    ChatResponse,
    FunctionDef,
    Message,
    Provider,
    Role,
    ScriptedProvider,
    ScriptedReply,
    ToolCall,
    ToolDefinition,
)
from rxchronos.ui import report_tool_result

__all__ = [
    "DEMO_QUESTION",
    "FORECAST_TOOL",
    "STEPS",
    "build_agent",
    "demo_provider",
    "get_forecast",
    "initial_state",
]

DEMO_QUESTION = "Should I take an umbrella to the picnic in Paris tomorrow?"

STEPS: tuple[Mapping[str, str], ...] = (
    {"id": "plan", "label": "plan", "kind": "node", "about": "decide what to do"},
    {"id": "model", "label": "model", "kind": "model", "about": "text + a tool call"},
    {"id": "tool", "label": "tool", "kind": "tool", "about": "runs get_forecast"},
    {"id": "approve", "label": "approve", "kind": "interrupt", "about": "waits for a human"},
    {"id": "answer", "label": "answer", "kind": "model", "about": "the final answer"},
)
"""The nodes in order, with what the page shows about each."""

FORECAST_TOOL = ToolDefinition(
    function=FunctionDef(
        name="get_forecast",
        description="The weather forecast for a city on a given day.",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "the city, e.g. Paris"},
                "day": {"type": "string", "description": "'today', 'tomorrow' or a date"},
            },
            "required": ["city"],
        },
    )
)

_SYSTEM = (
    "You are a helpful assistant. Use the get_forecast tool for anything about the weather, "
    "then answer in two or three friendly sentences."
)


def get_forecast(city: str, day: str = "tomorrow") -> dict[str, Any]:
    """The demo's tool: a made-up, deterministic forecast (no network).

    Example:
        >>> get_forecast("Paris")["rain_chance"]
        0.7
    """
    return {
        "city": city,
        "day": day,
        "summary": "cloudy morning, light rain from 3 pm",
        "rain_chance": 0.7,
        "high_c": 14,
        "low_c": 8,
    }


def _script(request: ChatRequest) -> ScriptedReply:
    """What the scripted model answers: a tool call first, then an answer from its result."""
    last = request.messages[-1]
    if last.role is Role.TOOL:
        forecast = json.loads(last.content or "{}")
        rain = round(100 * float(forecast.get("rain_chance", 0)))
        city, day = forecast.get("city", "the city"), forecast.get("day", "")
        return ScriptedReply(
            text=(
                f"Yes, take the umbrella. The forecast for {city} {day}: "
                f"{forecast.get('summary', 'unknown')}, a {rain}% chance of rain and a high of "
                f"{forecast.get('high_c', '?')} °C. Plan the picnic for late morning and pack a "
                "light jacket too."
            )
        )
    return ScriptedReply(
        text="Let me check tomorrow's forecast for Paris before I answer.",
        tool_calls=[
            ToolCall(
                name="get_forecast", arguments=json.dumps({"city": "Paris", "day": "tomorrow"})
            )
        ],
    )


def demo_provider(delay: float = 0.05) -> ScriptedProvider:
    """The offline model of the demo: calls ``get_forecast``, then answers from its result.

    Args:
        delay: seconds between deltas (0: as fast as possible).

    Example:
        >>> demo_provider(delay=0).model
        'demo-agent'
    """
    return ScriptedProvider(_script, model="demo-agent", delay=delay, fragment_size=6)


def initial_state(question: str = DEMO_QUESTION) -> dict[str, Any]:
    """The state a demo run starts from.

    Example:
        >>> initial_state("Hi?")["question"]
        'Hi?'
    """
    return {"question": question}


def build_agent(provider: Provider, *, pace: float = 0.0) -> CompiledGraph:
    """The sample agent graph, asking ``provider``.

    Args:
        provider: the model (the demo's `demo_provider`, or any real provider).
        pace: seconds the non-model nodes pretend to work, so a person can follow the diagram.

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import MemoryStore, Runner
        >>> runner = Runner(build_agent(demo_provider(delay=0)), MemoryStore())
        >>> asyncio.run(runner.run("s1", initial_state())).status
        <RunStatus.PAUSED: 'paused'>
        >>> asyncio.run(runner.resume("s1", update={"approved": True})).state["answer"][:23]
        'Yes, take the umbrella.'
    """
    if pace < 0:
        raise InvalidArgumentError(f"pace must not be negative, got {pace!r}")

    async def plan(state: Mapping[str, Any]) -> dict[str, Any]:
        steps = ["ask the model", "run the tool it calls", "get approval", "answer"]
        emit("plan", {"steps": steps})
        await asyncio.sleep(pace)
        messages = [Message(role=Role.SYSTEM, content=_SYSTEM)]
        messages.append(Message(role=Role.USER, content=_question(state)))
        return {"plan": steps, "messages": _dump(messages)}

    async def model(state: Mapping[str, Any]) -> dict[str, Any]:
        reply = await _ask(provider, state["messages"], tools=(FORECAST_TOOL,))
        calls = [call.model_dump(mode="json") for call in reply.tool_calls]
        return {"messages": [*state["messages"], *_dump([reply.to_message()])], "tool_calls": calls}

    async def tool(state: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(pace)
        results = [_run_tool(ToolCall.model_validate(call)) for call in state["tool_calls"]]
        for result in results:  # so that chat frontends show it (rxchronos.ui)
            report_tool_result(result["id"], json.loads(result["content"]))
        messages = [
            Message(role=Role.TOOL, tool_call_id=r["id"], name=r["name"], content=r["content"])
            for r in results
        ]
        return {"messages": [*state["messages"], *_dump(messages)], "tool_results": results}

    def approve(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"approved": bool(state.get("approved", False))}

    async def answer(state: Mapping[str, Any]) -> dict[str, Any]:
        if not state["approved"]:
            return {"answer": "Not approved: no answer was sent."}
        if not state["tool_calls"]:  # the model answered without a tool
            return {"answer": str(state["messages"][-1].get("content") or "")}
        reply = await _ask(provider, state["messages"], tools=(FORECAST_TOOL,))
        return {"answer": reply.content}

    return (
        StateGraph("demo-agent")
        .add_node("plan", plan)
        .add_node("model", model)
        .add_node("tool", tool)
        .add_interrupt_node("approve", approve)
        .add_node("answer", answer)
        .set_entry_point("plan")
        .add_edge("plan", "model")
        .add_edge("model", "tool")
        .add_edge("tool", "approve")
        .add_edge("approve", "answer")
        .set_finish_point("answer")
        .compile()
    )


async def _ask(
    provider: Provider, messages: Sequence[Mapping[str, Any]], *, tools: tuple[ToolDefinition, ...]
) -> ChatResponse:
    """Stream one answer; the deltas reach the run as ``model_chunk`` events on their own."""
    request = ChatRequest(messages=tuple(Message.model_validate(m) for m in messages), tools=tools)
    reply: ChatResponse = await provider.stream_chat(request).pipe(rxo.collect_response())
    return reply


def _question(state: Mapping[str, Any]) -> str:
    """The run's question, or (a chat started through ``rxchronos.ui``) the last user message."""
    if "question" in state:
        return str(state["question"])
    users = [Message.model_validate(m) for m in state.get("messages", ())]
    return next((m.content or "" for m in reversed(users) if m.role is Role.USER), DEMO_QUESTION)


def _run_tool(call: ToolCall) -> dict[str, str]:
    if call.name == FORECAST_TOOL.function.name:
        args = call.parse_arguments()
        content = json.dumps(
            get_forecast(str(args.get("city", "")), str(args.get("day", "tomorrow")))
        )
    else:
        content = json.dumps({"error": f"unknown tool {call.name!r}"})
    return {"id": call.id, "name": call.name, "content": content}


def _dump(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude_defaults=True) for m in messages]
