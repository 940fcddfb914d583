"""Reading an SSE endpoint as an Observable, the way a browser's ``EventSource`` does.

[sse_client][rxchronos.stream.sse_client] connects with aiohttp, decodes with
[SSEDecoder][rxchronos.sse.SSEDecoder], and when the server closes the stream (or the connection
drops) reconnects after the server's ``retry`` delay, sending ``Last-Event-ID``, so a broker
route resumes exactly where the client was.
HTTP 204 ends the stream (a finished run); any other status but 200 is an error.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from collections.abc import Mapping

import aiohttp
import reactivex
from yarl import URL

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.aio import from_async_iterable
from rxchronos.sse import DEFAULT_MAX_SIZE
from rxchronos.sse import ServerSentEvent
from rxchronos.sse import SSEDecoder
from rxchronos.stream._errors import SSEConnectionError
from rxchronos.stream._errors import SSEHTTPError
from rxchronos.stream._errors import SSEProtocolError

__all__ = ["sse_client"]

_BODY_BYTES = 2048  # of an error response, enough for the 500 characters an SSEHTTPError keeps
_CONNECTION_ERRORS = (aiohttp.ClientError, TimeoutError)  # a failed attempt: retried
# a redirect that is never right: not to http(s), not a URL, or one too many
_UNFOLLOWABLE = (aiohttp.RedirectClientError, aiohttp.InvalidURL, aiohttp.TooManyRedirects)
_URL_SECRETS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s@?#'\"]*@)?([^\s?#'\"]*)[^\s'\"]*")
"""A URL in an error message, captured without its userinfo, query string and fragment."""


def sse_client(
    url: str,
    *,
    session: aiohttp.ClientSession | None = None,
    headers: Mapping[str, str] | None = None,
    last_event_id: str | None = None,
    reconnect: bool = True,
    retry: float = 3.0,
    max_retry_delay: float = 60.0,
    max_retries: int | None = 5,
    connect_timeout: float = 10.0,
    max_size: int | None = DEFAULT_MAX_SIZE,
) -> reactivex.Observable[ServerSentEvent]:
    """A cold Observable of the events of an SSE endpoint; each subscription is one client.

    Comments are skipped; ``event.id`` is the stream's last event id when the event arrived,
    also across reconnections (an event without an ``id:`` line carries the id resumed from).
    The Observable completes when the server answers 204 (or, with ``reconnect=False``, when the
    stream ends) and fails with [SSEHTTPError][rxchronos.stream.SSEHTTPError] for any other
    status but 200, [SSEProtocolError][rxchronos.stream.SSEProtocolError] for a 200 that is not
    ``text/event-stream`` or a redirect that cannot be followed (to a URL that is not
    ``http``/``https`` or not a URL, or too many), and
    [SSEConnectionError][rxchronos.stream.SSEConnectionError] after ``max_retries`` consecutive
    failed attempts. An attempt fails when the connection cannot be made, when the response's
    headers do not arrive within ``connect_timeout``, or when the response breaks (a malformed
    or cut answer, any other aiohttp error) before it delivered an event; error messages never
    show the URL's query string or userinfo, nor the request's headers. A line (or an event)
    longer than ``max_size`` bytes fails it with
    [FrameTooLargeError][rxchronos.FrameTooLargeError] without reconnecting, so a server that
    never ends a line cannot take the reader's memory. Disposing the subscription closes the
    connection.
    Bad arguments raise at once, before anything is subscribed.

    Args:
        url: the endpoint.
        session: an aiohttp session to use (it is not closed); by default one per subscription.
        headers: extra request headers (e.g. ``Authorization``; never shown in errors).
        last_event_id: resume after this id on the first connection.
        reconnect: reconnect when the stream ends or the connection drops.
        retry: seconds to wait before reconnecting, until the server sends its own ``retry:``.
        max_retry_delay: the longest wait before reconnecting that the server's ``retry:`` may
            ask for, in seconds; a larger ``retry:`` value waits this long.
        max_retries: consecutive failed attempts tolerated; ``None``: no limit.
        connect_timeout: seconds to establish each connection and to receive the response's
            headers (and the start of an error response's body).
        max_size: the most bytes one line or one event may take before it ends (8 MiB by
            default, ``rxchronos.sse.DEFAULT_MAX_SIZE``); ``None``: no bound.

    Raises:
        TypeError: for an argument of the wrong type.
        ValueError: for a URL that is not absolute ``http``/``https``, a negative ``retry``,
            ``max_retry_delay`` or ``max_retries``, a ``connect_timeout`` not above 0, or a
            ``last_event_id`` with CR, LF or NUL.

    Example:
        >>> import asyncio, reactivex
        >>> from aiohttp import web
        >>> from reactivex import operators as ops
        >>> from rxchronos.stream import Event, sse_client
        >>> from rxchronos.stream.web import sse_response
        >>> async def hello(request):
        ...     return await sse_response(request, reactivex.of(Event(type="hi", data=1)))
        >>> async def main():
        ...     app = web.Application()
        ...     app.router.add_get("/events", hello)
        ...     runner = web.AppRunner(app)
        ...     await runner.setup()
        ...     site = web.TCPSite(runner, "127.0.0.1", 0)
        ...     await site.start()
        ...     port = runner.addresses[0][1]
        ...     events = sse_client(f"http://127.0.0.1:{port}/events", retry=0.01)
        ...     first = await events.pipe(ops.first())
        ...     await runner.cleanup()
        ...     return first.json()
        >>> asyncio.run(main())
        {'type': 'hi', 'data': 1}
    """
    target = _check_url(url)
    for name, value in (
        ("retry", retry),
        ("max_retry_delay", max_retry_delay),
        ("connect_timeout", connect_timeout),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ArgumentTypeError(f"{name} must be a number of seconds, got {value!r}")
    for name, value in (("retry", retry), ("max_retry_delay", max_retry_delay)):
        if value < 0:
            raise InvalidArgumentError(f"{name} must be >= 0 seconds, got {value}")
    if max_retries is not None and (
        isinstance(max_retries, bool) or not isinstance(max_retries, int)
    ):
        raise ArgumentTypeError(f"max_retries must be an int or None, got {max_retries!r}")
    if max_retries is not None and max_retries < 0:
        raise InvalidArgumentError(f"max_retries must be >= 0 or None, got {max_retries}")
    if connect_timeout <= 0:
        raise InvalidArgumentError(f"connect_timeout must be > 0 seconds, got {connect_timeout}")
    SSEDecoder(last_event_id or "", max_size=max_size)  # TypeError/ValueError for a bad id or size
    extra = dict(headers or {})

    def events() -> AsyncIterator[ServerSentEvent]:
        return _read(
            target,
            session=session,
            headers=extra,
            last_event_id=last_event_id or "",
            reconnect=reconnect,
            retry=retry,
            max_retry_delay=max_retry_delay,
            max_retries=max_retries,
            connect_timeout=connect_timeout,
            max_size=max_size,
        )

    return from_async_iterable(events)


async def _read(
    url: URL,
    *,
    session: aiohttp.ClientSession | None,
    headers: dict[str, str],
    last_event_id: str,
    reconnect: bool,
    retry: float,
    max_retry_delay: float,
    max_retries: int | None,
    connect_timeout: float,
    max_size: int | None,
) -> AsyncIterator[ServerSentEvent]:
    own = session is None
    client = session or aiohttp.ClientSession()
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
    shown_url = str(url.with_query(None).with_fragment(None).with_user(None))  # no secrets
    failures = 0
    try:
        while True:
            request_headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            request_headers.update(headers)
            if last_event_id:
                request_headers["Last-Event-ID"] = last_event_id
            decoder = SSEDecoder(last_event_id, max_size=max_size)  # events carry the last id
            try:
                # aiohttp bounds the connecting only: the wait for the headers is bounded here
                async with asyncio.timeout(connect_timeout):
                    response = await client.get(url, headers=request_headers, timeout=timeout)
                async with response:
                    await _check(response, shown_url, connect_timeout)
                    if response.status == 204:
                        return
                    async for chunk in response.content.iter_any():
                        events = decoder.feed(chunk)
                        last_event_id = decoder.last_event_id
                        if decoder.retry is not None:
                            retry = min(decoder.retry / 1000, max_retry_delay)
                        if events:
                            failures = 0  # an attempt that delivers an event succeeded
                            for event in events:
                                yield event
            except _UNFOLLOWABLE as exc:
                raise SSEProtocolError(
                    f"GET {shown_url} redirected where it cannot be followed ({_reason(exc)})"
                ) from None
            except _CONNECTION_ERRORS as exc:
                failures += 1
                if not reconnect or (max_retries is not None and failures > max_retries):
                    reason = _reason(exc, connect_timeout)
                    raise SSEConnectionError(
                        f"the event stream at {shown_url} could not be read ({reason}) "
                        f"after {failures} attempt(s)"
                    ) from (exc if reason == f"{type(exc).__name__}: {exc}" else None)
            else:
                if not reconnect:
                    return
            await asyncio.sleep(retry)
    finally:
        if own:
            await client.close()


def _check_url(url: object) -> URL:
    """The URL to read, or ``TypeError``/``ValueError`` saying why it cannot be one."""
    if not isinstance(url, str | URL):
        raise ArgumentTypeError(f"sse_client() takes the URL as a str, got {type(url).__name__}")
    try:
        parsed = URL(url)
    except ValueError as exc:
        raise InvalidArgumentError(f"sse_client(): not a URL ({exc})") from None
    if not parsed.absolute or parsed.scheme not in ("http", "https") or not parsed.host:
        shown = parsed.with_user(None) if parsed.absolute else parsed
        raise InvalidArgumentError(
            "sse_client() needs an absolute http:// or https:// URL, got "
            f"{str(shown.with_query(None).with_fragment(None))!r}"
        )
    return parsed


def _reason(exc: BaseException, timeout: float = 0.0) -> str:
    """What went wrong, for a message: aiohttp's messages may show a URL (the requested one, or
    where a redirect pointed) whole, which this shows without its userinfo and query string."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"TimeoutError: no response headers within connect_timeout={timeout} s"
    return _URL_SECRETS.sub(r"\1\2", f"{type(exc).__name__}: {exc}")


async def _check(response: aiohttp.ClientResponse, shown_url: str, wait: float) -> None:
    if response.status == 204:
        return
    if response.status != 200:
        # only the start of the body is kept, so only the start is read (never a huge body),
        # and a body that does not come is not waited for past the timeout
        try:
            async with asyncio.timeout(wait):
                start = await response.content.read(_BODY_BYTES)
        except TimeoutError:
            start = b""
        body = start.decode("utf-8", errors="replace")[:500]
        raise SSEHTTPError(response.status, shown_url, body)
    mime = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if mime != "text/event-stream":
        raise SSEProtocolError(
            f"GET {shown_url} answered 200 with Content-Type {mime or 'none'!r}, "
            "not text/event-stream"
        )
