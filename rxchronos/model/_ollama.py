"""The Ollama family (native ``/api/chat``, NDJSON): the request body, the dialect, the provider.

Request body: messages keep their roles; an assistant message's tool calls go as
``{"function": {"name", "arguments": <object>}}``; a tool message carries ``tool_name`` when the
call it answers is known; ``max_tokens``, ``temperature``, ``top_p`` and ``stop`` go to ``options``
(``num_predict``, ...); an OpenAI-style ``response_format`` becomes ``format`` (``"json"`` or the
JSON schema).

Stream: One JSON object per line. Normalised:

- ``message.content`` -> ``content``; ``message.thinking`` -> ``reasoning`` (a ``response`` field,
  the ``/api/generate`` shape, is read as content too);
- ``message.tool_calls`` arrive whole, with ``arguments`` as an *object* and often no id: each call
  becomes one fragment with the next slot (two calls stay two, even with one id), a generated
  unique id (unless Ollama sent one) and the arguments as JSON text;
- the last line has ``done: true`` (the terminal marker), ``done_reason`` (``"stop"`` even when
  tools were called: then it is ``StopReason.TOOL_CALL``; ``"length"`` is ``MAX_TOKENS``) and the
  counts ``prompt_eval_count`` / ``eval_count`` (the usage);
- an ``{"error": "..."}`` line (also after HTTP 200) raises ``ProviderStreamError``.

Example:
    >>> parser = OllamaParser(provider="ollama")
    >>> [d.content for d in parser.feed("message", '{"message": {"content": "Hi"}, "done": false}')]
    ['Hi']
    >>> last = parser.feed("message", '{"done": true, "done_reason": "stop", "eval_count": 1}')
    >>> last[0].stop_reason, parser.finished
    (<StopReason.END: 'end'>, True)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any
from typing import ClassVar
from urllib.parse import urlsplit

from rxchronos.model._dialect import StreamParser
from rxchronos.model._dialect import as_count
from rxchronos.model._dialect import as_list
from rxchronos.model._dialect import as_object
from rxchronos.model._dialect import as_text
from rxchronos.model._dialect import new_tool_call
from rxchronos.model._dialect import sampling_fields
from rxchronos.model._dialect import tool_names
from rxchronos.model._dialect import whole_answer
from rxchronos.model._errors import ProviderConfigError
from rxchronos.model._http import Framing
from rxchronos.model._http import HTTPRequest
from rxchronos.model._provider import HTTPProvider
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import Message
from rxchronos.model._types import Role
from rxchronos.model._types import StopReason
from rxchronos.model._types import ToolCall
from rxchronos.model._types import token_usage

__all__ = ["Ollama", "OllamaParser", "chat_body", "ollama_base_url", "parse_chat"]

DEFAULT_PORT = 11434

# -- request -------------------------------------------------------------------------------------


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
        raise ProviderConfigError(f"OLLAMA_HOST is not a host or URL: {host!r}")
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


# -- stream dialect ------------------------------------------------------------------------------


def stop_reason(done_reason: Any, *, saw_tools: bool) -> StopReason:
    """Map a ``done_reason``; ``stop`` after tool calls is ``TOOL_CALL``."""
    if as_text(done_reason, "done_reason") == "length":
        return StopReason.MAX_TOKENS
    return StopReason.TOOL_CALL if saw_tools else StopReason.END


class OllamaParser(StreamParser):
    """The Ollama ``/api/chat`` NDJSON dialect (see the module docstring).

    Args:
        provider: the provider name, for error messages.
        new_id: makes the id of a tool call that came without one, from its slot (default:
            ``call_<random per stream>_<slot>``).
    """

    __slots__ = ("_new_id",)

    def __init__(self, *, provider: str, new_id: Callable[[int], str] | None = None) -> None:
        super().__init__(provider=provider)
        prefix = secrets.token_hex(6)
        self._new_id = new_id or (lambda slot: f"call_{prefix}_{slot}")

    def parse(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one NDJSON line (``event`` is ``"message"``)."""
        return self.parse_object(self.load_object(data, event))

    def parse_object(self, payload: dict[str, Any]) -> list[ChatResponse]:
        """Parse one line's object already decoded from JSON."""
        values: dict[str, Any] = {}
        message = payload.get("message")
        source = as_object(message, "message") if message is not None else payload
        key = "content" if message is not None else "response"
        content = as_text(source.get(key), key)
        if content:
            values["content"] = content
        thinking = as_text(source.get("thinking"), "thinking")
        if thinking:
            values["reasoning"] = thinking
        if message is not None:
            calls = as_list(source.get("tool_calls"), "tool_calls")
            if calls:
                values["tool_calls"] = tuple(self._call(call) for call in calls)
        if payload.get("done"):
            self.finished = True
            reason = payload.get("done_reason") or "stop"
            values["stop_reason"] = stop_reason(reason, saw_tools=len(self.tool_slots) > 0)
            if "prompt_eval_count" in payload or "eval_count" in payload:
                values["usage"] = token_usage(
                    as_count(payload.get("prompt_eval_count"), "prompt_eval_count"),
                    as_count(payload.get("eval_count"), "eval_count"),
                )
        error = payload.get("error")
        if error:  # whatever the line also carries goes on the error as its partial delta
            text = error.get("message") or json.dumps(error) if isinstance(error, dict) else error
            if values:
                values["id"] = self.response_id
            raise self.provider_error("error", str(text), carried=values)
        return self.deltas(values)

    def _call(self, call: Any) -> ToolCall:
        call = as_object(call, "tool call")
        function = as_object(call.get("function"), "tool call function")
        call_id = as_text(call.get("id"), "tool call id") or self._new_id(len(self.tool_slots))
        slot = self.tool_slots.new_slot(call_id)  # a call of its own, even with a known id
        arguments = function.get("arguments")
        if type(arguments) is str:
            text = arguments
        else:
            text = json.dumps(as_object(arguments, "tool call arguments"))
        name = as_text(function.get("name"), "tool call name")
        return new_tool_call({"index": slot, "id": call_id, "name": name, "arguments": text})


def parse_chat(payload: Any, *, provider: str) -> ChatResponse:
    """A whole ``ChatResponse(delta=False)`` from a non-streaming ``/api/chat`` answer.

    Raises:
        ProviderStreamError: the body is an error object or not a JSON object.
    """
    parser = OllamaParser(provider=provider)
    return whole_answer(parser, parser.parse_object, payload)


# -- provider ------------------------------------------------------------------------------------


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
        **options: as for [OpenAI][rxchronos.model.OpenAI]. A model loading from disk can take a
            while before its first token: raise ``Timeouts(first_token=...)`` for big models.

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> llama = Ollama(model="llama3.2")
        >>> chunks = llama.stream_chat(ChatRequest(messages=[Message(role="user", content="Hi")]))
    """

    name = "ollama"
    default_base_url = "http://localhost:11434"
    requires_key = False
    framing: ClassVar[Framing] = "ndjson"

    def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        """The ``/api/chat`` POST (``Authorization: Bearer`` only when a key is given)."""
        body = chat_body(request, model=self.model_of(request), stream=stream)
        return HTTPRequest(f"{self.base_url}/api/chat", self.bearer_auth(), body)

    def new_parser(self) -> OllamaParser:
        """An ``/api/chat`` NDJSON parser."""
        return OllamaParser(provider=self.name)

    def parse_answer(self, payload: Any) -> ChatResponse:
        """A non-streaming ``/api/chat`` answer."""
        return parse_chat(payload, provider=self.name)
