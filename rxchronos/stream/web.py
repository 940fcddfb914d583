"""Serving events to browsers: Server-Sent Events over aiohttp.

* [sse_response][rxchronos.stream.web.sse_response] streams any Observable to one request;
* [broker_handler][rxchronos.stream.web.broker_handler] (what ``broker.sse_handler(...)``
  returns) streams a broker, resuming from ``Last-Event-ID``;
* [add_sse_route][rxchronos.stream.web.add_sse_route] adds a broker route with the topic taken
  from the URL, an optional ``authorize(request, topic)`` check, and the shutdown hook;
* [close_streams][rxchronos.stream.web.close_streams] ends every open stream of an app, for
  ``app.on_shutdown``.

A broker here is anything that satisfies [SSESource][rxchronos.stream.SSESource]: the in-process
[Broker][rxchronos.stream.Broker] and a distributed one are served by the same code. How streams
are written is one [StreamOptions][rxchronos.stream.StreamOptions]; every function takes it as
``options=`` and its fields as keyword overrides.

Every stream sends ``retry:`` and a comment at once, then ``id:`` + ``data:`` frames (no
``event:`` line unless ``named_events=True``, so ``EventSource.onmessage`` gets everything),
comment heartbeats while idle, with the headers ``Content-Type: text/event-stream``,
``Cache-Control: no-cache`` and ``X-Accel-Buffering: no``; never compressed. A client that leaves
is noticed within a fraction of a second even while nothing is written, and its subscription is
disposed; a client that stops reading is cut off after ``write_timeout`` seconds of a blocked
write, or when its buffer overflows (policy ``disconnect``). A client that leaves before the
response headers are written is normal: one debug-level log line, no traceback.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import reactivex
from aiohttp import web
from reactivex import abc

from rxchronos._errors import ArgumentTypeError
from rxchronos._queue import Overflow
from rxchronos.stream._event import check_client
from rxchronos.stream._event import normalise_topics
from rxchronos.stream._protocol import SSESource
from rxchronos.stream._serve import FrameSink
from rxchronos.stream._serve import StreamOptions
from rxchronos.stream._serve import open_connections
from rxchronos.stream._serve import serve

__all__ = [
    "Authorize",
    "SSERoutes",
    "add_sse_route",
    "broker_handler",
    "close_streams",
    "sse_response",
]

Authorize = Callable[[web.Request, str | None], bool | Awaitable[bool]]
"""``authorize(request, topic) -> bool`` (or a coroutine of it): ``False`` refuses with 403; raise
``web.HTTPUnauthorized`` for 401."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def sse_response(
    request: web.Request,
    observable: reactivex.Observable[Any],
    options: StreamOptions | None = None,
    *,
    buffer_size: int = 1024,
    overflow: Overflow = "disconnect",
    headers: Mapping[str, str] | None = None,
    **overrides: Any,
) -> web.StreamResponse:
    """Stream an Observable to ``request`` as Server-Sent Events, until it completes.

    Items are [Event][rxchronos.stream.Event]s (or anything with a ``type``, sent the same
    way) or strings (sent as the ``data``). An Observable that completes at once without an item
    gets HTTP 204 (a browser then stops reconnecting). When the Observable fails, what was
    buffered is sent, then the connection is dropped and the error raised to aiohttp, which logs
    it. Leaving the client disposes the subscription.

    Args:
        request: the request to answer.
        observable: what to stream; subscribed once, on this request.
        options: how to write the stream; by default ``StreamOptions()``.
        buffer_size: frames this connection may hold before ``overflow`` applies.
        overflow: ``"disconnect"``, ``"drop_oldest"`` or ``"drop_newest"``.
        headers: extra response headers.
        **overrides: fields of [StreamOptions][rxchronos.stream.StreamOptions]
            (``named_events``, ``heartbeat``, ``retry``, ``write_timeout``).

    Example:
        >>> import reactivex
        >>> from aiohttp import web
        >>> from rxchronos.stream import Event
        >>> from rxchronos.stream.web import sse_response
        >>> async def countdown(request: web.Request) -> web.StreamResponse:
        ...     ticks = reactivex.of(*(Event(type="tick", data=n) for n in (3, 2, 1)))
        ...     return await sse_response(request, ticks, retry=None)
        >>> app = web.Application()
        >>> _ = app.router.add_get("/countdown", countdown)
    """
    if not isinstance(observable, reactivex.Observable):
        raise ArgumentTypeError(
            f"sse_response() streams a reactivex Observable, got {type(observable).__name__}"
        )
    return await serve(
        request,
        observable.subscribe,
        StreamOptions.build(options, overrides),
        buffer_size=buffer_size,
        overflow=overflow,
        headers=headers,
    )


