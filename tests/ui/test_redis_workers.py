"""add_chat_route and add_ag_ui_route on a RedisBroker: a reply started on one worker process is
resumed on another (both real subprocesses on their own ports, one Redis, a namespace per test).

Nothing about a reply is kept in the process that runs it, so worker B answers from the history
worker A published: the AI SDK's resume ``GET`` (from the start, after ``Last-Event-ID``, 204 when
the chat is over) and AG-UI's reconnect ``POST`` (``RUN_STARTED``, what was open, the rest).
The AI SDK's own parser and ``@ag-ui/client``'s ``HttpAgent`` (verification on) read a reply cut
on A and resumed on B. A Redis that is down gets 503 saying so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from rxchronos.sse import ServerSentEvent
from rxchronos.stream import BrokerUnavailableError
from rxchronos.stream import RedisBroker
from rxchronos.ui import add_ag_ui_route
from rxchronos.ui import add_chat_route
from tests.stream.redis_servers import Worker
from tests.stream.redis_servers import drop_namespace
from tests.stream.redis_servers import new_namespace
from tests.stream.redis_servers import private_redis
from tests.stream.redis_servers import shared_url
from tests.stream.redis_servers import worker_processes
from tests.ui.conftest import agent_run
from tests.ui.conftest import chat
from tests.ui.conftest import read_events
from tests.ui.conftest import run_node
from tests.ui.conftest import scripted_model

RUN = agent_run("t1", "r1")


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Worker, Worker]]:
    url, namespace = shared_url(), new_namespace()
    try:
        async with worker_processes("tests.ui.redis_ui_worker", 2, url, namespace) as (a, b):
            yield a, b
    finally:
        drop_namespace(url, namespace)


async def post_chat(
    http: aiohttp.ClientSession,
    worker: Worker,
    chat_id: str,
    until: str | None = None,
    *,
    nth: int = 1,
) -> list[ServerSentEvent]:
    """POST chat ``chat_id`` to ``worker``'s chat route and read the reply's events (with
    ``until``, only up to the ``nth`` event containing it, then the response is released)."""
    async with http.post(f"{worker.base}/api/chat", json=chat(chat_id)) as response:
        return await read_events(response, until, nth=nth)


async def test_a_chat_started_on_one_worker_resumes_on_the_other(
    pair: tuple[Worker, Worker],
) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        head = await post_chat(http, a, "c1", "text-delta", nth=2)  # then the client drops
        url = f"{b.base}/api/chat/c1/stream"

        async def resume(headers: dict[str, str]) -> list[ServerSentEvent]:
            async with http.get(url, headers=headers) as response:
                assert response.status == 200
                assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
                return await read_events(response)

        async with asyncio.timeout(20):  # while the reply is still being written on worker A
            tail, whole = await asyncio.gather(
                resume({"Last-Event-ID": head[-1].id}),
                resume({}),  # no id: the whole active reply, from its start
            )
    assert [e.data for e in head + tail] == [e.data for e in whole]
    assert [e.id for e in head + tail] == [e.id for e in whole]
    assert json.loads(whole[0].data)["type"] == "start" and whole[-1].data == "[DONE]"
    assert len({e.id for e in whole}) == len(whole)
    async with aiohttp.ClientSession() as http:
        for worker in (a, b):  # the chat is over: 204 at once, on either worker
            async with asyncio.timeout(2), http.get(f"{worker.base}/api/chat/c1/stream") as r:
                assert r.status == 204
        async with http.get(
            f"{b.base}/api/chat/c1/stream", headers={"Last-Event-ID": "nonsense-1"}
        ) as r:
            assert r.status == 400


async def test_a_second_reply_of_the_chat_on_the_other_worker_is_the_one_resumed(
    pair: tuple[Worker, Worker],
) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        first = await post_chat(http, a, "c2")
        head = await post_chat(http, b, "c2", "reasoning-delta", nth=1)
        async with asyncio.timeout(20), http.get(f"{a.base}/api/chat/c2/stream") as response:
            whole = await read_events(response)
    assert first[-1].data == whole[-1].data == "[DONE]"
    assert whole[0].id == head[0].id != first[0].id  # the latest reply, from its own start
    assert [e.data for e in whole[: len(head)]] == [e.data for e in head]
    starts = [e for e in whole if e.data != "[DONE]" and json.loads(e.data)["type"] == "start"]
    assert len(starts) == 1


async def test_an_ag_ui_run_started_on_one_worker_reconnects_on_the_other(
    pair: tuple[Worker, Worker],
) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{a.base}/agent", json=RUN) as response:
            head = await read_events(response, "TEXT_MESSAGE_CONTENT", nth=2)

        async def reconnect(headers: dict[str, str]) -> list[dict[str, Any]]:
            async with http.post(f"{b.base}/agent", json=RUN, headers=headers) as response:
                assert response.status == 200
                return [json.loads(e.data) for e in await read_events(response)]

        async with asyncio.timeout(20):  # while the run is still going on worker A
            tail, whole = await asyncio.gather(
                reconnect({"Last-Event-ID": head[-1].id}), reconnect({})
            )
        async with http.post(
            f"{b.base}/agent", json={**RUN, "runId": "r9"}, headers={"Last-Event-ID": head[-1].id}
        ) as response:
            assert response.status == 400
    opened = [json.loads(e.data) for e in head]
    assert [e["type"] for e in tail[:3]] == ["RUN_STARTED", "STEP_STARTED", "TEXT_MESSAGE_START"]
    assert tail[0] == opened[0]  # the run's own RUN_STARTED
    message = next(e for e in opened if e["type"] == "TEXT_MESSAGE_START")
    assert tail[2] == message  # the open message, with its id: the client appends to it
    assert tail[3:] == whole[len(head) :]
    assert whole[: len(head)] == opened
    assert whole[-1]["type"] == "RUN_FINISHED"


async def test_a_redis_that_is_down_gets_503_saying_so(serve: Any) -> None:
    with private_redis() as redis_server:
        broker = RedisBroker(redis_server.url, namespace=new_namespace(), close_timeout=0.5)
        await broker.start()
        app = web.Application()
        add_chat_route(app, "/api/chat", provider=scripted_model(), broker=broker)
        add_ag_ui_route(app, "/agent", provider=scripted_model(), broker=broker)
        base = await serve(app)
        redis_server.stop()
        async with aiohttp.ClientSession() as http, asyncio.timeout(30):
            for method, path, body in (
                ("POST", "/api/chat", chat("c9")),
                ("GET", "/api/chat/c9/stream", None),
                ("POST", "/agent", RUN),
            ):
                async with http.request(method, f"{base}{path}", json=body) as response:
                    assert response.status == 503, path
                    error = (await response.json())["error"]
                    assert redis_server.url in error, error
        with pytest.raises(BrokerUnavailableError, match="could not be stored"):
            await broker.aclose()  # what the refused chat had begun to publish


async def test_the_ai_sdk_reads_a_reply_cut_on_one_worker_and_resumed_on_the_other(
    node: str, pair: tuple[Worker, Worker]
) -> None:
    a, b = pair
    body = json.dumps(chat("c5"))
    out = await run_node(
        node, "ui_chat.mjs", f"{a.base}/api/chat", body, "4", "last-id", f"{b.base}/api/chat"
    )
    assert out["cut"] is True
    assert len(set(out["ids"])) == len(out["ids"])  # no frame twice
    parts = out["message"]["parts"]
    assert [p["text"] for p in parts if p["type"] == "text"] == [
        "Let me look that up for you right now."
    ]
    assert [p["text"] for p in parts if p["type"] == "reasoning"] == ["The user wants the weather."]
    (tool,) = [p for p in parts if p["type"] == "tool-get_forecast"]
    assert tool["input"] == {"city": "Paris"} and tool["state"] == "input-available"


async def test_http_agent_cut_on_one_worker_reconnects_to_the_other_with_verification(
    node: str, pair: tuple[Worker, Worker]
) -> None:
    a, b = pair
    out = await run_node(
        node, "ag_ui_agent.mjs", f"{a.base}/agent", json.dumps(RUN), "3", f"{b.base}/agent"
    )
    assert out["firstError"] is None and out["resumedError"] is None, out
    first, resumed = out["seen"]["first"], out["seen"]["resumed"]
    assert first[-1] == "TEXT_MESSAGE_CONTENT"  # cut inside the message
    assert resumed[:3] == ["RUN_STARTED", "STEP_STARTED", "TEXT_MESSAGE_START"]
    assert resumed[-1] == "RUN_FINISHED"
    roles = [m["role"] for m in out["messages"]]
    assert roles == ["user", "reasoning", "assistant"], roles
    user, reasoning, assistant = out["messages"]
    assert user["content"] == "Hi" and reasoning["content"] == "The user wants the weather."
    assert assistant["content"] == "Let me look that up for you right now."
    (call,) = assistant["toolCalls"]
    assert call["function"]["name"] == "get_forecast"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
