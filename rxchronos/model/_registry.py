"""``provider_from_string("openai:gpt-4o")``: a provider from a short spec and the environment.

The spec is ``"<provider>:<model>"`` (split at the first colon, so ``"ollama:llama3.1:8b"`` works);
keys come from the usual environment variables. Each provider is a *factory* in ``_FACTORIES``:
``factory(model, env, options) -> Provider``, where ``options`` are the keyword options of the
HTTP providers (``session``, ``timeout``, ``max_retries``, ``retry``). Add a provider with
[register_provider][rxchronos.model.register_provider].

Example:
    >>> provider_from_string("scripted:demo").model
    'demo'
    >>> provider_from_string("openai:gpt-4o", env={"OPENAI_API_KEY": "sk-test"}).name
    'openai'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.model._anthropic import Anthropic
from rxchronos.model._cohere import Cohere
from rxchronos.model._errors import ProviderConfigError
from rxchronos.model._gemini import Gemini
from rxchronos.model._ollama import Ollama
from rxchronos.model._ollama import ollama_base_url
from rxchronos.model._openai import VLLM
from rxchronos.model._openai import AzureOpenAI
from rxchronos.model._openai import DeepSeek
from rxchronos.model._openai import Fireworks
from rxchronos.model._openai import Groq
from rxchronos.model._openai import Mistral
from rxchronos.model._openai import OpenAI
from rxchronos.model._openai import OpenRouter
from rxchronos.model._openai import Perplexity
from rxchronos.model._openai import Together
from rxchronos.model._responses import OpenAIResponses
from rxchronos.model._scripted import ScriptedProvider
from rxchronos.model._types import Provider

__all__ = ["ProviderFactory", "provider_from_string", "register_provider"]

ProviderFactory = Callable[[str, Mapping[str, str], dict[str, Any]], Provider]
"""``factory(model, env, options) -> Provider``."""


def env_key(env: Mapping[str, str], provider: str, *names: str) -> str:
    """The first of the environment variables ``names`` that is set, else a clear error."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    raise ProviderConfigError(
        f"{provider}: no API key found; set {' or '.join(names)} in the environment"
    )


def _openai(model: str, env: Mapping[str, str], options: dict[str, Any]) -> Provider:
    key = env_key(env, "openai", "OPENAI_API_KEY")
    base_url = env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    return OpenAI(api_key=key, model=model, base_url=base_url, **options)


def _openai_responses(model: str, env: Mapping[str, str], options: dict[str, Any]) -> Provider:
    key = env_key(env, "openai-responses", "OPENAI_API_KEY")
    base_url = env.get("OPENAI_BASE_URL") or None
    return OpenAIResponses(api_key=key, model=model, base_url=base_url, **options)


def _azure(model: str, env: Mapping[str, str], options: dict[str, Any]) -> Provider:
    key = env_key(env, "azure", "AZURE_OPENAI_API_KEY")
    endpoint = env.get("AZURE_OPENAI_ENDPOINT", "").strip()
    if not endpoint:
        raise ProviderConfigError("azure: set AZURE_OPENAI_ENDPOINT (https://<resource>...)")
    version = env.get("AZURE_OPENAI_API_VERSION") or env.get("OPENAI_API_VERSION") or "2024-10-21"
    return AzureOpenAI(
        endpoint=endpoint, api_key=key, deployment=model, api_version=version, **options
    )


def _base_url(env: Mapping[str, str], provider: str) -> str | None:
    """``<PROVIDER>_BASE_URL`` from the environment, or ``None`` for the provider's default."""
    return env.get(f"{provider.upper()}_BASE_URL", "").strip() or None


def _keyed(cls: Any, provider: str, *names: str) -> ProviderFactory:
    def factory(model: str, env: Mapping[str, str], options: dict[str, Any]) -> Provider:
        key = env_key(env, provider, *names)
        base_url = _base_url(env, provider)
        return cls(api_key=key, model=model, base_url=base_url, **options)  # type: ignore[no-any-return]

    return factory


def _vllm(model: str, env: Mapping[str, str], options: dict[str, Any]) -> Provider:
    api_key = env.get("VLLM_API_KEY", "").strip() or None
    return VLLM(model=model, base_url=_base_url(env, "vllm"), api_key=api_key, **options)


def _ollama(model: str, env: Mapping[str, str], options: dict[str, Any]) -> Provider:
    host = env.get("OLLAMA_HOST", "").strip()
    base_url = ollama_base_url(host) if host else "http://localhost:11434"
    api_key = env.get("OLLAMA_API_KEY", "").strip() or None
    return Ollama(base_url=base_url, model=model, api_key=api_key, **options)


_SCRIPTED_OPTIONS = ("delay", "fragment_size", "name")


def _scripted(model: str, env: Mapping[str, str], options: dict[str, Any]) -> Provider:
    unknown = sorted(set(options) - set(_SCRIPTED_OPTIONS))
    if unknown:
        raise ProviderConfigError(
            f"scripted: unknown option {', '.join(unknown)}; options are "
            f"{', '.join(_SCRIPTED_OPTIONS)}"
        )
    return ScriptedProvider(model=model or "scripted", **options)