async def _serve_source(
    request: web.Request,
    source: SSESource,
    options: StreamOptions,
    client_id: str | None,
    topics: frozenset[str] | None,
) -> web.StreamResponse:
    last_event_id = (
        request.headers.get("Last-Event-ID") or request.query.get("last_event_id") or None
    )

    def attach(sink: FrameSink) -> Awaitable[abc.DisposableBase]:
        return source.attach(sink, client_id=client_id, topics=topics, last_event_id=last_event_id)

    return await serve(
        request, attach, options, buffer_size=source.buffer_size, overflow=source.overflow
    )


def broker_handler(
    broker: SSESource,
    *,
    client_id: str | None = None,
    topics: str | Iterable[str] | None = None,
    options: StreamOptions | None = None,
    **overrides: Any,
) -> Handler:
    """An aiohttp handler streaming ``broker``'s events (``broker.sse_handler(...)`` calls this).

    Each request gets its own subscription with the broker's ``buffer_size`` and ``overflow``.
    The ``Last-Event-ID`` header (or, for a first connection, a ``last_event_id`` query
    parameter) resumes from the broker's history. A request for topics that are all finished,
    with nothing left to replay, gets HTTP 204.

    Args:
        broker: the broker to stream (any [SSESource][rxchronos.stream.SSESource]).
        client_id: the subscriptions' client id (for ``broker.unsubscribe`` and ``stats``).
        topics: the topics to stream; ``None``: every event.
        options: how to write the streams; by default ``StreamOptions()``.
        **overrides: fields of [StreamOptions][rxchronos.stream.StreamOptions].

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.stream import Broker
        >>> from rxchronos.stream.web import broker_handler, close_streams
        >>> broker = Broker()
        >>> app = web.Application()
        >>> _ = app.router.add_get("/events", broker_handler(broker, named_events=True))
        >>> app.on_shutdown.append(close_streams)
    """
    _check_source(broker)
    topic_set = normalise_topics(topics)
    check_client(client_id, None)
    chosen = StreamOptions.build(options, overrides)

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _serve_source(request, broker, chosen, client_id, topic_set)

    return handler


def add_sse_route(
    app: web.Application,
    path: str,
    broker: SSESource,
    *,
    authorize: Authorize | None = None,
    name: str | None = None,
    options: StreamOptions | None = None,
    **overrides: Any,
) -> web.AbstractRoute:
    """Add a ``GET`` route streaming one topic of ``broker``, and close its streams on shutdown.

    The topic is the ``{topic}`` part of ``path`` when there is one, else the ``topic`` query
    parameter; without either the route streams every event. ``authorize(request, topic)`` (sync
    or async) runs before anything is streamed: ``False`` answers 403, and it may raise
    ``web.HTTPUnauthorized`` (401) or any other ``web.HTTPException``. An optional ``client_id``
    query parameter names the subscription.

    Args:
        app: the application (not yet started).
        path: the route's path, e.g. ``"/runs/{topic}/events"``.
        broker: the broker to stream (any [SSESource][rxchronos.stream.SSESource]).
        authorize: who may read which topic; ``None`` lets everyone read everything.
        name: the route's name.
        options: how to write the streams; by default ``StreamOptions()``.
        **overrides: fields of [StreamOptions][rxchronos.stream.StreamOptions].

    Returns:
        The route.

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.stream import Broker
        >>> from rxchronos.stream.web import add_sse_route
        >>> def authorize(request: web.Request, topic: str | None) -> bool:
        ...     return topic is not None and request.headers.get("X-User") == "alice"
        >>> app = web.Application()
        >>> route = add_sse_route(app, "/runs/{topic}/events", Broker(), authorize=authorize)
        >>> route.method
        'GET'
    """
    if not isinstance(app, web.Application):
        raise ArgumentTypeError(
            f"add_sse_route() takes an aiohttp Application, got {type(app).__name__}"
        )
    _check_source(broker)
    if authorize is not None and not callable(authorize):
        raise ArgumentTypeError(
            f"authorize must be a function (request, topic) -> bool, got {type(authorize).__name__}"
        )
    chosen = StreamOptions.build(options, overrides)

    async def handler(request: web.Request) -> web.StreamResponse:
        topic = request.match_info.get("topic") or request.query.get("topic") or None
        if authorize is not None:
            allowed = authorize(request, topic)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if not allowed:
                raise web.HTTPForbidden(text="not allowed to read this topic")
        topics = frozenset((topic,)) if topic is not None else None
        client_id = request.query.get("client_id") or None
        return await _serve_source(request, broker, chosen, client_id, topics)

    route = app.router.add_get(path, handler, name=name)
    if close_streams not in app.on_shutdown:
        app.on_shutdown.append(close_streams)
    return route


