"""Each provider family over a real local server, re-chunked; secrets; the tap; session handling."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rxchronos._errors import InvalidArgumentError
from rxchronos._tap import reset_tap
from rxchronos._tap import set_tap
from rxchronos.model import ChatRequest
from rxchronos.model import DeepSeek
from rxchronos.model import Groq
from rxchronos.model import Message
from rxchronos.model import Mistral
from rxchronos.model import OpenAI
from rxchronos.model import OpenAICompatible
from rxchronos.model import OpenRouter
from rxchronos.model import ProviderStreamError
from rxchronos.model import StopReason
from rxchronos.model._http import RetryPolicy
from rxchronos.model._http import parse_retry_after
from rxchronos.model._openai import OpenAIChatParser

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import parse_all
from .conftest import run_stream
from .conftest import stream_once

KEY = "sk-live-SECRET-abcdef123456"
REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")], max_tokens=20)

CASES = [
    ("openai/text_usage.sse", "openai"),
    ("openai/parallel_tool_calls.sse", "openai"),
    ("azure/prompt_filter_content_filter.sse", "openai"),
    ("compatible/deepseek_reasoning_tool.sse", "deepseek"),
    ("compatible/groq_tool_whole.sse", "groq"),
    ("compatible/ollama_v1_index_reuse.sse", "compatible"),
    ("compatible/gemini_openai_no_index.sse", "compatible"),
    ("compatible/openrouter_comments_text.sse", "openrouter"),
    ("mistral/tool_call_no_index.sse", "mistral"),
    ("mistral/magistral_content_list.sse", "mistral"),
]


def make(kind: str, server: ProviderServer, **options: Any) -> Any:
    url = server.base_url
    if kind == "openai":
        return OpenAI(api_key=KEY, model="gpt-4o", base_url=url, **options)
    if kind == "deepseek":
        return DeepSeek(api_key=KEY, model="deepseek-reasoner", base_url=url, **options)
    if kind == "groq":
        return Groq(api_key=KEY, model="llama-3.3-70b-versatile", base_url=url, **options)
    if kind == "openrouter":
        return OpenRouter(api_key=KEY, model="minimax/minimax-m2:free", base_url=url, **options)
    if kind == "mistral":
        return Mistral(api_key=KEY, model="mistral-small-latest", base_url=url, **options)
    return OpenAICompatible(name="local", base_url=url, model="qwen3", **options)


@pytest.mark.parametrize("pieces", [1, 3, 64, None])
@pytest.mark.parametrize(("name", "kind"), CASES)
async def test_replay_rechunked_equals_the_pure_parse(
    provider_server: ProviderServer, name: str, kind: str, pieces: int | None
) -> None:
    body = fixture_bytes(name)
    expected = parse_all(OpenAIChatParser(provider=kind), body)
    provider_server.reply(Reply(body, pieces=pieces))
    deltas, error = await stream_once(make(kind, provider_server), REQUEST)
    assert error is None
    assert deltas == expected
    assert collect(deltas).stop_reason is not None


async def test_request_shapes_per_provider(provider_server: ProviderServer) -> None:
    body = fixture_bytes("openai/text_usage.sse")
    provider_server.reply(Reply(body), Reply(body), Reply(body))
    for kind in ("mistral", "groq", "compatible"):
        async with make(kind, provider_server) as provider:
            await run_stream(provider.stream_chat(REQUEST))
    mistral, groq, local = provider_server.seen
    assert mistral.headers["Authorization"] == f"Bearer {KEY}"
    assert "stream_options" not in mistral.body and mistral.body["max_tokens"] == 20
    assert groq.body["stream_options"] == {"include_usage": True}
    assert "Authorization" not in local.headers  # no key, no credentials
    assert local.body["model"] == "qwen3"


async def test_secrets_are_redacted_from_in_band_errors(provider_server: ProviderServer) -> None:
    error = {"error": {"message": f"key {KEY} is revoked", "type": "auth"}}
    provider_server.reply(Reply(f"data: {json.dumps(error)}\n\n".encode()))
    async with make("openai", provider_server) as provider:
        _, exc = await run_stream(provider.stream_chat(REQUEST))
        assert isinstance(exc, ProviderStreamError)
        assert "revoked" in str(exc)
        for text in (str(exc), repr(exc), exc.message, repr(provider)):
            assert KEY not in text


async def test_the_tap_reports_a_real_provider_stream(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("openai/parallel_tool_calls.sse")))
    events: list[tuple[str, dict[str, Any]]] = []
    token = set_tap(lambda kind, data: events.append((kind, dict(data))))
    try:
        _, error = await stream_once(make("openai", provider_server), REQUEST)
    finally:
        reset_tap(token)
    assert error is None
    assert events[0] == ("model_call", {"provider": "openai", "model": "gpt-4o"})
    kind, response = events[-1]
    assert kind == "model_response"
    assert [c["name"] for c in response["tool_calls"]] == ["get_weather", "get_stock_price"]
    json.dumps([data for _, data in events])  # every event is JSON-able


async def test_a_subscriber_error_stops_the_stream_and_is_its_on_error(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(fixture_bytes("openai/text_usage.sse")))
    failed: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()
    seen: list[object] = []

    def explode(delta: object) -> None:
        seen.append(delta)
        raise ZeroDivisionError("subscriber bug")

    async with make("openai", provider_server) as provider:
        provider.stream_chat(REQUEST).subscribe(explode, failed.set_result)
        error = await asyncio.wait_for(failed, 10)
    assert isinstance(error, ZeroDivisionError)
    assert len(seen) == 1


async def test_owned_session_is_closed_by_aclose(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("openai/text_usage.sse")))
    provider = make("openai", provider_server)
    await run_stream(provider.stream_chat(REQUEST))
    session = provider._sessions.get()  # the one the stream used: created once per loop
    assert not session.closed
    await provider.aclose()
    assert session.closed


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
    for odd in ("nan", "inf", "-inf", "1e400"):
        assert parse_retry_after({"Retry-After": odd}) is None
        assert parse_retry_after({"retry-after-ms": odd, "Retry-After": "2"}) == 2.0
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert policy.delay(0, retry_after=100) == 5.0  # capped
    assert policy.delay(0, retry_after=1e308) == 5.0
    assert 0 <= policy.delay(0, retry_after=float("nan")) <= 1.0  # as if absent
    with pytest.raises(InvalidArgumentError, match="max_delay must be finite"):
        RetryPolicy(max_delay=float("inf"))
    assert all(0 <= policy.delay(n, retry_after=None) <= 5.0 for n in range(10))
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


def test_stop_reason_after_tool_calls_is_tool_call_even_if_the_wire_says_stop() -> None:
    parser = OpenAIChatParser(provider="x")
    frag = {"id": "a", "function": {"name": "f", "arguments": "{}"}}
    chunks = [
        {"choices": [{"delta": {"tool_calls": [frag]}}]},
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
    ]
    deltas = [d for c in chunks for d in parser.feed("message", json.dumps(c))]
    assert collect(deltas).stop_reason is StopReason.TOOL_CALL


UNCLOSED_SCRIPT = """
import asyncio, gc
from aiohttp import web
from rxchronos import operators as rxo
from rxchronos.model import ChatRequest, Message, OpenAI

