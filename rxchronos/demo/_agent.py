"""The demo's sample agent: plan -> model -> (forecast | spots) -> approval -> answer.

The ``model`` node streams an answer that calls two tools at once (``get_forecast`` and
``find_picnic_spots``); its route sends each call to the node of its tool as a branch of its own
(``Send(node, call, tool_call_id=call.id)``), so ``forecast`` and ``spots`` run at the same time
and their events carry the tool call's id. The ``approve`` node is an interrupt (the run pauses for
a human), and the ``answer`` node streams the final answer from the model. Both model calls happen
inside nodes, so their deltas reach the run's event stream as ``model_chunk`` events without any
wiring.

The state stays JSON (messages as dicts) so that every event can be published over SSE.
"""

from __future__ import annotations

import asyncio
import json
import operator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from rxchronos import operators as rxo
from rxchronos._errors import InvalidArgumentError
from rxchronos.graph import CompiledGraph
from rxchronos.graph import Send
from rxchronos.graph import StateGraph
from rxchronos.graph import emit
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import FunctionDef
from rxchronos.model import Message
from rxchronos.model import Provider
from rxchronos.model import Role
from rxchronos.model import ScriptedProvider
from rxchronos.model import ScriptedReply
from rxchronos.model import ToolCall
from rxchronos.model import ToolDefinition
from rxchronos.ui import report_tool_result

__all__ = [
    "DEMO_QUESTION",
    "FORECAST_TOOL",
    "SPOTS_TOOL",
    "STEPS",
    "TOOL_NODES",
    "build_agent",
    "demo_provider",
    "find_picnic_spots",
    "get_forecast",
    "initial_state",
]

DEMO_QUESTION = "Should I take an umbrella to the picnic in Paris tomorrow?"

STEPS: tuple[Mapping[str, str], ...] = (
    {"id": "plan", "label": "plan", "kind": "node", "about": "decide what to do"},
    {"id": "model", "label": "model", "kind": "model", "about": "text + two tool calls"},
    {"id": "forecast", "label": "forecast", "kind": "tool", "about": "get_forecast",
     "parallel": "tools"},
    {"id": "spots", "label": "spots", "kind": "tool", "about": "find_picnic_spots",
     "parallel": "tools"},
    {"id": "approve", "label": "approve", "kind": "interrupt", "about": "waits for a human"},
    {"id": "answer", "label": "answer", "kind": "model", "about": "the final answer"},
)  # fmt: skip
"""The nodes in order, with what the page shows about each; consecutive steps with the same
``parallel`` value are branches that run at the same time (drawn side by side)."""

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

SPOTS_TOOL = ToolDefinition(
    function=FunctionDef(
        name="find_picnic_spots",
        description="Picnic spots in a city, with the shelter each one has from rain.",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string", "description": "the city, e.g. Paris"}},
            "required": ["city"],
        },
    )
)

TOOL_NODES: Mapping[str, str] = {"get_forecast": "forecast", "find_picnic_spots": "spots"}
"""The node that runs each tool."""

