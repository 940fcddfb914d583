"""Ollama: the native /api/chat NDJSON dialect (pure, re-chunked), over a real server, bodies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import FunctionDef
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import Ollama
from rxchronos.model import ProviderConfigError
from rxchronos.model import ProviderHTTPError
from rxchronos.model import ProviderStreamError
from rxchronos.model import StopReason
from rxchronos.model import ToolCall
from rxchronos.model import ToolDefinition
from rxchronos.model import Usage
from rxchronos.model import provider_from_string
from rxchronos.model._ollama import OllamaParser
from rxchronos.sse import NDJSONSplitter

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import assert_calls_a_b_c
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import rechunking_test
from .conftest import run_stream
from .conftest import stream_once

REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])
NDJSON = {"Content-Type": "application/x-ndjson"}
FIXTURES = [
    "text_thinking.ndjson",
    "parallel_tool_calls.ndjson",
    "no_done.ndjson",
    "length_crlf.ndjson",
]


def parse_ndjson(parser: OllamaParser, data: bytes, pieces: Sequence[int] = ()) -> list:
    splitter = NDJSONSplitter()
    deltas: list[ChatResponse] = []
    cuts, pos = [*pieces], 0
    while pos < len(data):
        size = cuts.pop(0) if cuts else len(data)
        for line in splitter.feed(data[pos : pos + size]):
            deltas.extend(parser.feed("message", line.decode()))
        pos += size
    for line in splitter.close():
        deltas.extend(parser.feed("message", line.decode()))
    return deltas + parser.end()


def parse(name: str, pieces: Sequence[int] = ()) -> tuple[list, OllamaParser]:
    parser = OllamaParser(provider="ollama", new_id=lambda slot: f"gen_{slot}")
    return parse_ndjson(parser, fixture_bytes(f"ollama/{name}"), pieces), parser


def ollama(server: ProviderServer, **options: Any) -> Ollama:
    return Ollama(base_url=server.url, model="qwen3", **options)


def test_text_and_thinking_with_counts_as_usage() -> None:
    deltas, parser = parse("text_thinking.ndjson")
    assert parser.finished
    final = collect(deltas)
    assert final.content == "Héllo 👋!"
    assert final.reasoning == "User greets. Reply."
    assert final.stop_reason is StopReason.END
    assert final.usage == Usage(prompt_tokens=26, completion_tokens=9, total_tokens=35)


def test_whole_calls_with_object_arguments_get_their_own_slots_and_ids() -> None:
    deltas, _ = parse("parallel_tool_calls.ndjson")
    final = collect(deltas)
    assert final.tool_calls == (
        ToolCall(index=0, id="gen_0", name="get_weather", arguments='{"city": "Tokyo"}'),
        ToolCall(
            index=1, id="gen_1", name="get_weather", arguments='{"city": "Paris", "unit": "c"}'
        ),
        ToolCall(index=2, id="call_srv_1", name="get_time", arguments="{}"),
    )
    assert final.stop_reason is StopReason.TOOL_CALL  # the wire says "stop"


@pytest.mark.parametrize("same_id", ["call_1", None])
def test_two_whole_calls_with_one_id_stay_two_calls(same_id: str | None) -> None:
    def line(*calls: dict[str, Any], done: bool = False) -> str:
        message = {"role": "assistant", "content": "", "tool_calls": list(calls)}
        return json.dumps(
            {"message": message, "done": done} | ({"done_reason": "stop"} if done else {})
        )

    def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        function = {"function": {"name": name, "arguments": arguments}}
        return function | ({"id": same_id} if same_id else {})

    parser = OllamaParser(provider="ollama", new_id=lambda slot: "same")  # ids clash if made
    lines = [line(call("a", {"x": 1}), call("b", {"y": 2})), line(call("c", {})), line(done=True)]
    deltas = [d for text in lines for d in parser.feed("message", text)] + parser.end()
    assert_calls_a_b_c(collect(deltas).tool_calls, call_id=same_id or "same")


def test_length_is_max_tokens_and_crlf_lines_are_fine() -> None:
    deltas, parser = parse("length_crlf.ndjson")
    assert parser.finished
    assert collect(deltas).stop_reason is StopReason.MAX_TOKENS
    assert collect(deltas).content == "Lorem"


def test_error_line_is_a_stream_error() -> None:
    with pytest.raises(ProviderStreamError, match="error was encountered while running"):
        parse("error_midstream.ndjson")


def test_malformed_lines_are_loud() -> None:
    parser = OllamaParser(provider="ollama")
    with pytest.raises(ProviderStreamError, match="not JSON"):
        parser.feed("message", "{nope")
    with pytest.raises(ProviderStreamError, match="tool call is not an object"):
        parser.feed("message", '{"message": {"tool_calls": ["x"]}}')


test_rechunking_gives_identical_deltas = rechunking_test(FIXTURES, parse, largest=61, cuts=40)


async def test_stream_over_a_real_server(provider_server: ProviderServer) -> None:
    body = fixture_bytes("ollama/parallel_tool_calls.ndjson")
    provider_server.reply(Reply(body, pieces=9, headers=NDJSON))
    deltas, error = await stream_once(ollama(provider_server), REQUEST)
    assert error is None
    final = collect(deltas)
    assert [c.name for c in final.tool_calls] == ["get_weather", "get_weather", "get_time"]
    assert len({c.id for c in final.tool_calls}) == 3
    seen = provider_server.seen[0]
    assert seen.path == "/api/chat"
    assert "Authorization" not in seen.headers  # no key for a local server
    assert seen.headers["Accept"] == "application/x-ndjson"
    assert seen.body == {
        "model": "qwen3",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }


async def test_error_line_after_200_carries_the_partial(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("ollama/error_midstream.ndjson"), headers=NDJSON))
    _, error = await stream_once(ollama(provider_server), REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert error.partial is not None and error.partial.content == " Yes."


async def test_eof_without_done_is_incomplete(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("ollama/no_done.ndjson"), headers=NDJSON))
    _, error = await stream_once(ollama(provider_server), REQUEST)
    assert isinstance(error, IncompleteStreamError)
    assert error.partial is not None and error.partial.content == "Once upon"


async def test_http_error_and_optional_key_redacted(provider_server: ProviderServer) -> None:
    key = "ollama-SECRET-0123456789"
    body = json.dumps({"error": f"model 'nope' not found (key {key})"}).encode()
    provider_server.reply(Reply(body, status=404))
    _, error = await stream_once(
        Ollama(base_url=provider_server.url, model="nope", api_key=key), REQUEST
    )
    assert isinstance(error, ProviderHTTPError) and error.status == 404
    assert "not found" in str(error) and key not in str(error)
    # a 404 names where the request went (the URL without its query), so a wrong base_url shows
    assert error.url == f"{provider_server.url}/api/chat"
    assert error.url in str(error)
    assert provider_server.seen[0].headers["Authorization"] == f"Bearer {key}"


async def test_chat_is_the_same_endpoint_without_streaming(
    provider_server: ProviderServer,
) -> None:
    answer = {
        "model": "qwen3",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "lookup", "arguments": {"q": "x"}}}],
        },
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 3,
        "eval_count": 4,
    }
    provider_server.reply(Reply(json.dumps(answer).encode(), headers={"Content-Type": "json"}))
    async with ollama(provider_server) as provider:
        reply = await provider.chat(REQUEST)
    assert not reply.delta
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("lookup", '{"q": "x"}')]
    assert reply.tool_calls[0].id
    assert reply.stop_reason is StopReason.TOOL_CALL
    assert reply.usage == Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    assert provider_server.seen[0].body["stream"] is False


async def test_conversation_round_trips_into_the_body(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(fixture_bytes("ollama/text_thinking.ndjson"), headers=NDJSON))
    request = ChatRequest(
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content="Weather in Tokyo?"),
            Message(
                role="assistant",
                tool_calls=[ToolCall(id="c1", name="get_weather", arguments='{"city":"Tokyo"}')],
            ),
            Message(role="tool", tool_call_id="c1", content="11 degrees"),
        ],
        tools=[ToolDefinition(function=FunctionDef(name="get_weather", description="Weather"))],
        max_tokens=50,
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
        response_format={"type": "json_object"},
    )
    async with ollama(provider_server) as provider:
        await run_stream(provider.stream_chat(request))
    body = provider_server.seen[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Tokyo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}],
        },
        {"role": "tool", "content": "11 degrees", "tool_name": "get_weather"},
    ]
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["options"] == {"num_predict": 50, "temperature": 0.2, "top_p": 0.9, "stop": ["END"]}
    assert body["format"] == "json"


def test_bad_arguments_are_loud() -> None:
    with pytest.raises(ValueError, match="base_url"):
        Ollama(base_url="localhost:11434", model="llama3.2")
    with pytest.raises(ValueError, match="model"):
        Ollama(model="")


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        (None, "http://localhost:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        ("https://ollama.example.com/", "https://ollama.example.com"),
    ],
)
def test_provider_from_string_needs_no_key_and_reads_ollama_host(
    host: str | None, base_url: str
) -> None:
    env = {"OLLAMA_HOST": host} if host else {}
    provider = provider_from_string("ollama:llama3.1:8b", env=env)
    assert isinstance(provider, Ollama)
    assert provider.model == "llama3.1:8b" and provider.base_url == base_url


def test_a_bad_ollama_host_is_a_config_error() -> None:
    with pytest.raises(ProviderConfigError, match="OLLAMA_HOST"):
        provider_from_string("ollama:llama3.2", env={"OLLAMA_HOST": "http://"})
