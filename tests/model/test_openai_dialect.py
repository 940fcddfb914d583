"""The Chat Completions dialect parser on every wire variant (pure: no server)."""

from __future__ import annotations

import pytest

from rxchronos.model import ProviderStreamError
from rxchronos.model import StopReason
from rxchronos.model import ToolCall
from rxchronos.model import Usage
from rxchronos.model._dialect import MalformedData
from rxchronos.model._openai import OpenAIChatParser
from rxchronos.model._openai import parse_completion

from .conftest import collect
from .conftest import fixture_bytes
from .conftest import parse_all
from .conftest import rechunking_test


def parse(name: str, pieces: list[int] | tuple[int, ...] = ()) -> tuple[list, OpenAIChatParser]:
    parser = OpenAIChatParser(provider="test")
    return parse_all(parser, fixture_bytes(name), pieces), parser


def test_text_with_usage_in_an_empty_choices_chunk() -> None:
    deltas, parser = parse("openai/text_usage.sse")
    assert parser.finished
    assert [d.content for d in deltas if d.content] == ["Hello", ",", " wörld", " 👋", "!"]
    final = collect(deltas)
    assert final.content == "Hello, wörld 👋!"
    assert final.stop_reason is StopReason.END
    assert final.usage == Usage(prompt_tokens=12, completion_tokens=5, total_tokens=17)
    assert final.id == "chatcmpl-A1b2C3"
    assert all(d.delta for d in deltas) and not final.delta


def test_interleaved_parallel_tool_calls_get_their_own_slots() -> None:
    deltas, _ = parse("openai/parallel_tool_calls.sse")
    final = collect(deltas)
    assert final.tool_calls == (
        ToolCall(
            index=0, id="call_weather_1", name="get_weather", arguments='{"city": "Edinburgh"}'
        ),
        ToolCall(
            index=1, id="call_stock_2", name="get_stock_price", arguments='{"ticker": "AAPL"}'
        ),
    )
    assert final.stop_reason is StopReason.TOOL_CALL
    assert final.usage is not None and final.usage.total == 209
    assert final.tool_calls[0].parse_arguments() == {"city": "Edinburgh"}


def test_refusal_is_kept_apart_from_content() -> None:
    final = collect(parse("openai/refusal.sse")[0])
    assert final.refusal == "I'm sorry, I can't help with that."
    assert final.content == ""


def test_missing_done_leaves_the_parser_unfinished() -> None:
    deltas, parser = parse("openai/truncated.sse")
    assert not parser.finished
    assert collect(deltas).content == "Once upon a time"


def test_azure_prompt_filter_annotations_and_content_filter() -> None:
    deltas, parser = parse("azure/prompt_filter_content_filter.sse")
    assert parser.finished
    final = collect(deltas)
    assert final.content == "Here is"
    assert final.stop_reason is StopReason.CONTENT_FILTER
    assert final.id == "chatcmpl-AZ9"  # the prompt-filter chunk's empty id is not taken
    assert final.usage is not None and final.usage.total == 23


def test_groq_event_error_after_reasoning() -> None:
    parser = OpenAIChatParser(provider="groq")
    with pytest.raises(ProviderStreamError) as caught:
        parse_all(parser, fixture_bytes("compatible/groq_error_event.sse"))
    assert caught.value.code == "invalid_request_error"
    assert "Tool call validation failed" in caught.value.message
    assert caught.value.provider == "groq"


def test_reasoning_field_becomes_reasoning() -> None:
    parser = OpenAIChatParser(provider="groq")
    data = fixture_bytes("compatible/groq_error_event.sse").split(b"event: error")[0]
    deltas = parse_all(parser, data)
    assert collect(deltas).reasoning == "We need to call the tool."


def test_openrouter_error_object_inside_a_normal_chunk() -> None:
    parser = OpenAIChatParser(provider="openrouter")
    with pytest.raises(ProviderStreamError) as caught:
        parse_all(parser, fixture_bytes("compatible/openrouter_comments_error.sse"))
    assert caught.value.message == "Token limit reached"
    assert caught.value.code == "400"


def test_comments_are_ignored() -> None:
    deltas, parser = parse("compatible/openrouter_comments_text.sse")
    assert parser.finished
    final = collect(deltas)
    assert final.content == "Hi there"
    assert final.usage is not None and final.usage.total == 7


def test_error_data_chunk() -> None:
    with pytest.raises(ProviderStreamError) as caught:
        parse("openai/error_chunk.sse")
    assert caught.value.code == "server_error"


