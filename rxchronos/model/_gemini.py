"""The :class:`Gemini` provider: Google's Gemini API (``generativelanguage.googleapis.com``).

The wire dialect is in :mod:`rxchronos.model._gemini_dialect`, the request body in
:mod:`rxchronos.model._gemini_request`; sessions, timeouts, retries and errors come from the HTTP
base. The key travels only in the ``x-goog-api-key`` header, never in the URL (URLs end up in
logs).

Example:
    >>> Gemini(api_key="AIza-test", model="gemini-2.5-flash")
    Gemini(name='gemini', model='gemini-2.5-flash')
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from rxchronos.model._gemini_dialect import GeminiParser, parse_generate
from rxchronos.model._gemini_request import contents_body
from rxchronos.model._http import HTTPProvider, HTTPRequest
from rxchronos.model._types import ChatRequest, ChatResponse

__all__ = ["Gemini"]


class Gemini(HTTPProvider):
    """Google Gemini (``POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse``).

    Whole function calls get distinct generated ids and are reported as
    ``StopReason.TOOL_CALL`` although the wire says ``STOP``; ``thought: true`` parts are
    ``reasoning``; ``thoughtSignature`` values are kept in ``provider_data`` and sent back with the
    assistant message; the last ``usageMetadata`` wins. The stream is complete at EOF after a chunk
    with a ``finishReason`` (else ``IncompleteStreamError``).

    Args:
        api_key: the API key (``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``), sent as
            ``x-goog-api-key``; never in the URL, errors or reprs.
        model: the default model, e.g. ``"gemini-2.5-flash"`` (a ``models/`` prefix is fine).
        base_url: the API root (default ``https://generativelanguage.googleapis.com``).
        **options: ``session``, ``timeout``, ``max_retries``, ``retry`` (see
            :class:`~rxchronos.model.OpenAI`).

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> gemini = Gemini(api_key="AIza-test", model="gemini-2.5-flash")
        >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
        >>> chunks = gemini.stream_chat(request)   # cold: sent on subscribe, inside a running loop
    """

    name = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com"

    def _url(self, request: ChatRequest, method: str) -> str:
        model = self._model_of(request).removeprefix("models/")
        return f"{self.base_url}/v1beta/models/{quote(model, safe='')}:{method}"

    def _request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        headers = {"x-goog-api-key": self._api_key or ""}
        if stream:
            url = self._url(request, "streamGenerateContent") + "?alt=sse"
        else:
            url = self._url(request, "generateContent")
        return HTTPRequest(url, headers, contents_body(request))

    def _new_parser(self) -> GeminiParser:
        return GeminiParser(provider=self.name)

    def _parse_chat(self, payload: Any) -> ChatResponse:
        return parse_generate(payload, provider=self.name)
