"""The HTTP streaming core of every network provider: session, POST, status mapping, read loop,
time limits and retries.

Following one request of [HTTPProvider][rxchronos.model.HTTPProvider] from the top:

- ``SessionSource`` gives the ``aiohttp.ClientSession``: the
  caller's (never closed here), or one created lazily inside the running loop;
- ``post`` sends one [HTTPRequest][rxchronos.model.HTTPRequest] and maps
  every failure to a typed error: connect timeout, timeout before the answer's headers, connection
  failure, non-2xx status (with the start of the body redacted, then cut to ``error_body_limit``,
  and ``Retry-After``). Redirects are followed by hand, within the request's origin only: the
  request carries credentials (``Authorization``, ``api-key``, ``x-api-key``, ``x-goog-api-key``
  or any header a custom provider adds), so a redirect to another origin is a
  [ProviderRedirectError][rxchronos.model.ProviderRedirectError] and nothing is sent there;
- ``read_stream`` is the hot loop: one incremental decoder over
  ``resp.content.iter_any()`` (SSE, or NDJSON lines presented as events), the dialect parser, the
  subscription's collector, then ``emit``; first-token and idle limits with one rescheduled
  ``asyncio.Timeout`` (rescheduled per network read that produced deltas, so comments and pings
  are not progress; there is no total limit). The stream completes as soon as the parser saw the
  end marker; EOF before it is an [IncompleteStreamError][rxchronos.model.IncompleteStreamError];
- ``with_retries`` retries connection errors, connect timeouts,
  408/409/429 and 5xx with backoff (or the server's ``Retry-After``), only before the first delta.

No aiohttp exception is ever chained to a provider error (its ``request_info`` holds the request
headers, API key included): each error is raised outside the ``except`` that saw the cause, with
the cause's type and text (redacted) in its message.

Example:
    >>> Timeouts(first_token=30).idle
    60.0
    >>> parse_retry_after({"Retry-After": "2"})
    2.0
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time
from typing import Any
from typing import Literal
from typing import NamedTuple
from typing import TypeVar

import aiohttp
from yarl import URL

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import FrameTooLargeError
from rxchronos._errors import InvalidArgumentError
from rxchronos._ndjson import DEFAULT_MAX_SIZE
from rxchronos.model._dialect import DATA_ERRORS
from rxchronos.model._dialect import MalformedData
from rxchronos.model._dialect import StreamParser
from rxchronos.model._dialect import error_info
from rxchronos.model._dialect import load_json
from rxchronos.model._errors import IncompleteStreamError
from rxchronos.model._errors import ProviderConnectionError
from rxchronos.model._errors import ProviderError
from rxchronos.model._errors import ProviderHTTPError
from rxchronos.model._errors import ProviderRedirectError
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._errors import ProviderTimeoutError
from rxchronos.model._errors import Redactor
from rxchronos.model._operators import ResponseCollector
from rxchronos.model._types import ChatResponse
from rxchronos.sse import NDJSONSplitter
from rxchronos.sse import ServerSentEvent
from rxchronos.sse import SSEDecoder

__all__ = [
    "Framing",
    "HTTPRequest",
    "RetryPolicy",
    "SessionSource",
    "Timeouts",
    "parse_retry_after",
    "post",
    "read_stream",
    "read_whole",
    "retryable",
    "with_retries",
]

_T = TypeVar("_T")

Framing = Literal["sse", "ndjson"]
"""How a stream is framed: Server-Sent Events, or newline-delimited JSON (Ollama)."""

MAX_REDIRECTS = 5
"""Same-origin 307/308 redirects followed before giving up."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Time limits of a provider request, in seconds; ``None`` means no limit.

    Attributes:
        connect: to open the connection.
        first_token: from sending the request to the first delta (or, for ``chat()``, between
            reads of the answer).
        idle: between two deltas of a stream (keep-alive comments and pings are not progress).

    There is deliberately no total limit: a long generation is not a failure.

    Example:
        >>> from rxchronos.model import OpenAI
        >>> provider = OpenAI(api_key="sk-test", model="gpt-4o", timeout=Timeouts(idle=20))
    """

    connect: float | None = 10.0
    first_token: float | None = 120.0
    idle: float | None = 60.0

    @classmethod
    def of(cls, value: Timeouts | float | None) -> Timeouts:
        """``value`` as ``Timeouts``: the defaults for ``None``, one number for all three limits.

        Example:
            >>> Timeouts.of(30)
            Timeouts(connect=30, first_token=30, idle=30)
        """
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        return cls(connect=value, first_token=value, idle=value)

    def __post_init__(self) -> None:
        for name in ("connect", "first_token", "idle"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ArgumentTypeError(f"Timeouts.{name} takes seconds or None, got {value!r}")
            if not value > 0:
                raise InvalidArgumentError(
                    f"Timeouts.{name} must be positive or None, got {value!r}"
                )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How to retry a request that failed before its first delta.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        base_delay: the first backoff in seconds; it doubles per attempt, with full jitter.
        max_delay: the cap of one backoff, and of an honoured ``Retry-After`` (finite: a server
            asking for days, or for ``inf``, waits ``max_delay``).

    Example:
        >>> RetryPolicy(max_retries=3, base_delay=0.1).delay(0, retry_after=None) <= 0.1
        True
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool):
            raise ArgumentTypeError(
                f"RetryPolicy.max_retries takes an int, got {self.max_retries!r}"
            )
        for name in ("base_delay", "max_delay"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
                raise ArgumentTypeError(f"RetryPolicy.{name} takes seconds, got {value!r}")
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise InvalidArgumentError(f"RetryPolicy values must not be negative: {self!r}")
        if not math.isfinite(self.max_delay):
            raise InvalidArgumentError(
                f"RetryPolicy.max_delay must be finite (it caps Retry-After), got {self.max_delay}"
            )

    def delay(self, attempt: int, *, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt + 1``: ``retry_after`` capped at
        ``max_delay`` (a NaN counts as no ``retry_after``), else the jittered backoff."""
        if retry_after is not None and not math.isnan(retry_after):
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.base_delay * (2**attempt), self.max_delay)
        return random.uniform(0.0, ceiling)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    A value that is not a finite number (``nan``, ``inf``) counts as absent; a huge one is kept
    here and capped by [RetryPolicy.max_delay][rxchronos.model.RetryPolicy] when it is honoured.

    Example:
        >>> parse_retry_after({"Retry-After": "nan"}) is None
        True
    """
    millis = headers.get("retry-after-ms")
    if millis:
        seconds = _seconds(millis)
        if seconds is not None:
            return seconds / 1000.0
    value = headers.get("Retry-After")
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time(), 0.0)


def _seconds(text: str) -> float | None:
    """``text`` as a finite number, at least 0; ``None`` when it is no such number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return max(value, 0.0) if math.isfinite(value) else None


