"""The OpenAI Chat Completions family: :class:`OpenAI`, :class:`AzureOpenAI` and :class:`Mistral`.

They share :class:`OpenAIChatProvider`, which speaks the Chat Completions wire format through the
HTTP base; a subclass only says where to send the request and how to authenticate. The
OpenAI-compatible providers (Groq, DeepSeek, ...) live in :mod:`rxchronos.model._compatible`.

Example:
    >>> provider = OpenAI(api_key="sk-test", model="gpt-4o")
    >>> provider
    OpenAI(name='openai', model='gpt-4o')
"""

from __future__ import annotations

from typing import Any, Unpack

from rxchronos.model._http import HTTPOptions, HTTPProvider, HTTPRequest, require_key
from rxchronos.model._openai_dialect import OpenAIChatParser, parse_completion
from rxchronos.model._openai_request import chat_body
from rxchronos.model._types import ChatRequest, ChatResponse

__all__ = ["AzureOpenAI", "Mistral", "OpenAI", "OpenAIChatProvider", "require_key"]


class OpenAIChatProvider(HTTPProvider):
    """A provider speaking Chat Completions at ``{base_url}/chat/completions``.

    Subclasses set ``name`` and ``default_base_url`` and may override ``_url()``, ``_auth()``,
    ``include_usage`` (send ``stream_options.include_usage``), ``max_tokens_field`` and
    ``send_model``. The constructor is :class:`~rxchronos.model._http.HTTPProvider`'s.
    """

    include_usage: bool = True
    max_tokens_field: str = "max_tokens"
    send_model: bool = True

    def _url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        body = chat_body(
            request,
            model=self._model_of(request) if self.send_model else None,
            stream=stream,
            include_usage=self.include_usage,
            max_tokens_field=self.max_tokens_field,
        )
        return HTTPRequest(self._url(), self._auth(), body)

    def _new_parser(self) -> OpenAIChatParser:
        return OpenAIChatParser(provider=self.name)

    def _parse_chat(self, payload: Any) -> ChatResponse:
        return parse_completion(payload, provider=self.name)


class OpenAI(OpenAIChatProvider):
    """OpenAI's Chat Completions API.

    Args:
        api_key: the API key (``OPENAI_API_KEY``); never shown in errors or reprs.
        model: the default model, e.g. ``"gpt-4o"``.
        base_url: the API root (default ``https://api.openai.com/v1``).
        **options: ``session`` (an ``aiohttp.ClientSession`` you own), ``timeout``
            (:class:`~rxchronos.model.Timeouts`), ``max_retries`` (before the first delta, on
            connection errors, 429 and 5xx), ``retry`` (:class:`~rxchronos.model.RetryPolicy`).

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> provider = OpenAI(api_key="sk-test", model="gpt-4o")
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
        >>> chunks = provider.stream_chat(request)
    """

    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    max_tokens_field = "max_completion_tokens"


class AzureOpenAI(OpenAIChatProvider):
    """Azure OpenAI: a deployment's Chat Completions endpoint, authenticated with ``api-key``.

    Handles Azure's stream quirks: the leading ``prompt_filter_results`` chunk, content-filter
    annotation chunks, and ``finish_reason: "content_filter"`` (``StopReason.CONTENT_FILTER``).

    Args:
        endpoint: the resource URL, e.g. ``"https://my-resource.openai.azure.com"``.
        api_key: the key (``AZURE_OPENAI_API_KEY``).
        deployment: the deployment name (also used as ``model``).
        api_version: the ``api-version`` query parameter.

    Example:
        >>> azure = AzureOpenAI(endpoint="https://res.openai.azure.com", api_key="k-test",
        ...                     deployment="gpt-4o")
        >>> azure.model
        'gpt-4o'
    """

    name = "azure"
    send_model = False

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str,
        deployment: str,
        api_version: str = "2024-10-21",
        **options: Unpack[HTTPOptions],
    ) -> None:
        if not isinstance(deployment, str) or not deployment:
            raise ValueError(f"AzureOpenAI needs a deployment name, got {deployment!r}")
        if not isinstance(api_version, str) or not api_version:
            raise ValueError(f"AzureOpenAI needs an api_version string, got {api_version!r}")
        if not isinstance(endpoint, str):
            raise ValueError(f"AzureOpenAI needs an http(s) endpoint, got {endpoint!r}")
        super().__init__(api_key=api_key, model=deployment, base_url=endpoint, **options)
        self.deployment = deployment
        self.api_version = api_version

    def _url(self) -> str:
        return (
            f"{self.base_url}/openai/deployments/{self.deployment}/chat/completions"
            f"?api-version={self.api_version}"
        )

    def _auth(self) -> dict[str, str]:
        return {"api-key": self._api_key or ""}


class Mistral(OpenAIChatProvider):
    """Mistral's chat API (tool calls arrive whole without ``index``; Magistral's list content).

    Args:
        api_key: the API key (``MISTRAL_API_KEY``).
        model: the default model, e.g. ``"mistral-small-latest"``.
        base_url: the API root (default ``https://api.mistral.ai/v1``).
        **options: ``session``, ``timeout``, ``max_retries``, ``retry`` (see :class:`OpenAI`).

    Example:
        >>> Mistral(api_key="k-test", model="mistral-small-latest").name
        'mistral'
    """

    name = "mistral"
    default_base_url = "https://api.mistral.ai/v1"
    include_usage = False  # Mistral puts usage on the finish chunk
