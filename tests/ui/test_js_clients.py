"""Our routes read by the protocols' own JavaScript clients (tests/js): the AI SDK's parser and
readUIMessageStream, and @ag-ui/client's HttpAgent with its event verification; an answer's
content parts (sources, the tools the provider ran) among them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ag_ui.core import RunAgentInput
from aiohttp import web

from rxchronos.ui import add_ag_ui_route
from rxchronos.ui import add_chat_route
from rxchronos.ui._ag_ui_route import ag_ui_messages
from rxchronos.ui._chat_route import ui_messages
from tests.ui.conftest import anthropic_answer
from tests.ui.conftest import demo_runner
from tests.ui.conftest import parts_model
from tests.ui.conftest import run_node
from tests.ui.conftest import scripted_model

USER = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Umbrella?"}]}


def chat_body(chat_id: str) -> str:
    return json.dumps({"id": chat_id, "messages": [USER], "trigger": "submit-message"})


async def chat_app(serve: Any, delay: float) -> str:
    app = web.Application()
    add_chat_route(app, "/api/model", provider=scripted_model(delay=delay))
    add_chat_route(app, "/api/agent", runner=demo_runner(delay=delay))
    return str(await serve(app))


def parts_by_type(message: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for part in message["parts"]:
        found.setdefault(part["type"], []).append(part)
    return found


FIRST_TURN = "Let me check tomorrow's forecast and the picnic spots in Paris before I answer."


async def test_ai_sdk_assembles_text_reasoning_and_tool_input(node: str, serve: Any) -> None:
    base = await chat_app(serve, 0.0)
    out = await run_node(node, "ui_chat.mjs", f"{base}/api/model", chat_body("m1"), "-1")
    assert out["headers"]["x-vercel-ai-ui-message-stream"] == "v1"
    parts = parts_by_type(out["message"])
    assert parts["reasoning"][0]["text"] == "The user wants the weather."
    assert parts["text"][0]["text"] == "Let me look that up for you right now."
    (tool,) = parts["tool-get_forecast"]
    assert tool["state"] == "input-available" and tool["input"] == {"city": "Paris"}


async def test_ai_sdk_assembles_a_graph_run_with_tool_output_and_data(
    node: str, serve: Any
) -> None:
    base = await chat_app(serve, 0.0)
    out = await run_node(node, "ui_chat.mjs", f"{base}/api/agent", chat_body("a1"), "-1")
    parts = parts_by_type(out["message"])
    (tool,) = parts["tool-get_forecast"]
    assert tool["state"] == "output-available"
    assert tool["input"] == {"city": "Paris", "day": "tomorrow"}
    assert tool["output"]["rain_chance"] == 0.7
    (spots,) = parts["tool-find_picnic_spots"]  # the second call, run as a parallel branch
    assert spots["state"] == "output-available" and spots["input"] == {"city": "Paris"}
    assert spots["output"]["spots"][0]["name"] == "Parc des Buttes-Chaumont"
    assert parts["data-plan"][0]["data"]["steps"][0] == "ask the model"
    (state,) = parts["data-state"]  # one part, updated in place after each step
    results = [r["id"] for r in state["data"]["tool_results"]]
    assert results == [tool["toolCallId"], spots["toolCallId"]]
    assert parts["data-interrupt"][0]["data"] == {"node": "approve"}
    assert len(parts["step-start"]) == 4  # plan, model, forecast, spots


@pytest.mark.parametrize("resume", ["last-id", "start"])
async def test_ai_sdk_after_a_disconnect_mid_message(node: str, serve: Any, resume: str) -> None:
    base = await chat_app(serve, 0.01)
    whole = await run_node(node, "ui_chat.mjs", f"{base}/api/agent", chat_body("w"), "-1")
    cut = await run_node(node, "ui_chat.mjs", f"{base}/api/agent", chat_body("c"), "4", resume)
    assert cut["cut"] is True
    if resume == "last-id":  # the parser kept what it had: no frame twice, none missing
        assert len(set(cut["ids"])) == len(cut["ids"]) == len(whole["ids"])
    strip = {"id", "toolCallId", "messageId"}

    def shape(message: dict[str, Any]) -> list[Any]:
        return [
            {k: v for k, v in p.items() if k not in strip and k != "data"} for p in message["parts"]
        ]

    assert shape(cut["message"]) == shape(whole["message"])
    text = parts_by_type(cut["message"])["text"][0]["text"]
    assert text == FIRST_TURN


def run_input(thread_id: str) -> str:
    return json.dumps(
        {
            "threadId": thread_id,
            "runId": "r1",
            "messages": [{"id": "u1", "role": "user", "content": "Umbrella?"}],
            "state": {"mood": "curious"},
        }
    )


async def ag_ui_app(serve: Any, delay: float) -> str:
    app = web.Application()
    add_ag_ui_route(app, "/agent", runner=demo_runner(delay=delay))
    return f"{await serve(app)}/agent"


def check_final(out: dict[str, Any]) -> None:
    user, assistant, *tools = out["messages"]
    assert user["content"] == "Umbrella?"
    assert assistant["content"] == FIRST_TURN
    call, other = assistant["toolCalls"]  # two tool calls at once, run as parallel branches
    assert call["function"]["name"] == "get_forecast"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "day": "tomorrow"}
    assert other["function"]["name"] == "find_picnic_spots"
    by_call = {t["toolCallId"]: json.loads(t["content"]) for t in tools}
    assert by_call[call["id"]]["rain_chance"] == 0.7
    assert by_call[other["id"]]["spots"][0]["name"] == "Parc des Buttes-Chaumont"
    state = out["state"]
    assert state["mood"] == "curious"  # the input's state, merged into the run's
    assert state["plan"][0] == "ask the model"
    assert [r["id"] for r in state["tool_results"]] == [call["id"], other["id"]]


async def test_http_agent_runs_the_graph_with_verification(node: str, serve: Any) -> None:
    url = await ag_ui_app(serve, 0.0)
    out = await run_node(node, "ag_ui_agent.mjs", url, run_input("t1"), "-1")
    assert out["firstError"] is None
    check_final(out)
    assert out["seen"]["first"][0] == "RUN_STARTED" and out["seen"]["first"][-1] == "RUN_FINISHED"


async def test_http_agent_reconnects_mid_message(node: str, serve: Any) -> None:
    url = await ag_ui_app(serve, 0.01)
    whole = await run_node(node, "ag_ui_agent.mjs", url, run_input("t1"), "-1")
    out = await run_node(node, "ag_ui_agent.mjs", url, run_input("t2"), "3")
    assert out["resumedError"] is None, out["resumedError"]
    first, resumed = out["seen"]["first"], out["seen"]["resumed"]
    assert first[-1] == "TEXT_MESSAGE_CONTENT"  # cut inside the message
    assert resumed[:4] == ["RUN_STARTED", "STATE_SNAPSHOT", "STEP_STARTED", "TEXT_MESSAGE_START"]
    contents = first.count("TEXT_MESSAGE_CONTENT") + resumed.count("TEXT_MESSAGE_CONTENT")
    assert contents == whole["seen"]["first"].count("TEXT_MESSAGE_CONTENT")
    check_final(out)


async def parts_app(serve: Any) -> str:
    app = web.Application()
    add_chat_route(app, "/api/chat", provider=parts_model())
    add_ag_ui_route(app, "/agent", provider=parts_model())
    return str(await serve(app))


async def test_ai_sdk_assembles_sources_and_provider_executed_tools(node: str, serve: Any) -> None:
    base = await parts_app(serve)
    out = await run_node(node, "ui_chat.mjs", f"{base}/api/chat", chat_body("p1"), "-1")
    message = out["message"]
    kinds = [p["type"] for p in message["parts"] if p["type"] != "step-start"]
    assert kinds == [
        "reasoning",
        "tool-web_search",
        "text",
        "source-url",
        "tool-list_events",
        "tool-code_execution",
        "text",
    ]
    parts = parts_by_type(message)
    (source,) = parts["source-url"]
    assert source["url"] == "https://weather.example/paris"
    assert source["title"] == "Paris weather - Météo"
    (search,) = parts["tool-web_search"]
    assert search["providerExecuted"] is True and search["state"] == "output-available"
    assert search["input"] == {"query": "weather paris today"}
    assert [r["url"] for r in search["output"]] == [
        "https://weather.example/paris",
        "https://forecast.example/fr/paris",
    ]
    (events,) = parts["tool-list_events"]
    assert events["state"] == "output-available"
    assert events["output"] == [{"type": "text", "text": "Picnic at 13:00"}]
    (code,) = parts["tool-code_execution"]
    assert code["providerExecuted"] is True and code["state"] == "output-error"
    assert json.loads(code["errorText"])["error_code"] == "unavailable"
    # the next turn sends the message back: nothing in it is a call for anyone to answer
    _, answer = ui_messages([USER, message])
    assert answer.tool_calls == ()
    assert answer.content == anthropic_answer().content


async def test_http_agent_sees_citations_and_provider_executed_tools_with_their_results(
    node: str, serve: Any
) -> None:
    base = await parts_app(serve)
    out = await run_node(node, "ag_ui_agent.mjs", f"{base}/agent", run_input("t1"), "-1")
    assert out["firstError"] is None  # HttpAgent verified every event
    (citation,) = out["custom"]
    assert citation == {
        "name": "citation",
        "value": {
            "id": citation["value"]["id"],
            "url": "https://weather.example/paris",
            "title": "Paris weather - Météo",
            "citedText": "Sunny, 24 °C, light wind from the west.",
            "document": "",
            "start": None,
            "end": None,
        },
    }
    messages = out["messages"]
    calls = [c for m in messages if m["role"] == "assistant" for c in m.get("toolCalls", [])]
    assert [c["function"]["name"] for c in calls] == ["web_search", "list_events", "code_execution"]
    assert all(c["metadata"] == {"providerExecuted": True} for c in calls)
    assert json.loads(calls[0]["function"]["arguments"]) == {"query": "weather paris today"}
    results = {m["toolCallId"]: m for m in messages if m["role"] == "tool"}
    assert list(results) == [c["id"] for c in calls]
    assert json.loads(results[calls[1]["id"]]["content"]) == [
        {"type": "text", "text": "Picnic at 13:00"}
    ]
    assert results[calls[2]["id"]]["metadata"] == {"providerExecuted": True, "isError": True}
    assert out["pendingToolCallIds"] == []  # the client has no call of its own to run
    text = "".join(m["content"] for m in messages if m["role"] == "assistant" and m.get("content"))
    assert text == anthropic_answer().content
    # the next run sends the messages back: the provider's tools are not calls to answer
    again = RunAgentInput.model_validate(
        {
            **json.loads(run_input("t1")),
            "runId": "r2",
            "messages": messages,
            "tools": [],
            "context": [],
            "forwardedProps": {},
        }
    )
    sent = ag_ui_messages(again)
    assert [m.role for m in sent if m.tool_calls or m.role == "tool"] == []
