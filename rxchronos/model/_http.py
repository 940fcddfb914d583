"""The HTTP base every network provider shares: sessions, streaming, timeouts, retries, errors.

A provider family subclasses :class:`HTTPProvider` and fills in four extension points:

- ``_stream_request(request) -> HTTPRequest`` and ``_chat_request(request) -> HTTPRequest``: URL,
  headers (with the credentials) and JSON body of the streaming and non-streaming calls;
- ``_new_parser() -> StreamParser``: a fresh pure dialect parser (see
  :mod:`rxchronos.model._dialect`);
- ``_parse_chat(payload) -> ChatResponse``: read the non-streaming answer;

and sets ``framing = "ndjson"`` when the stream is newline-delimited JSON instead of SSE. Pass the
credentials to ``secrets=`` in ``__init__``: they are redacted from every error text.

What the base guarantees for every provider:

- ``stream_chat`` is cold (one request per subscription) and loop-affine; disposing cancels the
  request and closes its connection; a normal end reads to EOF so the connection is pooled;
- bytes from ``resp.content.iter_any()`` go through one incremental decoder (no line-length limit);
- the stream completes only after the parser saw the terminal marker, else
  ``IncompleteStreamError`` with the partial response;
- timeouts: connect, first token, idle between deltas (no total limit);
- retries with backoff and ``Retry-After`` on connection errors, 408/409/429 and 5xx, only before
  the first delta was emitted;
- the graph tap is reported (``model_call``, ``model_chunk``, ``model_response``);
- a session passed in is the caller's; otherwise one is created lazily inside the running loop and
  closed by ``aclose()`` / ``async with``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, NamedTuple, TypedDict, Unpack

import aiohttp
import reactivex
from reactivex import abc
from reactivex.disposable import Disposable

from rxchronos.model._collect import ResponseCollector
from rxchronos.model._dialect import StreamParser
from rxchronos.model._errors import (
    IncompleteStreamError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderStreamError,
    ProviderTimeoutError,
)
from rxchronos.model._provider import AsyncClosable
from rxchronos.model._retry import RetryPolicy, Timeouts, parse_retry_after
from rxchronos.model._stream_reader import Framing, read_stream
from rxchronos.model._tap_report import tapped
from rxchronos.model._types import ChatRequest, ChatResponse

__all__ = ["HTTPOptions", "HTTPProvider", "HTTPRequest"]


class HTTPRequest(NamedTuple):
    """One POST: URL, headers (credentials included) and JSON body."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


class HTTPOptions(TypedDict, total=False):
    """The keyword options every HTTP provider's constructor accepts.

    Attributes:
        session: an ``aiohttp.ClientSession`` owned by the caller (``aclose`` leaves it open);
            without one, the provider creates its own lazily inside the running loop.
        timeout: connect / first-token / idle limits (:class:`~rxchronos.model.Timeouts`).
        max_retries: retries before the first delta (shortcut for ``retry=RetryPolicy(...)``).
        retry: the full :class:`~rxchronos.model.RetryPolicy`; wins over ``max_retries``.
    """

    session: aiohttp.ClientSession | None
    timeout: Timeouts | None
    max_retries: int
    retry: RetryPolicy | None


class _SubscriberError(Exception):
    """An exception raised by the subscriber's ``on_next``: not a provider failure."""


def _running_loop(what: str) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            f"{what} must be subscribed inside a running asyncio loop (e.g. in `async def main()` "
            "run by asyncio.run); subscribe on the loop thread"
        ) from None


