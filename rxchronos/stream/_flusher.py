"""Writing to many SSE connections without waking a task per connection per event.

Waking each connection's writer task for every event (``Future.set_result`` -> ``call_soon`` ->
``Task.__step``) costs more than the write itself. Instead, one :class:`Flusher` per event loop
runs once per loop turn in which frames arrived, and writes every due connection's frames
*inline*, with :func:`start_write`: ``StreamResponse.write`` is run as far as it goes without
waiting, which is all the way unless the transport is under backpressure (aiohttp then awaits
its drain). Only such a write is handed to the connection's own task (the returned
:class:`PendingWrite`), which is then bounded by the write timeout like any other blocked write.

Only aiohttp's public ``StreamResponse.write`` is used; the coroutine is stepped the way an
asyncio ``Task`` steps it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["Flusher", "PendingWrite", "flusher_of", "start_write"]


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


class Flusher:
    """Calls every due connection's flush once per loop turn; one per event loop."""

    __slots__ = ("__weakref__", "_due", "_loop")

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


_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Flusher] = (
    weakref.WeakKeyDictionary()
)


def flusher_of(loop: asyncio.AbstractEventLoop) -> Flusher:
    """The loop's flusher (created on first use)."""
    flusher = _flushers.get(loop)
    if flusher is None:
        flusher = _flushers[loop] = Flusher(loop)
    return flusher
