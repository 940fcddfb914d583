"""One consumer's bounded buffer of SSE frames, with a named overflow policy and statistics.

The publisher side is synchronous and cheap: :meth:`FrameBuffer.on_next` appends the event's
(shared, pre-encoded) frame and wakes the consumer's writer. The writer side takes *everything*
buffered at once (:meth:`FrameBuffer.take`), so a burst of events becomes one socket write. Like
aiohttp's ``DataQueue``: sync push, async pull, one waiter future.

A full buffer never blocks the publisher; the policy decides:

``disconnect``   end this consumer (an SSE client then reconnects with ``Last-Event-ID`` and
                 resumes from the replay ring); the default for SSE.
``drop_oldest``  drop the oldest buffered frame to make room (counted in ``dropped``).
``drop_newest``  drop the new frame (counted in ``dropped``).
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, get_args

from reactivex.abc import ObserverBase

__all__ = [
    "OVERFLOW_POLICIES",
    "FrameBuffer",
    "Overflow",
    "SubscriberStats",
    "check_overflow",
]

Overflow = Literal["disconnect", "drop_oldest", "drop_newest"]
OVERFLOW_POLICIES: tuple[str, ...] = get_args(Overflow)

EndReason = Literal["completed", "error", "overflow", "closed"]


def check_overflow(overflow: str, buffer_size: int) -> None:
    """Raise ``ValueError`` for an unknown policy or a buffer size below 1."""
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
        raise ValueError(f"buffer_size must be an int >= 1, got {buffer_size!r}")


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    """A snapshot of one subscription, as reported by :meth:`Broker.stats`.

    Attributes:
        client_id: the client id given when subscribing, if any.
        topics: the topics subscribed to (``None``: every event).
        buffered: frames waiting to be written (always 0 for a plain Rx subscriber, which has no
            buffer of its own).
        buffer_size: the buffer's capacity (``None`` for a plain Rx subscriber).
        overflow: the buffer's policy (``None`` for a plain Rx subscriber).
        delivered: frames handed to the connection so far.
        dropped: frames dropped by the ``drop_oldest``/``drop_newest`` policy.
    """

    client_id: str | None
    topics: tuple[str, ...] | None
    buffered: int = 0
    buffer_size: int | None = None
    overflow: Overflow | None = None
    delivered: int = 0
    dropped: int = 0


class FrameBuffer(ObserverBase[Any]):
    """A bounded buffer of encoded frames between a (synchronous) Rx source and one writer task.

    It is an Rx observer: subscribe it to any Observable. ``encode`` turns each item into the
    bytes to send.

    Example:
        >>> import asyncio, reactivex
        >>> async def main():
        ...     buffer = FrameBuffer(encode=str.encode, size=8, overflow="drop_oldest")
        ...     reactivex.of("a", "b", "c").subscribe(buffer)
        ...     return await buffer.take(), await buffer.take(), buffer.end_reason
        >>> asyncio.run(main())
        (b'abc', None, 'completed')
    """

    __slots__ = (
        "_encode",
        "_frames",
        "_grace",
        "_heartbeat",
        "_loop",
        "_waiter",
        "delivered",
        "dropped",
        "end_reason",
        "error",
        "on_overflow",
        "overflow",
        "size",
    )

    def __init__(
        self,
        *,
        encode: Callable[[Any], bytes],
        size: int,
        overflow: Overflow,
    ) -> None:
        check_overflow(overflow, size)
        self._encode = encode
        self._frames: deque[bytes] = deque()
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._heartbeat: bytes | None = None
        self._grace = 0
        self.size = size
        self.overflow: Overflow = overflow
        self.delivered = 0
        self.dropped = 0
        self.end_reason: EndReason | None = None
        self.error: BaseException | None = None
        self.on_overflow: Callable[[], object] | None = None

    @property
    def buffered(self) -> int:
        """How many frames wait to be written."""
        return len(self._frames)

    # -- the publisher side (synchronous, on the loop thread) ---------------------------------

    def on_next(self, item: Any) -> None:
        """Buffer ``item``'s frame and wake the writer; apply the overflow policy when full."""
        if self.end_reason is not None:
            return
        try:
            frame = self._encode(item)
        except Exception as exc:  # a bad item ends this consumer, loudly, not the publisher
            self.on_error(exc)
            return
        frames = self._frames
        if len(frames) >= self.size + self._grace:
            if self.overflow == "drop_newest":
                self.dropped += 1
                return
            if self.overflow == "drop_oldest":
                frames.popleft()
                self.dropped += 1
            else:
                self.end("overflow")
                if self.on_overflow is not None:
                    self.on_overflow()
                return
        frames.append(frame)
        self._wake()

    @contextmanager
    def unlimited(self) -> Iterator[None]:
        """Lift the limit while a subscription replays synchronously (a replay longer than the
        buffer must not trip the policy); the frames buffered by then become the allowance."""
        self._grace = sys.maxsize
        try:
            yield
        finally:
            self._grace = len(self._frames)

    def on_error(self, error: Exception) -> None:
        """The source failed: the writer sends what is buffered, then raises ``error``."""
        if self.end_reason is None:
            self.error = error
            self.end_reason = "error"
            self._wake()

    def on_completed(self) -> None:
        """The source completed: the writer sends what is buffered, then ends."""
        if self.end_reason is None:
            self.end_reason = "completed"
            self._wake()

    def heartbeat(self, comment: bytes) -> None:
        """Have the writer send ``comment`` unless it has events to send anyway."""
        if self.end_reason is None:
            self._heartbeat = comment
            self._wake()

    def end(self, reason: EndReason) -> None:
        """End now, discarding what is buffered (``overflow``, or ``closed`` from outside)."""
        if self.end_reason is not None and self.end_reason not in ("completed", "error"):
            return
        self.end_reason = reason
        self._frames.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the writer side -------------------------------------------------------------------------

    async def take(self) -> bytes | None:
        """Wait for frames and return all of them as one ``bytes``; ``None`` at the end.

        Raises:
            Exception: the source's error, once everything buffered before it was taken.
        """
        while True:
            frames = self._frames
            if frames:
                count = len(frames)
                chunk = frames[0] if count == 1 else b"".join(frames)
                frames.clear()
                self._grace = 0
                self.delivered += count
                self._heartbeat = None
                return chunk
            reason = self.end_reason
            if self._heartbeat is not None and reason is None:
                comment, self._heartbeat = self._heartbeat, None
                return comment
            if reason is not None:
                if reason == "error" and self.error is not None:
                    error, self.error = self.error, None
                    raise error
                return None
            waiter = self._loop.create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None

    def stats(self, client_id: str | None, topics: tuple[str, ...] | None) -> SubscriberStats:
        """A snapshot of this buffer for :meth:`Broker.stats`."""
        return SubscriberStats(
            client_id=client_id,
            topics=topics,
            buffered=len(self._frames),
            buffer_size=self.size,
            overflow=self.overflow,
            delivered=self.delivered,
            dropped=self.dropped,
        )