BODY = (
    b'data: {"choices":[{"delta":{"content":"Hi"},"finish_reason":"stop"}]}\\n\\n'
    b"data: [DONE]\\n\\n"
)

async def answer(request):
    return web.Response(body=BODY, content_type="text/event-stream")

async def main():
    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    provider = OpenAI(api_key="sk-doc", model="m", base_url=f"http://127.0.0.1:{port}/v1")
    request = ChatRequest(messages=[Message(role="user", content="Hi")])
    print((await provider.stream_chat(request).pipe(rxo.collect_response())).content)
    await runner.cleanup()

asyncio.run(main())
gc.collect()
"""


def test_a_provider_used_without_async_with_leaves_no_session_open(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(UNCLOSED_SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Hi"
    assert "Unclosed" not in done.stderr, done.stderr


async def test_inside_async_with_the_session_is_kept_between_requests(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(
        Reply(fixture_bytes("openai/text_usage.sse")), Reply(fixture_bytes("openai/text_usage.sse"))
    )
    async with make("openai", provider_server) as provider:
        await run_stream(provider.stream_chat(REQUEST))
        session = provider._sessions.get()
        await run_stream(provider.stream_chat(REQUEST))
        assert provider._sessions.get() is session and not session.closed
    assert session.closed
    first, second = provider_server.seen
    assert first.peer == second.peer  # one pooled connection
