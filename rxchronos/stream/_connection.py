"""One open SSE connection: its writer loop, and the one clock that watches all connections.

The writer takes everything its :class:`FrameBuffer` holds and writes it in one ``write()``.
A single :class:`_Watch` task per event loop looks after every open connection a few times a
second, so an idle connection costs no timer of its own:

* a client that went away (the transport closed) is noticed even while nothing is written, and
  even without aiohttp's ``handler_cancellation``; its subscription is disposed at once;
* an idle connection gets a comment heartbeat every ``heartbeat`` seconds;
* a write that stays blocked (a frozen client that stopped reading) longer than
  ``write_timeout`` aborts the connection.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

from rxchronos.sse import encode_comment
from rxchronos.stream._subscriber import FrameBuffer

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
    """Writes one buffer's frames to one ``StreamResponse`` until the buffer ends."""

    __slots__ = (
        "__weakref__",
        "_apps",
        "buffer",
        "client_gone",
        "heartbeat",
        "last_write",
        "request",
        "response",
        "timed_out",
        "write_timeout",
        "writing_since",
    )

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        buffer: FrameBuffer,
        *,
        heartbeat: float | None,
        write_timeout: float | None,
    ) -> None:
        self.request = request
        self.response = response
        self.buffer = buffer
        self.heartbeat = heartbeat
        self.write_timeout = write_timeout
        self.last_write = 0.0
        self.writing_since: float | None = None
        self.client_gone = False
        self.timed_out = False
        self._apps: tuple[web.Application, ...] = tuple(request.match_info.apps) or (request.app,)
        buffer.on_overflow = self._overflowed

    async def run(self, preamble: bytes) -> None:
        """Write ``preamble``, then every frame, until the buffer ends or the client leaves.

        Raises:
            Exception: the source's error (after what was buffered before it was written).
        """
        loop = asyncio.get_running_loop()
        watch = _watches.get(loop)
        if watch is None:
            watch = _watches[loop] = _Watch(loop)
        for app in self._apps:
            _by_app.setdefault(app, set()).add(self)
        watch.add(self)
        try:
            write = self.response.write
            take = self.buffer.take
            chunk: bytes | None = preamble
            while chunk is not None:
                started = self.writing_since = loop.time()
                try:
                    await write(chunk)
                except ConnectionError:
                    self.client_gone = True
                    self.buffer.end("closed")
                    return
                self.writing_since = None
                self.last_write = started
                chunk = await take()
        finally:
            self.writing_since = None
            watch.discard(self)
            for app in self._apps:
                connections = _by_app.get(app)
                if connections is not None:
                    connections.discard(self)

    def close(self) -> None:
        """End the stream now (app shutdown): the handler returns and the response ends."""
        self.buffer.end("closed")

    def _overflowed(self) -> None:
        # A writer blocked in write() would only notice the end when the write completes, which
        # for a client that stopped reading is never: cut the connection under it.
        if self.writing_since is not None:
            transport = self.request.transport
            if transport is not None:
                transport.abort()

    def look(self, now: float) -> None:
        """Called by the watch: notice a departed client, a stuck write, an idle stream."""
        transport = self.request.transport
        if transport is None or transport.is_closing():
            self.client_gone = True
            self.buffer.end("closed")
            return
        if self.writing_since is not None:
            if self.write_timeout is not None and now - self.writing_since > self.write_timeout:
                self.timed_out = True
                self.buffer.end("closed")
                transport.abort()
            return
        if self.heartbeat is not None and now - self.last_write >= self.heartbeat:
            self.buffer.heartbeat(_HEARTBEAT)


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
