"""Anthropic: the Messages dialect (pure, re-chunked), over a real local server, request bodies."""

from __future__ import annotations

import json

import pytest

from rxchronos.model import Anthropic
from rxchronos.model import ChatRequest
from rxchronos.model import FunctionDef
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import ProviderConfigError
from rxchronos.model import ProviderHTTPError
from rxchronos.model import ProviderStreamError
from rxchronos.model import ReasoningPart
from rxchronos.model import RetryPolicy
from rxchronos.model import ServerToolCallPart
from rxchronos.model import ServerToolResultPart
from rxchronos.model import StopReason
from rxchronos.model import TextPart
from rxchronos.model import ToolArgumentsError
from rxchronos.model import ToolCall
from rxchronos.model import ToolDefinition
from rxchronos.model import UnknownPart
from rxchronos.model import Usage
from rxchronos.model import provider_from_string
from rxchronos.model._anthropic import AnthropicParser
from rxchronos.model._anthropic import messages_body
from rxchronos.model._anthropic import parse_message

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import parse_all
from .conftest import rechunking_test
from .conftest import run_stream
from .conftest import stream_once

KEY = "sk-ant-api03-SECRET-0123456789"
REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")], max_tokens=64)
FIXTURES = [
    "text_ping_padding.sse",
    "parallel_tool_use.sse",
    "thinking_signature.sse",
    "tool_truncated_max_tokens.sse",
    "no_message_stop.sse",
    "server_tools_citations.sse",
]


def parse(name: str, pieces: list[int] | tuple[int, ...] = ()) -> tuple[list, AnthropicParser]:
    parser = AnthropicParser(provider="anthropic")
    return parse_all(parser, fixture_bytes(f"anthropic/{name}"), pieces), parser


def claude(server: ProviderServer, **options: object) -> Anthropic:
    return Anthropic(api_key=KEY, model="claude-sonnet-4-5", base_url=server.url, **options)  # type: ignore[arg-type]


def test_text_pings_padding_citations_and_unknown_events() -> None:
    deltas, parser = parse("text_ping_padding.sse")
    assert parser.finished
    assert [d.content for d in deltas if d.content] == ["Bonjour", ", wörld 👋"]
    final = collect(deltas)
    assert final.content == "Bonjour, wörld 👋"
    assert final.id == "msg_01TextAbc"
    assert final.stop_reason is StopReason.END
    # message_delta usage is cumulative: the last one wins; prompt includes cache reads
    assert final.usage == Usage(
        prompt_tokens=15, completion_tokens=7, total_tokens=22, cached_prompt_tokens=3
    )


