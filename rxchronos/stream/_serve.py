"""Serving one SSE request: its options, its bounded buffer, its writer, and the loop's helpers.

[serve][rxchronos.stream._serve.serve] answers a request: it builds an `SSEConnection`, lets the
source (an Observable, or any [SSESource][rxchronos.stream.SSESource]) attach the connection's
`FrameSink`, answers 204 when the stream is over before it starts (a browser then stops
reconnecting), else writes the headers, the preamble (``retry:`` and a comment) and every frame
until the stream ends or the client leaves.

The publisher side is synchronous and cheap: `FrameSink.on_next` encodes the item (a broker
event's frame is built once and shared) and pushes it into the connection's
[BoundedQueue][rxchronos._queue.BoundedQueue]. A full buffer never blocks the publisher; the
policy decides: ``disconnect`` ends the connection at once (the client reconnects with
``Last-Event-ID`` and resumes), ``drop_oldest``/``drop_newest`` drop a frame (counted).

Two helpers per event loop keep a thousand idle connections cheap:

* the *flusher* runs once per loop turn in which frames arrived and writes every parked
  connection's frames inline, everything buffered in one ``write()``, instead of waking a task
  per connection per event; only a write that must wait for the transport is handed to the
  connection's own task;
* the *watch*, one task, looks at every open connection a few times a second: a client that
  went away is noticed even while nothing is written (its subscription is disposed at once); an
  idle connection gets a comment heartbeat; a write blocked longer than ``write_timeout`` (a
  client that stopped reading) aborts the connection.

Writing inline means running ``StreamResponse.write`` (aiohttp's public coroutine) one step with
``coro.send(None)``, the way a ``Task`` steps it, and keeping the rest for the connection's task
when it has to wait for the transport to drain. It relies on aiohttp's ``write`` finishing in one
step while the transport is not backed up, which is why it is checked: ``benchmarks/sse_fanout.py``
(100 clients, quick runs back to back) measured about 1.5x the events/s with bursts of 10 and
about 20% less server CPU per event one event per loop turn, against waking each connection's
task to ``await response.write``. ``tests/stream/test_serve.py`` checks, on whatever aiohttp
is installed, that a real response's write still finishes in one step, so an upgrade that
changes it fails loudly (first checked on aiohttp 3.14).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import weakref
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Generator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from reactivex import abc

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos._errors import SlowConsumerError
from rxchronos._queue import BoundedQueue
from rxchronos._queue import Overflow
from rxchronos._queue import check_bounds
from rxchronos.sse import encode_comment
from rxchronos.sse import encode_event
from rxchronos.stream._errors import BrokerUnavailableError
from rxchronos.stream._event import Event
from rxchronos.stream._event import stamp_event
from rxchronos.stream._protocol import SubscriberStats

__all__ = [
    "BROKER_POLICIES",
    "SSE_HEADERS",
    "WATCH_INTERVAL",
    "FrameSink",
    "PendingWrite",
    "SSEConnection",
    "StreamOptions",
    "check_overflow",
    "open_connections",
    "serve",
    "start_write",
]

_log = logging.getLogger("rxchronos.stream")

SSE_HEADERS: Mapping[str, str] = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}

BROKER_POLICIES: tuple[Overflow, ...] = ("disconnect", "drop_oldest", "drop_newest")
"""The overflow policies an SSE connection's buffer takes."""

WATCH_INTERVAL = 0.2
"""Seconds between two looks at every open connection (disconnects, heartbeats, write timeouts)."""

_HEARTBEAT = encode_comment("ping")  # no blank line: some clients dispatch an empty event


def check_overflow(overflow: str, buffer_size: int) -> None:
    """Raise ``ValueError`` for an unknown policy or a size below 1, ``TypeError`` for a non-int."""
    check_bounds(buffer_size, overflow, BROKER_POLICIES, name="buffer_size", unbounded=False)