class HTTPProvider(AsyncClosable):
    """Base of the HTTP providers (see the module docstring for the extension points).

    Args:
        model: the default model.
        secrets: strings to redact from every error text (API keys).
        **options: ``session``, ``timeout``, ``max_retries``, ``retry`` (see :class:`HTTPOptions`).
    """

    name: str = "http"
    framing: ClassVar[Framing] = "sse"

    def __init__(
        self,
        *,
        model: str,
        secrets: Iterable[str] = (),
        **options: Unpack[HTTPOptions],
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(f"{type(self).__name__} needs a model name, got {model!r}")
        self._model = model
        self._session = options.get("session")
        self._owned: aiohttp.ClientSession | None = None
        self._owned_loop: asyncio.AbstractEventLoop | None = None
        self.timeouts = options.get("timeout") or Timeouts()
        self.retry = options.get("retry") or RetryPolicy(max_retries=options.get("max_retries", 2))
        self._secrets = tuple(s for s in secrets if s and len(s) >= 4)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- extension points ------------------------------------------------------------------------

    def _stream_request(self, request: ChatRequest) -> HTTPRequest:
        raise NotImplementedError

    def _chat_request(self, request: ChatRequest) -> HTTPRequest:
        raise NotImplementedError

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
        owned, self._owned, self._owned_loop = self._owned, None, None
        if owned is not None and not owned.closed:
            await owned.close()

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

        def subscribe(
            observer: abc.ObserverBase[ChatResponse], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            loop = _running_loop(f"{type(self).__name__}.stream_chat()")
            task = loop.create_task(self._pump(request, observer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

            def cancel() -> None:
                task.cancel()

            return Disposable(cancel)

        return tapped(
            reactivex.create(subscribe), provider=self.name, model=self._model_of(request)
        )

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
        attempt = 0
        while True:
            try:
                return await self._chat_once(http)
            except (ProviderHTTPError, ProviderConnectionError, ProviderTimeoutError) as exc:
                if attempt >= self.retry.max_retries or not _retryable(exc):
                    raise
                retry_after = exc.retry_after if isinstance(exc, ProviderHTTPError) else None
                await asyncio.sleep(self.retry.delay(attempt, retry_after=retry_after))
                attempt += 1

    # -- internals -------------------------------------------------------------------------------

    def _model_of(self, request: ChatRequest) -> str:
        return request.model or self._model

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        loop = asyncio.get_running_loop()
        owned = self._owned
        if owned is None or owned.closed or self._owned_loop is not loop:
            if owned is not None and not owned.closed:
                owned.detach()  # left over from another (finished) event loop
            owned = self._owned = aiohttp.ClientSession()
            self._owned_loop = loop
        return owned

    def _client_timeout(self, *, read: float | None) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=None, sock_connect=self.timeouts.connect, sock_read=read)

    async def _post(self, http: HTTPRequest, *, read: float | None) -> aiohttp.ClientResponse:
        """POST and check the status; raises typed errors, leaves no response open on failure."""
        headers = {"Content-Type": "application/json", **http.headers}
        try:
            resp = await self._get_session().post(
                http.url,
                data=json.dumps(http.body),
                headers=headers,
                timeout=self._client_timeout(read=read),
            )
        except aiohttp.ConnectionTimeoutError:
            raise ProviderTimeoutError(
                provider=self.name, kind="connect", seconds=self.timeouts.connect or 0.0
            ) from None
        except aiohttp.SocketTimeoutError:
            raise ProviderTimeoutError(
                provider=self.name, kind="first_token", seconds=read or 0.0
            ) from None
        except aiohttp.ClientError as exc:
            raise ProviderConnectionError(
                self._redact(f"{self.name}: connection failed: {type(exc).__name__}: {exc}"),
                provider=self.name,
            ) from None
        if resp.status >= 300:
            try:
                body = (await resp.read()).decode("utf-8", "replace")
            except aiohttp.ClientError as exc:
                body = f"(body unreadable: {type(exc).__name__})"
            finally:
                resp.release()
            raise ProviderHTTPError(
                provider=self.name,
                status=resp.status,
                body=self._redact(body),
                retry_after=parse_retry_after(resp.headers),
            )
        return resp

    async def _chat_once(self, http: HTTPRequest) -> ChatResponse:
        resp = await self._post(http, read=self.timeouts.first_token)
        try:
            raw = await resp.read()
        except aiohttp.SocketTimeoutError:
            resp.close()
            raise ProviderTimeoutError(
                provider=self.name, kind="first_token", seconds=self.timeouts.first_token or 0.0
            ) from None
        except aiohttp.ClientError as exc:
            resp.close()
            raise ProviderConnectionError(
                f"{self.name}: connection broke while reading the answer: {type(exc).__name__}",
                provider=self.name,
            ) from None
        resp.release()
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

    def _redacted(self, exc: ProviderStreamError, partial: ChatResponse | None) -> ProviderError:
        return ProviderStreamError(
            self._redact(exc.message),
            provider=self.name,
            type=self._redact(exc.type),
            partial=partial,
        )

    async def _pump(self, request: ChatRequest, observer: abc.ObserverBase[ChatResponse]) -> None:
        collector = ResponseCollector()
        on_next = observer.on_next

        def emit(delta: ChatResponse) -> None:
            collector.add(delta)
            try:
                on_next(delta)
            except Exception as exc:
                raise _SubscriberError() from exc

        try:
            await self._stream_with_retries(request, emit, collector)
        except _SubscriberError as wrapper:
            asyncio.get_running_loop().call_exception_handler(
                {
                    "message": f"{self.name}: a subscriber's on_next raised",
                    "exception": wrapper.__cause__,
                }
            )
            return
        except Exception as exc:
            observer.on_error(exc)
            return
        observer.on_completed()

    async def _stream_with_retries(
        self,
        request: ChatRequest,
        emit: Callable[[ChatResponse], None],
        collector: ResponseCollector,
    ) -> None:
        http = self._stream_request(request)
        attempt = 0
        while True:
            try:
                await self._stream_once(http, emit, collector)
                return
            except ProviderError as exc:
                if collector.count or attempt >= self.retry.max_retries or not _retryable(exc):
                    raise
                retry_after = exc.retry_after if isinstance(exc, ProviderHTTPError) else None
                await asyncio.sleep(self.retry.delay(attempt, retry_after=retry_after))
                attempt += 1

    async def _stream_once(
        self,
        http: HTTPRequest,
        emit: Callable[[ChatResponse], None],
        collector: ResponseCollector,
    ) -> None:
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
            if exc.partial is not None:  # the failing event's own data (usage next to an error)
                collector.add(exc.partial)
            raise self._redacted(exc, collector.partial()) from None


def _retryable(exc: ProviderError) -> bool:
    if isinstance(exc, ProviderHTTPError):
        return exc.retryable
    if isinstance(exc, ProviderTimeoutError):
        return exc.kind == "connect"
    if isinstance(exc, IncompleteStreamError):
        return exc.partial is None
    return isinstance(exc, ProviderConnectionError)
