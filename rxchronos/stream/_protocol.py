"""What every broker is: the protocol [Broker][rxchronos.stream.Broker] satisfies, and its stats.

Two protocols, one inside the other:

* [SSESource][rxchronos.stream.SSESource] is all the SSE layer ([rxchronos.stream.web][]) needs
  from a broker: the per-connection buffer settings and an ``attach`` that gives a consumer the
  events after a ``Last-Event-ID`` and then the live ones. The serving code depends on this
  protocol only, never on a broker class, so any broker (in-process, Redis, one you write) is
  served by the same routes.
* [BrokerProtocol][rxchronos.stream.BrokerProtocol] is the whole public interface the
  application uses: publishing, subscribing, finishing topics, statistics, the SSE routes, and
  the lifecycle (``async with``). A graph ``Runner`` takes any object that satisfies it.

Both are ``typing.Protocol``\\ s checked at runtime by [rxchronos.stream.web][] (a route refuses an
object that is not an [SSESource][rxchronos.stream.SSESource]).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple
from typing import Protocol
from typing import runtime_checkable

import reactivex
from reactivex import abc

from rxchronos._closable import AsyncResource
from rxchronos.stream._event import Event

if TYPE_CHECKING:
    from aiohttp import web

    from rxchronos._queue import Overflow
    from rxchronos.stream._serve import StreamOptions

__all__ = ["BrokerProtocol", "BrokerStats", "Control", "SSESource", "SubscriberStats"]


class Control(NamedTuple):
    """A run-control command (``"cancel"``, ...) for a session, as ``broker.controls`` emits it.

    Example:
        >>> from rxchronos.stream import Control
        >>> Control("session-1", "cancel").command
        'cancel'
    """

    session_id: str
    command: str


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    """A snapshot of one subscription, as reported by ``broker.stats()``.

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


@dataclass(frozen=True, slots=True)
class BrokerStats:
    """A snapshot of a broker, like anyio's ``statistics()``.

    Attributes:
        subscribers: open subscriptions (``subscribe()`` and SSE connections; not ``events``).
        published: events published so far (by this process, for a distributed broker).
        replay_buffered: events held in the replay history (0 when it is not kept here).
        replay_size: the history's capacity.
        dropped: frames dropped by ``drop_oldest``/``drop_newest`` buffers, ended ones included.
        disconnects: consumers the broker cut off because their buffer overflowed.
        subscriptions: one [SubscriberStats][rxchronos.stream.SubscriberStats] per open
            subscription.

    Example:
        >>> from rxchronos.stream import Broker, Event
        >>> broker = Broker(replay_size=2)
        >>> _ = broker.subscribe("c1").subscribe()
        >>> for n in range(3):
        ...     _ = broker.publish(Event(type="tick", data={"n": n}))
        >>> stats = broker.stats()
        >>> stats.subscribers, stats.published, stats.replay_buffered, stats.replay_size
        (1, 3, 2, 2)
    """

    subscribers: int
    published: int
    replay_buffered: int
    replay_size: int
    dropped: int
    disconnects: int
    subscriptions: tuple[SubscriberStats, ...]


@runtime_checkable
class SSESource(Protocol):
    """What the SSE routes need from a broker: buffer settings and ``attach``.

    Example:
        >>> from rxchronos.stream import Broker, SSESource
        >>> isinstance(Broker(), SSESource)
        True
    """

    @property
    def buffer_size(self) -> int:
        """Each SSE connection's buffer, in events."""
        ...

    @property
    def overflow(self) -> Overflow:
        """What a full connection buffer does (``"disconnect"``, ``"drop_oldest"``, ...)."""
        ...

    async def attach(
        self,
        consumer: abc.ObserverBase[Event],
        *,
        client_id: str | None = None,
        topics: frozenset[str] | None = None,
        last_event_id: str | None = None,
    ) -> abc.DisposableBase:
        """Deliver to ``consumer`` the events after ``last_event_id``, then the live ones.

        The replay and the live events join with no gap and no duplicate; an id that cannot be
        resumed gives one ``reset`` event first. The consumer is completed when its topics are
        all finished (at once, after the replay, when they already are), when its client is
        unsubscribed, and when the broker closes. Its ``on_next`` is called on the event loop.

        Returns:
            A disposable that detaches the consumer (it is then not completed).
        """
        ...