def _check_seconds(name: str, value: object, *, allow_zero: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentTypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidArgumentError(f"{name} must be a finite number of seconds, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidArgumentError(f"{name} must be {bound} seconds, got {value}")


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How an SSE route writes its streams; every route and ``sse_response`` takes one.

    Each entry point also takes the fields as keyword arguments, which override ``options``
    (``broker.sse_handler(named_events=True)`` is
    ``broker.sse_handler(options=StreamOptions(named_events=True))``).

    Attributes:
        named_events: add an ``event:`` line with the type (for ``addEventListener``); without
            it every event reaches ``EventSource.onmessage``.
        heartbeat: seconds of silence before a ``: ping`` comment; ``None``: none.
        retry: the reconnection delay sent to the client, in seconds; ``None``: none.
        write_timeout: seconds a blocked write (a client that stopped reading) may take before
            the connection is cut; ``None``: no limit.

    Raises:
        TypeError, ValueError: for a timing option that is not a sensible number of seconds.

    Example:
        >>> from rxchronos.stream import StreamOptions
        >>> options = StreamOptions(heartbeat=5.0)
        >>> options.with_overrides(retry=None)
        StreamOptions(named_events=False, heartbeat=5.0, retry=None, write_timeout=10.0)
    """

    named_events: bool = False
    heartbeat: float | None = 15.0
    retry: float | None = 3.0
    write_timeout: float | None = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.named_events, bool):
            raise ArgumentTypeError(f"named_events must be a bool, got {self.named_events!r}")
        _check_seconds("heartbeat", self.heartbeat, allow_zero=False)
        _check_seconds("retry", self.retry, allow_zero=True)
        _check_seconds("write_timeout", self.write_timeout, allow_zero=False)

    def with_overrides(self, **overrides: Any) -> StreamOptions:
        """A copy with the given fields replaced (``TypeError`` for an unknown one)."""
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ArgumentTypeError(f"unknown stream option(s) {', '.join(unknown)}")
        return dataclasses.replace(self, **overrides) if overrides else self

    @classmethod
    def build(cls, options: StreamOptions | None, overrides: Mapping[str, Any]) -> StreamOptions:
        """``options`` (default: the defaults) with ``overrides`` applied."""
        if options is not None and not isinstance(options, StreamOptions):
            raise ArgumentTypeError(
                f"options must be a StreamOptions, got {type(options).__name__}"
            )
        return (options or _DEFAULTS).with_overrides(**overrides)

    def preamble(self) -> bytes:
        """What a stream starts with: ``retry:`` (when set) and a comment, flushed at once."""
        # No blank line after it: a block without data is not an event, but some clients
        # (httpx-sse) dispatch one anyway. ``retry`` takes effect when its line is read.
        retry = self.retry
        head = f"retry: {round(retry * 1000)}\n".encode() if retry is not None else b""
        return head + encode_comment("connected")


_DEFAULTS = StreamOptions()


async def serve(
    request: web.Request,
    subscribe: Callable[[FrameSink], abc.DisposableBase | Awaitable[abc.DisposableBase]],
    options: StreamOptions,
    *,
    buffer_size: int,
    overflow: Overflow,
    headers: Mapping[str, str] | None = None,
    encode: Callable[[Any], bytes | None] | None = None,
) -> web.StreamResponse:
    """Attach a new connection's sink with ``subscribe``, then stream it to ``request``.

    ``subscribe`` may be a coroutine function (a broker's ``attach``). What it delivers before
    it returns (a replay) is buffered without the size bound, so a replay longer than the buffer
    does not trip the policy. ``encode`` turns each item into its frame (``None``: nothing to
    send for it); by default a broker event's own cached frame (``Event.to_sse``), so a frame
    is built once for every connection. A protocol that writes events its own way passes an
    encoder that shares its frames the same way (``Event.data_frame``).

    Raises:
        TypeError, ValueError: for a bad ``buffer_size`` or ``overflow``.
    """
    connection = SSEConnection(
        request,
        encode=encode or _encoder(options.named_events),
        buffer_size=buffer_size,
        overflow=overflow,
        heartbeat=options.heartbeat,
        write_timeout=options.write_timeout,
    )
    queue = connection.queue
    try:
        with queue.unbounded():
            attached = subscribe(connection.sink)
            subscription = await attached if inspect.isawaitable(attached) else attached
    except BrokerUnavailableError as exc:
        # The broker's store is down: an empty stream that ends at once makes the browser retry
        # after ``retry`` (a 5xx would make EventSource give up for good).
        _log.warning("SSE request %s: %s; the client will retry", request.path, exc)
        response = web.StreamResponse(headers={**SSE_HEADERS, **(headers or {})})
        with contextlib.suppress(ConnectionError):
            await response.prepare(request)
            await response.write(options.preamble())
        return response
    try:
        if queue.ended and not queue and queue.exception is None:
            return web.Response(status=204)
        response = web.StreamResponse(headers={**SSE_HEADERS, **(headers or {})})
        try:
            await response.prepare(request)
        except ConnectionError as exc:  # the client left first: normal, not an error
            _log.debug("an SSE client left before the response started: %s %s", request.path, exc)
            return response
        await connection.run(response, options.preamble())
        return response
    finally:
        subscription.dispose()


def _encoder(named: bool) -> Callable[[Any], bytes]:
    def encode(item: Any) -> bytes:
        if isinstance(item, Event):
            return item.to_sse(named=named)
        if isinstance(item, str):
            return encode_event(item)
        return stamp_event(item, id=None, topic=None).to_sse(named=named)

    return encode


# -- the buffer ------------------------------------------------------------------------------


class FrameSink(abc.ObserverBase[Any]):
    """An Rx observer that encodes each item and buffers the frame for one writer.

    ``encode`` turns each item into the bytes to send (``None``: nothing for this item); the
    writer takes the frames from
    ``queue``; ``on_wake`` is called when the queue goes from empty to not empty and when it
    ends, ``on_overflow`` when policy ``disconnect`` ends it.

    Example:
        >>> import asyncio, reactivex
        >>> async def main():
        ...     sink = FrameSink(encode=str.encode, size=8, overflow="drop_oldest")
        ...     reactivex.of("a", "b", "c").subscribe(sink)
        ...     return b"".join(sink.queue.get_all_nowait()), sink.queue.ended
        >>> asyncio.run(main())
        (b'abc', True)
    """

    __slots__ = ("_encode", "_push", "queue")

    def __init__(
        self,
        *,
        encode: Callable[[Any], bytes | None],
        size: int,
        overflow: Overflow,
        on_wake: Callable[[], object] | None = None,
        on_overflow: Callable[[], object] | None = None,
    ) -> None:
        check_overflow(overflow, size)
        self._encode = encode
        self.queue: BoundedQueue[bytes] = BoundedQueue(
            size, overflow, on_wake=on_wake, on_overflow=on_overflow, threadsafe=False
        )
        self._push = self.queue.push

    def on_next(self, item: Any) -> None:
        """Buffer ``item``'s frame; a full buffer applies the overflow policy."""
        try:
            frame = self._encode(item)
        except Exception as exc:  # a bad item ends this consumer, loudly, not the publisher
            self.on_error(exc)
            return
        if frame is not None:
            self._push(frame)

    def on_error(self, error: Exception) -> None:
        """The source failed: the writer sends what is buffered, then raises ``error``."""
        self.queue.end(error)

    def on_completed(self) -> None:
        """The source completed: the writer sends what is buffered, then ends."""
        self.queue.end()

    def stats(self, client_id: str | None, topics: tuple[str, ...] | None) -> SubscriberStats:
        """A snapshot of this buffer for ``broker.stats()``."""
        stats = self.queue.statistics()
        return SubscriberStats(
            client_id=client_id,
            topics=topics,
            buffered=stats.buffered,
            buffer_size=stats.maxsize,
            overflow=stats.overflow,
            delivered=stats.delivered,
            dropped=stats.dropped if stats.overflow != "disconnect" else 0,
        )


# -- the connection --------------------------------------------------------------------------


def open_connections(app: web.Application) -> set[SSEConnection]:
    """The SSE connections currently served by ``app`` (or one of its sub-applications)."""
    loop = _running_loop()
    helpers = _helpers.get(loop) if loop is not None else None
    if helpers is None:
        return set()
    return {c for c in helpers.watch.connections if app in c.apps}


class SSEConnection:
    """Buffers one request's frames (`sink`) and writes them to its ``StreamResponse``."""

    __slots__ = (
        "_due",
        "_error",
        "_flush",
        "_helpers",
        "_loop",
        "_parked",
        "_pending",
        "apps",
        "client_gone",
        "heartbeat",
        "last_write",
        "queue",
        "request",
        "response",
        "sink",
        "write_timeout",
        "writing_since",
        "wrote",
    )

    def __init__(
        self,
        request: web.Request,
        *,
        encode: Callable[[Any], bytes | None],
        buffer_size: int,
        overflow: Overflow,
        heartbeat: float | None,
        write_timeout: float | None,
    ) -> None:
        self.request = request
        self.sink = FrameSink(
            encode=encode,
            size=buffer_size,
            overflow=overflow,
            on_wake=self._woken,
            on_overflow=self._overflowed,
        )
        self.queue = self.sink.queue
        self.response: web.StreamResponse | None = None
        self.heartbeat = heartbeat
        self.write_timeout = write_timeout
        self.last_write = 0.0
        self.wrote = False
        self.writing_since: float | None = None
        self.client_gone = False
        self._loop = asyncio.get_running_loop()
        self._helpers = _helpers_of(self._loop)
        self._flush = self._flush_now
        self._due = False
        self._parked: asyncio.Future[None] | None = None
        self._pending: PendingWrite | None = None
        self._error: Exception | None = None
        self.apps: tuple[web.Application, ...] = tuple(request.match_info.apps) or (request.app,)

    async def run(self, response: web.StreamResponse, preamble: bytes) -> None:
        """Write ``preamble``, then every frame, until the stream ends or the client leaves.

        Raises:
            Exception: the source's error (after what was buffered before it was written).
        """
        self.response = response
        loop = self._loop
        watch = self._helpers.watch
        watch.add(self)
        queue = self.queue
        try:
            self._write(preamble)
            while not self.client_gone:
                if self._error is not None:
                    raise self._error
                pending, self._pending = self._pending, None
                if pending is not None:
                    await self._finish(pending)
                    continue
                frames = queue.get_all_nowait()  # raises at the end of the stream
                if frames:
                    self._write(frames[0] if len(frames) == 1 else b"".join(frames))
                    continue
                self._parked = parked = loop.create_future()
                try:
                    await parked
                finally:
                    self._parked = None
        except (StopAsyncIteration, SlowConsumerError, BrokerUnavailableError):
            # completed, closed, cut off for falling behind (policy "disconnect"), or the broker
            # lost its live feed: the client reconnects and resumes
            return
        finally:
            self.writing_since = None
            if self._pending is not None:
                self._pending.close()
                self._pending = None
            watch.discard(self)

    def close(self) -> None:
        """End the stream now (app shutdown): the handler returns and the response ends."""
        self.queue.close()

    async def _finish(self, pending: PendingWrite) -> None:
        if self.writing_since is None:
            self.writing_since = self._loop.time()
        try:
            await pending
        except ConnectionError:
            self._gone()
        finally:
            self.writing_since = None

    def _write(self, chunk: bytes) -> None:
        """Write now; a write that has to wait is left in ``_pending`` for the task (woken)."""
        assert self.response is not None
        try:
            pending = start_write(self.response, chunk)
        except ConnectionError:
            self._gone()
            return
        except Exception as exc:  # the task raises it, so it reaches aiohttp's log
            self._error = exc
            self._unpark()
            return
        self.wrote = True
        if pending is not None:
            self._pending = pending
            self.writing_since = self._loop.time()
            self._unpark()

    def _flush_now(self) -> None:
        self._due = False
        if self._parked is None or self.queue.ended:
            return  # the task is awake (or about to be) and takes the frames itself
        frames = self.queue.get_all_nowait()
        if frames:
            self._write(frames[0] if len(frames) == 1 else b"".join(frames))

    def _woken(self) -> None:
        if self.queue.ended:
            self._unpark()
        elif self._parked is not None and not self._due:
            self._due = True
            self._helpers.flusher.schedule(self._flush)

    def _unpark(self) -> None:
        parked, self._parked = self._parked, None
        if parked is not None and not parked.done():
            parked.set_result(None)

    def _gone(self) -> None:
        self.client_gone = True
        self.queue.close()

    def _overflowed(self) -> None:
        # A write blocked on a client that stopped reading would only notice the end when it
        # completes, which is never: cut the connection under it.
        if self.writing_since is not None:
            transport = self.request.transport
            if transport is not None:
                transport.abort()

    def look(self, now: float) -> None:
        """Called by the watch: notice a departed client, a stuck write, an idle stream."""
        transport = self.request.transport
        if transport is None or transport.is_closing():
            self._gone()
            return
        if self.writing_since is not None:
            if self.write_timeout is not None and now - self.writing_since > self.write_timeout:
                self.queue.close()
                transport.abort()
            return
        if self.wrote:
            self.wrote = False
            self.last_write = now
        elif (
            self.heartbeat is not None
            and now - self.last_write >= self.heartbeat
            and self._parked is not None
        ):
            self.last_write = now
            self._write(_HEARTBEAT)
            self.wrote = False


# -- writing inline, and the loop's helpers --------------------------------------------------


class PendingWrite:
    """The rest of a write that had to wait: ``await`` it (in a task) to finish it."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Coroutine[Any, Any, None], yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, None]:
        # Pass what the coroutine yields (a future, for the task to wait on) up to the task,
        # and what the task sends or throws (a cancellation) down to the coroutine.
        coro, yielded = self._coro, self._yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    yielded = coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                yielded = coro.send(sent)
            except StopIteration:
                return

    def close(self) -> None:
        """Abandon the write (its connection is gone)."""
        self._coro.close()


def start_write(response: web.StreamResponse, chunk: bytes) -> PendingWrite | None:
    """Write ``chunk`` now; ``None`` when done, else the part that must wait for the transport.

    Raises:
        ConnectionError: the client is gone.
    """
    coro = response.write(chunk)
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return PendingWrite(coro, yielded)


class _Flusher:
    """Calls every due connection's flush once per loop turn."""

    __slots__ = ("_due", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: list[Callable[[], None]] = []

    def schedule(self, flush: Callable[[], None]) -> None:
        """Have ``flush`` called in this loop turn's flush (callers schedule once until then)."""
        due = self._due
        due.append(flush)
        if len(due) == 1:
            self._loop.call_soon(self._run)

    def _run(self) -> None:
        due, self._due = self._due, []
        for flush in due:
            try:
                flush()
            except Exception as exc:  # one connection's failure must not cost the others
                self._loop.call_exception_handler(
                    {"message": "an SSE connection failed to flush", "exception": exc}
                )


class _Watch:
    """The one task that looks at every open connection; gone while there is none."""

    __slots__ = ("_loop", "_task", "connections")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.connections: dict[SSEConnection, None] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: SSEConnection) -> None:
        self.connections[connection] = None
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name="rxchronos-sse-watch")

    def discard(self, connection: SSEConnection) -> None:
        self.connections.pop(connection, None)
        if not self.connections and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = self._loop
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            now = loop.time()
            for connection in list(self.connections):
                connection.look(now)


class _LoopHelpers:
    __slots__ = ("__weakref__", "flusher", "watch")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.flusher = _Flusher(loop)
        self.watch = _Watch(loop)


# An event loop has no place for a library's state, so the helpers are found by loop here (and
# go with it). Nothing per application is kept: ``open_connections(app)`` asks the watch.
_helpers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopHelpers] = (
    weakref.WeakKeyDictionary()
)


def _helpers_of(loop: asyncio.AbstractEventLoop) -> _LoopHelpers:
    helpers = _helpers.get(loop)
    if helpers is None:
        helpers = _helpers[loop] = _LoopHelpers(loop)
    return helpers


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
