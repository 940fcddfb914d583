"""``provider_from_string`` honours the base-URL environment variables, and knows vLLM."""

from __future__ import annotations

import pytest

from rxchronos.model import VLLM
from rxchronos.model import Anthropic
from rxchronos.model import Groq
from rxchronos.model import HTTPProvider
from rxchronos.model import OpenAI
from rxchronos.model import provider_from_string


@pytest.mark.parametrize(
    ("spec", "env", "cls", "url"),
    [
        (
            "openai:m",
            {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://p/v1"},
            OpenAI,
            "http://p/v1",
        ),
        ("groq:m", {"GROQ_API_KEY": "g-x", "GROQ_BASE_URL": "http://g/v1"}, Groq, "http://g/v1"),
        (
            "anthropic:m",
            {"ANTHROPIC_API_KEY": "a-x", "ANTHROPIC_BASE_URL": "http://a"},
            Anthropic,
            "http://a",
        ),
        ("anthropic:m", {"ANTHROPIC_API_KEY": "a-x"}, Anthropic, "https://api.anthropic.com"),
        ("vllm:Qwen/Qwen3-8B", {}, VLLM, "http://localhost:8000/v1"),
        ("vllm:q", {"VLLM_BASE_URL": "http://gpu:9000/v1/"}, VLLM, "http://gpu:9000/v1"),
    ],
)
def test_base_url_from_the_environment(
    spec: str, env: dict[str, str], cls: type[HTTPProvider], url: str
) -> None:
    provider = provider_from_string(spec, env=env)
    assert isinstance(provider, cls) and provider.base_url == url


def test_vllm_sends_a_key_only_when_given() -> None:
    assert VLLM(model="m").auth() == {}
    keyed = provider_from_string("vllm:m", env={"VLLM_API_KEY": "v-key-1"})
    assert isinstance(keyed, VLLM) and keyed.auth() == {"Authorization": "Bearer v-key-1"}