def test_deepseek_reasoning_content_and_char_level_arguments() -> None:
    final = collect(parse("compatible/deepseek_reasoning_tool.sse")[0])
    assert final.reasoning == "The user wants weather."
    assert final.tool_calls == (
        ToolCall(index=0, id="call_00_Ab12", name="weather", arguments='{"location": "Paris"}'),
    )
    assert final.usage is not None and final.usage.prompt_tokens == 339
    assert final.stop_reason is StopReason.TOOL_CALL


def test_groq_whole_call_and_usage_on_the_finish_chunk() -> None:
    final = collect(parse("compatible/groq_tool_whole.sse")[0])
    assert final.tool_calls == (ToolCall(index=0, id="tk85n1k4m", name="weather", arguments="{}"),)
    assert final.usage == Usage(prompt_tokens=210, completion_tokens=15, total_tokens=225)


def test_a_new_id_at_a_used_index_is_a_new_call() -> None:
    final = collect(parse("compatible/ollama_v1_index_reuse.sse")[0])
    assert [(c.index, c.id, c.arguments) for c in final.tool_calls] == [
        (0, "call_a1", '{"city":"Paris"}'),
        (1, "call_b2", '{"city":"Rome"}'),
    ]
    assert "get_weatherget_weather" not in {c.name for c in final.tool_calls}


def test_index_less_calls_are_keyed_by_id() -> None:
    final = collect(parse("compatible/gemini_openai_no_index.sse")[0])
    assert [(c.index, c.name) for c in final.tool_calls] == [(0, "get_weather"), (1, "get_time")]


def test_mistral_whole_call_without_index_or_type() -> None:
    final = collect(parse("mistral/tool_call_no_index.sse")[0])
    assert final.tool_calls == (
        ToolCall(
            index=0, id="gSIMJiOkT", name="weather", arguments='{"location": "San Francisco"}'
        ),
    )
    assert final.usage is not None and final.usage.total == 146


def test_magistral_list_content_with_thinking_parts() -> None:
    final = collect(parse("mistral/magistral_content_list.sse")[0])
    assert final.reasoning == "The user is asking for 2+2."
    assert final.content == "2 + 2 = 4"


def test_malformed_json_is_an_error_not_a_skip() -> None:
    parser = OpenAIChatParser(provider="x")
    with pytest.raises(ProviderStreamError) as caught:
        parser.feed("message", '{"choices": [')
    assert caught.value.kind == "malformed"
    with pytest.raises(ProviderStreamError):
        parser.feed("message", "[1, 2]")


def test_index_less_fragments_without_id_continue_the_latest_call() -> None:
    parser = OpenAIChatParser(provider="x")
    chunks = [
        '{"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{"}}]}}]}',
        '{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"}"}}]}}]}',
    ]
    deltas = [d for c in chunks for d in parser.feed("message", c)]
    assert collect(deltas).tool_calls == (ToolCall(index=0, id="a", name="f", arguments="{}"),)


FIXTURE_NAMES = [
    "openai/text_usage.sse",
    "openai/parallel_tool_calls.sse",
    "openai/refusal.sse",
    "azure/prompt_filter_content_filter.sse",
    "compatible/deepseek_reasoning_tool.sse",
    "compatible/ollama_v1_index_reuse.sse",
    "compatible/openrouter_comments_text.sse",
    "mistral/magistral_content_list.sse",
]


test_rechunking_gives_identical_deltas = rechunking_test(
    FIXTURE_NAMES, parse, largest=64, cuts=400, examples=30
)


def test_non_streaming_completion() -> None:
    payload = {
        "id": "chatcmpl-9",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    reply = parse_completion(payload, provider="openai")
    assert reply.tool_calls == (ToolCall(index=0, id="c1", name="f", arguments="{}"),)
    assert reply.stop_reason is StopReason.TOOL_CALL
    assert not reply.delta
    with pytest.raises(ProviderStreamError):
        parse_completion({"error": {"message": "bad", "type": "invalid"}}, provider="openai")


def test_non_streaming_tool_calls_without_an_id_or_with_object_arguments() -> None:
    calls = [
        {"function": {"name": "f", "arguments": {"x": 1}}},
        {"id": "c2", "function": {"name": "g", "arguments": '{"y": 2}'}},
    ]
    payload = {"choices": [{"message": {"tool_calls": calls}, "finish_reason": "tool_calls"}]}
    reply = parse_completion(payload, provider="openai")
    assert reply.tool_calls == (
        ToolCall(index=0, id="call_0", name="f", arguments='{"x": 1}'),
        ToolCall(index=1, id="c2", name="g", arguments='{"y": 2}'),
    )
    with pytest.raises(MalformedData, match="tool call arguments"):
        parse_completion(
            {"choices": [{"message": {"tool_calls": [{"function": {"arguments": 3}}]}}]},
            provider="openai",
        )
