"""add_chat_route and add_ag_ui_route over real HTTP: bad requests, resuming, 204s."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from rxchronos.graph import CheckpointStore
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateGraph
from rxchronos.model import Message
from rxchronos.stream import Broker
from rxchronos.ui import add_ag_ui_route
from rxchronos.ui import add_chat_route
from tests.ui.conftest import USER
from tests.ui.conftest import agent_run
from tests.ui.conftest import chat
from tests.ui.conftest import demo_runner
from tests.ui.conftest import read_events
from tests.ui.conftest import scripted_model


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "must be JSON"),
        ("[]", "JSON object"),
        (json.dumps({"messages": [USER]}), '"id"'),
        (json.dumps({"id": "c", "messages": []}), "non-empty list"),
        (json.dumps({"id": "c", "messages": [{"role": "robot", "parts": []}]}), "messages[0].role"),
        (
            json.dumps({"id": "c", "messages": [{"role": "user", "parts": [{"type": "text"}]}]}),
            "parts[0].text",
        ),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
async def test_chat_bad_requests_get_400_saying_what_was_wrong(
    serve: Any, body: str, problem: str
) -> None:
    app = web.Application()
    add_chat_route(app, "/api/chat", provider=scripted_model())
    base = await serve(app)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/chat", data=body) as response,
    ):
        assert response.status == 400
        assert problem in (await response.json())["error"]


async def test_ag_ui_bad_input_gets_400(serve: Any) -> None:
    app = web.Application()
    add_ag_ui_route(app, "/agent", provider=scripted_model())
    base = await serve(app)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/agent", json={"threadId": "t"}) as response,
    ):
        assert response.status == 400
        error = (await response.json())["error"]
        assert "RunAgentInput" in error
        assert "run_id" in error or "runId" in error


async def test_ag_ui_hostile_input_gets_400_saying_what_was_wrong(serve: Any) -> None:
    app = web.Application()
    add_ag_ui_route(app, "/agent", provider=scripted_model())
    base = await serve(app)
    tool = {"name": "f", "description": "", "parameters": ["not", "an", "object"]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/agent", data="[" * 100_000 + "]" * 100_000) as response:
            assert response.status == 400
            assert "nested too deeply" in (await response.json())["error"]
        async with http.post(
            f"{base}/agent", json={**agent_run("t1", "r1"), "tools": [tool]}
        ) as response:
            assert response.status == 400
            assert "tools[0]" in (await response.json())["error"]


def test_exactly_one_source() -> None:
    with pytest.raises(TypeError, match="exactly one"):
        add_chat_route(web.Application(), "/c")
    with pytest.raises(TypeError, match="exactly one"):
        add_ag_ui_route(web.Application(), "/a", provider=scripted_model(), runner=demo_runner())


async def test_chat_frames_carry_broker_ids_and_end_with_done(serve: Any) -> None:
    app = web.Application()
    broker = Broker()
    add_chat_route(app, "/api/chat", provider=scripted_model(), broker=broker)
    base = await serve(app)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/chat", json=chat("c1")) as response,
    ):
        assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
        events = await read_events(response)
    assert events[-1].data == "[DONE]"
    ids = [e.id for e in events]
    assert all(i.startswith(broker.epoch + "-") for i in ids)
    assert len(set(ids)) == len(ids)
    assert json.loads(events[0].data)["type"] == "start"


async def test_chat_resume_with_last_event_id_gives_exactly_the_frames_after_it(serve: Any) -> None:
    app = web.Application()
    add_chat_route(app, "/api/chat", provider=scripted_model(delay=0.02))
    base = await serve(app)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/chat", json=chat("c2")) as response:
            head = await read_events(response, "text-delta", nth=2)  # then the client drops
        url = f"{base}/api/chat/c2/stream"
        async with http.get(url) as response:  # no id: the whole active reply from its start
            whole = await read_events(response)
        async with http.get(url, headers={"Last-Event-ID": head[-1].id}) as response:
            assert response.status == 200
            tail = await read_events(response)
    assert [e.data for e in head + tail] == [e.data for e in whole]
    assert whole[-1].data == "[DONE]"


async def test_chat_resume_204_without_an_active_reply(serve: Any) -> None:
    app = web.Application()
    add_chat_route(app, "/api/chat", provider=scripted_model())
    base = await serve(app)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/chat/nobody/stream") as response:
            assert response.status == 204
        async with http.post(f"{base}/api/chat", json=chat("c3")) as response:
            await read_events(response)
        async with asyncio.timeout(2):
            async with http.get(f"{base}/api/chat/c3/stream") as response:
                assert response.status == 204
        async with http.get(f"{base}/api/chat/c3/stream", headers={"Last-Event-ID": "x-1"}) as r:
            assert r.status == 400
            assert "not a frame of chat" in (await r.json())["error"]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> CheckpointStore:
    """A memory store, and one that saves the state as JSON (the routes' messages must fit)."""
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "chat.db")


