"""When a stream is complete, per dialect, as real servers behave; and in-band overload retried like
its HTTP twin before the first delta."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rxchronos.model import Anthropic
from rxchronos.model import ChatRequest
from rxchronos.model import Cohere
from rxchronos.model import Gemini
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import Ollama
from rxchronos.model import OpenAICompatible
from rxchronos.model import OpenAIResponses
from rxchronos.model import ProviderStreamError
from rxchronos.model import RetryPolicy
from rxchronos.model import StopReason

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import stream_once

REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])


def sse(*chunks: dict[str, object], done: bool = False) -> bytes:
    body = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def compatible(server: ProviderServer) -> OpenAICompatible:
    return OpenAICompatible(name="vllm", base_url=server.base_url, model="m", max_retries=0)


TEXT = {"choices": [{"index": 0, "delta": {"content": "Hello"}}]}
FINISH = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
USAGE = {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 1}}


async def test_every_choice_finished_then_eof_without_done_is_complete(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(sse(TEXT, FINISH, USAGE)))
    deltas, error = await stream_once(compatible(provider_server), REQUEST)
    assert error is None
    final = collect(deltas)
    assert (final.content, final.stop_reason) == ("Hello", StopReason.END)
    assert final.usage is not None and final.usage.total_tokens == 3


async def test_eof_before_any_finish_reason_stays_incomplete(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(sse(TEXT, USAGE)))
    _, error = await stream_once(compatible(provider_server), REQUEST)
    assert isinstance(error, IncompleteStreamError)


async def test_a_second_choice_left_open_is_incomplete(provider_server: ProviderServer) -> None:
    two = {"choices": [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {}}]}
    provider_server.reply(Reply(sse(two, FINISH)))
    _, error = await stream_once(compatible(provider_server), REQUEST)
    assert isinstance(error, IncompleteStreamError)


async def test_done_completes_at_once_while_the_server_keeps_the_connection(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(sse(TEXT, FINISH, done=True), hang=True))
    deltas, error = await asyncio.wait_for(stream_once(compatible(provider_server), REQUEST), 20)
    assert error is None and collect(deltas).content == "Hello"
    await asyncio.wait_for(provider_server.disconnected.wait(), 20)  # and the connection closed


END_MARKERS = [
    (
        "anthropic/text_ping_padding.sse",
        lambda s: Anthropic(api_key="sk-ant-end-test", model="m", base_url=s.url),
    ),
    (
        "responses/builtin_tools_annotations.sse",
        lambda s: OpenAIResponses(api_key="sk-end-test", model="m", base_url=s.base_url),
    ),
    ("ollama/text_thinking.ndjson", lambda s: Ollama(model="m", base_url=s.url)),
    ("cohere/text.sse", lambda s: Cohere(api_key="co-end-test", model="m", base_url=s.url)),
]


@pytest.mark.parametrize(("name", "make"), END_MARKERS, ids=[n for n, _ in END_MARKERS])
async def test_every_end_marker_completes_at_once_while_the_server_keeps_the_connection(
    provider_server: ProviderServer, name: str, make: Any
) -> None:
    provider_server.reply(Reply(fixture_bytes(name), hang=True))
    deltas, error = await asyncio.wait_for(stream_once(make(provider_server), REQUEST), 20)
    assert error is None and collect(deltas).content
    await asyncio.wait_for(provider_server.disconnected.wait(), 20)


async def test_a_json_error_body_written_into_the_event_stream_is_a_stream_error(
    provider_server: ProviderServer,
) -> None:
    chunk = {"candidates": [{"content": {"parts": [{"text": "Partial"}]}}]}
    error_body = {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}
    body = f"data: {json.dumps(chunk)}\n\n".encode() + json.dumps([error_body], indent=2).encode()
    provider_server.reply(Reply(body))
    gemini = Gemini(api_key="AIza-end-test", model="m", base_url=provider_server.url)
    _, error = await stream_once(gemini, REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert (error.kind, error.code, error.message) == (
        "provider_error",
        "INTERNAL",
        "Internal error",
    )
    assert error.partial is not None and error.partial.content == "Partial"


OVERLOADED = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"usage":{"input_tokens":10,"output_tokens":1}}}\n\n'
    b"event: error\n"
    b'data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
)


def claude(server: ProviderServer, retries: int) -> Anthropic:
    retry = RetryPolicy(max_retries=retries, base_delay=0)
    return Anthropic(api_key="sk-ant-end-test", model="m", base_url=server.url, retry=retry)


async def test_in_band_overload_before_the_first_delta_is_retried(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(
        Reply(OVERLOADED), Reply(fixture_bytes("anthropic/text_ping_padding.sse"))
    )
    deltas, error = await stream_once(claude(provider_server, 1), REQUEST)
    assert error is None and collect(deltas).content
    assert len(provider_server.seen) == 2


async def test_in_band_overload_after_the_first_delta_is_not_retried(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(
        Reply(fixture_bytes("anthropic/overloaded_error.sse")),
        Reply(fixture_bytes("anthropic/text_ping_padding.sse")),
    )
    _, error = await stream_once(claude(provider_server, 2), REQUEST)
    assert isinstance(error, ProviderStreamError) and error.code == "overloaded_error"
    assert error.partial is not None and error.partial.content == "Partial ans"
    assert len(provider_server.seen) == 1


async def test_in_band_overload_out_of_retries_is_the_stream_error(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(OVERLOADED), Reply(OVERLOADED))
    _, error = await stream_once(claude(provider_server, 1), REQUEST)
    assert isinstance(error, ProviderStreamError) and error.code == "overloaded_error"
    assert len(provider_server.seen) == 2


async def test_a_line_past_max_frame_size_is_malformed_and_closes_the_connection(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(b"data: " + b"x" * 5000, hang=True))
    provider = OpenAICompatible(
        name="c", base_url=provider_server.base_url, model="m", max_frame_size=1000
    )
    _, error = await stream_once(provider, REQUEST)
    assert isinstance(error, ProviderStreamError) and error.kind == "malformed"
    assert "max_size=1000" in error.message and "max_frame_size" in error.message
    await asyncio.wait_for(provider_server.disconnected.wait(), 20)


async def test_an_ndjson_line_past_max_frame_size_is_malformed(
    provider_server: ProviderServer,
) -> None:
    from rxchronos.model import Ollama

    provider_server.reply(Reply(b'{"message": {"content": "' + b"y" * 5000))
    provider = Ollama(model="m", base_url=provider_server.url, max_frame_size=100)
    _, error = await stream_once(provider, REQUEST)
    assert isinstance(error, ProviderStreamError) and error.kind == "malformed"


def test_max_frame_size_is_checked() -> None:
    from rxchronos.model import ProviderConfigError

    with pytest.raises(ProviderConfigError, match="max_frame_size"):
        OpenAICompatible(name="c", base_url="http://x", model="m", max_frame_size=0)
    assert OpenAICompatible(name="c", base_url="http://x", model="m", max_frame_size=None)
