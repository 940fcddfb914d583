"""The demo app's HTTP API and event stream, over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from rxchronos.demo import DEMO_QUESTION
from rxchronos.demo import create_app
from rxchronos.demo import demo_provider
from rxchronos.demo._app import _RUNS
from rxchronos.demo._app import STATIC_DIR
from tests.demo.conftest import StartDemo
from tests.demo.conftest import read_until
from tests.demo.conftest import watch

ANSWER_START = "Yes, take the umbrella. The forecast for Paris tomorrow"


async def _start_run(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.post(f"{base}/api/runs") as response:
        assert response.status == 201
        info: dict[str, Any] = await response.json()
    return info


async def _status(http: aiohttp.ClientSession, base: str, session_id: str) -> str:
    async with http.get(f"{base}/api/runs/{session_id}") as response:
        assert response.status == 200
        status: str = (await response.json())["status"]
    return status


async def _settle(http: aiohttp.ClientSession, base: str, session_id: str, status: str) -> None:
    """Wait (by polling the API, not the clock) until the run reports ``status``."""
    for _ in range(500):
        if await _status(http, base, session_id) == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {session_id} never reached {status!r}")


async def test_page_static_files_and_graph(start_demo: StartDemo) -> None:
    base = await start_demo()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/") as response:
            assert response.status == 200
            page = await response.text()
        assert "Start run" in page and 'id="approve"' in page
        for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
            async with http.get(f"{base}/static/{name}") as response:
                assert response.status == 200
                assert kind in response.headers["Content-Type"]
                assert await response.read() == (STATIC_DIR / name).read_bytes()
        async with http.get(f"{base}/api/graph") as response:
            graph = await response.json()
    assert [s["id"] for s in graph["steps"]] == [
        "plan",
        "model",
        "forecast",
        "spots",
        "approve",
        "answer",
    ]
    assert [s.get("parallel") for s in graph["steps"]][2:4] == ["tools", "tools"]
    assert {s["id"]: s["kind"] for s in graph["steps"]}["approve"] == "interrupt"
    assert graph["mermaid"].startswith("flowchart TD")
    assert '[/"approve"/]' in graph["mermaid"]
    assert graph["model"] == "scripted:demo-agent"
    assert graph["question"] == DEMO_QUESTION


async def test_a_run_streams_pauses_and_completes_after_approval(start_demo: StartDemo) -> None:
    base = await start_demo()
    async with aiohttp.ClientSession() as http:
        info = await _start_run(http, base)
        session_id = info["session_id"]
        assert info["events_url"].startswith(f"/runs/{session_id}/events?last_event_id=")
        async with watch(base + info["events_url"], reconnect=False) as stream:
            first = await read_until(stream, "interrupt")
            assert first[0] == {
                "type": "run_started",
                "data": {"session_id": session_id, "question": DEMO_QUESTION},
            }
            types = [m["type"] for m in first]
            assert types[1:3] == ["node_start", "custom"]
            assert types.count("model_chunk") > 10
            chunks = [m["data"]["data"] for m in first if m["type"] == "model_chunk"]
            text = "".join(c.get("content", "") for c in chunks)
            assert text == (
                "Let me check tomorrow's forecast and the picnic spots in Paris before I answer."
            )
            fragments = [f for c in chunks for f in c.get("tool_calls", ())]
            names = [f["name"] for f in fragments if f.get("name")]
            assert names == ["get_forecast", "find_picnic_spots"]  # two tool calls at once
            assert len(fragments) > 4  # the arguments stream in pieces
            args = [
                "".join(f.get("arguments", "") for f in fragments if f.get("index", 0) == i)
                for i in (0, 1)
            ]
            assert args == ['{"city": "Paris", "day": "tomorrow"}', '{"city": "Paris"}']
            branches = [m["data"] for m in first if m["type"] == "node_start"][2:]
            assert [(b["node_id"], b["data"]["tool_call_id"]) for b in branches] == [
                ("forecast", fragments[0]["id"]),
                ("spots", next(f["id"] for f in fragments if f.get("index", 0) == 1)),
            ]
            assert all(m["data"]["session_id"] == session_id for m in first[1:])
            await _settle(http, base, session_id, "paused")

            async with http.post(f"{base}/api/runs/{session_id}/approve") as response:
                assert response.status == 202
            rest = await read_until(stream, "done")
            assert [m["type"] for m in rest][-2:] == ["completed", "done"]
            answer = "".join(
                m["data"]["data"].get("content", "")
                for m in rest
                if m["type"] == "model_chunk" and m["data"]["node_id"] == "answer"
            )
            assert answer.startswith(ANSWER_START)
            assert rest[-2]["data"]["state"]["answer"] == answer
            assert [m async for m in stream] == []  # the server ends the stream after `done`
        await _settle(http, base, session_id, "completed")


async def test_a_late_tab_sees_the_whole_run_and_tabs_see_the_same(start_demo: StartDemo) -> None:
    base = await start_demo()
    async with aiohttp.ClientSession() as http:
        info = await _start_run(http, base)
        session_id = info["session_id"]
        url = base + info["events_url"]
        async with watch(url) as early:
            before = await read_until(early, "interrupt")
            await _settle(http, base, session_id, "paused")
            async with http.get(f"{base}/api/runs/{session_id}") as response:
                joined = await response.json()
            async with watch(base + joined["events_url"]) as late:
                assert await read_until(late, "interrupt") == before
                async with http.post(
                    f"{base}/api/runs/{session_id}/approve", json={"approved": True}
                ) as response:
                    assert response.status == 202
                assert await read_until(late, "done") == await read_until(early, "done")


async def test_declining_skips_the_answer(start_demo: StartDemo) -> None:
    base = await start_demo()
    async with aiohttp.ClientSession() as http:
        info = await _start_run(http, base)
        async with watch(base + info["events_url"]) as stream:
            await read_until(stream, "interrupt")
            await _settle(http, base, info["session_id"], "paused")
            approve = f"{base}/api/runs/{info['session_id']}/approve"
            async with http.post(approve, json={"approved": False}) as response:
                assert response.status == 202
            rest = await read_until(stream, "done")
    assert "model_call" not in [m["type"] for m in rest]
    assert rest[-2]["data"]["state"]["answer"] == "Not approved: no answer was sent."


async def test_errors_of_the_api(start_demo: StartDemo) -> None:
    base = await start_demo()
    async with aiohttp.ClientSession() as http:
        for method, path in (
            ("GET", "/api/runs/nope"),
            ("POST", "/api/runs/nope/approve"),
            ("GET", "/runs/nope/events"),
        ):
            async with http.request(method, base + path) as response:
                assert response.status == 404, path
                assert "no run with session id 'nope'" in await response.text()
        info = await _start_run(http, base)
        approve = f"{base}/api/runs/{info['session_id']}/approve"
        async with watch(base + info["events_url"]) as stream:
            await read_until(stream, "interrupt")
            await _settle(http, base, info["session_id"], "paused")
            for body in ("not json", '{"approved": "yes"}', "[1]"):
                async with http.post(approve, data=body) as response:
                    assert response.status == 400
            async with http.post(approve) as response:
                assert response.status == 202
            async with http.post(approve) as response:  # not paused any more
                assert response.status == 409
                assert "not waiting for approval" in await response.text()
            await read_until(stream, "done")


async def test_two_runs_at_once_stay_apart(start_demo: StartDemo) -> None:
    base = await start_demo(provider=demo_provider(delay=0.001))
    async with aiohttp.ClientSession() as http:
        one, two = await _start_run(http, base), await _start_run(http, base)
        assert one["session_id"] != two["session_id"]
        async with watch(base + one["events_url"]) as a, watch(base + two["events_url"]) as b:
            seen_a = await read_until(a, "interrupt")
            seen_b = await read_until(b, "interrupt")
    assert {m["data"]["session_id"] for m in seen_a[1:]} == {one["session_id"]}
    assert {m["data"]["session_id"] for m in seen_b[1:]} == {two["session_id"]}


async def test_shutdown_with_a_run_in_flight_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    app = create_app(demo_provider(delay=0.05), pace=0)
    runner = web.AppRunner(app, shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with aiohttp.ClientSession() as http:
        info = await _start_run(http, base)
        assert info["status"] == "running"
        async with watch(base + info["events_url"], reconnect=False) as stream:
            await read_until(stream, "model_chunk")  # mid-stream
            await runner.cleanup()
            remaining = [m async for m in stream]
    types = [m["type"] for m in remaining]
    assert "completed" not in types
    assert types[-1] == "cancelled"  # the page is told the run ended, and how
    for _ in range(100):
        if not asyncio.all_tasks() - before - {asyncio.current_task()}:
            break
        await asyncio.sleep(0.01)
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()


def test_create_app_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="pace must not be negative"):
        create_app(pace=-1)


async def test_the_favicon_is_served(start_demo: StartDemo) -> None:
    base = await start_demo()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/favicon.ico") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/svg+xml"
            assert (await response.read()).startswith(b"<svg")
        async with http.get(f"{base}/") as response:
            assert '<link rel="icon" href="/favicon.ico"' in await response.text()


async def test_forgotten_runs_are_freed() -> None:
    """Many runs keep memory bounded: only the remembered runs keep checkpoints."""
    app_runs: list[str] = []
    app = create_app(demo_provider(delay=0), pace=0, max_runs=5, max_running=5)
    runner = web.AppRunner(app, shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with aiohttp.ClientSession() as http:
        for _ in range(40):
            info = await _start_run(http, base)
            await _settle(http, base, info["session_id"], "paused")
            app_runs.append(info["session_id"])
        for old in app_runs[:-5]:
            async with http.get(f"{base}/api/runs/{old}") as response:
                assert response.status == 404
            async with http.get(f"{base}/runs/{old}/events") as response:
                assert response.status == 404
        async with http.post(f"{base}/api/runs/{app_runs[-1]}/approve") as response:
            assert response.status == 202
        await _settle(http, base, app_runs[-1], "completed")
    try:
        store = app[_RUNS].store
        assert store.session_ids() == set(app_runs[-5:])
        kept = [len(await store.list_checkpoints(s)) for s in app_runs[-5:]]
        assert kept[:4] == [4, 4, 4, 4] and kept[4] > 4  # four paused runs, one finished
        assert store.count() == sum(kept)  # nothing of the 35 forgotten runs
    finally:
        await runner.cleanup()


async def test_past_the_running_limit_a_start_gets_429(start_demo: StartDemo) -> None:
    base = await start_demo(provider=demo_provider(delay=0.05), max_running=2)
    async with aiohttp.ClientSession() as http:
        running = [await _start_run(http, base), await _start_run(http, base)]
        async with http.post(f"{base}/api/runs") as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "1"
            assert "the demo runs at most 2 runs at once" in await response.text()
        for info in running:
            await _settle(http, base, info["session_id"], "paused")
        third = await _start_run(http, base)  # paused runs do not count
        await _settle(http, base, third["session_id"], "paused")


async def test_an_approval_body_in_a_bad_encoding_is_a_400(start_demo: StartDemo) -> None:
    base = await start_demo()
    async with aiohttp.ClientSession() as http:
        info = await _start_run(http, base)
        await _settle(http, base, info["session_id"], "paused")
        approve = f"{base}/api/runs/{info['session_id']}/approve"
        for body, content_type, says in (
            (b'{"approved": true, "x": "\xff\xfe"}', "application/json", "not valid utf-8"),
            (b'{"approved": true}', "application/json; charset=no-such-code", "unknown charset"),
            (b'{"approved": NaN}', "application/json", "must be JSON"),
            (b"[" * 100_000, "application/json", "must be JSON"),
        ):
            headers = {"Content-Type": content_type}
            async with http.post(approve, data=body, headers=headers) as response:
                assert response.status == 400, body[:40]
                assert says in await response.text()
        latin = '{"approved": false, "note": "d\u00e9clin\u00e9"}'.encode("latin-1")
        headers = {"Content-Type": "application/json; charset=latin-1"}
        async with http.post(approve, data=latin, headers=headers) as response:
            assert response.status == 202  # a declared charset Python knows is read in it


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_runs": 0}, "max_runs must be a positive integer"),
        ({"max_running": True}, "max_running must be a positive integer"),
        ({"max_runs": 3, "max_running": 4}, "must not exceed max_runs"),
    ],
)
def test_create_app_checks_its_limits(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_app(**options)