_SYSTEM = (
    "You are a helpful assistant. Use the get_forecast tool for anything about the weather and "
    "find_picnic_spots for where to go (call both at once when you need both), then answer in "
    "two or three friendly sentences."
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


def find_picnic_spots(city: str) -> dict[str, Any]:
    """The demo's second tool: made-up, deterministic picnic spots (no network).

    Example:
        >>> find_picnic_spots("Paris")["spots"][0]["name"]
        'Parc des Buttes-Chaumont'
    """
    return {
        "city": city,
        "spots": [
            {"name": "Parc des Buttes-Chaumont", "shelter": "the Temple de la Sibylle"},
            {"name": "Jardin du Luxembourg", "shelter": "the trees along the Medici fountain"},
        ],
    }


def _script(request: ChatRequest) -> ScriptedReply:
    """What the scripted model answers: two tool calls first, then an answer from their results."""
    results = {}
    for message in reversed(request.messages):  # the tool results after the last model turn
        if message.role is not Role.TOOL:
            break
        results[message.name] = json.loads(message.content or "{}")
    if results:
        forecast = results.get("get_forecast", {})
        rain = round(100 * float(forecast.get("rain_chance", 0)))
        city, day = forecast.get("city", "the city"), forecast.get("day", "")
        spots = results.get("find_picnic_spots", {}).get("spots") or [{}]
        spot, shelter = spots[0].get("name", "a park"), spots[0].get("shelter", "a roof")
        return ScriptedReply(
            text=(
                f"Yes, take the umbrella. The forecast for {city} {day}: "
                f"{forecast.get('summary', 'unknown')}, a {rain}% chance of rain and a high of "
                f"{forecast.get('high_c', '?')} °C. Plan the picnic for late morning at {spot}, "
                f"where {shelter} gives shelter, and pack a light jacket too."
            )
        )
    return ScriptedReply(
        text="Let me check tomorrow's forecast and the picnic spots in Paris before I answer.",
        tool_calls=[
            ToolCall(
                name="get_forecast", arguments=json.dumps({"city": "Paris", "day": "tomorrow"})
            ),
            ToolCall(name="find_picnic_spots", arguments=json.dumps({"city": "Paris"})),
        ],
    )


def demo_provider(delay: float = 0.05) -> ScriptedProvider:
    """The offline model of the demo: calls both tools at once, then answers from their results.

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
        steps = ["ask the model", "run the tools it calls, at once", "get approval", "answer"]
        emit("plan", {"steps": steps})
        await asyncio.sleep(pace)
        messages = [Message(role=Role.SYSTEM, content=_SYSTEM)]
        messages.append(Message(role=Role.USER, content=_question(state)))
        return {"plan": steps, "messages": _dump(messages)}

    async def model(state: Mapping[str, Any]) -> dict[str, Any]:
        reply = await _ask(provider, state["messages"], tools=_TOOLS)
        calls = [call.model_dump(mode="json") for call in reply.tool_calls]
        unknown = [  # answered at once: no node runs them
            _run_tool(call) for call in reply.tool_calls if call.name not in TOOL_NODES
        ]
        messages = [*state["messages"], *_dump([reply.to_message()])]
        return {"messages": messages, "tool_calls": calls, "tool_results": unknown}

    def branches(state: Mapping[str, Any]) -> list[Send] | str:
        """One branch per tool call, on the node of its tool; none: straight to approval."""
        sends = [
            Send(TOOL_NODES[call["name"]], call, tool_call_id=call["id"])
            for call in state["tool_calls"]
            if call["name"] in TOOL_NODES
        ]
        return sends or "approve"

    async def tool(call: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(pace)
        result = _run_tool(ToolCall.model_validate(call))
        report_tool_result(result["id"], json.loads(result["content"]))  # for chat frontends
        return {"tool_results": [result]}

    def approve(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"approved": bool(state.get("approved", False))}

    async def answer(state: Mapping[str, Any]) -> dict[str, Any]:
        if not state["approved"]:
            return {"answer": "Not approved: no answer was sent."}
        if not state["tool_calls"]:  # the model answered without a tool
            return {"answer": str(state["messages"][-1].get("content") or "")}
        order = [call["id"] for call in state["tool_calls"]]  # as the model asked
        results = sorted(state["tool_results"], key=lambda r: order.index(r["id"]))
        messages = [
            Message(role=Role.TOOL, tool_call_id=r["id"], name=r["name"], content=r["content"])
            for r in results
        ]
        reply = await _ask(provider, [*state["messages"], *_dump(messages)], tools=_TOOLS)
        return {"answer": reply.content}

    return (
        StateGraph("demo-agent", reducers={"tool_results": operator.add})
        .add_node("plan", plan)
        .add_node("model", model)
        .add_node("forecast", tool)
        .add_node("spots", tool)
        .add_interrupt_node("approve", approve)
        .add_node("answer", answer)
        .set_entry_point("plan")
        .add_edge("plan", "model")
        .add_conditional_edge("model", branches, ["forecast", "spots", "approve"])
        .add_edge("forecast", "approve")
        .add_edge("spots", "approve")
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


_TOOLS = (FORECAST_TOOL, SPOTS_TOOL)


def _run_tool(call: ToolCall) -> dict[str, str]:
    if call.name == FORECAST_TOOL.function.name:
        args = call.parse_arguments()
        output = get_forecast(str(args.get("city", "")), str(args.get("day", "tomorrow")))
    elif call.name == SPOTS_TOOL.function.name:
        output = find_picnic_spots(str(call.parse_arguments().get("city", "")))
    else:
        output = {"error": f"unknown tool {call.name!r}"}
    return {"id": call.id, "name": call.name, "content": json.dumps(output)}


def _dump(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude_defaults=True) for m in messages]