RETRYABLE_STREAM_CODES = frozenset({"overloaded_error"})
"""In-band error codes retried like their HTTP twin (Anthropic's ``overloaded_error``, a 529)."""


def retryable(exc: ProviderError) -> bool:
    """Whether retrying can help: connection errors, connect timeouts, 408/409/429 and 5xx, a
    stream that broke before anything arrived, and an in-band overload."""
    if isinstance(exc, ProviderStreamError):
        return exc.kind == "provider_error" and exc.code in RETRYABLE_STREAM_CODES
    if isinstance(exc, ProviderHTTPError):
        return exc.retryable
    if isinstance(exc, ProviderTimeoutError):
        return exc.kind == "connect"
    if isinstance(exc, IncompleteStreamError):
        return exc.partial is None
    return isinstance(exc, ProviderConnectionError)


async def with_retries(
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[_T]],
    *,
    may_retry: Callable[[], bool] | None = None,
) -> _T:
    """``await attempt()``, again after a backoff while it fails retryably (see ``retryable``).

    Args:
        policy: how often and how long to wait (``Retry-After`` of an HTTP error wins).
        attempt: one try.
        may_retry: asked after a failure; ``False`` re-raises at once (a stream that already
            emitted a delta is never retried: that would duplicate tokens).
    """
    failures = 0
    while True:
        try:
            return await attempt()
        except ProviderError as exc:
            if failures >= policy.max_retries or not retryable(exc):
                raise
            if may_retry is not None and not may_retry():
                raise
            retry_after = exc.retry_after if isinstance(exc, ProviderHTTPError) else None
            delay = policy.delay(failures, retry_after=retry_after)
        await asyncio.sleep(delay)
        failures += 1


