"""One open SSE connection: its buffer, its writer, and the one clock that watches all of them.

Frames reach a connection through its :class:`~rxchronos.stream._subscriber.FrameSink`. While the
connection's task is parked (nothing to write), the loop's
:class:`~rxchronos.stream._flusher.Flusher` writes them inline, once per loop turn, everything
buffered in one ``write()``; the task wakes only when a write must wait for the transport, at the
end of the stream, or when the client left. A single :class:`_Watch` task per event loop looks
after every open connection a few times a second, so an idle connection costs no timer of its own:

* a client that went away (the transport closed) is noticed even while nothing is written, and
  even without aiohttp's ``handler_cancellation``; its subscription is disposed at once;
* an idle connection gets a comment heartbeat every ``heartbeat`` seconds;
* a write that stays blocked (a frozen client that stopped reading) longer than
  ``write_timeout`` aborts the connection.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rxchronos._errors import SlowConsumerError
from rxchronos.sse import encode_comment
from rxchronos.stream._flusher import PendingWrite, flusher_of, start_write
from rxchronos.stream._subscriber import FrameSink, Overflow

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["WATCH_INTERVAL", "SSEConnection", "open_connections"]

WATCH_INTERVAL = 0.2
"""Seconds between two looks at every open connection (disconnects, heartbeats, write timeouts)."""

_HEARTBEAT = encode_comment("ping")  # no blank line: some clients dispatch an empty event

_by_app: weakref.WeakKeyDictionary[web.Application, set[SSEConnection]] = (
    weakref.WeakKeyDictionary()
)
_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = weakref.WeakKeyDictionary()


def open_connections(app: web.Application) -> set[SSEConnection]:
    """The SSE connections currently served by ``app`` (or one of its sub-applications)."""
    return set(_by_app.get(app, ()))


class SSEConnection:
    """Buffers one request's frames (:attr:`sink`) and writes them to its ``StreamResponse``."""

    __slots__ = (
        "__weakref__",
        "_apps",
        "_due",
        "_error",
        "_flush",
        "_loop",
        "_parked",
        "_pending",
        "_schedule",
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
        encode: Callable[[Any], bytes],
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
        self._schedule = flusher_of(self._loop).schedule
        self._flush = self._flush_now
        self._due = False
        self._parked: asyncio.Future[None] | None = None
        self._pending: PendingWrite | None = None
        self._error: Exception | None = None
        self._apps: tuple[web.Application, ...] = tuple(request.match_info.apps) or (request.app,)

    async def run(self, response: web.StreamResponse, preamble: bytes) -> None:
        """Write ``preamble``, then every frame, until the stream ends or the client leaves.

        Raises:
            Exception: the source's error (after what was buffered before it was written).
        """
        self.response = response
        loop = self._loop
        watch = _watches.get(loop)
        if watch is None:
            watch = _watches[loop] = _Watch(loop)
        for app in self._apps:
            _by_app.setdefault(app, set()).add(self)
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
        except (StopAsyncIteration, SlowConsumerError):
            return  # completed, closed, or cut off for falling behind (policy "disconnect")
        finally:
            self.writing_since = None
            if self._pending is not None:
                self._pending.close()
                self._pending = None
            watch.discard(self)
            for app in self._apps:
                connections = _by_app.get(app)
                if connections is not None:
                    connections.discard(self)

    def close(self) -> None:
        """End the stream now (app shutdown): the handler returns and the response ends."""
        self.queue.close()

    # -- writing -----------------------------------------------------------------------------

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

    # -- events from the queue, the watch and the app -------------------------------------------

    def _woken(self) -> None:
        if self.queue.ended:
            self._unpark()
        elif self._parked is not None and not self._due:
            self._due = True
            self._schedule(self._flush)

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


class _Watch:
    """The one task per event loop that looks at every open connection; gone when none is."""

    __slots__ = ("_connections", "_loop", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._connections: dict[SSEConnection, None] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: SSEConnection) -> None:
        self._connections[connection] = None
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name="rxchronos-sse-watch")

    def discard(self, connection: SSEConnection) -> None:
        self._connections.pop(connection, None)
        if not self._connections and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = self._loop
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            now = loop.time()
            for connection in list(self._connections):
                connection.look(now)
