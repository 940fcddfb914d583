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
from rxchronos.model._openai import OpenAIChatProvider

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

    name = ""  # given to the constructor; a preset sets it on its class
    requires_key: ClassVar[bool] = False

    def __init__(
        self,
        *,
        name: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str,
        include_usage: bool | None = None,
        **options: Unpack[HTTPOptions],
    ) -> None:
        name = type(self).name if name is None else name
        if not isinstance(name, str) or not name:
            raise ValueError(f"{type(self).__name__} needs a non-empty name, got {name!r}")
        super().__init__(api_key=api_key, model=model, base_url=base_url, **options)
        self.name = name
        if include_usage is not None:
            self.include_usage = include_usage


class _Preset(OpenAICompatible):
    """A named OpenAI-compatible host (``name``, ``default_base_url``); the key is required.

    Constructed as ``Preset(api_key=..., model=..., base_url=None, **options)``.
    """

    requires_key: ClassVar[bool] = True


class Groq(_Preset):
    """Groq (``GROQ_API_KEY``); usage comes on the finish chunk, errors as ``event: error``.

    Example:
        >>> Groq(api_key="gsk-test", model="llama-3.3-70b-versatile").name
        'groq'
    """

    name = "groq"
    default_base_url = "https://api.groq.com/openai/v1"


class Together(_Preset):
    """Together AI (``TOGETHER_API_KEY``).

    Example:
        >>> Together(api_key="t-test", model="meta-llama/Llama-3.3-70B-Instruct-Turbo").name
        'together'
    """

    name = "together"
    default_base_url = "https://api.together.xyz/v1"


class DeepSeek(_Preset):
    """DeepSeek (``DEEPSEEK_API_KEY``); ``reasoning_content`` becomes ``reasoning``.

    Example:
        >>> DeepSeek(api_key="d-test", model="deepseek-reasoner").name
        'deepseek'
    """

    name = "deepseek"
    default_base_url = "https://api.deepseek.com/v1"


class OpenRouter(_Preset):
    """OpenRouter (``OPENROUTER_API_KEY``); its keep-alive comments are not progress.

    Example:
        >>> OpenRouter(api_key="or-test", model="openai/gpt-4o").name
        'openrouter'
    """

    name = "openrouter"
    default_base_url = "https://openrouter.ai/api/v1"


class Fireworks(_Preset):
    """Fireworks AI (``FIREWORKS_API_KEY``).

    Example:
        >>> Fireworks(api_key="fw-test", model="accounts/fireworks/models/llama-v3p1-8b").name
        'fireworks'
    """

    name = "fireworks"
    default_base_url = "https://api.fireworks.ai/inference/v1"


class Perplexity(_Preset):
    """Perplexity (``PERPLEXITY_API_KEY``).

    Example:
        >>> Perplexity(api_key="pplx-test", model="sonar").name
        'perplexity'
    """

    name = "perplexity"
    default_base_url = "https://api.perplexity.ai"
    include_usage = False