async def close_streams(app: web.Application) -> None:
    """End every SSE stream ``app`` is serving, at once; made for ``app.on_shutdown``.

    Without it aiohttp waits for open streams (up to 60 s by default) when it shuts down.
    [add_sse_route][rxchronos.stream.web.add_sse_route] registers it for you.

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.stream.web import close_streams
        >>> app = web.Application()
        >>> app.on_shutdown.append(close_streams)
    """
    for connection in open_connections(app):
        connection.close()


class SSERoutes:
    """The ``sse_handler`` and ``add_sse_route`` methods of a broker, for a class to inherit.

    A broker class that satisfies [SSESource][rxchronos.stream.SSESource] inherits them to
    offer the seed's spelling ``broker.sse_handler("client-123")``; they call
    [broker_handler][rxchronos.stream.web.broker_handler] and
    [add_sse_route][rxchronos.stream.web.add_sse_route] with the broker itself.

    Example:
        >>> from rxchronos.stream import Broker
        >>> from rxchronos.stream.web import SSERoutes
        >>> issubclass(Broker, SSERoutes)
        True
    """

    __slots__ = ()

    def sse_handler(
        self,
        client_id: str | None = None,
        *,
        topics: str | Iterable[str] | None = None,
        options: StreamOptions | None = None,
        **overrides: Any,
    ) -> Handler:
        """An aiohttp handler streaming this broker's events as Server-Sent Events.

        Each request gets its own subscription (two tabs with one client id both get every
        event). The arguments are those of
        [broker_handler][rxchronos.stream.web.broker_handler]. End open streams on shutdown with
        ``app.on_shutdown.append(rxchronos.stream.web.close_streams)`` (or by closing the broker).

        Example:
            >>> from aiohttp import web
            >>> from rxchronos.stream import Broker
            >>> broker = Broker()
            >>> app = web.Application()
            >>> _ = app.router.add_get("/events", broker.sse_handler("client-123"))
            >>> app.on_shutdown.append(lambda app: broker.aclose())
        """
        return broker_handler(
            _as_source(self), client_id=client_id, topics=topics, options=options, **overrides
        )

    def add_sse_route(
        self,
        app: web.Application,
        path: str,
        *,
        authorize: Authorize | None = None,
        name: str | None = None,
        options: StreamOptions | None = None,
        **overrides: Any,
    ) -> web.AbstractRoute:
        """Add a ``GET`` route streaming one topic of this broker (see
        [add_sse_route][rxchronos.stream.web.add_sse_route]).

        Example:
            >>> from aiohttp import web
            >>> from rxchronos.stream import Broker
            >>> app = web.Application()
            >>> Broker().add_sse_route(app, "/runs/{topic}/events").method
            'GET'
        """
        return add_sse_route(
            app,
            path,
            _as_source(self),
            authorize=authorize,
            name=name,
            options=options,
            **overrides,
        )


def _check_source(broker: object) -> None:
    if isinstance(broker, type) or not isinstance(broker, SSESource):
        raise ArgumentTypeError(
            "expected a broker (an rxchronos.stream.SSESource such as Broker), got "
            f"{type(broker).__name__}"
        )


def _as_source(broker: object) -> SSESource:
    _check_source(broker)
    assert isinstance(broker, SSESource)
    return broker
