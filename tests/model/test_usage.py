"""Usage as billed: cache reads and writes, reasoning tokens, wherever each provider puts them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from rxchronos.model import Usage
from rxchronos.model._anthropic import AnthropicParser
from rxchronos.model._gemini import GeminiParser
from rxchronos.model._openai import OpenAIChatParser
from rxchronos.model._responses import ResponsesParser

from .conftest import collect
from .conftest import responses_usage


def usage_of(parser: object, *events: tuple[str, object]) -> Usage | None:
    deltas = [d for event, data in events for d in parser.feed(event, json.dumps(data))]  # type: ignore[attr-defined]
    return collect(deltas).usage


def billed(prompt: int, completion: int, total: int, **details: int) -> Usage:
    """The :class:`Usage` of these token counts and ``details`` (its cache and reasoning fields)."""
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total, **details)


OPENAI_CHUNK = {
    "choices": [],
    "usage": {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 32},
    },
}
ANTHROPIC_START = {
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
ANTHROPIC_DELTA = {
    "type": "message_delta",
    "delta": {"stop_reason": "end_turn"},
    "usage": {"output_tokens": 9},
}
GEMINI_CHUNK = {
    "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}],
    "usageMetadata": {
        "promptTokenCount": 40,
        "candidatesTokenCount": 5,
        "thoughtsTokenCount": 7,
        "cachedContentTokenCount": 30,
        "totalTokenCount": 52,
    },
}


@pytest.mark.parametrize(
    ("make_parser", "events", "expected"),
    [
        pytest.param(
            lambda: OpenAIChatParser(provider="openai"),
            [("message", OPENAI_CHUNK)],
            billed(100, 50, 150, cached_prompt_tokens=64, reasoning_tokens=32),
            id="openai cached and reasoning tokens",
        ),
        pytest.param(
            lambda: AnthropicParser(provider="anthropic"),
            [("message_start", ANTHROPIC_START), ("message_delta", ANTHROPIC_DELTA)],
            billed(125, 9, 134, cached_prompt_tokens=100, cache_write_tokens=20),
            id="anthropic cache reads and writes are in the prompt and kept apart",
        ),
        pytest.param(
            lambda: GeminiParser(provider="gemini"),
            [("message", GEMINI_CHUNK)],
            billed(40, 12, 52, cached_prompt_tokens=30, reasoning_tokens=7),
            id="gemini cached content and thoughts",
        ),
    ],
)
def test_cache_and_reasoning_tokens_are_read_where_each_provider_puts_them(
    make_parser: Callable[[], object], events: list[tuple[str, object]], expected: Usage
) -> None:
    got = usage_of(make_parser(), *events)
    assert got == expected
    assert got.prompt_tokens + got.completion_tokens == got.total_tokens


def test_deepseek_cache_hits_and_groq_extension_usage() -> None:
    deepseek = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 8}
    got = usage_of(
        OpenAIChatParser(provider="deepseek"), ("message", {"choices": [], "usage": deepseek})
    )
    assert got is not None and got.cached_prompt_tokens == 8 and got.total_tokens == 12
    groq = {"choices": [], "x_groq": {"usage": {"prompt_tokens": 3, "completion_tokens": 4}}}
    got = usage_of(OpenAIChatParser(provider="groq"), ("message", groq))
    assert got is not None and got.total_tokens == 7


def test_responses_token_details() -> None:
    done = {
        "type": "response.completed",
        "response": {
            "usage": responses_usage(
                input_tokens=20, output_tokens=10, total_tokens=30, cached=16, reasoning=4
            )
        },
    }
    got = usage_of(ResponsesParser(provider="openai"), ("response.completed", done))
    assert got is not None
    assert (got.cached_prompt_tokens, got.reasoning_tokens, got.total_tokens) == (16, 4, 30)
