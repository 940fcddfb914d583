"""OpenAIResponses over a real local server: text, reasoning, function calls, built-in tools kept
apart, usage, incomplete, failures; the request it sends; the whole answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from rxchronos.model import AzureOpenAIResponses
from rxchronos.model import ChatRequest
from rxchronos.model import FunctionDef
from rxchronos.model import Message
from rxchronos.model import OpenAIResponses
from rxchronos.model import ProviderStreamError
from rxchronos.model import ReasoningPart
from rxchronos.model import ServerToolCallPart
from rxchronos.model import StopReason
from rxchronos.model import TextPart
from rxchronos.model import ToolCall
from rxchronos.model import ToolDefinition
from rxchronos.model import provider_from_string

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import responses_function_call
from .conftest import responses_usage
from .conftest import stream_once

KEY = "sk-resp-SECRET-1234"
REQUEST = ChatRequest(messages=[Message(role="user", content="Weather in Paris?")])


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


REASONING_ITEM = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "enc=="}
SEARCH_ITEM = {"type": "web_search_call", "id": "ws_1", "status": "completed"}
REASONED = ReasoningPart(
    text="Look it up.", signature="enc==", id="rs_1", dialect="openai-responses", raw=REASONING_ITEM
)
SEARCH = ServerToolCallPart(
    id="ws_1", name="web_search", dialect="openai-responses", raw=SEARCH_ITEM
)
STREAM = sse(
    {"type": "response.created", "response": {"id": "resp_1"}},
    {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning"}},
    {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "Look it up."},
    {"type": "response.output_item.done", "output_index": 0, "item": REASONING_ITEM},
    {"type": "response.output_item.added", "output_index": 1, "item": {"type": "web_search_call"}},
    {"type": "response.output_item.done", "output_index": 1, "item": SEARCH_ITEM},
    {"type": "response.output_text.delta", "output_index": 2, "delta": "Sunny, "},
    {"type": "response.output_text.delta", "output_index": 2, "delta": "22 C."},
    *responses_function_call(3, "call_9", "save", '{"c":', '"Paris"}'),
    {
        "type": "response.completed",
        "response": {
            "usage": responses_usage(
                input_tokens=30, output_tokens=12, total_tokens=42, cached=8, reasoning=5
            )
        },
    },
)


def responses(server: ProviderServer) -> OpenAIResponses:
    return OpenAIResponses(api_key=KEY, model="gpt-5", base_url=server.base_url, max_retries=0)


@settings(max_examples=15, deadline=None)
@given(pieces=st.integers(min_value=1, max_value=300))
def test_a_stream_in_random_chunkings(pieces: int) -> None:
    import asyncio

    async def run() -> None:
        server = ProviderServer()
        await server.start()
        try:
            server.reply(Reply(STREAM, pieces=pieces))
            deltas, error = await stream_once(responses(server), REQUEST)
        finally:
            await server.stop()
        assert error is None
        final = collect(deltas)
        assert (final.id, final.content, final.reasoning) == (
            "resp_1",
            "Sunny, 22 C.",
            "Look it up.",
        )
        assert [(c.id, c.name, c.parse_arguments()) for c in final.tool_calls] == [
            ("call_9", "save", {"c": "Paris"})
        ]
        assert final.stop_reason is StopReason.TOOL_CALL
        assert final.provider_data is None
        assert final.parts == (REASONED, SEARCH, TextPart(text="Sunny, 22 C."))
        assert final.usage is not None
        assert (final.usage.cached_prompt_tokens, final.usage.reasoning_tokens) == (8, 5)
        assert final.usage.total_tokens == 42

    asyncio.run(run())


async def test_the_request_it_sends(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(STREAM))
    previous = ChatRequest(
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content="Weather?"),
            Message(
                role="assistant",
                content="Checking.",
                tool_calls=(ToolCall(id="call_1", name="weather", arguments='{"c": "P"}'),),
                parts=(REASONED.model_copy(update={"text": ""}), TextPart(text="Checking.")),
            ),
            Message(role="tool", tool_call_id="call_1", content="sunny"),
        ],
        tools=(ToolDefinition(function=FunctionDef(name="weather")),),
        max_tokens=100,
        temperature=0.5,
    )
    await stream_once(responses(provider_server), previous)
    seen = provider_server.seen[0]
    assert seen.path == "/v1/responses"
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.body == {
        "model": "gpt-5",
        "stream": True,
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "Weather?"},
            REASONING_ITEM,
            {"role": "assistant", "content": "Checking."},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "weather",
                "arguments": '{"c": "P"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
        "max_output_tokens": 100,
        "temperature": 0.5,
        "tools": [
            {
                "type": "function",
                "name": "weather",
                "description": "",
                "parameters": {"type": "object", "properties": {}},
            }
        ],
    }


async def test_incomplete_and_failed(provider_server: ProviderServer) -> None:
    incomplete = sse(
        {"type": "response.output_text.delta", "output_index": 0, "delta": "Long"},
        {
            "type": "response.incomplete",
            "response": {"incomplete_details": {"reason": "max_output_tokens"}},
        },
    )
    failed = sse(
        {"type": "response.output_text.delta", "output_index": 0, "delta": "Pa"},
        {
            "type": "response.failed",
            "response": {"error": {"code": "server_error", "message": "boom"}},
        },
    )
    provider_server.reply(Reply(incomplete), Reply(failed))
    deltas, error = await stream_once(responses(provider_server), REQUEST)
    assert error is None and collect(deltas).stop_reason is StopReason.MAX_TOKENS
    _, error = await stream_once(responses(provider_server), REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert (error.kind, error.code, error.message) == ("provider_error", "server_error", "boom")
    assert error.partial is not None and error.partial.content == "Pa"


async def test_chat_reads_the_whole_answer(provider_server: ProviderServer) -> None:
    answer = {
        "id": "resp_2",
        "status": "completed",
        "output": [
            REASONING_ITEM | {"summary": [{"type": "summary_text", "text": "Think."}]},
            SEARCH_ITEM,
            {"type": "message", "content": [{"type": "output_text", "text": "Sunny."}]},
            {"type": "function_call", "call_id": "c1", "name": "save", "arguments": "{}"},
        ],
        "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
    }
    provider_server.reply(
        Reply(json.dumps(answer).encode(), headers={"Content-Type": "application/json"})
    )
    async with responses(provider_server) as provider:
        final = await provider.chat(REQUEST)
    assert (final.content, final.reasoning, final.stop_reason) == (
        "Sunny.",
        "Think.",
        StopReason.TOOL_CALL,
    )
    assert [c.id for c in final.tool_calls] == ["c1"]
    assert final.parts[1:] == (SEARCH, TextPart(text="Sunny."))
    assert final.parts[0] == REASONED.model_copy(
        update={"text": "Think.", "raw": answer["output"][0]}  # type: ignore[index]
    )
    assert provider_server.seen[0].body["stream"] is False


async def test_azure_responses_url_and_key(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(STREAM))
    azure = AzureOpenAIResponses(endpoint=provider_server.url, api_key=KEY, deployment="gpt-5")
    _, error = await stream_once(azure, REQUEST)
    assert error is None
    seen = provider_server.seen[0]
    assert seen.path == "/openai/responses" and seen.query == {"api-version": "2025-04-01-preview"}
    assert seen.headers["api-key"] == KEY and "Authorization" not in seen.headers


def test_provider_from_string_knows_it() -> None:
    provider = provider_from_string("openai-responses:gpt-5", env={"OPENAI_API_KEY": "sk-x"})
    assert isinstance(provider, OpenAIResponses) and provider.model == "gpt-5"
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        provider_from_string("openai-responses:gpt-5", env={})
