"""The public base of the HTTP providers: [HTTPProvider][rxchronos.model.HTTPProvider] and its
options, [HTTPOptions][rxchronos.model.HTTPOptions].

A provider family subclasses ``HTTPProvider``, sets ``name`` and ``default_base_url`` (and
``requires_key = False`` when the key is optional, ``framing = "ndjson"`` for newline-delimited
JSON), and fills in three hooks:

- ``build_request(request, *, stream) -> HTTPRequest``: URL, headers (with the credentials, from
  ``self.api_key``) and JSON body of the streaming or the non-streaming call;
- ``new_parser() -> StreamParser``: a fresh [StreamParser][rxchronos.model.StreamParser] per
  stream;
- ``parse_answer(payload) -> ChatResponse``: the non-streaming answer's decoded JSON as a whole
  response.

Used in ``async with``, a provider keeps its own session (and pooled connections) for the block and
closes it at the end; used without, it closes its own session when its last request ends, so nothing
is left open when the loop ends. The base does the rest for every provider: ``stream_chat`` is a
cold Observable (one request per subscription, run by [from_producer][rxchronos.aio.from_producer];
disposing cancels the request and closes its connection), ``chat`` the non-streaming call; time
limits, retries before the first delta, typed errors with the partial response, credentials kept to
their origin and redacted from every error text, the graph tap (``model_call``, ``model_chunk``,
``model_response``). See the "Custom providers" section of the model streaming guide for a whole
example.

Example:
    >>> from rxchronos.model import ChatRequest, Message, OpenAI
    >>> provider = OpenAI(api_key="sk-test", model="gpt-4o")
    >>> chunks = provider.stream_chat(ChatRequest(messages=[Message(role="user", content="Hi")]))
"""

from __future__ import annotations

import json
import re
from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from typing import ClassVar
from typing import Self
from typing import Unpack

import aiohttp
import reactivex
from pydantic import ConfigDict
from pydantic import TypeAdapter
from pydantic import ValidationError
from typing_extensions import TypedDict  # pydantic reads a TypedDict from here before 3.12
from yarl import URL

from rxchronos._closable import AsyncClosable
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import validation_problems
from rxchronos._ndjson import DEFAULT_MAX_SIZE
from rxchronos.aio import from_producer
from rxchronos.model._dialect import StreamParser
from rxchronos.model._errors import DEFAULT_ERROR_BODY_LIMIT
from rxchronos.model._errors import ProviderConfigError
from rxchronos.model._errors import ProviderError
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._errors import Redactor
from rxchronos.model._http import Framing
from rxchronos.model._http import HTTPRequest
from rxchronos.model._http import RetryPolicy
from rxchronos.model._http import SessionSource
from rxchronos.model._http import Timeouts
from rxchronos.model._http import post
from rxchronos.model._http import read_stream
from rxchronos.model._http import read_whole
from rxchronos.model._http import with_retries
from rxchronos.model._operators import ModelTap
from rxchronos.model._operators import ResponseCollector
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse

__all__ = ["HTTPOptions", "HTTPProvider", "check_azure_resource", "require_key"]

