"""Serving events to browsers: Server-Sent Events over aiohttp.

* :func:`sse_response` streams any Observable to one request;
* :func:`broker_handler` (what :meth:`Broker.sse_handler <rxchronos.stream.Broker.sse_handler>`
  returns) streams a broker, resuming from ``Last-Event-ID``;
* :func:`add_sse_route` adds a broker route with the topic taken from the URL, an optional
  ``authorize(request, topic)`` check, and the shutdown hook;
* :func:`close_streams` ends every open stream of an app, for ``app.on_shutdown``.

Every stream sends ``retry:`` and a comment at once, then ``id:`` + ``data:`` frames (no
``event:`` line unless ``named_events=True``, so ``EventSource.onmessage`` gets everything),
comment heartbeats while idle, with the headers ``Content-Type: text/event-stream``,
``Cache-Control: no-cache`` and ``X-Accel-Buffering: no``; never compressed. A client that leaves
is noticed within a fraction of a second even while nothing is written, and its subscription is
disposed; a client that stops reading is cut off after ``write_timeout`` seconds of a blocked
write, or when its buffer overflows (policy ``disconnect``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import reactivex
from aiohttp import web

from rxchronos.stream._broker import Broker
from rxchronos.stream._connection import open_connections
from rxchronos.stream._serve import StreamOptions, serve, serve_broker
from rxchronos.stream._subscriber import Overflow
from rxchronos.stream._subscription import check_client, normalise_topics

__all__ = [
    "Authorize",
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
    *,
    named_events: bool = False,
    heartbeat: float | None = 15.0,
    retry: float | None = 3.0,
    buffer_size: int = 1024,
    overflow: Overflow = "disconnect",
    write_timeout: float | None = 10.0,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Stream an Observable to ``request`` as Server-Sent Events, until it completes.

    Items are :class:`~rxchronos.stream.Event`\\ s (or anything with a ``type``, sent the same
    way) or strings (sent as the ``data``). An Observable that completes at once without an item
    gets HTTP 204 (a browser then stops reconnecting). When the Observable fails, what was
    buffered is sent, then the connection is dropped and the error raised to aiohttp, which logs
    it. Leaving the client disposes the subscription.

    Args:
        request: the request to answer.
        observable: what to stream; subscribed once, on this request.
        named_events: add an ``event:`` line with the type (for ``addEventListener``).
        heartbeat: seconds of silence before a ``: ping`` comment; ``None``: none.
        retry: the reconnection delay sent to the client, in seconds; ``None``: none.
        buffer_size: frames this connection may hold before ``overflow`` applies.
        overflow: ``"disconnect"``, ``"drop_oldest"`` or ``"drop_newest"``.
        write_timeout: seconds a blocked write may take before the connection is cut.
        headers: extra response headers.

    Example:
        >>> import reactivex
        >>> from aiohttp import web
        >>> from rxchronos.stream import Event
        >>> from rxchronos.stream.web import sse_response
        >>> async def countdown(request: web.Request) -> web.StreamResponse:
        ...     ticks = reactivex.of(*(Event(type="tick", data=n) for n in (3, 2, 1)))
        ...     return await sse_response(request, ticks)
        >>> app = web.Application()
        >>> _ = app.router.add_get("/countdown", countdown)
    """
    if not isinstance(observable, reactivex.Observable):
        raise TypeError(
            f"sse_response() streams a reactivex Observable, got {type(observable).__name__}"
        )
    options = StreamOptions(named_events, heartbeat, retry, write_timeout)
    return await serve(
        request,
        observable.subscribe,
        options,
        buffer_size=buffer_size,
        overflow=overflow,
        headers=headers,
    )


def broker_handler(
    broker: Broker,
    *,
    client_id: str | None = None,
    topics: str | Iterable[str] | None = None,
    named_events: bool = False,
    heartbeat: float | None = 15.0,
    retry: float | None = 3.0,
    write_timeout: float | None = 10.0,
) -> Handler:
    """An aiohttp handler streaming ``broker``'s events (``broker.sse_handler(...)`` calls this).

    Each request gets its own subscription with the broker's ``buffer_size`` and ``overflow``.
    The ``Last-Event-ID`` header (or, for a first connection, a ``last_event_id`` query
    parameter) resumes from the replay ring. A request for topics that are all finished, with
    nothing left to replay, gets HTTP 204.

    Args:
        broker: the broker to stream.
        client_id: the subscriptions' client id (for ``broker.unsubscribe`` and ``stats``).
        topics: the topics to stream; ``None``: every event.
        named_events, heartbeat, retry, write_timeout: as for :func:`sse_response`.

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.stream import Broker
        >>> from rxchronos.stream.web import broker_handler, close_streams
        >>> broker = Broker()
        >>> app = web.Application()
        >>> _ = app.router.add_get("/events", broker_handler(broker, named_events=True))
        >>> app.on_shutdown.append(close_streams)
    """
    _check_broker(broker)
    topic_set = normalise_topics(topics)
    check_client(client_id, None)
    options = StreamOptions(named_events, heartbeat, retry, write_timeout)

    async def handler(request: web.Request) -> web.StreamResponse:
        return await serve_broker(request, broker, options, client_id=client_id, topics=topic_set)

    return handler


def add_sse_route(
    app: web.Application,
    path: str,
    broker: Broker,
    *,
    authorize: Authorize | None = None,
    named_events: bool = False,
    heartbeat: float | None = 15.0,
    retry: float | None = 3.0,
    write_timeout: float | None = 10.0,
    name: str | None = None,
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
        broker: the broker to stream.
        authorize: who may read which topic; ``None`` lets everyone read everything.
        named_events, heartbeat, retry, write_timeout: as for :func:`sse_response`.
        name: the route's name.

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
        raise TypeError(f"add_sse_route() takes an aiohttp Application, got {type(app).__name__}")
    _check_broker(broker)
    if authorize is not None and not callable(authorize):
        raise TypeError(
            f"authorize must be a function (request, topic) -> bool, got {type(authorize).__name__}"
        )
    options = StreamOptions(named_events, heartbeat, retry, write_timeout)

    async def handler(request: web.Request) -> web.StreamResponse:
        topic = request.match_info.get("topic") or request.query.get("topic") or None
        if authorize is not None:
            allowed = authorize(request, topic)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if not allowed:
                raise web.HTTPForbidden(text="not allowed to read this topic")
        return await serve_broker(
            request,
            broker,
            options,
            client_id=request.query.get("client_id") or None,
            topics=frozenset((topic,)) if topic is not None else None,
        )

    route = app.router.add_get(path, handler, name=name)
    if close_streams not in app.on_shutdown:
        app.on_shutdown.append(close_streams)
    return route


async def close_streams(app: web.Application) -> None:
    """End every SSE stream ``app`` is serving, at once; made for ``app.on_shutdown``.

    Without it aiohttp waits for open streams (up to 60 s by default) when it shuts down.
    :func:`add_sse_route` registers it for you.

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.stream.web import close_streams
        >>> app = web.Application()
        >>> app.on_shutdown.append(close_streams)
    """
    for connection in open_connections(app):
        connection.close()


def _check_broker(broker: object) -> None:
    if not isinstance(broker, Broker):
        raise TypeError(f"expected a rxchronos.stream.Broker, got {type(broker).__name__}")
