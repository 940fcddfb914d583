"""The demo's sample agent and its headless run, on the scripted model and a real HTTP provider."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aiohttp import web

from rxchronos.demo import build_agent
from rxchronos.demo import demo_provider
from rxchronos.demo import initial_state
from rxchronos.demo import run_once
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.model import OpenAI
from rxchronos.model import ScriptedProvider
from rxchronos.model import ScriptedReply
from rxchronos.model import ToolCall


def _sse(*chunks: dict[str, Any]) -> bytes:
    lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def _delta(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def _openai_like(request: web.Request) -> web.StreamResponse:
    """A chat-completions endpoint: a streamed tool call first, an answer once it has a result."""
    body = await request.json()
    request.app[SEEN].append(body)
    if body["messages"][-1]["role"] == "tool":
        result = json.loads(body["messages"][-1]["content"])
        chunks = [
            _delta({"content": "Rain is likely "}),
            _delta({"content": f"({round(result['rain_chance'] * 100)}%)."}),
            _delta({}, finish="stop"),
        ]
    else:
        call = {"index": 0, "id": "call_a", "type": "function"}
        chunks = [
            _delta(
                {"tool_calls": [{**call, "function": {"name": "get_forecast", "arguments": ""}}]}
            ),
            _delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Oslo"'}}]}),
            _delta({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}),
            _delta({}, finish="tool_calls"),
        ]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_sse(*chunks))
    return response


SEEN = web.AppKey("seen", list)


async def test_run_once_on_a_real_http_provider(aiohttp_server: Any) -> None:
    app = web.Application()
    app[SEEN] = []
    app.router.add_post("/v1/chat/completions", _openai_like)
    server = await aiohttp_server(app)
    out = io.StringIO()
    async with OpenAI(
        api_key="sk-test", model="gpt-test", base_url=str(server.make_url("/v1"))
    ) as provider:
        result = await run_once(provider, out=out, question="Umbrella in Oslo?")
    assert result.status is RunStatus.COMPLETED
    assert result.state["answer"] == "Rain is likely (70%)."
    first, second = app[SEEN]
    assert [t["function"]["name"] for t in first["tools"]] == ["get_forecast", "find_picnic_spots"]
    assert first["messages"][-1] == {"role": "user", "content": "Umbrella in Oslo?"}
    assert second["messages"][-2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo"}'
    assert json.loads(second["messages"][-1]["content"])["city"] == "Oslo"
    text = out.getvalue()
    assert "model: openai:gpt-test" in text
    assert "tool call 0 get_forecast (id call_a)" in text
    assert text.splitlines()[-2:] == ["answer: Rain is likely (70%).", "run completed"]


async def test_a_model_that_answers_without_a_tool_is_asked_once() -> None:
    provider = ScriptedProvider(["Sunny, no umbrella needed."])
    runner = Runner(build_agent(provider), MemoryStore())
    assert (await runner.run("s", initial_state())).status is RunStatus.PAUSED
    result = await runner.resume("s", update={"approved": True})
    assert result.state["answer"] == "Sunny, no umbrella needed."
    assert result.state["tool_results"] == []
    assert len(provider.requests) == 1


async def test_an_unknown_tool_gets_an_error_result() -> None:
    call = ToolCall(name="launch_rocket", arguments="{}")
    provider = ScriptedProvider([ScriptedReply(tool_calls=[call]), "Sorry, I cannot."])
    runner = Runner(build_agent(provider), MemoryStore())
    paused = await runner.run("s", initial_state())
    assert json.loads(paused.state["tool_results"][0]["content"]) == {
        "error": "unknown tool 'launch_rocket'"
    }


async def test_the_demo_model_streams_token_by_token() -> None:
    runner = Runner(build_agent(demo_provider(delay=0)), MemoryStore())
    chunks: list[Any] = []
    runner.events.subscribe(lambda e: chunks.append(e) if e.type == "model_chunk" else None)
    await runner.run("s", initial_state())
    await runner.resume("s", update={"approved": True})
    assert len({e.node_id for e in chunks}) == 2
    assert len(chunks) > 40
    assert len([e for e in chunks if e.data.get("tool_calls")]) > 3


async def test_the_two_tool_calls_run_as_parallel_branches_with_their_call_ids() -> None:
    provider = demo_provider(delay=0)
    runner = Runner(build_agent(provider), MemoryStore())
    events: list[Any] = []
    runner.events.subscribe(events.append)
    paused = await runner.run("s", initial_state())
    calls = paused.state["tool_calls"]
    assert [c["name"] for c in calls] == ["get_forecast", "find_picnic_spots"]
    starts = [e for e in events if e.type == "node_start" and e.node_id in ("forecast", "spots")]
    assert [(e.node_id, e.data["tool_call_id"]) for e in starts] == [
        ("forecast", calls[0]["id"]),
        ("spots", calls[1]["id"]),
    ]
    (step,) = [e for e in events if e.type == "step_end"]  # one step ran both, together
    assert list(step.data["task_ids"]) == [e.task_id for e in starts]
    assert [r["id"] for r in paused.state["tool_results"]] == [c["id"] for c in calls]
    assert paused.node_id == "approve"
    done = await runner.resume("s", update={"approved": True})
    asked = provider.requests[-1].messages[-2:]  # the answer's request: both results, in order
    assert [(m.role, m.tool_call_id) for m in asked] == [("tool", c["id"]) for c in calls]
    assert "70% chance of rain" in done.state["answer"]
    assert "Parc des Buttes-Chaumont" in done.state["answer"]


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="pace must not be negative"):
        build_agent(demo_provider(), pace=-0.1)
