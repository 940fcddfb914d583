"""The HTTP base over a real local server: streaming, connections, errors, timeouts, retries."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Iterator

import aiohttp
import pytest

from rxchronos import RxChronosError
from rxchronos.model import AzureOpenAI
from rxchronos.model import ChatRequest
from rxchronos.model import FunctionDef
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import OpenAI
from rxchronos.model import ProviderConnectionError
from rxchronos.model import ProviderHTTPError
from rxchronos.model import ProviderStreamError
from rxchronos.model import ProviderTimeoutError
from rxchronos.model import RetryPolicy
from rxchronos.model import Timeouts
from rxchronos.model import ToolCall
from rxchronos.model import ToolDefinition

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import run_stream
from .conftest import stream_once

KEY = "sk-test-SECRET-0123456789"
REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])
FAST_RETRY = RetryPolicy(max_retries=2, base_delay=0.0)


def openai(server: ProviderServer, **kwargs: object) -> OpenAI:
    return OpenAI(api_key=KEY, model="gpt-4o", base_url=server.base_url, **kwargs)  # type: ignore[arg-type]


async def test_streams_deltas_and_completes(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("openai/parallel_tool_calls.sse"), pieces=7))
    deltas, error = await stream_once(openai(provider_server), REQUEST)
    assert error is None
    final = collect(deltas)
    assert [c.name for c in final.tool_calls] == ["get_weather", "get_stock_price"]
    seen = provider_server.seen[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.headers["Accept"] == "text/event-stream"
    assert seen.body["stream"] is True
    assert seen.body["stream_options"] == {"include_usage": True}
    assert seen.body["model"] == "gpt-4o"


async def test_cold_each_subscription_sends_one_request(provider_server: ProviderServer) -> None:
    body = fixture_bytes("openai/text_usage.sse")
    provider_server.reply(Reply(body), Reply(body))
    async with openai(provider_server) as provider:
        chunks = provider.stream_chat(REQUEST)
        assert provider_server.seen == []
        first, _ = await run_stream(chunks)
        second, _ = await run_stream(chunks)
    assert len(provider_server.seen) == 2
    assert collect(first).content == collect(second).content == "Hello, wörld 👋!"


async def test_a_normal_end_returns_the_connection_to_the_pool(
    provider_server: ProviderServer,
) -> None:
    body = fixture_bytes("openai/text_usage.sse")
    provider_server.reply(Reply(body), Reply(body))
    async with aiohttp.ClientSession() as session:
        provider = openai(provider_server, session=session)
        await run_stream(provider.stream_chat(REQUEST))
        await run_stream(provider.stream_chat(REQUEST))
        await provider.aclose()
        assert not session.closed  # the caller's session is the caller's
    peers = [seen.peer for seen in provider_server.seen]
    assert peers[0] == peers[1]  # the same TCP connection served both


async def test_disposing_cancels_the_request_and_closes_the_connection(
    provider_server: ProviderServer,
) -> None:
    head = fixture_bytes("openai/text_usage.sse").split(b"\n\n")[1] + b"\n\n"
    provider_server.reply(Reply(head, hang=True), Reply(fixture_bytes("openai/text_usage.sse")))
    async with openai(provider_server) as provider:
        got: list[object] = []
        first = asyncio.get_running_loop().create_future()

        def on_next(delta: object) -> None:
            got.append(delta)
            if not first.done():
                first.set_result(None)

        subscription = provider.stream_chat(REQUEST).subscribe(on_next)
        await first
        subscription.dispose()
        await provider_server.disconnected.wait()
        await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() if "_Production" in t.get_coro().__qualname__]
        assert not left  # no task left behind
        await run_stream(provider.stream_chat(REQUEST))
    assert provider_server.seen[0].peer != provider_server.seen[1].peer  # not pooled


async def test_eof_before_done_is_an_incomplete_stream_with_the_partial(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(fixture_bytes("openai/truncated.sse")))
    deltas, error = await stream_once(openai(provider_server), REQUEST)
    assert isinstance(error, IncompleteStreamError)
    assert error.partial is not None and error.partial.content == "Once upon a time"
    assert collect(deltas).content == "Once upon a time"


async def test_in_band_error_carries_the_partial_response(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("compatible/groq_error_event.sse")))
    _, error = await stream_once(openai(provider_server), REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert error.code == "invalid_request_error"
    assert error.partial is not None and error.partial.reasoning == "We need to call the tool."


async def test_http_error_has_status_body_and_no_secret(provider_server: ProviderServer) -> None:
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}"}}).encode()
    provider_server.reply(Reply(body, status=401))
    provider = openai(provider_server)
    _, error = await stream_once(provider, REQUEST)
    assert isinstance(error, ProviderHTTPError) and isinstance(error, RxChronosError)
    assert error.status == 401
    assert "Incorrect API key" in error.body
    for text in (str(error), repr(error), error.body, repr(provider)):
        assert KEY not in text
    assert len(provider_server.seen) == 1  # 401 is not retried


async def test_long_error_bodies_are_truncated(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(b"x" * 10_000, status=400))
    _, error = await stream_once(openai(provider_server), REQUEST)
    assert isinstance(error, ProviderHTTPError)
    assert len(error.body) < 2100


async def test_retries_429_and_5xx_honouring_retry_after(provider_server: ProviderServer) -> None:
    provider_server.reply(
        Reply(b'{"error": "slow down"}', status=429, headers={"Retry-After": "0"}),
        Reply(b'{"error": "oops"}', status=503),
        Reply(fixture_bytes("openai/text_usage.sse")),
    )
    deltas, error = await stream_once(openai(provider_server, retry=FAST_RETRY), REQUEST)
    assert error is None
    assert collect(deltas).content == "Hello, wörld 👋!"
    assert len(provider_server.seen) == 3


@pytest.mark.parametrize("header", ["nan", "inf", "NaN", "1e400"])
async def test_a_retry_after_that_is_no_finite_number_counts_as_absent(
    provider_server: ProviderServer, header: str
) -> None:
    provider_server.reply(
        Reply(b'{"error": "slow down"}', status=429, headers={"Retry-After": header}),
        Reply(fixture_bytes("openai/text_usage.sse")),
    )
    policy = RetryPolicy(max_retries=1, base_delay=0.0, max_delay=3600.0)
    async with asyncio.timeout(10):  # a NaN once slept forever
        deltas, error = await stream_once(openai(provider_server, retry=policy), REQUEST)
    assert error is None and collect(deltas).content
    assert len(provider_server.seen) == 2


async def test_gives_up_after_max_retries(provider_server: ProviderServer) -> None:
    provider_server.reply(*[Reply(b"{}", status=500) for _ in range(3)])
    _, error = await stream_once(
        openai(provider_server, retry=RetryPolicy(max_retries=1, base_delay=0)), REQUEST
    )
    assert isinstance(error, ProviderHTTPError) and error.status == 500
    assert len(provider_server.seen) == 2


async def test_no_retry_after_the_first_delta(provider_server: ProviderServer) -> None:
    provider_server.reply(
        Reply(fixture_bytes("openai/error_chunk.sse")),
        Reply(fixture_bytes("openai/text_usage.sse")),
    )
    deltas, error = await stream_once(openai(provider_server, retry=FAST_RETRY), REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert collect(deltas).content == "Partial"
    assert len(provider_server.seen) == 1


async def test_first_token_timeout(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(b": waiting\n\n", hang=True))
    timeouts = Timeouts(first_token=0.2, idle=5)
    _, error = await stream_once(openai(provider_server, timeout=timeouts, max_retries=0), REQUEST)
    assert isinstance(error, ProviderTimeoutError)
    assert error.kind == "first_token" and error.seconds == 0.2
    await provider_server.disconnected.wait()


async def test_idle_timeout_keepalive_comments_are_not_progress(
    provider_server: ProviderServer,
) -> None:
    first = fixture_bytes("openai/text_usage.sse").split(b"\n\n")[1] + b"\n\n"
    provider_server.reply(Reply(first + b": OPENROUTER PROCESSING\n\n" * 3, hang=True))
    timeouts = Timeouts(first_token=5, idle=0.2)
    deltas, error = await stream_once(
        openai(provider_server, timeout=timeouts, max_retries=0), REQUEST
    )
    assert isinstance(error, ProviderTimeoutError)
    assert error.kind == "idle"
    assert error.partial is not None and error.partial.content == "Hello"
    assert [d.content for d in deltas] == ["Hello"]


@pytest.fixture
def unaccepting_url() -> Iterator[str]:
    """A loopback URL whose listener never accepts and whose accept queue is full.

    Linux drops the SYN of any further connection attempt, so connecting hangs until the client's
    connect limit passes: a real connect timeout, without leaving 127.0.0.1.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):  # more than the queue holds (backlog 0: one connection)
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            for filler in fillers:
                filler.close()


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs to a full queue")
async def test_connect_timeout_is_a_connect_timeout_error(unaccepting_url: str) -> None:
    timeouts = Timeouts(connect=0.2, first_token=30, idle=30)
    provider = OpenAI(
        api_key=KEY, model="gpt-4o", base_url=unaccepting_url, timeout=timeouts, max_retries=0
    )
    async with provider:
        deltas, error = await run_stream(provider.stream_chat(REQUEST))
        with pytest.raises(ProviderTimeoutError) as caught:
            await provider.chat(REQUEST)
    assert deltas == []
    for failure in (error, caught.value):
        assert isinstance(failure, ProviderTimeoutError)
        assert (failure.kind, failure.seconds) == ("connect", 0.2)
        assert failure.partial is None
        assert "connecting" in str(failure) and KEY not in str(failure)


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs to a full queue")
async def test_connect_timeouts_are_retried(unaccepting_url: str) -> None:
    timeouts = Timeouts(connect=0.05)
    retry = RetryPolicy(max_retries=2, base_delay=0.0)
    calls: list[object] = []
    trace = aiohttp.TraceConfig()

    async def on_start(*args: object) -> None:
        calls.append(args)

    trace.on_request_start.append(on_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        provider = OpenAI(
            api_key=KEY,
            model="gpt-4o",
            base_url=unaccepting_url,
            timeout=timeouts,
            retry=retry,
            session=session,
        )
        _, error = await run_stream(provider.stream_chat(REQUEST))
    assert isinstance(error, ProviderTimeoutError) and error.kind == "connect"
    assert len(calls) == 3  # the first attempt and two retries


async def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OpenAI(
        api_key=KEY, model="gpt-4o", base_url=f"http://127.0.0.1:{port}/v1", retry=FAST_RETRY
    )
    async with provider:
        _, error = await run_stream(provider.stream_chat(REQUEST))
    assert isinstance(error, ProviderConnectionError)
    assert KEY not in str(error)


async def test_chat_uses_the_non_streaming_endpoint(provider_server: ProviderServer) -> None:
    answer = {
        "id": "chatcmpl-1",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    provider_server.reply(
        Reply(b"{}", status=502),
        Reply(json.dumps(answer).encode(), headers={"Content-Type": "application/json"}),
    )
    async with openai(provider_server, retry=FAST_RETRY) as provider:
        reply = await provider.chat(REQUEST)
    assert reply.content == "4" and not reply.delta
    assert reply.usage is not None and reply.usage.total == 6
    assert "stream" not in provider_server.seen[-1].body


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
async def test_chat_reads_no_answer_larger_than_max_frame_size(
    provider_server: ProviderServer, declared: bool
) -> None:
    content = "x" * 300_000
    body = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(len(body))
    provider_server.reply(Reply(body, headers=headers, pieces=8192))
    async with openai(provider_server, max_frame_size=100_000) as provider:
        with pytest.raises(ProviderStreamError, match="larger than 100000 bytes") as caught:
            await provider.chat(REQUEST)
    assert caught.value.kind == "malformed"
    assert len(provider_server.seen) == 1  # not retried


async def test_chat_reads_an_answer_up_to_max_frame_size(provider_server: ProviderServer) -> None:
    body = json.dumps({"choices": [{"message": {"content": "x" * 1000}}]}).encode()
    provider_server.reply(Reply(body, headers={"Content-Type": "application/json"}, pieces=100))
    async with openai(provider_server, max_frame_size=len(body)) as provider:
        assert (await provider.chat(REQUEST)).content == "x" * 1000


async def test_tool_calls_and_results_round_trip_into_the_body(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(fixture_bytes("openai/text_usage.sse")))
    request = ChatRequest(
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content="Weather in Paris?"),
            Message(
                role="assistant",
                tool_calls=[
                    ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')
                ],
            ),
            Message(role="tool", tool_call_id="call_1", content='{"temp": 21}'),
        ],
        tools=[ToolDefinition(function=FunctionDef(name="get_weather", description="Weather"))],
        max_tokens=50,
        temperature=0.2,
        stop=["END"],
    )
    async with openai(provider_server) as provider:
        await run_stream(provider.stream_chat(request))
    body = provider_server.seen[0].body
    assert body["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert body["messages"][3] == {
        "role": "tool",
        "content": '{"temp": 21}',
        "tool_call_id": "call_1",
    }
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["max_completion_tokens"] == 50
    assert body["temperature"] == 0.2 and body["stop"] == ["END"]


