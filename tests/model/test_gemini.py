"""Gemini: the generateContent dialect (pure, re-chunked), over a real server, request bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import FunctionDef
from rxchronos.model import Gemini
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import ProviderConfigError
from rxchronos.model import ProviderHTTPError
from rxchronos.model import ProviderStreamError
from rxchronos.model import StopReason
from rxchronos.model import ToolCall
from rxchronos.model import ToolDefinition
from rxchronos.model import Usage
from rxchronos.model import provider_from_string
from rxchronos.model._gemini import SIGNATURE_KEY
from rxchronos.model._gemini import TEXT_SIGNATURE_KEY
from rxchronos.model._gemini import GeminiParser

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import assert_calls_a_b_c
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import parse_all
from .conftest import rechunking_test
from .conftest import run_stream
from .conftest import stream_once

KEY = "AIzaSy-SECRET-0123456789abcdef"
REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])
FIXTURES = [
    "text_usage_crlf.sse",
    "parallel_calls_crlf.sse",
    "empty_args_signature_crlf.sse",
    "vertex_partial_args.sse",
    "no_finish_reason.sse",
    "thought_signature_max_tokens.sse",
    "prompt_blocked.sse",
    "code_execution_grounding.sse",
]


def parse(name: str, pieces: list[int] | tuple[int, ...] = ()) -> tuple[list, GeminiParser]:
    parser = GeminiParser(provider="gemini", new_id=lambda slot: f"gen_{slot}")
    return parse_all(parser, fixture_bytes(f"gemini/{name}"), pieces), parser


def gemini(server: ProviderServer, **options: Any) -> Gemini:
    return Gemini(api_key=KEY, model="gemini-2.5-flash", base_url=server.url, **options)


def without_ids(deltas: list[ChatResponse]) -> list[ChatResponse]:
    return [
        d.model_copy(
            update={"tool_calls": tuple(c.model_copy(update={"id": ""}) for c in d.tool_calls)}
        )
        for d in deltas
    ]


def test_text_in_crlf_events_and_usage_last_wins() -> None:
    deltas, parser = parse("text_usage_crlf.sse")
    assert parser.finished
    final = collect(deltas)
    assert final.content == "The temperature in Paris is 30°C 🌡️.\n"
    assert final.stop_reason is StopReason.END
    assert final.usage == Usage(prompt_tokens=79, completion_tokens=12, total_tokens=91)
    assert final.id == "resp-gem-1"


def test_whole_parallel_calls_get_distinct_ids_and_tool_call_reason() -> None:
    deltas, _ = parse("parallel_calls_crlf.sse")
    final = collect(deltas)
    assert final.reasoning == "Looking up both secrets."
    assert final.content == ""
    first, second = final.tool_calls
    assert (first.index, first.name, first.parse_arguments()) == (
        0,
        "secret_retrieval_tool",
        {"password": "mellon"},
    )
    assert (second.index, second.parse_arguments()) == (1, {"password": "radiance"})
    assert first.id == "gen_0" and second.id == "gen_1"
    assert first.provider_data == {SIGNATURE_KEY: "CikB0e2Kbw5tJ9dw"}
    assert second.provider_data is None
    assert final.stop_reason is StopReason.TOOL_CALL  # the wire says STOP
    assert final.usage == Usage(
        prompt_tokens=70, completion_tokens=80, total_tokens=150, reasoning_tokens=40
    )


@pytest.mark.parametrize("same_id", ["fc_1", None])
def test_two_whole_calls_with_one_id_stay_two_calls(same_id: str | None) -> None:
    def event(*parts: dict[str, Any], finish: str | None = None) -> str:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
        return json.dumps(
            {"candidates": [candidate | ({"finishReason": finish} if finish else {})]}
        )

    def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"functionCall": {"name": name, "args": args} | ({"id": same_id} if same_id else {})}

    parser = GeminiParser(provider="gemini", new_id=lambda slot: "same")  # ids clash if made
    events = [event(call("a", {"x": 1}), call("b", {"y": 2})), event(call("c", {}), finish="STOP")]
    deltas = [d for data in events for d in parser.feed("message", data)] + parser.end()
    assert_calls_a_b_c(collect(deltas).tool_calls, call_id=same_id or "same")


def test_default_generated_ids_are_unique_across_streams() -> None:
    ids = set()
    for _ in range(3):
        parser = GeminiParser(provider="gemini")
        deltas = parse_all(parser, fixture_bytes("gemini/parallel_calls_crlf.sse"))
        ids.update(c.id for d in deltas for c in d.tool_calls)
    assert len(ids) == 6 and all(ids)


def test_empty_args_and_a_final_empty_text_part() -> None:
    final = collect(parse("empty_args_signature_crlf.sse")[0])
    (call,) = final.tool_calls
    assert call.name == "get_country" and call.arguments == "{}"
    assert call.provider_data == {SIGNATURE_KEY: "EpwICpkIAXLI2nx"}
    assert final.stop_reason is StopReason.TOOL_CALL
    assert final.usage is not None and final.usage.completion_tokens == 212


def test_vertex_streamed_arguments_are_assembled() -> None:
    deltas, parser = parse("vertex_partial_args.sse")
    assert parser.finished
    final = collect(deltas)
    assert final.reasoning == "Reading the theme first."
    assert [(c.index, c.id, c.name) for c in final.tool_calls] == [
        (0, "gen_0", "read_theme"),
        (1, "gen_1", "read_screen"),
        (2, "gen_2", "read_screen"),
    ]
    assert [c.parse_arguments() for c in final.tool_calls] == [
        {},
        {"id": "screen-A", "options": {"zoom": 2}, "tags": ["a", "b"], "dark": True},
        {"id": "B"},
    ]
    assert final.stop_reason is StopReason.TOOL_CALL


def test_partial_args_without_an_open_call_are_loud() -> None:
    parser = GeminiParser(provider="gemini")
    chunk = {"candidates": [{"content": {"parts": [{"functionCall": {"partialArgs": []}}]}}]}
    chunk["candidates"][0]["content"]["parts"][0]["functionCall"]["partialArgs"] = [
        {"jsonPath": "$.a", "stringValue": "x"}
    ]
    with pytest.raises(ProviderStreamError, match="partialArgs"):
        parser.feed("message", json.dumps(chunk))


def test_thought_parts_text_signature_and_max_tokens() -> None:
    final = collect(parse("thought_signature_max_tokens.sse")[0])
    assert final.reasoning == "Counting words." and final.content == "One, two"
    assert final.provider_data == {TEXT_SIGNATURE_KEY: "TxtSig01"}
    assert final.stop_reason is StopReason.MAX_TOKENS


def test_blocked_prompt_is_a_content_filter_stop() -> None:
    deltas, parser = parse("prompt_blocked.sse")
    assert parser.finished
    assert collect(deltas).stop_reason is StopReason.CONTENT_FILTER


def test_no_finish_reason_leaves_the_stream_unfinished() -> None:
    deltas, parser = parse("no_finish_reason.sse")
    assert not parser.finished
    assert collect(deltas).content == "Once upon a time"


def test_error_object_is_a_stream_error() -> None:
    with pytest.raises(ProviderStreamError) as caught:
        parse("error_chunk.sse")
    assert caught.value.code == "UNAVAILABLE"
    assert "overloaded" in caught.value.message


test_rechunking_gives_identical_deltas = rechunking_test(FIXTURES, parse)


async def test_stream_over_a_real_server_key_only_in_the_header(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(fixture_bytes("gemini/parallel_calls_crlf.sse"), pieces=13))
    deltas, error = await stream_once(gemini(provider_server), REQUEST)
    assert error is None
    assert without_ids(deltas) == without_ids(parse("parallel_calls_crlf.sse")[0])
    ids = [c.id for d in deltas for c in d.tool_calls]
    assert len(set(ids)) == 2 and all(ids)
    seen = provider_server.seen[0]
    assert seen.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert seen.query == {"alt": "sse"}  # no key in the URL
    assert seen.headers["x-goog-api-key"] == KEY
    assert seen.headers["Accept"] == "text/event-stream"
    assert seen.body == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


async def test_error_chunk_carries_the_partial(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("gemini/error_chunk.sse")))
    _, error = await stream_once(gemini(provider_server), REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert error.partial is not None and error.partial.content == "Partial"


async def test_eof_without_finish_reason_is_incomplete(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("gemini/no_finish_reason.sse")))
    _, error = await stream_once(gemini(provider_server), REQUEST)
    assert isinstance(error, IncompleteStreamError)
    assert error.partial is not None and error.partial.content == "Once upon a time"


async def test_http_error_never_shows_the_key(provider_server: ProviderServer) -> None:
    body = {"error": {"code": 400, "message": f"API key not valid: {KEY}", "status": "BAD"}}
    provider_server.reply(Reply(json.dumps(body).encode(), status=400))
    async with gemini(provider_server) as provider:
        _, error = await run_stream(provider.stream_chat(REQUEST))
        assert isinstance(error, ProviderHTTPError) and error.status == 400
        assert "API key not valid" in str(error)
        for text in (str(error), repr(error), error.body, repr(provider)):
            assert KEY not in text


async def test_chat_uses_generate_content(provider_server: ProviderServer) -> None:
    answer = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "Hmm", "thought": True},
                        {"text": "Calling."},
                        {"functionCall": {"name": "lookup", "args": {"q": "x"}}},
                    ],
                    "role": "model",
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
        "responseId": "r1",
    }
    provider_server.reply(Reply(json.dumps(answer).encode(), headers={"Content-Type": "json"}))
    async with gemini(provider_server) as provider:
        reply = await provider.chat(REQUEST)
    assert not reply.delta and reply.id == "r1"
    assert reply.content == "Calling." and reply.reasoning == "Hmm"
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("lookup", '{"q": "x"}')]
    assert reply.stop_reason is StopReason.TOOL_CALL
    assert reply.usage == Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    assert provider_server.seen[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_conversation_round_trips_as_contents(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("gemini/text_usage_crlf.sse")))
    signed = {SIGNATURE_KEY: "sig-1"}
    weather = FunctionDef(
        name="get_weather",
        description="Weather",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    )
    request = ChatRequest(
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content="Weather in Paris and Lyon?"),
            Message(
                role="assistant",
                tool_calls=[
                    ToolCall(
                        id="c1",
                        name="get_weather",
                        arguments='{"city":"Paris"}',
                        provider_data=signed,
                    ),
                    ToolCall(id="c2", name="get_weather", arguments='{"city":"Lyon"}'),
                ],
            ),
            Message(role="tool", tool_call_id="c1", content='{"temp": 21}'),
            Message(role="tool", tool_call_id="c2", content="19 degrees"),
        ],
        tools=[ToolDefinition(function=weather), ToolDefinition(function=FunctionDef(name="now"))],
        max_tokens=50,
        temperature=0.2,
        stop=["END"],
        response_format={"type": "json_object"},
    )
    async with gemini(provider_server) as provider:
        await run_stream(provider.stream_chat(request))
    body = provider_server.seen[0].body
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "sig-1",
                },
                {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "get_weather", "response": {"result": "19 degrees"}}},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "get_weather", "description": "Weather", "parameters": weather.parameters},
                {"name": "now", "description": ""},  # no empty object schema: Gemini rejects it
            ]
        }
    ]
    assert body["generationConfig"] == {
        "maxOutputTokens": 50,
        "temperature": 0.2,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
    }


def test_bad_arguments_are_loud() -> None:
    with pytest.raises(ValueError, match="api_key"):
        Gemini(api_key=" ", model="gemini-2.5-flash")
    with pytest.raises(ValueError, match="base_url"):
        Gemini(api_key=KEY, model="m", base_url="googleapis.com")
    orphan = ChatRequest(messages=[Message(role="tool", tool_call_id="zz", content="1")])
    with pytest.raises(ValueError, match="tool_call_id='zz'"):
        Gemini(api_key=KEY, model="m").build_request(orphan, stream=True)


def test_a_tool_result_nested_too_deeply_for_json_is_sent_as_text() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    call = ToolCall(id="c1", name="f", arguments="{}")
    request = ChatRequest(
        messages=[
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id="c1", content=deep),
        ]
    )
    body = Gemini(api_key=KEY, model="m").build_request(request, stream=True).body
    sent = body["contents"][-1]["parts"][0]["functionResponse"]
    assert sent == {"name": "f", "response": {"result": deep}}


def test_provider_from_string_takes_either_key_variable() -> None:
    for variable in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        provider = provider_from_string("gemini:gemini-2.5-flash", env={variable: KEY})
        assert isinstance(provider, Gemini) and provider.model == "gemini-2.5-flash"
    with pytest.raises(ProviderConfigError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        provider_from_string("gemini:gemini-2.5-flash", env={})
