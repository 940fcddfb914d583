"""One consumer's bounded buffer of SSE frames: an Rx observer in front of a :class:`BoundedQueue`.

The publisher side is synchronous and cheap: :meth:`FrameSink.on_next` encodes the item (for a
broker event: takes its shared frame, built once) and pushes it into the consumer's
:class:`~rxchronos._queue.BoundedQueue` (loop-only, so no lock). The connection takes *everything*
buffered at once, so a burst of events becomes one socket write.

A full buffer never blocks the publisher; the policy decides:

``disconnect``   end this consumer at once (an SSE client then reconnects with ``Last-Event-ID``
                 and resumes from the replay ring); the default for SSE.
``drop_oldest``  drop the oldest buffered frame to make room (counted in ``dropped``).
``drop_newest``  drop the new frame (counted in ``dropped``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from reactivex.abc import ObserverBase

from rxchronos._queue import BoundedQueue, check_bounds

__all__ = [
    "OVERFLOW_POLICIES",
    "FrameSink",
    "Overflow",
    "SubscriberStats",
    "check_overflow",
]

Overflow = Literal["disconnect", "drop_oldest", "drop_newest"]
OVERFLOW_POLICIES: tuple[str, ...] = get_args(Overflow)


def check_overflow(overflow: str, buffer_size: int) -> None:
    """Raise ``ValueError`` for an unknown policy or a size below 1, ``TypeError`` for a non-int."""
    check_bounds(buffer_size, overflow, OVERFLOW_POLICIES, name="buffer_size", unbounded=False)


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

    Example:
        >>> from rxchronos.stream import Broker
        >>> broker = Broker()
        >>> _ = broker.subscribe("dashboard", topics=["run-1", "run-2"]).subscribe()
        >>> (sub,) = broker.stats().subscriptions
        >>> sub.client_id, sub.topics
        ('dashboard', ('run-1', 'run-2'))
        >>> sub.buffer_size, sub.overflow  # a plain Rx subscriber has no buffer of its own
        (None, None)
    """

    client_id: str | None
    topics: tuple[str, ...] | None
    buffered: int = 0
    buffer_size: int | None = None
    overflow: Overflow | None = None
    delivered: int = 0
    dropped: int = 0


class FrameSink(ObserverBase[Any]):
    """An Rx observer that encodes each item and buffers the frame for one writer.

    Subscribe it to any Observable; ``encode`` turns each item into the bytes to send. The
    writer takes the frames from :attr:`queue`; ``on_wake`` is called when the queue goes from
    empty to not empty and when it ends, ``on_overflow`` when policy ``disconnect`` ends it.

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
        encode: Callable[[Any], bytes],
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
        self._push(frame)

    def on_error(self, error: Exception) -> None:
        """The source failed: the writer sends what is buffered, then raises ``error``."""
        self.queue.end(error)

    def on_completed(self) -> None:
        """The source completed: the writer sends what is buffered, then ends."""
        self.queue.end()

    def stats(self, client_id: str | None, topics: tuple[str, ...] | None) -> SubscriberStats:
        """A snapshot of this buffer for :meth:`Broker.stats`."""
        stats = self.queue.statistics()
        return SubscriberStats(
            client_id=client_id,
            topics=topics,
            buffered=stats.buffered,
            buffer_size=stats.maxsize,
            overflow=stats.overflow,  # type: ignore[arg-type]
            delivered=stats.delivered,
            dropped=stats.dropped if stats.overflow != "disconnect" else 0,
        )
