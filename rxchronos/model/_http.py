"""The HTTP base every network provider shares: :class:`HTTPProvider`.

A provider family subclasses :class:`HTTPProvider`, sets ``name`` and ``default_base_url`` (and
``requires_key = False`` when the API key is optional, ``framing = "ndjson"`` when the stream is
newline-delimited JSON instead of SSE), and fills in three extension points:

- ``_request(request, *, stream) -> HTTPRequest``: URL, headers (with the credentials, in
  ``self._api_key``) and JSON body of the streaming or non-streaming call; the streaming one gets
  the ``Accept`` header of its framing added (or override ``_stream_request(request)`` and
  ``_chat_request(request)`` one by one);
- ``_new_parser() -> StreamParser``: a fresh pure dialect parser (see
  :mod:`rxchronos.model._dialect`);
- ``_parse_chat(payload) -> ChatResponse``: read the non-streaming answer.

The base's constructor takes the keywords every provider shares: ``api_key``, ``model``,
``base_url`` (default: ``default_base_url``) and the :class:`HTTPOptions`; a provider with other
parameters (Azure's deployment) defines its own and passes these on. The key (and any other
``secrets=``) is redacted from every error text.

What the base guarantees for every provider, and where it lives:

- ``stream_chat`` is cold (one request per subscription) and loop-affine; disposing cancels the
  request and closes its connection (:mod:`rxchronos.model._pump`);
- the hot loop (:mod:`rxchronos.model._stream_reader`): one incremental decoder over
  ``resp.content.iter_any()`` (no line-length limit); the stream completes only after the parser
  saw the terminal marker, else ``IncompleteStreamError`` with the partial response; first-token
  and idle timeouts (no total limit); a normal end reads to EOF so the connection is pooled;
- the session and the POST (:mod:`rxchronos.model._http_client`): a session passed in is the
  caller's, otherwise one is created lazily inside the running loop and closed by ``aclose()`` /
  ``async with``; connect timeouts, connection failures and non-2xx statuses become typed errors;
- retries (:mod:`rxchronos.model._retry`) with backoff and ``Retry-After`` on connection errors,
  408/409/429 and 5xx, only before the first delta was emitted;
- an in-band error carries the partial response, including what its own event carried;
- the graph tap is reported (``model_call``, ``model_chunk``, ``model_response``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypedDict, Unpack

import aiohttp
import reactivex

from rxchronos._closable import AsyncClosable
from rxchronos.model._collect import ResponseCollector
from rxchronos.model._dialect import StreamParser
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._http_client import HTTPRequest, SessionSource, post, read_whole
from rxchronos.model._pump import Emit, task_stream
from rxchronos.model._retry import RetryPolicy, Timeouts, with_retries
from rxchronos.model._stream_reader import Framing, read_stream
from rxchronos.model._tap_report import tapped
from rxchronos.model._types import ChatRequest, ChatResponse

__all__ = ["HTTPOptions", "HTTPProvider", "HTTPRequest", "require_key"]

_STREAM_MEDIA_TYPES: dict[Framing, str] = {
    "sse": "text/event-stream",
    "ndjson": "application/x-ndjson",
}


def require_key(cls: str, api_key: object) -> str:
    """``api_key`` checked to be a non-empty string (the key itself never goes into the message)."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError(f"{cls} needs a non-empty api_key string")
    return api_key


class HTTPOptions(TypedDict, total=False):
    """The keyword options every HTTP provider's constructor accepts.

    Attributes:
        session: an ``aiohttp.ClientSession`` owned by the caller (``aclose`` leaves it open);
            without one, the provider creates its own lazily inside the running loop.
        timeout: connect / first-token / idle limits (:class:`~rxchronos.model.Timeouts`), or one
            number of seconds for all three (never a limit on the whole stream).
        max_retries: retries before the first delta (shortcut for ``retry=RetryPolicy(...)``).
        retry: the full :class:`~rxchronos.model.RetryPolicy`; wins over ``max_retries``.
    """

    session: aiohttp.ClientSession | None
    timeout: Timeouts | float | None
    max_retries: int
    retry: RetryPolicy | None


_OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "session": aiohttp.ClientSession,
    "timeout": (Timeouts, int, float),
    "max_retries": int,
    "retry": RetryPolicy,
}


_NAMES = {
    "session": "an aiohttp.ClientSession",
    "timeout": "a Timeouts or a number of seconds",
    "max_retries": "an int",
    "retry": "a RetryPolicy",
}


def _check_options(cls: str, options: Mapping[str, object]) -> None:
    """A ``TypeError`` for an unknown option or one of the wrong type (``None`` is the default)."""
    for key, value in options.items():
        expected = _OPTION_TYPES.get(key)
        if expected is None:
            known = ", ".join(_OPTION_TYPES)
            raise TypeError(f"{cls}() got an unexpected keyword argument {key!r} ({known} or none)")
        if value is not None and (not isinstance(value, expected) or isinstance(value, bool)):
            raise TypeError(f"{cls}({key}=...) takes {_NAMES[key]}, got {type(value).__name__}")