def test_tool_slots_count_tool_blocks_only_and_no_arg_tools_become_empty_objects() -> None:
    deltas, _ = parse("parallel_tool_use.sse")
    final = collect(deltas)
    assert final.content == "Checking both."
    assert final.tool_calls == (
        ToolCall(index=0, id="toolu_01Weather", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCall(index=1, id="toolu_02Weather", name="get_weather", arguments='{"city": "Lyon"}'),
        ToolCall(index=2, id="toolu_03Time", name="get_time", arguments="{}"),
    )
    assert final.stop_reason is StopReason.TOOL_CALL
    assert final.usage is not None and final.usage.total == 490
    # the first input_json_delta is "" and carries nothing
    fragments = [c for d in deltas for c in d.tool_calls]
    assert all(f.arguments or f.name for f in fragments)


def test_thinking_text_is_reasoning_and_signed_blocks_are_kept_in_order() -> None:
    deltas, _ = parse("thinking_signature.sse")
    final = collect(deltas)
    assert final.reasoning == "Two plus two is four."
    assert final.content == "4"
    assert final.parts == (
        ReasoningPart(
            text="Two plus two is four.",
            signature="EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
            dialect="anthropic",
        ),
        ReasoningPart(
            signature="EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP",
            redacted=True,
            dialect="anthropic",
        ),
        TextPart(text="4"),
    )
    assert final.provider_data is None
    # sent back unchanged, in order, on the next turn
    blocks = messages_body(
        ChatRequest(messages=[Message(role="user", content="2+2?"), final.to_message()]),
        model="m",
        stream=True,
    )["messages"][1]["content"]
    assert blocks == [
        {
            "type": "thinking",
            "thinking": "Two plus two is four.",
            "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
        },
        {
            "type": "redacted_thinking",
            "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP",
        },
        {"type": "text", "text": "4"},
    ]


def test_tool_input_cut_by_max_tokens() -> None:
    deltas, parser = parse("tool_truncated_max_tokens.sse")
    assert parser.finished
    final = collect(deltas)
    assert final.stop_reason is StopReason.MAX_TOKENS
    call = final.tool_calls[0]
    assert call.name == "make_file" and call.arguments.startswith('{"filename": "taxes.txt"')
    with pytest.raises(ToolArgumentsError) as caught:
        call.parse_arguments()
    assert caught.value.arguments == call.arguments


def test_error_event_is_a_stream_error() -> None:
    with pytest.raises(ProviderStreamError) as caught:
        parse("overloaded_error.sse")
    assert caught.value.code == "overloaded_error"
    assert caught.value.message == "Overloaded"


def test_malformed_events_are_loud() -> None:
    parser = AnthropicParser(provider="anthropic")
    with pytest.raises(ProviderStreamError, match="not JSON"):
        parser.feed("content_block_delta", "{oops")
    with pytest.raises(ProviderStreamError, match="not an object"):
        parser.feed("content_block_delta", '{"type": "content_block_delta", "delta": [1]}')


def events(*payloads: dict[str, object]) -> list[tuple[str, str]]:
    return [(str(p["type"]), json.dumps(p)) for p in payloads]


def block(index: int, content: dict[str, object]) -> dict[str, object]:
    return {"type": "content_block_start", "index": index, "content_block": content}


def input_json(index: int, part: str) -> dict[str, object]:
    delta = {"type": "input_json_delta", "partial_json": part}
    return {"type": "content_block_delta", "index": index, "delta": delta}


def text(index: int, piece: str) -> dict[str, object]:
    delta = {"type": "text_delta", "text": piece}
    return {"type": "content_block_delta", "index": index, "delta": delta}


def stop(index: int) -> dict[str, object]:
    return {"type": "content_block_stop", "index": index}


START = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 5}}}
TOOL = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}


@pytest.mark.parametrize(
    "stream",
    [
        [START, input_json(3, '{"a": 1}')],  # never opened
        [START, block(0, TOOL), input_json(0, '{"a": '), input_json(1, "1}")],  # another index
        [START, block(0, TOOL), input_json(0, '{"a": 1}'), stop(0), input_json(0, "{}")],  # closed
        [START, block(0, {"type": "text", "text": ""}), input_json(0, '{"a": 1}')],  # a text block
    ],
    ids=["never-opened", "other-index", "after-stop", "text-block"],
)
def test_input_json_for_a_block_that_is_no_open_tool_block_is_malformed(
    stream: list[dict[str, object]],
) -> None:
    parser = AnthropicParser(provider="anthropic")
    *before, last = events(*stream)
    for event, data in before:
        parser.feed(event, data)
    with pytest.raises(ProviderStreamError, match="not an open tool block") as caught:
        parser.feed(*last)
    assert caught.value.kind == "malformed"
    assert "content block" in caught.value.message


SERVER_TOOLS = events(
    {"type": "message_start", "message": {"id": "msg_s", "usage": {"input_tokens": 5}}},
    block(0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
    input_json(0, '{"query": "wea'),
    input_json(0, 'ther"}'),
    stop(0),
    block(1, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}),
    stop(1),
    block(2, {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "lookup", "server_name": "s"}),
    input_json(2, '{"k": 1}'),
    stop(2),
    block(3, {"type": "a_block_from_next_year", "x": 1}),
    input_json(3, "{"),
    stop(3),
    block(4, {"type": "text", "text": ""}),
    text(4, "Sunny."),
    stop(4),
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
    {"type": "message_stop"},
)