_FACTORIES: dict[str, ProviderFactory] = {
    "openai": _openai,
    "openai-responses": _openai_responses,
    "vllm": _vllm,
    "azure": _azure,
    "mistral": _keyed(Mistral, "mistral", "MISTRAL_API_KEY"),
    "groq": _keyed(Groq, "groq", "GROQ_API_KEY"),
    "together": _keyed(Together, "together", "TOGETHER_API_KEY", "TOGETHER_AI_API_KEY"),
    "deepseek": _keyed(DeepSeek, "deepseek", "DEEPSEEK_API_KEY"),
    "openrouter": _keyed(OpenRouter, "openrouter", "OPENROUTER_API_KEY"),
    "fireworks": _keyed(Fireworks, "fireworks", "FIREWORKS_API_KEY"),
    "perplexity": _keyed(Perplexity, "perplexity", "PERPLEXITY_API_KEY"),
    "scripted": _scripted,
    "anthropic": _keyed(Anthropic, "anthropic", "ANTHROPIC_API_KEY"),
    "gemini": _keyed(Gemini, "gemini", "GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "ollama": _ollama,
    "cohere": _keyed(Cohere, "cohere", "CO_API_KEY", "COHERE_API_KEY"),
}


def register_provider(prefix: str, factory: ProviderFactory) -> None:
    """Make ``provider_from_string("<prefix>:<model>")`` build providers with ``factory``.

    Raises:
        ArgumentTypeError: ``prefix`` is not a str, or ``factory`` is not callable.
        InvalidArgumentError: ``prefix`` is empty or holds ``:``.

    Example:
        >>> from rxchronos.model import ScriptedProvider
        >>> register_provider("canned", lambda model, env, options: ScriptedProvider(model=model))
        >>> provider_from_string("canned:x").model
        'x'
    """
    if not isinstance(prefix, str):
        raise ArgumentTypeError(
            f"register_provider() takes the prefix as a str, got {type(prefix).__name__}"
        )
    if not prefix or ":" in prefix:
        raise InvalidArgumentError(
            f"a provider prefix is a non-empty name without ':', got {prefix!r}"
        )
    if not callable(factory):
        raise ArgumentTypeError(
            "register_provider() takes a factory(model, env, options) -> Provider, got "
            f"{type(factory).__name__}"
        )
    _FACTORIES[prefix] = factory


def provider_from_string(
    spec: str, *, env: Mapping[str, str] | None = None, **options: Any
) -> Provider:
    """Build a provider from ``"<provider>:<model>"``, with its key from the environment.

    Args:
        spec: e.g. ``"openai:gpt-4o"``, ``"azure:<deployment>"``, ``"mistral:<model>"``,
            ``"anthropic:claude-sonnet-4-5"``, ``"gemini:gemini-2.5-flash"``,
            ``"ollama:llama3.2"`` (no key; ``OLLAMA_HOST`` optional),
            ``"scripted"``.
        env: where to read keys (default: ``os.environ``).
        **options: passed to the provider (``session``, ``timeout``, ``max_retries``, ``retry``).

    Raises:
        ProviderConfigError: unknown provider, missing model, or missing key / endpoint.
        ArgumentTypeError: ``spec`` is not a str, ``env`` not a mapping of str to str, or a
            registered factory returned something that is not a ``Provider``.

    Example:
        >>> provider_from_string("groq:llama-3.3-70b-versatile", env={"GROQ_API_KEY": "gsk-x"})
        Groq(name='groq', model='llama-3.3-70b-versatile')
    """
    if not isinstance(spec, str):
        raise ArgumentTypeError(
            f"provider_from_string() takes a string like 'openai:gpt-4o', got {spec!r}"
        )
    prefix, _, model = spec.strip().partition(":")
    factory = _FACTORIES.get(prefix.lower())
    if factory is None:
        known = ", ".join(sorted(_FACTORIES))
        raise ProviderConfigError(f"unknown provider {prefix!r} in {spec!r}; known: {known}")
    if not model and prefix.lower() != "scripted":
        raise ProviderConfigError(f"no model in {spec!r}; write '{prefix}:<model>'")
    if env is None:
        env = os.environ
    elif not isinstance(env, Mapping):
        raise ArgumentTypeError(
            f"provider_from_string(env=...) takes a mapping of str to str, got {type(env).__name__}"
        )
    else:
        odd = next((k for k, v in env.items() if type(k) is not str or type(v) is not str), None)
        if odd is not None:
            raise ArgumentTypeError(
                f"provider_from_string(env=...) maps names to str values; {odd!r} is "
                f"{type(env[odd]).__name__}"
            )
    provider = factory(model, env, options)
    if not isinstance(provider, Provider):
        raise ArgumentTypeError(
            f"the factory registered for {prefix!r} returned {type(provider).__name__}, "
            "not a Provider"
        )
    return provider