_STREAM_MEDIA_TYPES: dict[Framing, str] = {
    "sse": "text/event-stream",
    "ndjson": "application/x-ndjson",
}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""A character no header value (the key) or URL (the base URL) may hold: CR and LF would start a
header of their own."""


def require_key(cls: str, api_key: object) -> str:
    """``api_key`` checked to be a non-empty string fit for a header (the key itself never goes
    into the message).

    Raises:
        ProviderConfigError: the key is missing, empty or not a string, or holds a control
            character (CR, LF, NUL, ...).
    """
    if not isinstance(api_key, str) or not api_key.strip():
        raise ProviderConfigError(f"{cls} needs a non-empty api_key string")
    return _header_safe(cls, api_key)


def _header_safe(cls: str, api_key: str) -> str:
    if _CONTROL.search(api_key):
        raise ProviderConfigError(
            f"{cls}: the api_key holds a control character (a line break, perhaps from the file "
            "or variable it was read from), which no HTTP header may carry; strip it"
        )
    return api_key


def _base_url(cls: str, url: object) -> str:
    """``url`` checked to be an absolute http(s) URL to put paths after, without its last ``/``.

    Raises:
        ProviderConfigError: it is not a string, not absolute http(s) with a host, holds spaces
            or control characters, credentials, a query or a fragment.
    """
    problem = ""
    shown = repr(url)
    if not isinstance(url, str):
        problem = "is not a string"
    elif _CONTROL.search(url) or " " in url:
        problem = "holds a space or a control character"
    else:
        try:
            parsed = URL(url)
        except ValueError as exc:
            problem = f"cannot be read ({exc})"
        else:
            if parsed.user is not None or parsed.password is not None:
                shown = repr(str(parsed.with_user(None)))  # never the password
                problem = "holds credentials (give the key as api_key)"
            elif parsed.scheme not in ("http", "https") or not parsed.host:
                problem = "is not an absolute http(s) URL with a host"
            elif parsed.query_string or parsed.fragment or url.rstrip().endswith(("?", "#")):
                shown = repr(str(parsed.with_query(None).with_fragment(None)) + "?...")
                problem = "has a query or a fragment (paths are added after it)"
    if problem:
        raise ProviderConfigError(f"{cls} needs an http(s) base_url: {shown} {problem}")
    assert isinstance(url, str)
    return url.rstrip("/")


def check_azure_resource(cls: str, *, endpoint: object, api_version: object) -> None:
    """The settings every Azure OpenAI provider shares, checked before anything is built.

    Raises:
        ProviderConfigError: ``endpoint`` is not a string or ``api_version`` is not a non-empty
            string.
    """
    if not isinstance(api_version, str) or not api_version:
        raise ProviderConfigError(f"{cls} needs an api_version string, got {api_version!r}")
    if not isinstance(endpoint, str):
        raise ProviderConfigError(f"{cls} needs an http(s) endpoint, got {endpoint!r}")


class HTTPOptions(TypedDict, total=False):
    """The keyword options every HTTP provider's constructor accepts (checked strictly).

    Attributes:
        session: an ``aiohttp.ClientSession`` owned by the caller (``aclose`` leaves it open);
            without one, the provider creates its own lazily inside the running loop.
        timeout: connect / first-token / idle limits ([Timeouts][rxchronos.model.Timeouts]), or
            one number of seconds for all three (never a limit on the whole stream).
        max_retries: retries before the first delta (shortcut for ``retry=RetryPolicy(...)``).
        retry: the full [RetryPolicy][rxchronos.model.RetryPolicy]; wins over ``max_retries``.
        error_body_limit: how much of an error response's body is kept in
            ``ProviderHTTPError.body`` (default 2,000 characters, cut after redacting; one key's
            length more is read, the rest is never downloaded).
        max_frame_size: the most bytes held for one stream line or event not yet ended, and for
            the whole answer of ``chat()`` (default 8 MiB; ``None`` for no limit); past it the
            stream or the answer is a ``ProviderStreamError`` of kind ``"malformed"``.

    Example:
        >>> from rxchronos.model import OpenAI, RetryPolicy, Timeouts
        >>> options: HTTPOptions = {"timeout": Timeouts(idle=20), "retry": RetryPolicy(3)}
        >>> OpenAI(api_key="sk-test", model="gpt-4o", **options).retry.max_retries
        3
        >>> try:
        ...     OpenAI(api_key="sk-test", model="gpt-4o", max_retries="3")
        ... except ProviderConfigError as exc:
        ...     print(str(exc).split(";")[0])
        OpenAI(): bad option (max_retries: Input should be a valid integer)
    """

    __pydantic_config__ = ConfigDict(  # type: ignore[misc]  # pydantic reads it off the TypedDict
        arbitrary_types_allowed=True, extra="forbid", strict=True
    )

    session: aiohttp.ClientSession | None
    timeout: Timeouts | float | None
    max_retries: int
    retry: RetryPolicy | None
    error_body_limit: int
    max_frame_size: int | None


_check_options = TypeAdapter(HTTPOptions).validate_python


def _options(cls: str, options: dict[str, Any]) -> HTTPOptions:
    try:
        checked = _check_options(options)
    except ValidationError as exc:
        problems = validation_problems(exc, "options")
        known = ", ".join(HTTPOptions.__annotations__)
        raise ProviderConfigError(
            f"{cls}(): bad option ({problems}); options are {known}"
        ) from None
    limits = {"error_body_limit": checked.get("error_body_limit")}
    limits["max_frame_size"] = checked.get("max_frame_size")
    for name, value in limits.items():
        if value is not None and value < 1:
            raise ProviderConfigError(f"{cls}({name}=...) must be at least 1, got {value}")
    return checked


class HTTPProvider(AsyncClosable, ABC):
    """Base of the HTTP providers: subclass it and fill in the hooks (see the module docstring).

    Args:
        api_key: the API key; required unless the class sets ``requires_key = False``.
        model: the default model.
        base_url: the API root, ``http(s)://...``; ``None`` for the class's ``default_base_url``.
        secrets: more strings to redact from every error text.
        **options: ``session``, ``timeout``, ``max_retries``, ``retry``, ``error_body_limit``,
            ``max_frame_size`` (see [HTTPOptions][rxchronos.model.HTTPOptions]).

    Raises:
        ProviderConfigError: a missing or empty key (when required), a key holding a control
            character such as CR or LF, a missing or empty model, a base URL that is not an
            absolute http(s) URL with a host (or holds credentials, a query or a fragment), or an
            unknown option or one of the wrong type. It is an ``InvalidArgumentError``; no key
            is ever in its message.

    Example:
        >>> from rxchronos.model import HTTPProvider, HTTPRequest, StreamParser
        >>> class Echo(HTTPProvider):
        ...     name = "echo"
        ...     default_base_url = "http://127.0.0.1:9"
        ...     def build_request(self, request, *, stream):
        ...         return HTTPRequest(f"{self.base_url}/echo", {"x-key": self.api_key}, {})
        ...     def new_parser(self): ...
        ...     def parse_answer(self, payload): ...
        >>> Echo(api_key="k-test", model="m", timeout=5).timeouts.idle
        5.0
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
            raise ProviderConfigError(
                f"{cls}: api_key must be a string or None, got {type(api_key).__name__}"
            )
        elif api_key is not None:
            _header_safe(cls, api_key)
        if not isinstance(model, str) or not model:
            raise ProviderConfigError(f"{cls} needs a model name, got {model!r}")
        url = _base_url(cls, self.default_base_url if base_url is None else base_url)
        checked = _options(cls, dict(options))
        self.base_url = url
        self.api_key = api_key or ""
        """The API key, for ``build_request`` (never shown in errors or reprs)."""
        self._model = model
        self._sessions = SessionSource(checked.get("session"))
        self.timeouts = Timeouts.of(checked.get("timeout"))
        self.retry = checked.get("retry") or RetryPolicy(max_retries=checked.get("max_retries", 2))
        self.error_body_limit = checked.get("error_body_limit", DEFAULT_ERROR_BODY_LIMIT)
        self.max_frame_size = checked.get("max_frame_size", DEFAULT_MAX_SIZE)
        self._redact = Redactor((api_key or "", *secrets))

    # -- the hooks -------------------------------------------------------------------------------

    @abstractmethod
    def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        """The POST for ``request``: the streaming call (``stream=True``) or the whole answer.

        The base adds ``Content-Type`` and, for the stream, the framing's ``Accept`` header.
        """

    @abstractmethod
    def new_parser(self) -> StreamParser:
        """A fresh parser of this provider's stream dialect (one per stream)."""

    @abstractmethod
    def parse_answer(self, payload: Any) -> ChatResponse:
        """The non-streaming answer (its decoded JSON) as a ``ChatResponse(delta=False)``.

        Raises:
            ProviderStreamError: the answer is an error object, or cannot be read.
        """

    # -- public API ------------------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The default model."""
        return self._model

    def bearer_auth(self) -> dict[str, str]:
        """The ``Authorization: Bearer`` header of the key; none when there is no key.

        Example:
            >>> from rxchronos.model import Ollama, OpenAI
            >>> OpenAI(api_key="sk-test", model="gpt-4o").bearer_auth()
            {'Authorization': 'Bearer sk-test'}
            >>> Ollama(model="llama3.2").bearer_auth()
            {}
        """
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self._model!r})"

    async def aclose(self) -> None:
        """Close the session this provider created (a caller's session is left open)."""
        await self._sessions.aclose()

    async def __aenter__(self) -> Self:
        """Keep the provider's own session (and its pooled connections) open for the block."""
        self._sessions.hold()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._sessions.release()

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
            raise ArgumentTypeError(
                f"stream_chat() takes a ChatRequest, got {type(request).__name__}"
            )

        model = self.model_of(request)

        async def produce(emit: Callable[[ChatResponse], None]) -> None:
            # in the task, which runs in the subscriber's context: a graph run's tap is seen here
            tap = ModelTap.start(provider=self.name, model=model)
            async with self._sessions.request():
                await self._stream(request, emit if tap is None else tap.reporting(emit))
            if tap is not None:
                tap.finish()

        return from_producer(produce, what=f"{type(self).__name__}.stream_chat()")

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
            raise ArgumentTypeError(f"chat() takes a ChatRequest, got {type(request).__name__}")
        http = self.build_request(request, stream=False)
        async with self._sessions.request():
            return await with_retries(self.retry, lambda: self._chat_once(http))

    def model_of(self, request: ChatRequest) -> str:
        """The model ``request`` asks for, or the provider's default."""
        return request.model or self._model

    # -- internals -------------------------------------------------------------------------------

    async def _post(self, http: HTTPRequest, *, read: float | None) -> aiohttp.ClientResponse:
        return await post(
            self._sessions.get(),
            http,
            provider=self.name,
            timeouts=self.timeouts,
            read=read,
            redact=self._redact,
            error_body_limit=self.error_body_limit,
        )

    async def _stream(self, request: ChatRequest, emit: Any) -> None:
        """One subscription: the streaming request, retried until the first delta."""
        http = self.build_request(request, stream=True)
        http.headers["Accept"] = _STREAM_MEDIA_TYPES[self.framing]
        collector = ResponseCollector()

        async def once() -> None:
            parser = self.new_parser()
            failure: ProviderError | None = None
            try:
                await read_stream(
                    lambda: self._post(http, read=None),
                    parser=parser,
                    framing=self.framing,
                    timeouts=self.timeouts,
                    emit=emit,
                    collector=collector,
                    provider=self.name,
                    max_frame_size=self.max_frame_size,
                )
            except ProviderStreamError as exc:
                if exc.partial is not None:  # the failing event's own data (usage next to error)
                    collector.add(exc.partial)
                failure = self._redacted(exc, collector.partial())
            except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
                # a custom parser that does not derive from StreamParser's guarded feed
                failure = parser.malformed(f"{type(exc).__name__}: {exc}")
                failure = self._redacted(failure, collector.partial())
            if failure is not None:
                raise failure

        # Retried only while nothing but ids and usage was emitted: a retry never repeats text or
        # tool calls the subscriber already has (a repeated usage delta is harmless: last wins).
        await with_retries(self.retry, once, may_retry=lambda: not collector.has_output)

    async def _chat_once(self, http: HTTPRequest) -> ChatResponse:
        resp = await self._post(http, read=self.timeouts.first_token)
        raw = await read_whole(
            resp,
            provider=self.name,
            seconds=self.timeouts.first_token,
            max_size=self.max_frame_size,
        )
        failure: ProviderStreamError | None = None
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            failure = ProviderStreamError(
                f"answer is not JSON: {self._redact.cut(raw.decode('utf-8', 'replace'), 200)!r}",
                provider=self.name,
                kind="malformed",
            )
        if failure is not None:
            raise failure
        try:
            return self.parse_answer(payload)
        except ProviderStreamError as exc:
            partial = None
            if exc.partial is not None:  # what the error answer also carried (usage, text)
                partial = ResponseCollector.of([exc.partial])
            failure = self._redacted(exc, partial)
        except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
            failure = ProviderStreamError(
                self._redact(f"answer of the wrong shape: {type(exc).__name__}: {exc}"),
                provider=self.name,
                kind="malformed",
            )
        raise failure

    def _redacted(
        self, exc: ProviderStreamError, partial: ChatResponse | None
    ) -> ProviderStreamError:
        return ProviderStreamError(
            self._redact(getattr(exc, "_whole", exc.message)),  # redacted whole, then cut
            provider=self.name,
            kind=exc.kind,
            code=self._redact(exc.code),
            partial=partial,
        )