class HTTPRequest(NamedTuple):
    """One POST a provider sends: URL, headers (credentials included) and JSON body.

    Example:
        >>> HTTPRequest("https://example.invalid/v1/chat", {"Authorization": "k"}, {}).url
        'https://example.invalid/v1/chat'
    """

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


class SessionSource:
    """The caller's session, or one owned here and created lazily inside the running loop.

    An owned session is closed by ``aclose()``, and also
    when the last request using it ends while nobody holds it open (``hold()``, which a
    provider's ``async with`` does): a provider used without ``async with`` never leaves an open
    session behind when the loop ends.
    """

    __slots__ = ("_held", "_in_flight", "_owned", "_owned_loop", "_session")

    def __init__(self, session: aiohttp.ClientSession | None) -> None:
        self._session = session
        self._owned: aiohttp.ClientSession | None = None
        self._owned_loop: asyncio.AbstractEventLoop | None = None
        self._in_flight = 0
        self._held = 0

    def get(self) -> aiohttp.ClientSession:
        """The session to use now (call inside the running loop)."""
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

    def hold(self) -> None:
        """Keep an owned session open between requests until ``release()`` (``async with``)."""
        self._held += 1

    async def release(self) -> None:
        """Undo one ``hold()``; the owned session is closed when nothing holds or uses it."""
        self._held = max(self._held - 1, 0)
        await self._close_if_idle()

    @contextlib.asynccontextmanager
    async def request(self) -> AsyncIterator[None]:
        """Around one request (with its retries): an owned session nobody holds is closed after
        the last request ends."""
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            await self._close_if_idle()

    async def _close_if_idle(self) -> None:
        if not self._in_flight and not self._held:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the session created here (a caller's session is left open)."""
        owned, self._owned, self._owned_loop = self._owned, None, None
        if owned is not None and not owned.closed:
            await owned.close()


def _origin(url: URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


async def _read_start(resp: aiohttp.ClientResponse, limit: int, redact: Redactor) -> str:
    """The start of the body, decoded, redacted, then cut to at most ``limit`` characters (a
    secret's length more is read, so that a secret across the cut is redacted whole); the
    response is released or closed."""
    pieces: list[bytes] = []
    size = 0
    most = limit + redact.margin
    try:
        while size < most:
            piece = await resp.content.read(most - size)
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        cut = not resp.content.at_eof()
    except aiohttp.ClientError as exc:
        resp.close()
        return f"(body unreadable: {type(exc).__name__})"
    if cut:
        resp.close()  # the rest is never downloaded
    else:
        resp.release()
    text = redact(b"".join(pieces).decode("utf-8", "replace"))
    if not cut:
        return text
    return f"{redact.ends_cut(text)[:limit]}... [cut at {limit} bytes]"


async def post(
    session: aiohttp.ClientSession,
    http: HTTPRequest,
    *,
    provider: str,
    timeouts: Timeouts,
    read: float | None,
    redact: Redactor,
    error_body_limit: int,
) -> aiohttp.ClientResponse:
    """POST ``http`` and check the status; ``read`` limits each socket read (``None``: no limit).

    Raises:
        ProviderTimeoutError: connecting (``kind="connect"``) or waiting for the answer's headers
            (``kind="first_token"``) took too long.
        ProviderConnectionError: the connection failed.
        ProviderRedirectError: a redirect to another origin, or one that would not keep the POST.
        ProviderHTTPError: the status is not 2xx.
    """
    headers = {"Content-Type": "application/json", **http.headers}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect, sock_read=read)
    data = json.dumps(http.body)
    url = URL(http.url)
    for _ in range(MAX_REDIRECTS + 1):
        failure: ProviderError | None = None
        try:
            resp = await session.post(
                url, data=data, headers=headers, timeout=timeout, allow_redirects=False
            )
        except aiohttp.ConnectionTimeoutError:
            failure = ProviderTimeoutError(
                provider=provider, kind="connect", seconds=timeouts.connect or 0.0
            )
        except aiohttp.SocketTimeoutError:
            failure = ProviderTimeoutError(
                provider=provider, kind="first_token", seconds=read or 0.0
            )
        except aiohttp.ClientError as exc:
            failure = ProviderConnectionError(
                redact(f"{provider}: connection failed: {type(exc).__name__}: {exc}"),
                provider=provider,
            )
        if failure is not None:
            raise failure  # outside the except: the aiohttp error is not its context
        if resp.status < 300:
            return resp
        if resp.status not in _REDIRECTS:
            body = await _read_start(resp, error_body_limit, redact)
            raise ProviderHTTPError(
                provider=provider,
                status=resp.status,
                body=body,
                retry_after=parse_retry_after(resp.headers),
                url=redact(str(url.with_query(None))),
            )
        resp.close()
        try:
            target = url.join(URL(resp.headers.get("Location", "")))
        except ValueError:
            target = URL()
        location = redact(_origin(target)) if target.is_absolute() else "no usable Location"
        if not target.is_absolute() or _origin(target) != _origin(url):
            raise ProviderRedirectError(
                provider=provider,
                status=resp.status,
                location=location,
                reason="refused a redirect to another origin: the request carries credentials",
            )
        if resp.status not in (307, 308):
            raise ProviderRedirectError(
                provider=provider,
                status=resp.status,
                location=location,
                reason="refused a redirect that would turn the POST into a GET",
            )
        url = target
    raise ProviderRedirectError(
        provider=provider,
        status=resp.status,
        location=redact(_origin(url)),
        reason=f"more than {MAX_REDIRECTS} redirects",
    )


async def read_whole(
    resp: aiohttp.ClientResponse,
    *,
    provider: str,
    seconds: float | None,
    max_size: int | None = DEFAULT_MAX_SIZE,
) -> bytes:
    """The whole body of ``resp``, at most ``max_size`` bytes (``None``: no limit); the connection
    is released (pooled) or, on failure, closed.

    Raises:
        ProviderTimeoutError: a read took longer than ``seconds`` (``kind="first_token"``).
        ProviderConnectionError: the connection broke while reading.
        ProviderStreamError: the body is larger than ``max_size`` (``kind="malformed"``); no more
            of it is read.
    """
    failure: ProviderError | None = None
    pieces: list[bytes] = []
    size = 0
    try:
        if max_size is not None and (resp.content_length or 0) > max_size:
            size = resp.content_length or 0
        else:
            async for piece in resp.content.iter_any():
                pieces.append(piece)
                size += len(piece)
                if max_size is not None and size > max_size:
                    break
        if max_size is not None and size > max_size:
            failure = ProviderStreamError(
                f"the answer is larger than {max_size} bytes (the provider's max_frame_size "
                "option)",
                provider=provider,
                kind="malformed",
            )
    except aiohttp.SocketTimeoutError:
        failure = ProviderTimeoutError(
            provider=provider, kind="first_token", seconds=seconds or 0.0
        )
    except aiohttp.ClientError as exc:
        failure = ProviderConnectionError(
            f"{provider}: connection broke while reading the answer: {type(exc).__name__}",
            provider=provider,
        )
    if failure is not None:
        resp.close()
        raise failure
    resp.release()
    return b"".join(pieces)


class _NDJSONEvents:
    """NDJSON lines as ``message`` events, so both framings share one loop."""

    __slots__ = ("_splitter",)

    def __init__(self, max_size: int | None) -> None:
        self._splitter = NDJSONSplitter(max_size=max_size)

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        return [
            ServerSentEvent(line.decode("utf-8", "replace")) for line in self._splitter.feed(data)
        ]

    def close(self) -> list[ServerSentEvent]:
        return [ServerSentEvent(line.decode("utf-8", "replace")) for line in self._splitter.close()]


async def read_stream(
    post: Callable[[], Awaitable[aiohttp.ClientResponse]],
    *,
    parser: StreamParser,
    framing: Framing,
    timeouts: Timeouts,
    emit: Callable[[ChatResponse], None],
    collector: ResponseCollector,
    provider: str,
    max_frame_size: int | None = DEFAULT_MAX_SIZE,
) -> None:
    """Run one streaming request to its end (see the module docstring).

    ``max_frame_size`` bounds what the decoder holds for one line or event not yet ended; a
    stream past it is a ``ProviderStreamError`` of kind ``"malformed"`` (and the response is
    closed), never unbounded buffering.

    Every delta is added to ``collector`` before it is emitted, so the collector always holds what
    the subscriber got (the partial response of an error). When the parser has seen the end marker
    the response is released at once (aiohttp drains or closes it), whether or not the server has
    closed the connection yet.

    Raises:
        ProviderTimeoutError: first-token or idle limit passed.
        IncompleteStreamError: EOF (or a broken connection) before the end marker.
        ProviderStreamError: from the parser (without the partial response; the caller adds it).
    """
    loop = asyncio.get_running_loop()
    first, idle = timeouts.first_token, timeouts.idle
    phase: Literal["first_token", "idle"] = "first_token"
    decoder = (
        SSEDecoder(max_size=max_frame_size) if framing == "sse" else _NDJSONEvents(max_frame_size)
    )
    add = collector.add
    parse = parser.parse  # ``parser.feed``, inline below: one call less per event
    timer = asyncio.timeout_at(loop.time() + first if first else None)
    resp: aiohttp.ClientResponse | None = None
    broken: str | None = None
    data = b""
    try:
        async with timer:
            resp = await post()
            try:
                async for data in resp.content.iter_any():
                    progressed = False
                    for event in decoder.feed(data):
                        try:
                            deltas = parse(event.event, event.data)
                        except DATA_ERRORS as exc:
                            raise parser.event_error(exc, event.event) from None
                        if deltas:
                            progressed = True
                            for delta in deltas:
                                add(delta)
                                emit(delta)
                        if parser.finished:
                            break
                    if parser.finished:
                        break
                    if progressed:
                        phase = "idle"
                        timer.reschedule(loop.time() + idle if idle else None)
            except aiohttp.ClientError as exc:
                broken = type(exc).__name__
    except FrameTooLargeError as exc:
        _close(resp)
        raise ProviderStreamError(
            f"{exc} (the provider's max_frame_size option)", provider=provider, kind="malformed"
        ) from None
    except TimeoutError:
        _close(resp)
        if not timer.expired():
            raise
        seconds = (first if phase == "first_token" else idle) or 0.0
        raise ProviderTimeoutError(
            provider=provider, kind=phase, seconds=seconds, partial=collector.partial()
        ) from None
    except BaseException:
        _close(resp)
        raise
    if broken is not None:
        _close(resp)
        raise IncompleteStreamError(
            f"{provider}: the connection broke mid-stream ({broken}) after "
            f"{collector.count} deltas",
            provider=provider,
            partial=collector.partial(),
        )
    assert resp is not None
    resp.release()
    if parser.finished:
        return
    try:
        tail = decoder.close()
    except FrameTooLargeError as exc:
        raise ProviderStreamError(str(exc), provider=provider, kind="malformed") from None
    for event in tail:
        for delta in parser.feed(event.event, event.data):
            add(delta)
            emit(delta)
    for delta in parser.end():
        add(delta)
        emit(delta)
    if not parser.finished:
        stray = _stray_error(data)
        if stray is not None:  # a JSON error body written into the event stream (Gemini does)
            parser.feed("message", json.dumps(stray))  # the dialect reads its own error shape
            code, message = error_info(stray)
            raise ProviderStreamError(message, provider=provider, code=code)
        raise IncompleteStreamError(
            f"{provider}: the stream ended before its end marker ({collector.count} deltas "
            "received)",
            provider=provider,
            partial=collector.partial(),
        )


def _stray_error(tail: bytes) -> dict[str, Any] | None:
    """The JSON error object (alone or first in a list) that ends ``tail``, the last bytes of a
    stream, written there outside any event; else ``None``."""
    text = tail.decode("utf-8", "replace")
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    for start in starts:
        if text[start : start + 1] not in ("{", "["):
            continue
        try:
            value = load_json(text[start:])
        except MalformedData:
            continue
        if type(value) is list and value:
            value = value[0]
        if type(value) is dict and value.get("error"):
            return value
        return None
    return None


def _close(resp: aiohttp.ClientResponse | None) -> None:
    """Close ``resp`` (its connection is not reused) if there is one."""
    if resp is not None:
        resp.close()