class HTTPProvider(AsyncClosable):
    """Base of the HTTP providers (see the module docstring for the extension points).

    Args:
        api_key: the API key; required unless the class sets ``requires_key = False``.
        model: the default model.
        base_url: the API root, ``http(s)://...``; ``None`` for the class's ``default_base_url``.
        secrets: more strings to redact from every error text.
        **options: ``session``, ``timeout``, ``max_retries``, ``retry`` (see :class:`HTTPOptions`).

    Raises:
        ValueError: a missing or empty key (when required), model or base URL, or a base URL that
            is not http(s).
    """

    name: str = "http"
    framing: ClassVar[Framing] = "sse"
    default_base_url: ClassVar[str] = ""
    requires_key: ClassVar[bool] = True

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model: str,
        base_url: str | None = None,
        secrets: Iterable[str] = (),
        **options: Unpack[HTTPOptions],
    ) -> None:
        cls = type(self).__name__
        if self.requires_key:
            api_key = require_key(cls, api_key)
        elif api_key is not None and not isinstance(api_key, str):
            raise TypeError(
                f"{cls}: api_key must be a string or None, got {type(api_key).__name__}"
            )
        if not isinstance(model, str) or not model:
            raise ValueError(f"{cls} needs a model name, got {model!r}")
        url = self.default_base_url if base_url is None else base_url
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"{cls} needs an http(s) base_url, got {base_url!r}")
        _check_options(cls, options)
        self.base_url = url.rstrip("/")
        self._api_key = api_key or None
        self._model = model
        self._sessions = SessionSource(options.get("session"))
        self.timeouts = Timeouts.of(options.get("timeout"))
        self.retry = options.get("retry") or RetryPolicy(max_retries=options.get("max_retries", 2))
        self._secrets = tuple(s for s in (api_key, *secrets) if s and len(s) >= 4)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- extension points ------------------------------------------------------------------------

    def _request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        raise NotImplementedError

    def _stream_request(self, request: ChatRequest) -> HTTPRequest:
        http = self._request(request, stream=True)
        http.headers["Accept"] = _STREAM_MEDIA_TYPES[self.framing]
        return http

    def _chat_request(self, request: ChatRequest) -> HTTPRequest:
        return self._request(request, stream=False)

    def _new_parser(self) -> StreamParser:
        raise NotImplementedError

    def _parse_chat(self, payload: Any) -> ChatResponse:
        raise NotImplementedError

    # -- public API ------------------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The default model."""
        return self._model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self._model!r})"

    async def aclose(self) -> None:
        """Close the session this provider created (a caller's session is left open)."""
        await self._sessions.aclose()

    def stream_chat(self, request: ChatRequest) -> reactivex.Observable[ChatResponse]:
        """The answer to ``request`` as a cold Observable of ``ChatResponse`` deltas.

        Subscribe inside the running asyncio loop. Each subscription sends one request; disposing
        it cancels the request and closes the connection.

        Example:
            >>> from rxchronos.model import ChatRequest, Message, OpenAI
            >>> provider = OpenAI(api_key="sk-test", model="gpt-4o")
            >>> chunks = provider.stream_chat(
            ...     ChatRequest(messages=[Message(role="user", content="Hi")]))  # nothing sent yet
        """
        if not isinstance(request, ChatRequest):
            raise TypeError(f"stream_chat() takes a ChatRequest, got {type(request).__name__}")

        async def run(emit: Emit) -> None:
            await self._stream(request, emit)

        source = task_stream(run, what=f"{type(self).__name__}.stream_chat()", tasks=self._tasks)
        return tapped(source, provider=self.name, model=self._model_of(request))

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """The whole answer from the non-streaming endpoint (``delta=False``).

        Example:
            >>> import asyncio
            >>> from rxchronos.model import ChatRequest, Message, OpenAI
            >>> async def ask(provider: OpenAI) -> str:
            ...     request = ChatRequest(messages=[Message(role="user", content="Hi")])
            ...     return (await provider.chat(request)).content
        """
        if not isinstance(request, ChatRequest):
            raise TypeError(f"chat() takes a ChatRequest, got {type(request).__name__}")
        http = self._chat_request(request)
        return await with_retries(self.retry, lambda: self._chat_once(http))

    # -- internals -------------------------------------------------------------------------------

    def _model_of(self, request: ChatRequest) -> str:
        return request.model or self._model

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    async def _post(self, http: HTTPRequest, *, read: float | None) -> aiohttp.ClientResponse:
        return await post(
            self._sessions.get(),
            http,
            provider=self.name,
            timeouts=self.timeouts,
            read=read,
            redact=self._redact,
        )

    async def _stream(self, request: ChatRequest, emit: Emit) -> None:
        """One subscription: the streaming request, retried until the first delta."""
        http = self._stream_request(request)
        collector = ResponseCollector()

        async def once() -> None:
            try:
                await read_stream(
                    lambda: self._post(http, read=None),
                    parser=self._new_parser(),
                    framing=self.framing,
                    timeouts=self.timeouts,
                    emit=emit,
                    collector=collector,
                    provider=self.name,
                )
            except ProviderStreamError as exc:
                if exc.partial is not None:  # the failing event's own data (usage next to error)
                    collector.add(exc.partial)
                raise self._redacted(exc, collector.partial()) from None

        await with_retries(self.retry, once, may_retry=lambda: not collector.count)

    async def _chat_once(self, http: HTTPRequest) -> ChatResponse:
        resp = await self._post(http, read=self.timeouts.first_token)
        raw = await read_whole(resp, provider=self.name, seconds=self.timeouts.first_token)
        try:
            payload = json.loads(raw)
        except ValueError:
            raise ProviderStreamError(
                self._redact(f"answer is not JSON: {raw[:200]!r}"),
                provider=self.name,
                type="malformed",
            ) from None
        try:
            return self._parse_chat(payload)
        except ProviderStreamError as exc:
            partial = None
            if exc.partial is not None:  # what the error answer also carried (usage, text)
                collector = ResponseCollector()
                collector.add(exc.partial)
                partial = collector.result()
            raise self._redacted(exc, partial) from None

    def _redacted(
        self, exc: ProviderStreamError, partial: ChatResponse | None
    ) -> ProviderStreamError:
        return ProviderStreamError(
            self._redact(exc.message),
            provider=self.name,
            type=self._redact(exc.type),
            partial=partial,
        )
