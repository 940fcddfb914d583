"""The ``rxchronos`` command: help, demo, chat and tail, against real local servers.

``main()`` runs its own event loop (``asyncio.run``), so the servers these tests talk to run on a
loop in a background thread (:class:`ThreadServer`). Ctrl-C and the live demo server are tested
in a child process, the way a person uses them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from rxchronos.cli import main
from rxchronos.demo import create_app
from rxchronos.demo import demo_provider
from rxchronos.demo._agent import STEPS
from rxchronos.demo._app import _RUNS
from rxchronos.stream import Broker
from rxchronos.stream import BrokerStats
from rxchronos.stream import Event
from rxchronos.stream.web import add_sse_route

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ThreadServer:
    """An aiohttp server on 127.0.0.1, running on its own loop in a background thread."""

    def __init__(self, routes: dict[tuple[str, str], Handler] | Callable[[], web.Application]):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.routes = routes
        self.runner: web.AppRunner | None = None
        self.url = self._call(self._start())

    def _call(self, coro: Awaitable[str | None]) -> str | None:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)  # type: ignore[arg-type]

    async def _start(self) -> str:
        if callable(self.routes):  # an application factory, called on the server's loop
            app = self.routes()
        else:
            app = web.Application()
            for (method, path), handler in self.routes.items():
                app.router.add_route(method, path, handler)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def _stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def close(self) -> None:
        self._call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


Serve = Callable[[dict[tuple[str, str], Handler] | Callable[[], web.Application]], ThreadServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[ThreadServer] = []

    def start(
        routes: dict[tuple[str, str], Handler] | Callable[[], web.Application],
    ) -> ThreadServer:
        server = ThreadServer(routes)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


# --- an OpenAI-compatible endpoint ---------------------------------------------------------------


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    body = {"id": "c1", "model": "gpt-test", "choices": [{"index": 0, "delta": delta}]}
    body["choices"][0]["finish_reason"] = finish  # type: ignore[index]
    return f"data: {json.dumps(body)}\n\n".encode()


OPENAI_STREAM = b"".join(
    [
        _chunk({"role": "assistant", "content": "It is "}),
        _chunk({"content": "noon."}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_7",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"tz": '}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"CET"}'}}]}),
        _chunk({}, finish="tool_calls"),
        b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":6,'
        b'"total_tokens":15}}\n\n',
        b"data: [DONE]\n\n",
    ]
)


def openai_routes(state: dict[str, object]) -> dict[tuple[str, str], Handler]:
    """``POST /v1/chat/completions`` answering per ``state["mode"]``: "stream", "401" or "hang"."""

    async def completions(request: web.Request) -> web.StreamResponse:
        state["authorization"] = request.headers.get("Authorization")
        state["body"] = await request.json()
        if state["mode"] == "401":
            return web.json_response({"error": {"message": "Incorrect API key"}}, status=401)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if state["mode"] == "stream":
            await response.write(OPENAI_STREAM)
            return response
        await response.write(_chunk({"role": "assistant", "content": "Thinking"}))
        try:  # hang: write keep-alive comments until the client leaves
            while True:
                await asyncio.sleep(0.05)
                await response.write(b": still here\n\n")
        except (ConnectionError, asyncio.CancelledError):
            state["client_left"] = True
            raise
        return response

    return {("POST", "/v1/chat/completions"): completions}


# --- help and usage ------------------------------------------------------------------------------


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: rxchronos" in out
    for command in ("demo", "chat", "tail"):
        assert command in out


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("demo", ["--host", "--port", "--model", "--once", "--delay"]),
        ("chat", ["--model", "--system", "--max-tokens", "prompt"]),
        ("tail", ["--new-only", "--last-event-id", "--json", "--retry", "--max-retries", "url"]),
    ],
)
def test_every_command_has_help(
    command: str, options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: rxchronos {command}" in out
    for option in options:
        assert option in out


def test_python_dash_m_rxchronos_runs_the_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "rxchronos", "--version"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout.startswith("rxchronos ")
    run = subprocess.run(
        [sys.executable, "-m", "rxchronos", "chat", "Hi there"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (run.returncode, run.stdout) == (0, "Hi there\n")


def test_usage_errors_return_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["demo", "--port", "not-a-number"]) == 2
    assert "invalid int value" in capsys.readouterr().err
    assert main(["demo", "--delay", "-1"]) == 2
    assert "must not be negative" in capsys.readouterr().err
    assert main(["chat"]) == 2
    assert "prompt" in capsys.readouterr().err


# --- demo ----------------------------------------------------------------------------------------


def test_demo_once_prints_the_whole_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--once", "--delay", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(
        "graph demo-agent: plan -> model -> (forecast | spots) -> approve* -> answer"
    )
    types = [line.split()[1] for line in lines if line[:4].strip().isdigit()]
    assert types[0] == "node_start"
    assert types.count("model_call") == 2
    assert types.count("model_chunk") > 20
    assert "interrupt" in types and types[-1] == "completed"
    assert any("tool call 0 get_forecast" in line for line in lines)
    assert any("tool call 1 find_picnic_spots" in line for line in lines)
    branches = [line.split()[2:] for line in lines if " node_start " in line and "branch" in line]
    assert [b[:3] for b in branches] == [  # the two calls, as parallel branches of one step
        ["forecast", "branch", "forecast:3:0,"],
        ["spots", "branch", "spots:3:1,"],
    ]
    assert any("parallel step done: forecast:3:0, spots:3:1" in line for line in lines)
    assert "-- paused before 'approve': approving automatically" in lines
    assert lines[-2].startswith("answer: Yes, take the umbrella.")
    assert lines[-1] == "run completed"


def test_demo_with_an_unknown_provider_is_one_clear_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--once", "--model", "nosuch:model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("rxchronos demo: error: unknown provider 'nosuch'")


def test_demo_on_a_busy_port_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}" in err and "--port 0" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], "--workers needs --redis and --postgres"),
        (["--redis", "redis://127.0.0.1:6379/0"], "--redis needs --postgres too"),
        (["--postgres", "postgresql://postgres@127.0.0.1/test"], "--postgres needs --redis too"),
        (
            ["--redis", "redis://h/0", "--postgres", "dbname=x", "--once"],
            "--once runs in the terminal",
        ),
        (
            ["--redis", "redis://h/0", "--postgres", "dbname=x", "--workers", "0"],
            "--workers must be 1 to 64, got 0",
        ),
        (
            ["--redis", "http://user:s3cret@h/0", "--postgres", "dbname=x"],
            "--redis 'http://user@h/0' is not a redis://, rediss:// or unix:// URL",
        ),
    ],
)
def test_demo_worker_flags_that_cannot_work_are_one_clear_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("rxchronos demo: error: ")
    assert message in err
    assert "s3cret" not in err


def test_demo_workers_on_an_unreachable_redis_name_it_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    redis_url = f"redis://:s3cret@127.0.0.1:{port}/0"
    args = ["demo", "--redis", redis_url, "--postgres", "postgresql://postgres@127.0.0.1/test"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"Redis at redis://127.0.0.1:{port}/0 is unreachable" in err
    assert "s3cret" not in err


def _spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rxchronos", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_demo_serves_the_page_and_stops_on_ctrl_c() -> None:
    process = _spawn("demo", "--port", "0")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("rxchronos demo: open http://127.0.0.1:")
        url = line.split()[3]
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
        with direct.open(url) as response:
            page = response.read().decode()
        assert "Start run" in page and "/static/app.js" in page
        with direct.open(url + "api/graph") as response:
            graph = json.load(response)
        assert graph["steps"] == [dict(step) for step in STEPS]
        assert graph["model"] == "scripted:demo-agent"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 0
    assert "rxchronos demo: stopped" in out
    assert "Traceback" not in err


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    process = _spawn("demo", "--once", "--delay", "0.01")
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith("graph demo-agent")
    process.stdout.close()  # like `rxchronos demo --once | head -1`
    assert process.wait(timeout=20) == 1
    assert "Traceback" not in process.stderr.read()
    process.stderr.close()


# --- chat ----------------------------------------------------------------------------------------


def test_chat_on_the_scripted_model_echoes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "Reactive streams, token by token"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "Reactive streams, token by token\n"
    assert captured.err.startswith("[usage] 5 prompt + ")
    assert captured.err.endswith(" tokens, stop: end\n")


def test_chat_streams_text_then_tool_calls_then_usage(
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state: dict[str, object] = {"mode": "stream"}
    server = serve(openai_routes(state))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    status = main(["chat", "What time is it?", "--model", "openai:gpt-test", "--system", "Brief."])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.out == 'It is noon.\n[tool call] get_time({"tz": "CET"})  id=call_7\n'
    assert captured.err == "[usage] 9 prompt + 6 completion = 15 tokens, stop: tool_call\n"
    body = state["body"]
    assert isinstance(body, dict)
    assert body["model"] == "gpt-test" and body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert state["authorization"] == "Bearer sk-test-key"


def test_chat_without_a_key_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["chat", "Hi", "--model", "openai:gpt-4o"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "rxchronos chat: error: openai: no API key found; set OPENAI_API_KEY in the environment\n"
    )


def test_chat_with_an_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "Hi", "--model", "nosuch:model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rxchronos chat: error: unknown provider 'nosuch'")
    assert err.count("\n") == 1


def test_chat_rejected_key_is_reported_without_the_key(
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve(openai_routes({"mode": "401"}))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-123")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    assert main(["chat", "Hi", "--model", "openai:gpt-test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rxchronos chat: error:") and "401" in err
    assert err.count("\n") == 1
    assert "sk-very-secret-123" not in err and "Traceback" not in err


def test_chat_to_an_unreachable_provider(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    assert main(["chat", "Hi", "--model", "openai:gpt-test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rxchronos chat: error:") and err.count("\n") == 1


def test_ctrl_c_cancels_chat_and_closes_the_connection(
    serve: Serve,
) -> None:
    state: dict[str, object] = {"mode": "hang"}
    server = serve(openai_routes(state))
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{server.url}/v1"}
    process = _spawn("chat", "Think hard", "--model", "openai:gpt-test", env=env)
    try:
        assert process.stdout is not None
        assert process.stdout.read(len("Thinking")) == "Thinking"  # the first token arrived
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 130
    assert err.strip() == "rxchronos: cancelled"
    for _ in range(200):  # the server notices at its next keep-alive write
        if state.get("client_left"):
            break
        threading.Event().wait(0.01)
    assert state.get("client_left") is True


# --- tail ----------------------------------------------------------------------------------------


def sse_routes(seen: list[str | None]) -> dict[tuple[str, str], Handler]:
    """``GET /events``: events 1-2 then close; after a reconnect, event 3 then close; then 204."""

    async def events(request: web.Request) -> web.StreamResponse:
        last = request.headers.get("Last-Event-ID")
        seen.append(last)
        frames = {None: b"retry: 10\nid: 1\ndata: one\n\nid: 2\nevent: tick\ndata: two\n\n"}
        frames["2"] = b'id: 3\ndata: {"n": 3}\n\n'
        if last not in frames:
            return web.Response(status=204)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": hello\n\n" + frames[last])
        return response

    async def missing(request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, text="no such\nstream")

    return {("GET", "/events"): events, ("GET", "/missing"): missing}


def test_tail_prints_events_and_reconnects_with_last_event_id(
    serve: Serve,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[str | None] = []
    server = serve(sse_routes(seen))
    assert main(["tail", f"{server.url}/events"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1  message  one",
        "2  tick  two",
        '3  message  {"n": 3}',
    ]
    assert seen == [None, "2", "3"]


def test_tail_json_and_last_event_id(
    serve: Serve,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[str | None] = []
    server = serve(sse_routes(seen))
    assert main(["tail", f"{server.url}/events", "--last-event-id", "2", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": "3", "event": "message", "data": '{"n": 3}'}
    ]
    assert seen == ["2", "3"]


def test_tail_reports_http_errors_in_one_line(
    serve: Serve,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve(sse_routes([]))
    assert main(["tail", f"{server.url}/missing?token=secret"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "HTTP 404" in err and "no such stream" in err
    assert "secret" not in err


def test_tail_unreachable_url(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/events"
    assert main(["tail", url, "--max-retries", "1", "--retry", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rxchronos tail: error: the event stream at {url} could not be read")
    assert err.count("\n") == 1 and "after 2 attempt(s)" in err


@pytest.mark.parametrize("url", ["ftp://example.invalid/x", "not a url", "http://"])
def test_tail_rejects_what_is_not_an_http_url(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail", url]) == 2
    assert "is not an http:// or https:// URL" in capsys.readouterr().err


# --- tail on a run of the demo app ----------------------------------------------------------------


class DemoServer:
    """The demo app in a :class:`ThreadServer`, driven over HTTP as a person's page would."""

    def __init__(self, serve: Serve) -> None:
        self.app = create_app(demo_provider(delay=0), pace=0)
        self.server = serve(lambda: self.app)
        self.http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy

    def call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with self.http.open(request, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
        return answer

    def settle(self, session_id: str, status: str) -> None:
        for _ in range(1000):
            if self.call("GET", f"/api/runs/{session_id}")["status"] == status:
                return
            threading.Event().wait(0.01)
        raise AssertionError(f"run {session_id} never reached {status!r}")

    def paused_run(self) -> str:
        session_id: str = self.call("POST", "/api/runs")["session_id"]
        self.settle(session_id, "paused")
        return session_id

    def finished_run(self, *, approved: bool) -> str:
        session_id = self.paused_run()
        self.call("POST", f"/api/runs/{session_id}/approve", {"approved": approved})
        self.settle(session_id, "completed")
        return session_id

    def subscribers(self) -> int:
        broker = self.app[_RUNS].broker
        stats = asyncio.run_coroutine_threadsafe(_stats(broker), self.server.loop).result(10)
        return stats.subscribers

    def events_url(self, session_id: str) -> str:
        return f"{self.server.url}/runs/{session_id}/events"  # the form the CLI guide shows


async def _stats(broker: Broker) -> BrokerStats:
    return broker.stats()


def _types(lines: list[str]) -> list[str]:
    return [json.loads(json.loads(line)["data"])["type"] for line in lines]


def _tail_a_finished_run(serve: Serve, *options: str, approved: bool) -> tuple[DemoServer, str]:
    """Run the demo to its end (the interrupt approved or not), then ``rxchronos tail`` its
    events with ``options``, which must exit 0: the demo and the run's session id."""
    demo = DemoServer(serve)
    session_id = demo.finished_run(approved=approved)
    assert main(["tail", demo.events_url(session_id), *options]) == 0
    return demo, session_id


def test_tail_prints_a_finished_run_from_its_start_then_done(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    demo, session_id = _tail_a_finished_run(serve, "--json", approved=True)
    types = _types(capsys.readouterr().out.splitlines())
    assert types[0] == "run_started" and types[-2:] == ["completed", "done"]
    assert {"node_start", "model_chunk", "interrupt", "checkpoint"} <= set(types)
    assert main(["tail", demo.events_url(session_id)]) == 0  # the plain form: the same events
    lines = capsys.readouterr().out.splitlines()
    done = json.dumps({"type": "done", "data": {"topic": session_id}}, separators=(",", ":"))
    assert len(lines) == len(types) and lines[-1].endswith(f"  message  {done}")


def test_tail_new_only_on_a_finished_run_prints_nothing(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    _tail_a_finished_run(serve, "--new-only", approved=False)
    assert capsys.readouterr().out == ""


def test_tail_follows_a_paused_run_and_new_only_sees_only_what_comes_next(serve: Serve) -> None:
    demo = DemoServer(serve)
    session_id = demo.paused_run()
    url = demo.events_url(session_id)
    whole, new = _spawn("tail", url, "--json"), _spawn("tail", url, "--json", "--new-only")
    try:
        assert whole.stdout is not None
        before = []
        while not before or _types(before)[-1] != "interrupt":  # the run so far, then it waits
            before.append(whole.stdout.readline())
        for _ in range(1000):  # both are connected: what the run does next reaches both
            if demo.subscribers() == 2:
                break
            threading.Event().wait(0.01)
        assert demo.subscribers() == 2
        demo.call("POST", f"/api/runs/{session_id}/approve", {"approved": True})
        rest, whole_err = whole.communicate(timeout=30)
        only_new, new_err = new.communicate(timeout=30)
    finally:
        for process in (whole, new):
            process.kill() if process.poll() is None else None
    assert (whole.returncode, new.returncode, whole_err, new_err) == (0, 0, "", "")
    seen = _types(before)
    assert seen[0] == "run_started" and seen.count("interrupt") == 1
    after = rest.splitlines()
    assert only_new.splitlines() == after  # --new-only: exactly what came after it connected
    assert "run_started" not in _types(after) and _types(after)[-2:] == ["completed", "done"]


def test_the_events_url_without_an_id_starts_at_the_run_or_now(serve: Serve) -> None:
    demo = DemoServer(serve)
    session_id = demo.paused_run()
    since = demo.call("GET", f"/api/runs/{session_id}")["events_url"]
    no_redirect = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    for query, location in (
        ("", since),
        ("?from=start", since),
        ("?from=now", f"/runs/{session_id}/events?last_event_id="),
    ):
        with pytest.raises(urllib.error.HTTPError) as answer:
            no_redirect.open(demo.events_url(session_id) + query, timeout=10)
        assert answer.value.code == 307
        assert answer.value.headers["Location"].startswith(location)
    assert answer.value.headers["Location"] != since  # now: after the events so far
    with pytest.raises(urllib.error.HTTPError) as answer:
        no_redirect.open(demo.events_url(session_id) + "?from=later", timeout=10)
    assert answer.value.code == 400 and "must be start or now" in answer.value.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_tail_prints_a_long_replay_whole(serve: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    """Thousands of events at once (a broker's replay) are printed, none lost, no overflow."""
    broker = Broker(replay_size=6000)
    start = broker.last_event_id

    def app() -> web.Application:
        application = web.Application()
        add_sse_route(application, "/runs/{topic}/events", broker)
        for n in range(5000):
            broker.publish(Event(type="tick", data={"n": n}), topic="long")
        broker.finish_topic("long")
        return application

    server = serve(app)
    url = f"{server.url}/runs/long/events"
    assert main(["tail", url, "--last-event-id", start, "--json"]) == 0
    lines = [json.loads(json.loads(line)["data"]) for line in capsys.readouterr().out.splitlines()]
    assert [m["data"]["n"] for m in lines[:-1]] == list(range(5000))
    assert lines[-1]["type"] == "done"


def test_chat_prints_a_long_answer_whole(capsys: pytest.CaptureFixture[str]) -> None:
    prompt = " ".join(f"w{n}" for n in range(3000))  # the echo model: one delta per word
    assert main(["chat", prompt]) == 0
    assert capsys.readouterr().out == prompt + "\n"


def test_the_demo_once_sample_in_the_cli_guide_is_what_it_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each line of the guide's sample is a line of the real output, in order ("...": elided)."""
    guide = (Path(__file__).resolve().parent.parent / "docs" / "guides" / "cli.md").read_text()
    sample = guide.split("prints one line per event:\n\n```text\n", 1)[1].split("```", 1)[0]
    assert main(["demo", "--once", "--delay", "0"]) == 0
    lines = iter(capsys.readouterr().out.splitlines())
    for expected in sample.splitlines():
        if expected.strip() == "...":
            continue
        head = expected.split("...", 1)[0]
        assert any(
            line == expected or (line.startswith(head) and "..." in expected) for line in lines
        ), expected
