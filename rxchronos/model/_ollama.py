"""The :class:`Ollama` provider: a local (or remote) Ollama server's native ``/api/chat``.

The wire dialect is in :mod:`rxchronos.model._ollama_dialect`; this module builds the request body
and plugs both into the HTTP base with NDJSON framing.

Request body: messages keep their roles; an assistant message's tool calls go as
``{"function": {"name", "arguments": <object>}}``; a tool message carries ``tool_name`` when the
call it answers is known; ``max_tokens``, ``temperature``, ``top_p`` and ``stop`` go to ``options``
(``num_predict``, ...); an OpenAI-style ``response_format`` becomes ``format`` (``"json"`` or the
JSON schema).

Example:
    >>> Ollama(model="llama3.2")
    Ollama(name='ollama', model='llama3.2')
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from rxchronos.model._http import HTTPProvider, HTTPRequest
from rxchronos.model._ollama_dialect import OllamaParser, parse_chat
from rxchronos.model._sampling import sampling_fields
from rxchronos.model._stream_reader import Framing
from rxchronos.model._turns import tool_names
from rxchronos.model._types import ChatRequest, ChatResponse, Message, Role

__all__ = ["Ollama", "chat_body", "ollama_base_url"]

DEFAULT_PORT = 11434


def ollama_base_url(host: str) -> str:
    """A base URL from an ``OLLAMA_HOST`` value (``"0.0.0.0"``, ``"host:port"``, a URL).

    Example:
        >>> ollama_base_url("gpu-box"), ollama_base_url("https://ollama.example.com/")
        ('http://gpu-box:11434', 'https://ollama.example.com')
    """
    url = host.strip()
    if "://" not in url:
        url = f"http://{url}"
    url = url.rstrip("/")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"OLLAMA_HOST is not a host or URL: {host!r}")
    if parts.port is None and parts.scheme == "http":
        url = parts._replace(netloc=f"{parts.netloc}:{DEFAULT_PORT}").geturl()
    return url


def _message(message: Message, names: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role.value, "content": message.content or ""}
    if message.role is Role.ASSISTANT and message.tool_calls:
        out["tool_calls"] = [
            {"function": {"name": call.name, "arguments": call.parse_arguments()}}
            for call in message.tool_calls
        ]
    if message.role is Role.TOOL:
        name = message.name or names.get(message.tool_call_id or "")
        if name:
            out["tool_name"] = name
    return out


def chat_body(request: ChatRequest, *, model: str, stream: bool) -> dict[str, Any]:
    """The JSON body of an ``/api/chat`` request (see the module docstring).

    Raises:
        ToolArgumentsError: an assistant tool call's arguments are not a JSON object.
    """
    names = tool_names(request.messages)
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m, names) for m in request.messages],
        "stream": stream,
    }
    if request.tools:
        body["tools"] = [tool.model_dump(mode="json") for tool in request.tools]
    options = sampling_fields(request, max_tokens="num_predict")
    if options:
        body["options"] = options
    fmt = request.response_format
    if fmt and fmt.get("type") == "json_object":
        body["format"] = "json"
    elif fmt and fmt.get("type") == "json_schema":
        body["format"] = (fmt.get("json_schema") or {}).get("schema") or "json"
    return body


class Ollama(HTTPProvider):
    """Ollama's native chat API (``POST {base_url}/api/chat``, newline-delimited JSON).

    Tool calls arrive whole with object arguments: each becomes one fragment with a generated unique
    id. ``done: true`` ends the stream (``done_reason: "stop"`` after tool calls counts as
    ``StopReason.TOOL_CALL``); ``prompt_eval_count`` / ``eval_count`` are the usage; an
    ``{"error": ...}`` line is a ``ProviderStreamError``. No API key is needed for a local server.

    Args:
        base_url: the server (default ``http://localhost:11434``; ``OLLAMA_HOST``).
        model: the default model, e.g. ``"llama3.2"``.
        api_key: optional, sent as ``Authorization: Bearer`` (for a hosted or proxied server).
        **options: ``session``, ``timeout``, ``max_retries``, ``retry`` (see
            :class:`~rxchronos.model.OpenAI`). A model loading from disk can take a while before
            its first token: raise ``Timeouts(first_token=...)`` for big models.

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> llama = Ollama(model="llama3.2")
        >>> chunks = llama.stream_chat(ChatRequest(messages=[Message(role="user", content="Hi")]))
    """

    name = "ollama"
    default_base_url = "http://localhost:11434"
    requires_key = False
    framing: ClassVar[Framing] = "ndjson"

    def _request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        body = chat_body(request, model=self._model_of(request), stream=stream)
        return HTTPRequest(f"{self.base_url}/api/chat", headers, body)

    def _new_parser(self) -> OllamaParser:
        return OllamaParser(provider=self.name)

    def _parse_chat(self, payload: Any) -> ChatResponse:
        return parse_chat(payload, provider=self.name)
