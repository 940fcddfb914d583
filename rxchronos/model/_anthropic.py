"""The :class:`Anthropic` provider: Claude through the Messages API, streamed over SSE.

The wire dialect is in :mod:`rxchronos.model._anthropic_dialect`, the request body in
:mod:`rxchronos.model._anthropic_request`; sessions, timeouts, retries and errors come from the HTTP
base.

Example:
    >>> Anthropic(api_key="sk-ant-test", model="claude-sonnet-4-5")
    Anthropic(name='anthropic', model='claude-sonnet-4-5')
"""

from __future__ import annotations

from typing import Any

from rxchronos.model._anthropic_dialect import AnthropicParser, parse_message
from rxchronos.model._anthropic_request import messages_body
from rxchronos.model._http import HTTPProvider, HTTPRequest
from rxchronos.model._types import ChatRequest, ChatResponse

__all__ = ["Anthropic"]

API_VERSION = "2023-06-01"


class Anthropic(HTTPProvider):
    """Anthropic's Messages API (``POST {base_url}/v1/messages``).

    Text, tool calls (``tool_use`` blocks, numbered in order of appearance), extended thinking as
    ``reasoning`` with its signature kept in ``provider_data`` and sent back with the assistant
    message, cumulative usage, ``ping`` events (not progress for the idle timeout) and in-band
    ``event: error`` (``ProviderStreamError``). A tool input cut by ``max_tokens`` ends with
    ``StopReason.MAX_TOKENS`` and the arguments as far as they came.

    Args:
        api_key: the API key (``ANTHROPIC_API_KEY``), sent as ``x-api-key``; never shown in errors
            or reprs.
        model: the default model, e.g. ``"claude-sonnet-4-5"``.
        base_url: the API root (default ``https://api.anthropic.com``).
        **options: ``session`` (an ``aiohttp.ClientSession`` you own), ``timeout``
            (:class:`~rxchronos.model.Timeouts`), ``max_retries``, ``retry``
            (:class:`~rxchronos.model.RetryPolicy`).

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> claude = Anthropic(api_key="sk-ant-test", model="claude-sonnet-4-5")
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")], max_tokens=256)
        >>> chunks = claude.stream_chat(request)   # cold: sent on subscribe, inside a running loop
    """

    name = "anthropic"
    default_base_url = "https://api.anthropic.com"

    def _request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        headers = {"x-api-key": self._api_key or "", "anthropic-version": API_VERSION}
        body = messages_body(request, model=self._model_of(request), stream=stream)
        return HTTPRequest(f"{self.base_url}/v1/messages", headers, body)

    def _new_parser(self) -> AnthropicParser:
        return AnthropicParser(provider=self.name)

    def _parse_chat(self, payload: Any) -> ChatResponse:
        return parse_message(payload, provider=self.name)
