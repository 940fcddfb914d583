"""In-band errors that arrive next to data: what the failing event carries is never lost.

OpenRouter sends its ``error`` object in a chunk that also holds the usage; a Gemini error chunk
can hold candidates and usage; Cohere's ``message-end`` holds the usage next to its error; a
Responses ``response.failed`` holds the failed response's usage. Each dialect puts that data on
the error, and the HTTP layer folds it into the error's partial response.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rxchronos.model import ChatRequest
from rxchronos.model import Cohere
from rxchronos.model import FallbackProvider
from rxchronos.model import Gemini
from rxchronos.model import Message
from rxchronos.model import Ollama
from rxchronos.model import OpenRouter
from rxchronos.model import ProviderStreamError
from rxchronos.model import ScriptedProvider
from rxchronos.model import StopReason
from rxchronos.model import Usage
from rxchronos.model._cohere import CohereParser
from rxchronos.model._gemini import GeminiParser
from rxchronos.model._ollama import OllamaParser
from rxchronos.model._openai import OpenAIChatParser
from rxchronos.model._responses import ResponsesParser

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import parse_all
from .conftest import run_stream
from .conftest import stream_once

KEY = "or-SECRET-0123456789abcdef"
REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])
NDJSON = {"Content-Type": "application/x-ndjson"}


def sse(*payloads: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return b"".join(f"{head}data: {json.dumps(p)}\n\n".encode() for p in payloads)


def failure(parser: Any, body: bytes) -> ProviderStreamError:
    with pytest.raises(ProviderStreamError) as caught:
        parse_all(parser, body)
    return caught.value


def test_openai_parser_puts_the_error_chunks_usage_and_content_on_the_error() -> None:
    chunk = {
        "id": "gen-1",
        "error": {"code": 502, "message": "upstream died"},
        "choices": [{"index": 0, "delta": {"content": "tail"}, "finish_reason": "error"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
    }
    error = failure(OpenAIChatParser(provider="openrouter"), sse(chunk))
    assert (error.code, error.message) == ("502", "upstream died")
    assert error.partial is not None
    assert error.partial.content == "tail"
    assert error.partial.usage == Usage(prompt_tokens=4, completion_tokens=2, total_tokens=6)
    assert error.partial.stop_reason is StopReason.END
    assert error.partial.id == "gen-1"


def test_openai_parser_error_chunk_with_nothing_else_has_no_partial() -> None:
    error = failure(OpenAIChatParser(provider="x"), sse({"error": {"message": "boom"}}))
    assert error.partial is None


async def test_openrouter_error_chunk_keeps_reasoning_usage_and_stop_reason(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(fixture_bytes("compatible/openrouter_comments_error.sse")))
    deltas, error = await stream_once(
        OpenRouter(api_key=KEY, model="m", base_url=provider_server.base_url), REQUEST
    )
    assert isinstance(error, ProviderStreamError)
    assert (error.code, error.message) == ("400", "Token limit reached")
    assert error.partial is not None
    assert error.partial.reasoning == "The user greets me."
    assert error.partial.usage == Usage(prompt_tokens=43, completion_tokens=10, total_tokens=53)
    assert error.partial.stop_reason is StopReason.MAX_TOKENS
    assert not error.partial.delta
    # the error chunk's data is in the error, not emitted as a delta (the stream failed there)
    assert collect(deltas).usage is None


async def test_an_error_chunk_before_any_delta_still_falls_back(
    provider_server: ProviderServer,
) -> None:
    usage_only = {"error": {"message": "no capacity"}, "usage": {"prompt_tokens": 3}}
    provider_server.reply(Reply(sse(usage_only) + b"data: [DONE]\n\n"))
    failed: list[BaseException] = []
    first = OpenRouter(api_key=KEY, model="m", base_url=provider_server.base_url)
    fallback = FallbackProvider(
        first, ScriptedProvider(["backup"]), on_fallback=lambda _p, exc: failed.append(exc)
    )
    async with fallback:
        deltas, error = await run_stream(fallback.stream_chat(REQUEST))
    assert error is None and collect(deltas).content == "backup"
    assert isinstance(failed[0], ProviderStreamError)
    assert failed[0].partial is not None and failed[0].partial.usage is not None
    assert failed[0].partial.usage.prompt_tokens == 3


def test_gemini_error_chunk_keeps_its_candidates_and_usage() -> None:
    chunk = {
        "candidates": [{"content": {"parts": [{"text": "last words"}]}}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2},
        "responseId": "r-1",
        "error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"},
    }
    error = failure(GeminiParser(provider="gemini"), sse(chunk))
    assert error.code == "UNAVAILABLE"
    assert error.partial is not None
    assert (error.partial.content, error.partial.id) == ("last words", "r-1")
    assert error.partial.usage is not None and error.partial.usage.prompt_tokens == 5


async def test_gemini_non_streaming_error_answer_keeps_its_usage(
    provider_server: ProviderServer,
) -> None:
    body = {
        "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 0},
        "error": {"code": 500, "message": "internal", "status": "INTERNAL"},
    }
    provider_server.reply(Reply(json.dumps(body).encode(), headers={"Content-Type": "json"}))
    async with Gemini(api_key=KEY, model="g", base_url=provider_server.url) as provider:
        with pytest.raises(ProviderStreamError) as caught:
            await provider.chat(REQUEST)
    assert caught.value.code == "INTERNAL"
    partial = caught.value.partial
    assert partial is not None and not partial.delta
    assert partial.usage is not None and partial.usage.prompt_tokens == 7


async def test_ollama_error_line_keeps_the_text_it_carries(provider_server: ProviderServer) -> None:
    lines = [
        {"message": {"role": "assistant", "content": "Half"}, "done": False},
        {"message": {"role": "assistant", "content": " done"}, "error": "runner crashed"},
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    provider_server.reply(Reply(body, headers=NDJSON))
    _, error = await stream_once(Ollama(base_url=provider_server.url, model="qwen3"), REQUEST)
    assert isinstance(error, ProviderStreamError) and error.message == "runner crashed"
    assert error.partial is not None and error.partial.content == "Half done"


def test_ollama_parser_error_line_alone_has_no_partial() -> None:
    with pytest.raises(ProviderStreamError) as caught:
        OllamaParser(provider="ollama").feed("message", '{"error": "model not loaded"}')
    assert caught.value.partial is None


@pytest.mark.parametrize(
    ("delta", "kind", "message"),
    [
        ({"error": "kaput", "usage": {"tokens": {"input_tokens": 9}}}, "error", "kaput"),
        (
            {"finish_reason": "ERROR", "usage": {"tokens": {"input_tokens": 9}}},
            "ERROR",
            "generation failed",
        ),
    ],
)
def test_cohere_message_end_error_keeps_the_usage(
    delta: dict[str, Any], kind: str, message: str
) -> None:
    body = sse({"type": "message-start", "id": "co-1"}, {"type": "message-end", "delta": delta})
    error = failure(CohereParser(provider="cohere"), body)
    assert (error.code, error.message) == (kind, message)
    assert error.partial is not None and error.partial.id == "co-1"
    assert error.partial.usage == Usage(prompt_tokens=9, completion_tokens=0, total_tokens=9)


async def test_cohere_non_streaming_error_finish_keeps_text_and_usage(
    provider_server: ProviderServer,
) -> None:
    answer = {
        "id": "co-2",
        "finish_reason": "ERROR",
        "message": {"content": [{"type": "text", "text": "Par"}]},
        "usage": {"tokens": {"input_tokens": 2, "output_tokens": 1}},
    }
    provider_server.reply(Reply(json.dumps(answer).encode(), headers={"Content-Type": "json"}))
    async with Cohere(api_key=KEY, model="c", base_url=provider_server.url) as provider:
        with pytest.raises(ProviderStreamError) as caught:
            await provider.chat(REQUEST)
    partial = caught.value.partial
    assert caught.value.code == "ERROR"
    assert partial is not None and partial.content == "Par"
    assert partial.usage == Usage(prompt_tokens=2, completion_tokens=1, total_tokens=3)


def test_responses_failed_keeps_the_failed_responses_usage() -> None:
    failed = {
        "type": "response.failed",
        "response": {
            "error": {"code": "server_error", "message": "oops"},
            "usage": {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15},
        },
    }
    body = sse({"type": "response.created", "response": {"id": "resp_9"}}, failed)
    error = failure(ResponsesParser(provider="openai"), body)
    assert (error.code, error.message) == ("server_error", "oops")
    assert error.partial is not None and error.partial.id == "resp_9"
    assert error.partial.usage == Usage(prompt_tokens=11, completion_tokens=4, total_tokens=15)
