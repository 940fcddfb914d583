"""Cohere v2: the chat stream dialect (pure, re-chunked), over a real local server, bodies."""

from __future__ import annotations

import json

import pytest

from rxchronos.model import ChatRequest
from rxchronos.model import Cohere
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import ProviderConfigError
from rxchronos.model import ProviderHTTPError
from rxchronos.model import StopReason
from rxchronos.model import ToolCall
from rxchronos.model import Usage
from rxchronos.model import provider_from_string
from rxchronos.model._cohere import CohereParser
from rxchronos.model._cohere import parse_chat
from rxchronos.model._dialect import MalformedData

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import parse_all
from .conftest import rechunking_test
from .conftest import run_stream
from .conftest import stream_once

KEY = "co-SECRET-0123456789abcdef"
REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")], top_p=0.5)


def parse(name: str, pieces: list[int] | tuple[int, ...] = ()) -> tuple[list, CohereParser]:
    parser = CohereParser(provider="cohere")
    return parse_all(parser, fixture_bytes(f"cohere/{name}"), pieces), parser


def test_tool_plan_is_reasoning_and_calls_fill_their_slots() -> None:
    deltas, parser = parse("two_tool_calls.sse")
    assert parser.finished
    final = collect(deltas)
    assert final.reasoning == "I will check both cities."
    assert final.tool_calls == (
        ToolCall(index=0, id="weather_a1", name="weather", arguments='{"location": "Paris"}'),
        ToolCall(index=1, id="weather_b2", name="weather", arguments='{"location": "Lyon"}'),
    )
    assert final.stop_reason is StopReason.TOOL_CALL
    assert final.usage == Usage(prompt_tokens=1549, completion_tokens=95, total_tokens=1644)
    assert final.id == "c0ffee-1"


def test_text_and_billed_units_when_there_are_no_token_counts() -> None:
    final = collect(parse("text.sse")[0])
    assert final.content == "Bonjour" and final.stop_reason is StopReason.END
    assert final.usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)


test_rechunking_gives_identical_deltas = rechunking_test(
    ["two_tool_calls.sse", "text.sse"], parse, cuts=40, examples=30
)


async def test_stream_over_a_real_server(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("cohere/two_tool_calls.sse"), pieces=17))
    deltas, error = await stream_once(
        Cohere(api_key=KEY, model="command-a-03-2025", base_url=provider_server.url), REQUEST
    )
    assert error is None
    assert deltas == parse("two_tool_calls.sse")[0]
    seen = provider_server.seen[0]
    assert seen.path == "/v2/chat"
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.headers["Accept"] == "text/event-stream"
    assert seen.body == {
        "model": "command-a-03-2025",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "p": 0.5,
    }


async def test_eof_before_message_end_and_http_errors(provider_server: ProviderServer) -> None:
    cut = fixture_bytes("cohere/text.sse").split(b"event: message-end")[0]
    provider_server.reply(Reply(cut), Reply(json.dumps({"message": KEY}).encode(), status=401))
    async with Cohere(api_key=KEY, model="command-a-03-2025", base_url=provider_server.url) as co:
        _, error = await run_stream(co.stream_chat(REQUEST))
        assert isinstance(error, IncompleteStreamError)
        assert error.partial is not None and error.partial.content == "Bonjour"
        _, error = await run_stream(co.stream_chat(REQUEST))
    assert isinstance(error, ProviderHTTPError) and KEY not in str(error)


def test_a_whole_answer_with_tool_calls_citations_and_usage() -> None:
    payload = {
        "id": "r1",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "Look it up.",
            "content": [{"type": "text", "text": "Checking."}],
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}},
                {"type": "function", "function": {"name": "g", "arguments": '{"y": 2}'}},
            ],
        },
        "usage": {"tokens": {"input_tokens": 5, "output_tokens": 6}},
    }
    reply = parse_chat(payload, provider="cohere")
    assert (reply.id, reply.content, reply.reasoning) == ("r1", "Checking.", "Look it up.")
    assert reply.tool_calls == (  # an id missing from the answer is not made up
        ToolCall(index=0, id="t1", name="f", arguments="{}"),
        ToolCall(index=1, id="", name="g", arguments='{"y": 2}'),
    )
    assert reply.stop_reason is StopReason.TOOL_CALL
    assert reply.usage == Usage(prompt_tokens=5, completion_tokens=6, total_tokens=11)
    assert not reply.delta
    object_arguments = {"message": {"tool_calls": [{"function": {"arguments": {"y": 2}}}]}}
    with pytest.raises(MalformedData, match="tool call arguments"):
        parse_chat(object_arguments, provider="cohere")


def test_provider_from_string() -> None:
    provider = provider_from_string("cohere:command-a-03-2025", env={"CO_API_KEY": KEY})
    assert isinstance(provider, Cohere)
    with pytest.raises(ProviderConfigError, match="CO_API_KEY or COHERE_API_KEY"):
        provider_from_string("cohere:command-a-03-2025", env={})