async def test_chat_with_runner_resumes_the_paused_run_on_the_next_request(
    serve: Any, store: CheckpointStore
) -> None:
    app = web.Application()
    add_chat_route(app, "/api/chat", runner=demo_runner(store=store))
    base = await serve(app)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/chat", json=chat("s1")) as response:
            first = [json.loads(e.data) for e in await read_events(response) if e.data != "[DONE]"]
        assert first[-2]["type"] == "data-interrupt"
        body = {**chat("s1"), "resume": {"approved": True}}
        async with http.post(f"{base}/api/chat", json=body) as response:
            second = [json.loads(e.data) for e in await read_events(response) if e.data != "[DONE]"]
    text = "".join(p["delta"] for p in second if p["type"] == "text-delta")
    assert text.startswith("Yes, take the umbrella.")
    assert second[-1] == {"type": "finish", "finishReason": "stop"}


async def test_the_conversation_goes_into_a_state_every_store_saves(
    serve: Any, store: CheckpointStore
) -> None:
    def count(state: Any) -> dict[str, Any]:
        return {"asked": Message.model_validate(state["messages"][-1]).content}

    graph = StateGraph("g").add_node("count", count).set_entry_point("count").compile()
    app = web.Application()
    add_chat_route(app, "/api/chat", runner=Runner(graph, store))
    add_ag_ui_route(app, "/agent", runner=Runner(graph, store))
    base = await serve(app)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/chat", json=chat("c1")) as response:
            parts = [json.loads(e.data) for e in await read_events(response) if e.data != "[DONE]"]
        async with http.post(f"{base}/agent", json=agent_run("t1", "r1", "Hi")) as response:
            events = [json.loads(e.data) for e in await read_events(response)]
    assert parts[-1] == {"type": "finish", "finishReason": "stop"}
    assert events[-1] == {"type": "RUN_FINISHED", "threadId": "t1", "runId": "r1"}
    for session, asked in (("c1", "Umbrella?"), ("t1", "Hi")):
        (saved,) = await store.list_checkpoints(session)
        assert saved.state["asked"] == asked
        assert [Message.model_validate(m).role for m in saved.state["messages"]] == ["user"]


async def test_ag_ui_reconnect_reopens_then_carries_exactly_the_missed_events(serve: Any) -> None:
    app = web.Application()
    add_ag_ui_route(app, "/agent", provider=scripted_model(delay=0.02))
    base = await serve(app)
    run = agent_run("t1", "r1")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/agent", json=run) as response:
            head = await read_events(response, "TEXT_MESSAGE_CONTENT", nth=2)
        async with http.post(
            f"{base}/agent", json=run, headers={"Last-Event-ID": head[-1].id}
        ) as r:
            tail = [json.loads(e.data) for e in await read_events(r)]
        async with http.post(f"{base}/agent", json=run) as response:
            whole = [json.loads(e.data) for e in await read_events(response)]
        async with http.post(
            f"{base}/agent", json={**run, "runId": "r9"}, headers={"Last-Event-ID": "x"}
        ) as r:
            assert r.status == 400
    reopened = [e["type"] for e in tail[:3]]
    assert reopened == ["RUN_STARTED", "STEP_STARTED", "TEXT_MESSAGE_START"]
    assert tail[3:] == whole[len(head) :]
    assert whole[-1]["type"] == "RUN_FINISHED"


async def test_ag_ui_with_runner_resumes_the_paused_run_with_the_resolved_payload(
    serve: Any, store: CheckpointStore
) -> None:
    app = web.Application()
    add_ag_ui_route(app, "/agent", runner=demo_runner(store=store))
    base = await serve(app)
    first_run = agent_run("t1", "r1", "Umbrella?")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/agent", json=first_run) as response:
            first = [json.loads(e.data) for e in await read_events(response)]
        paused = first[-1]
        assert paused["type"] == "RUN_FINISHED"
        (interrupt,) = paused["outcome"]["interrupts"]
        cancelled = {"interruptId": interrupt["id"], "status": "cancelled", "payload": {"x": 1}}
        resolved = {
            "interruptId": interrupt["id"],
            "status": "resolved",
            "payload": {"approved": False},
        }
        second_run = {**first_run, "runId": "r2", "resume": [cancelled, resolved]}
        async with http.post(f"{base}/agent", json=second_run) as response:
            second = [json.loads(e.data) for e in await read_events(response)]
    assert second[0] == {"type": "RUN_STARTED", "threadId": "t1", "runId": "r2"}
    snapshot = second[1]["snapshot"]
    assert snapshot["approved"] is False  # the resolved payload, merged
    assert "x" not in snapshot  # a cancelled entry's payload is not
    steps = [e["stepName"] for e in second if e["type"] == "STEP_STARTED"]
    assert steps == ["approve", "answer"]  # resumed at the interrupt, not a new run
    deltas = [op for e in second if e["type"] == "STATE_DELTA" for op in e["delta"]]
    assert {"op": "add", "path": "/answer", "value": "Not approved: no answer was sent."} in deltas
    assert second[-1] == {"type": "RUN_FINISHED", "threadId": "t1", "runId": "r2"}


async def test_both_routes_answer_503_once_their_broker_is_closed(serve: Any) -> None:
    broker = Broker()
    app = web.Application()
    add_chat_route(app, "/api/chat", provider=scripted_model(), broker=broker)
    add_ag_ui_route(app, "/agent", provider=scripted_model(), broker=broker)
    base = await serve(app)
    broker.close()
    run = agent_run("t", "r")
    async with aiohttp.ClientSession() as http:
        for path, body in (("/api/chat", chat("c1")), ("/agent", run)):
            async with http.post(f"{base}{path}", json=body) as response:
                assert response.status == 503, path
                assert await response.json() == {"error": "the server is shutting down"}