@runtime_checkable
class BrokerProtocol(SSESource, AsyncResource, Protocol):
    """The public interface of every broker: [Broker][rxchronos.stream.Broker] and its kin.

    A broker stamps each published event with an id (``<epoch>-<n>``) a browser sends back as
    ``Last-Event-ID``, delivers it to every matching subscriber through bounded per-connection
    buffers, keeps a bounded history for resuming, and ends finished topics with a ``done``
    event. Everything is called on the event loop's thread except ``publish_threadsafe``.

    Example:
        >>> from rxchronos.stream import Broker, BrokerProtocol
        >>> isinstance(Broker(), BrokerProtocol)
        True
    """

    @property
    def closed(self) -> bool:
        """Whether the broker was closed."""
        ...

    @property
    def events(self) -> reactivex.Observable[Event]:
        """The hot stream of every event published from now on (no replay, no buffer)."""
        ...

    def publish(self, event: Any, *, topic: str | None = None) -> Event:
        """Publish ``event`` (to ``topic``) without blocking; returns the broker's copy."""
        ...

    def publish_threadsafe(
        self,
        event: Any,
        *,
        topic: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> concurrent.futures.Future[Event]:
        """``publish`` from any thread."""
        ...

    def finish_topic(self, topic: str, *, data: Any = None) -> Event:
        """End a topic: its streams get a ``done`` event and complete; a reconnect gets 204."""
        ...

    def is_finished(self, topic: str) -> bool:
        """Whether ``topic`` was finished (and not reopened since)."""
        ...

    def subscribe(
        self,
        client_id: str | None = None,
        *,
        topics: str | Iterable[str] | None = None,
        last_event_id: str | None = None,
    ) -> reactivex.Observable[Event]:
        """A cold Observable of the broker's events: each subscription is one subscriber."""
        ...

    def unsubscribe(self, client_id: str) -> int:
        """Complete every subscription made with ``client_id``; returns how many."""
        ...

    def stats(self) -> BrokerStats:
        """A snapshot of the subscribers, their buffers, drops and disconnects."""
        ...

    async def control(self, session_id: str, command: str) -> None:
        """Send ``command`` for ``session_id`` to whichever process runs it.

        Every process's ``controls`` stream emits it, and it is also kept as the session's
        flag (until ``take_control`` reads it, or ``history_ttl`` for a distributed broker), so a
        command sent before the run starts is not lost.
        """
        ...

    @property
    def controls(self) -> reactivex.Observable[Control]:
        """The hot stream of the control commands that reach this process."""
        ...

    async def take_control(self, session_id: str) -> str | None:
        """The session's pending command (read and cleared), or ``None``."""
        ...

    async def flush(self) -> None:
        """Return when every event published so far is stored where subscribers read it."""
        ...

    async def history(self, topic: str) -> list[Event]:
        """The events of ``topic`` kept for resuming, oldest first, as every process sees them."""
        ...

    def sse_handler(
        self,
        client_id: str | None = None,
        *,
        topics: str | Iterable[str] | None = None,
        options: StreamOptions | None = None,
        **overrides: Any,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """An aiohttp handler streaming this broker's events as Server-Sent Events."""
        ...

    def add_sse_route(self, app: web.Application, path: str, **kwargs: Any) -> web.AbstractRoute:
        """Add a ``GET`` route streaming one topic (from the URL) of this broker."""
        ...

    def close(self) -> None:
        """Complete every subscriber and stop accepting events (idempotent)."""
        ...

    async def aclose(self) -> None:
        """Close, as a coroutine (``app.on_shutdown``)."""
        ...
