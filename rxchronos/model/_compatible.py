"""OpenAI-compatible servers: :class:`OpenAICompatible` and presets for well-known hosts.

The dialect parser copes with what these servers do differently: index-less tool-call fragments,
a new id at a used index (a new call), usage on the finish chunk, ``reasoning`` /
``reasoning_content``, error objects inside chunks, ``event: error`` and ``:`` keep-alive comments.

Example:
    >>> vllm = OpenAICompatible(name="vllm", base_url="http://localhost:8000/v1", model="qwen")
    >>> groq = Groq(api_key="gsk-test", model="llama-3.3-70b-versatile")
    >>> groq.base_url
    'https://api.groq.com/openai/v1'
"""

from __future__ import annotations

from typing import ClassVar, Unpack

from rxchronos.model._http import HTTPOptions
from rxchronos.model._openai import OpenAIChatProvider, require_key

__all__ = [
    "DeepSeek",
    "Fireworks",
    "Groq",
    "OpenAICompatible",
    "OpenRouter",
    "Perplexity",
    "Together",
]


class OpenAICompatible(OpenAIChatProvider):
    """Any server that speaks the OpenAI Chat Completions API (vLLM, LM Studio, llama.cpp, ...).

    Args:
        name: a name for errors and graph events, e.g. ``"vllm"``.
        base_url: the API root, e.g. ``"http://localhost:8000/v1"``.
        api_key: sent as ``Authorization: Bearer``; ``None`` sends no credentials.
        model: the default model.
        include_usage: send ``stream_options.include_usage`` (turn off for servers that reject it).

    Example:
        >>> local = OpenAICompatible(name="local", base_url="http://127.0.0.1:8080/v1", model="m")
        >>> local.name
        'local'
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | None = None,
        model: str,
        include_usage: bool = True,
        **options: Unpack[HTTPOptions],
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"OpenAICompatible needs a non-empty name, got {name!r}")
        super().__init__(
            model=model,
            base_url=base_url,
            api_key=api_key,
            **options,
        )
        self.name = name
        self.include_usage = include_usage


class _Preset(OpenAICompatible):
    """A named OpenAI-compatible host with a default base URL; the key is required."""

    preset_name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    default_include_usage: ClassVar[bool] = True

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        **options: Unpack[HTTPOptions],
    ) -> None:
        super().__init__(
            name=self.preset_name,
            base_url=base_url or self.default_base_url,
            api_key=require_key(type(self).__name__, api_key),
            model=model,
            include_usage=self.default_include_usage,
            **options,
        )


class Groq(_Preset):
    """Groq (``GROQ_API_KEY``); usage comes on the finish chunk, errors as ``event: error``.

    Example:
        >>> Groq(api_key="gsk-test", model="llama-3.3-70b-versatile").name
        'groq'
    """

    preset_name = "groq"
    default_base_url = "https://api.groq.com/openai/v1"


class Together(_Preset):
    """Together AI (``TOGETHER_API_KEY``).

    Example:
        >>> Together(api_key="t-test", model="meta-llama/Llama-3.3-70B-Instruct-Turbo").name
        'together'
    """

    preset_name = "together"
    default_base_url = "https://api.together.xyz/v1"


class DeepSeek(_Preset):
    """DeepSeek (``DEEPSEEK_API_KEY``); ``reasoning_content`` becomes ``reasoning``.

    Example:
        >>> DeepSeek(api_key="d-test", model="deepseek-reasoner").name
        'deepseek'
    """

    preset_name = "deepseek"
    default_base_url = "https://api.deepseek.com/v1"


class OpenRouter(_Preset):
    """OpenRouter (``OPENROUTER_API_KEY``); its keep-alive comments are not progress.

    Example:
        >>> OpenRouter(api_key="or-test", model="openai/gpt-4o").name
        'openrouter'
    """

    preset_name = "openrouter"
    default_base_url = "https://openrouter.ai/api/v1"


class Fireworks(_Preset):
    """Fireworks AI (``FIREWORKS_API_KEY``).

    Example:
        >>> Fireworks(api_key="fw-test", model="accounts/fireworks/models/llama-v3p1-8b").name
        'fireworks'
    """

    preset_name = "fireworks"
    default_base_url = "https://api.fireworks.ai/inference/v1"


class Perplexity(_Preset):
    """Perplexity (``PERPLEXITY_API_KEY``).

    Example:
        >>> Perplexity(api_key="pplx-test", model="sonar").name
        'perplexity'
    """

    preset_name = "perplexity"
    default_base_url = "https://api.perplexity.ai"
    default_include_usage = False