async def test_azure_url_header_and_content_filter(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("azure/prompt_filter_content_filter.sse"), pieces=5))
    provider = AzureOpenAI(
        endpoint=provider_server.url, api_key=KEY, deployment="gpt4o-prod", api_version="2024-10-21"
    )
    async with provider:
        deltas, error = await run_stream(provider.stream_chat(REQUEST))
    assert error is None
    assert collect(deltas).stop_reason == "content_filter"
    seen = provider_server.seen[0]
    assert seen.path == "/openai/deployments/gpt4o-prod/chat/completions"
    assert seen.query == {"api-version": "2024-10-21"}
    assert seen.headers["api-key"] == KEY
    assert "Authorization" not in seen.headers


async def test_subscribing_outside_a_loop_is_a_clear_error() -> None:
    provider = OpenAI(api_key=KEY, model="gpt-4o")

    def subscribe_in_thread() -> None:
        provider.stream_chat(REQUEST).subscribe()

    with pytest.raises(RuntimeError, match="running asyncio loop"):
        await asyncio.to_thread(subscribe_in_thread)


def test_bad_arguments_are_loud() -> None:
    with pytest.raises(ValueError, match="api_key"):
        OpenAI(api_key="", model="gpt-4o")
    with pytest.raises(ValueError, match="model"):
        OpenAI(api_key=KEY, model="")
    with pytest.raises(ValueError, match="base_url"):
        OpenAI(api_key=KEY, model="m", base_url="api.openai.com")
    with pytest.raises(TypeError, match="ChatRequest"):
        OpenAI(api_key=KEY, model="m").stream_chat("hi")  # type: ignore[arg-type]
