"""Answering one SSE request: subscribe a connection's buffer, then stream until the end.

What every route of :mod:`rxchronos.stream.web` shares: its :class:`StreamOptions` (checked once,
when the route is made), the headers, the preamble (``retry:`` and a comment, flushed at once),
the encoding of items into frames, and HTTP 204 for a stream that is over before it starts (a
browser then stops reconnecting).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from reactivex import abc

from rxchronos.sse import encode_comment, encode_event
from rxchronos.stream._connection import SSEConnection
from rxchronos.stream._event import Event, stamp_event
from rxchronos.stream._subscriber import FrameSink, Overflow

if TYPE_CHECKING:
    from rxchronos.stream._broker import Broker

__all__ = ["SSE_HEADERS", "StreamOptions", "check_options", "serve", "serve_broker"]

SSE_HEADERS: Mapping[str, str] = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How a route writes its streams (see :func:`rxchronos.stream.web.sse_response`).

    Raises:
        TypeError, ValueError: for a timing option that is not a sensible number of seconds.
    """

    named_events: bool
    heartbeat: float | None
    retry: float | None
    write_timeout: float | None

    def __post_init__(self) -> None:
        check_options(self.heartbeat, self.retry, self.write_timeout)


async def serve_broker(
    request: web.Request,
    broker: Broker,
    options: StreamOptions,
    *,
    client_id: str | None,
    topics: frozenset[str] | None,
) -> web.StreamResponse:
    """Stream ``broker`` to ``request``, resuming after its ``Last-Event-ID`` (or query)."""
    last_event_id = (
        request.headers.get("Last-Event-ID") or request.query.get("last_event_id") or None
    )

    def attach(sink: FrameSink) -> abc.DisposableBase:
        return broker._attach(sink, client_id=client_id, topics=topics, last_event_id=last_event_id)

    return await serve(
        request, attach, options, buffer_size=broker.buffer_size, overflow=broker.overflow
    )


async def serve(
    request: web.Request,
    subscribe: Callable[[FrameSink], abc.DisposableBase],
    options: StreamOptions,
    *,
    buffer_size: int,
    overflow: Overflow,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Subscribe a new connection's sink with ``subscribe``, then stream it to ``request``.

    Raises:
        TypeError, ValueError: for a bad ``buffer_size`` or ``overflow``.
    """
    connection = SSEConnection(
        request,
        encode=_encoder(options.named_events),
        buffer_size=buffer_size,
        overflow=overflow,
        heartbeat=options.heartbeat,
        write_timeout=options.write_timeout,
    )
    queue = connection.queue
    with queue.unbounded():  # a replay longer than the buffer must not trip the policy
        subscription = subscribe(connection.sink)
    try:
        if queue.ended and not queue and queue.exception is None:
            return web.Response(status=204)
        response = web.StreamResponse(headers={**SSE_HEADERS, **(headers or {})})
        await response.prepare(request)
        await connection.run(response, _preamble(options.retry))
        return response
    finally:
        subscription.dispose()


def _preamble(retry: float | None) -> bytes:
    # No blank line after it: a block without data is not an event, but some clients (httpx-sse)
    # dispatch one anyway. ``retry`` takes effect when its line is read.
    head = f"retry: {round(retry * 1000)}\n".encode() if retry is not None else b""
    return head + encode_comment("connected")


def _encoder(named: bool) -> Callable[[Any], bytes]:
    def encode(item: Any) -> bytes:
        if isinstance(item, Event):
            return item.to_sse(named=named)
        if isinstance(item, str):
            return encode_event(item)
        return stamp_event(item, id=None, topic=None).to_sse(named=named)

    return encode


def check_options(
    heartbeat: float | None, retry: float | None, write_timeout: float | None
) -> None:
    """Raise ``TypeError``/``ValueError`` for a timing option that is not a sensible number."""
    for name, value, allow_zero in (
        ("heartbeat", heartbeat, False),
        ("retry", retry, True),
        ("write_timeout", write_timeout, False),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be a finite number of seconds, got {value}")
        if value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"{name} must be {bound} seconds, got {value}")