def test_a_server_tool_input_nested_too_deeply_for_json_is_kept_as_text() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    server = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    parser = AnthropicParser(provider="anthropic")
    stream = events(START, block(0, server), input_json(0, deep), stop(0))
    deltas = [d for event, data in stream for d in parser.feed(event, data)]
    (part,) = collect(deltas).parts
    assert part.raw is not None and part.raw["partial_json"] == deep


def test_server_side_and_unknown_blocks_are_kept_raw_and_are_not_client_calls() -> None:
    parser = AnthropicParser(provider="anthropic")
    deltas = [d for event, data in SERVER_TOOLS for d in parser.feed(event, data)]
    assert parser.finished
    final = collect(deltas)
    assert final.content == "Sunny." and final.tool_calls == ()
    assert final.stop_reason is StopReason.END
    assert final.provider_data is None
    kept = [p for p in final.parts if not isinstance(p, TextPart)]
    assert [p.type for p in kept] == [
        "server_tool_call",
        "server_tool_result",
        "server_tool_call",
        "unknown",
    ]
    search, result, mcp, unknown = kept
    assert isinstance(search, ServerToolCallPart) and isinstance(mcp, ServerToolCallPart)
    assert (search.id, search.name, search.input) == (
        "srvtoolu_1",
        "web_search",
        {"query": "weather"},
    )
    assert isinstance(result, ServerToolResultPart)
    assert (result.call_id, result.name, result.content) == ("srvtoolu_1", "web_search", [])
    assert (mcp.name, mcp.server, mcp.input) == ("lookup", "s", {"k": 1})
    assert isinstance(unknown, UnknownPart) and unknown.kind == "a_block_from_next_year"
    assert unknown.raw is not None and unknown.raw["partial_json"] == "{"  # input that is not JSON


def test_server_side_blocks_of_a_whole_answer_are_not_client_calls() -> None:
    answer = {
        "id": "msg_w",
        "content": [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            {"type": "text", "text": "Sunny."},
        ],
        "stop_reason": "end_turn",
    }
    final = parse_message(answer, provider="anthropic")
    assert final.tool_calls == () and final.content == "Sunny."
    assert final.parts == (
        ServerToolCallPart(
            id="srvtoolu_1",
            name="web_search",
            dialect="anthropic",
            raw=answer["content"][0],  # type: ignore[index]
        ),
        TextPart(text="Sunny."),
    )


test_rechunking_gives_identical_deltas = rechunking_test(FIXTURES, parse)


async def test_stream_over_a_real_server_sends_the_right_request(
    provider_server: ProviderServer,
) -> None:
    body = fixture_bytes("anthropic/parallel_tool_use.sse")
    provider_server.reply(Reply(body, pieces=11))
    deltas, error = await stream_once(claude(provider_server), REQUEST)
    assert error is None
    assert deltas == parse("parallel_tool_use.sse")[0]
    seen = provider_server.seen[0]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["Accept"] == "text/event-stream"
    assert "Authorization" not in seen.headers
    assert seen.body == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 64,
        "stream": True,
    }


async def test_error_event_after_200_carries_the_partial(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("anthropic/overloaded_error.sse")))
    deltas, error = await stream_once(claude(provider_server), REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert error.code == "overloaded_error"
    assert error.partial is not None and error.partial.content == "Partial ans"
    assert collect(deltas).content == "Partial ans"


async def test_eof_without_message_stop_is_incomplete(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("anthropic/no_message_stop.sse")))
    _, error = await stream_once(claude(provider_server), REQUEST)
    assert isinstance(error, IncompleteStreamError)
    assert error.partial is not None and error.partial.content == "Once upon"


