"""ChatRequest.reasoning_effort in every request builder that has a way to say it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rxchronos.model import REASONING_BUDGETS
from rxchronos.model import ChatRequest
from rxchronos.model import Message
from rxchronos.model._anthropic import DEFAULT_MAX_TOKENS
from rxchronos.model._anthropic import messages_body
from rxchronos.model._gemini import contents_body
from rxchronos.model._openai import chat_body
from rxchronos.model._responses import responses_body

HI = (Message(role="user", content="2+2?"),)


def request(**fields: object) -> ChatRequest:
    return ChatRequest(messages=HI, **fields)  # type: ignore[arg-type]


def test_chat_completions_and_responses_name_the_effort() -> None:
    body = chat_body(
        request(reasoning_effort="low"), model="o4-mini", stream=True, include_usage=True
    )
    assert body["reasoning_effort"] == "low"
    body = responses_body(request(reasoning_effort="high"), model="gpt-5", stream=True)
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert "reasoning_effort" not in chat_body(
        request(), model="m", stream=True, include_usage=True
    )
    assert "reasoning" not in responses_body(request(), model="gpt-5", stream=True)


def test_anthropic_thinks_within_max_tokens() -> None:
    body = messages_body(request(reasoning_effort="medium"), model="m", stream=True)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": REASONING_BUDGETS["medium"]}
    assert body["max_tokens"] == REASONING_BUDGETS["medium"] + DEFAULT_MAX_TOKENS
    body = messages_body(request(reasoning_effort="high", max_tokens=3000), model="m", stream=True)
    assert body["thinking"]["budget_tokens"] == 2999 and body["max_tokens"] == 3000
    assert "thinking" not in messages_body(request(), model="m", stream=True)
    with pytest.raises(ValueError, match="max_tokens above 1024"):
        messages_body(request(reasoning_effort="low", max_tokens=1024), model="m", stream=True)


def test_gemini_gets_a_thinking_budget_and_the_thoughts() -> None:
    config = contents_body(request(reasoning_effort="minimal"))["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    assert "generationConfig" not in contents_body(request())


def test_an_unknown_effort_is_refused() -> None:
    with pytest.raises(ValidationError):
        request(reasoning_effort="extreme")
