"""Reasoning on every field name OpenAI-compatible servers use, and ``<think>`` tags."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from rxchronos.model import VLLM
from rxchronos.model._openai import OpenAIChatParser

from .conftest import collect


def chunk(delta: dict[str, object]) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": delta}]})


def test_reasoning_details_text_and_summary_entries() -> None:
    parser = OpenAIChatParser(provider="openrouter")
    details = [
        {"type": "reasoning.text", "text": "step one. "},
        {"type": "reasoning.summary", "summary": "in short"},
        {"type": "reasoning.encrypted", "data": "opaque"},
    ]
    deltas = parser.feed("message", chunk({"reasoning_details": details}))
    assert collect(deltas).reasoning == "step one. in short"


def test_plain_reasoning_wins_over_the_same_text_in_reasoning_details() -> None:
    parser = OpenAIChatParser(provider="openrouter")
    both = {
        "reasoning": "thinking",
        "reasoning_details": [{"type": "reasoning.text", "text": "thinking"}],
    }
    assert collect(parser.feed("message", chunk(both))).reasoning == "thinking"


def test_think_tags_stay_in_the_content_by_default() -> None:
    parser = OpenAIChatParser(provider="vllm")
    deltas = parser.feed("message", chunk({"content": "<think>hmm</think>Hi"}))
    assert collect(deltas).content == "<think>hmm</think>Hi"


TEXT = "<think>Let me think about <b>this</b>.</think>The answer is 4 < 5."


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(TEXT) - 1), max_size=8, unique=True))
def test_think_tags_split_into_reasoning_whatever_the_chunking(cuts: list[int]) -> None:
    parser = OpenAIChatParser(provider="vllm", think_tags=True)
    bounds = [0, *sorted(cuts), len(TEXT)]
    deltas = []
    for start, end in itertools.pairwise(bounds):
        deltas += parser.feed("message", chunk({"content": TEXT[start:end]}))
    deltas += parser.end()
    final = collect(deltas)
    assert final.reasoning == "Let me think about <b>this</b>."
    assert final.content == "The answer is 4 < 5."


def test_an_unclosed_think_section_at_the_end_is_reasoning() -> None:
    parser = OpenAIChatParser(provider="vllm", think_tags=True)
    deltas = parser.feed("message", chunk({"content": "<think>still going </thi"}))
    deltas += parser.end()
    assert collect(deltas).reasoning == "still going </thi"


def test_the_option_reaches_the_parser() -> None:
    assert VLLM(model="m", think_tags=True).new_parser()._think is not None
    assert VLLM(model="m").new_parser()._think is None