async def test_http_errors_carry_status_and_never_the_key(provider_server: ProviderServer) -> None:
    error_body = {"type": "error", "error": {"type": "authentication_error", "message": KEY}}
    provider_server.reply(
        Reply(json.dumps(error_body).encode(), status=401),
        Reply(b'{"type":"error"}', status=529, headers={"Retry-After": "0"}),
        Reply(fixture_bytes("anthropic/text_ping_padding.sse")),
    )
    async with claude(provider_server, retry=RetryPolicy(max_retries=1, base_delay=0)) as provider:
        _, error = await run_stream(provider.stream_chat(REQUEST))
        assert isinstance(error, ProviderHTTPError)
        assert error.status == 401 and not error.retryable
        for text in (str(error), repr(error), error.body, repr(provider)):
            assert KEY not in text
        deltas, error = await run_stream(provider.stream_chat(REQUEST))  # 529 is retried
    assert error is None
    assert collect(deltas).content == "Bonjour, wörld 👋"


async def test_chat_uses_the_non_streaming_endpoint(provider_server: ProviderServer) -> None:
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    provider_server.reply(Reply(json.dumps(answer).encode(), headers={"Content-Type": "json"}))
    async with claude(provider_server) as provider:
        reply = await provider.chat(REQUEST)
    assert not reply.delta
    assert provider_server.seen[0].headers.get("Accept") != "text/event-stream"
    assert reply.content == "Let me look." and reply.reasoning == "Hmm."
    assert reply.tool_calls == (ToolCall(id="toolu_1", name="lookup", arguments='{"q": "x"}'),)
    assert reply.stop_reason is StopReason.TOOL_CALL
    assert reply.usage == Usage(prompt_tokens=5, completion_tokens=9, total_tokens=14)
    assert isinstance(reply.parts[0], ReasoningPart) and reply.parts[0].signature
    assert "stream" not in provider_server.seen[0].body


async def test_conversation_round_trips_as_content_blocks(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("anthropic/text_ping_padding.sse")))
    thinking = [{"type": "thinking", "thinking": "Need weather.", "signature": "sig-1"}]
    signed = ReasoningPart(text="Need weather.", signature="sig-1", dialect="anthropic")
    request = ChatRequest(
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content="Weather in Paris and Lyon?"),
            Message(
                role="assistant",
                content="Checking.",
                tool_calls=[
                    ToolCall(id="toolu_1", name="get_weather", arguments='{"city":"Paris"}'),
                    ToolCall(id="toolu_2", name="get_weather", arguments=""),
                ],
                parts=[signed],
            ),
            Message(role="tool", tool_call_id="toolu_1", content='{"temp": 21}'),
            Message(role="tool", tool_call_id="toolu_2", content='{"temp": 19}'),
        ],
        tools=[ToolDefinition(function=FunctionDef(name="get_weather", description="Weather"))],
        temperature=0.2,
        stop=["END"],
    )
    async with claude(provider_server) as provider:
        await run_stream(provider.stream_chat(request))
    body = provider_server.seen[0].body
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 4096  # required by the API: a default is sent
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            *thinking,
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
        ],
    }
    assert body["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp": 21}'},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": '{"temp": 19}'},
        ],
    }
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather",
            "input_schema": {"type": "object", "properties": {}},
        }
    ]
    assert body["temperature"] == 0.2 and body["stop_sequences"] == ["END"]


def test_bad_arguments_are_loud() -> None:
    with pytest.raises(ValueError, match="api_key"):
        Anthropic(api_key="", model="claude-sonnet-4-5")
    with pytest.raises(ValueError, match="model"):
        Anthropic(api_key=KEY, model="")
    with pytest.raises(ValueError, match="base_url"):
        Anthropic(api_key=KEY, model="m", base_url="api.anthropic.com")
    bad = ChatRequest(messages=[Message(role="tool", content="x")])
    with pytest.raises(ValueError, match="tool_call_id"):
        Anthropic(api_key=KEY, model="m").build_request(bad, stream=True)


def test_provider_from_string_reads_the_key_from_the_environment() -> None:
    provider = provider_from_string("anthropic:claude-sonnet-4-5", env={"ANTHROPIC_API_KEY": KEY})
    assert isinstance(provider, Anthropic) and provider.model == "claude-sonnet-4-5"
    with pytest.raises(ProviderConfigError, match="ANTHROPIC_API_KEY"):
        provider_from_string("anthropic:claude-sonnet-4-5", env={})
