"""Usage as billed: cache reads and writes, reasoning tokens, wherever each provider puts them."""

from __future__ import annotations

import json

from rxchronos.model import Usage
from rxchronos.model._anthropic import AnthropicParser
from rxchronos.model._gemini import GeminiParser
from rxchronos.model._openai import OpenAIChatParser
from rxchronos.model._responses import ResponsesParser

from .conftest import collect


def usage_of(parser: object, *events: tuple[str, object]) -> Usage | None:
    deltas = [d for event, data in events for d in parser.feed(event, json.dumps(data))]  # type: ignore[attr-defined]
    return collect(deltas).usage


def test_openai_cached_and_reasoning_tokens() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 32},
    }
    got = usage_of(
        OpenAIChatParser(provider="openai"), ("message", {"choices": [], "usage": usage})
    )
    assert got == Usage(
        prompt_tokens=100,
        completion_tokens=50,
        total_tokens=150,
        cached_prompt_tokens=64,
        reasoning_tokens=32,
    )


def test_deepseek_cache_hits_and_groq_extension_usage() -> None:
    deepseek = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 8}
    got = usage_of(
        OpenAIChatParser(provider="deepseek"), ("message", {"choices": [], "usage": deepseek})
    )
    assert got is not None and got.cached_prompt_tokens == 8 and got.total_tokens == 12
    groq = {"choices": [], "x_groq": {"usage": {"prompt_tokens": 3, "completion_tokens": 4}}}
    got = usage_of(OpenAIChatParser(provider="groq"), ("message", groq))
    assert got is not None and got.total_tokens == 7


def test_anthropic_cache_reads_and_writes_are_in_the_prompt_and_kept_apart() -> None:
    start = {
        "type": "message_start",
        "message": {
            "id": "m",
            "usage": {
                "input_tokens": 5,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20,
                "output_tokens": 1,
            },
        },
    }
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 9},
    }
    got = usage_of(
        AnthropicParser(provider="anthropic"), ("message_start", start), ("message_delta", delta)
    )
    assert got == Usage(
        prompt_tokens=125,
        completion_tokens=9,
        total_tokens=134,
        cached_prompt_tokens=100,
        cache_write_tokens=20,
    )


def test_gemini_cached_content_and_thoughts() -> None:
    chunk = {
        "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}],
        "usageMetadata": {
            "promptTokenCount": 40,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 7,
            "cachedContentTokenCount": 30,
            "totalTokenCount": 52,
        },
    }
    got = usage_of(GeminiParser(provider="gemini"), ("message", chunk))
    assert got == Usage(
        prompt_tokens=40,
        completion_tokens=12,
        total_tokens=52,
        cached_prompt_tokens=30,
        reasoning_tokens=7,
    )
    assert got.prompt_tokens + got.completion_tokens == got.total_tokens


def test_responses_token_details() -> None:
    done = {
        "type": "response.completed",
        "response": {
            "usage": {
                "input_tokens": 20,
                "output_tokens": 10,
                "total_tokens": 30,
                "input_tokens_details": {"cached_tokens": 16},
                "output_tokens_details": {"reasoning_tokens": 4},
            }
        },
    }
    got = usage_of(ResponsesParser(provider="openai"), ("response.completed", done))
    assert got is not None
    assert (got.cached_prompt_tokens, got.reasoning_tokens, got.total_tokens) == (16, 4, 30)
