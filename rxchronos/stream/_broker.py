"""The :class:`Broker`: the public face that publishing, subscribing and the SSE routes share.

It puts together what the other modules do: stamping and recording events
(:mod:`~rxchronos.stream._journal`), the subscriptions and the fan-out to them
(:mod:`~rxchronos.stream._subscription`), the event loop it belongs to
(:mod:`~rxchronos.stream._affinity`), and the SSE route (:mod:`rxchronos.stream.web`); here are
its lifecycle (``close``) and its statistics.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable

from rxchronos.stream._affinity import LoopAffinity
from rxchronos.stream._errors import BrokerClosedError
from rxchronos.stream._event import Event
from rxchronos.stream._journal import Journal
from rxchronos.stream._multicast import GuardedSubject
from rxchronos.stream._subscriber import Overflow, check_overflow
from rxchronos.stream._subscription import (
    BrokerStats,
    Subscriptions,
    check_client,
    check_topic,
    normalise_topics,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["Broker"]


class Broker:
    """Fans events out to subscribers and SSE clients: Chronos' ``stream.Broker``, as Rx.

    ``publish`` stamps each event with an id (``<epoch>-<n>``: strictly increasing, the epoch
    naming this broker's life) and multicasts it; a bounded replay ring lets a client that
    reconnects with its last id get exactly what it missed. Everything runs on the event loop's
    thread; use :meth:`publish_threadsafe` from other threads.

    Args:
        replay_size: how many recent events the replay ring keeps (shared by all topics).
        buffer_size: each SSE connection's buffer, in events.
        overflow: what an SSE connection does when its buffer is full: ``"disconnect"`` (the
            client reconnects and resumes from the replay ring), ``"drop_oldest"`` or
            ``"drop_newest"``.

    Example:
        >>> from rxchronos.stream import Broker, Event
        >>> broker = Broker()
        >>> seen = []
        >>> sub = broker.subscribe("client-123").subscribe(lambda e: seen.append(e.data))
        >>> _ = broker.publish(Event(type="node_end", data={"node": "extract", "status": "done"}))
        >>> broker.unsubscribe("client-123")
        1
        >>> seen
        [{'node': 'extract', 'status': 'done'}]
    """

    def __init__(
        self,
        *,
        replay_size: int = 4096,
        buffer_size: int = 1024,
        overflow: Overflow = "disconnect",
    ) -> None:
        check_overflow(overflow, buffer_size)
        self.buffer_size = buffer_size
        self.overflow: Overflow = overflow
        self._journal = Journal(replay_size)
        self._all: GuardedSubject[Event] = GuardedSubject()
        self._subscriptions = Subscriptions()
        self._deliver = self._subscriptions.fanout.deliver
        self._affinity = LoopAffinity()
        self._closed = False

    @property
    def epoch(self) -> str:
        """This broker life's epoch: the part of every id before the last ``-``."""
        return self._journal.ids.epoch

    @property
    def last_event_id(self) -> str:
        """The id of the latest published event (``<epoch>-0`` before the first one).

        Hand it to a client that will connect later: subscribing with it as ``last_event_id``
        replays exactly the events published from now on, while they are still in the replay ring.

        Example:
            >>> from rxchronos.stream import Broker, Event
            >>> broker = Broker()
            >>> mark = broker.last_event_id
            >>> _ = broker.publish(Event(type="run_started"), topic="run-1")
            >>> seen = []
            >>> _ = broker.subscribe(topics=["run-1"], last_event_id=mark).subscribe(
            ...     lambda e: seen.append(e.type))
            >>> seen
            ['run_started']
        """
        journal = self._journal
        return journal.ids.id_of(journal.published)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def events(self) -> reactivex.Observable[Event]:
        """The hot stream of every event published from now on (no replay, no buffer)."""
        return self._all

    # -- publishing --------------------------------------------------------------------------

    def publish(self, event: Any, *, topic: str | None = None) -> Event:
        """Stamp ``event`` with the next id and deliver it to every matching subscriber.

        Args:
            event: an :class:`Event`, or anything with a ``type`` that serialises to JSON (a
                graph ``StreamEvent``, a pydantic model, a dataclass, a mapping).
            topic: the topic (e.g. a session id); ``None`` keeps the event's own ``topic``.
                Publishing to a finished topic reopens it.

        Returns:
            The stamped event (with ``id`` and ``topic``); the one you passed is not changed.

        Raises:
            BrokerClosedError: after :meth:`close`.
            BrokerError: when called from a thread other than the event loop's.
            TypeError: when ``event`` has no type or does not serialise to JSON.

        Example:
            >>> from rxchronos.stream import Broker, Event
            >>> broker = Broker()
            >>> stamped = broker.publish(Event(type="tick", data=1), topic="session-1")
            >>> stamped.id == f"{broker.epoch}-1", stamped.topic
            (True, 'session-1')
        """
        if self._closed:
            raise BrokerClosedError("publish() after Broker.close(): the broker takes no events")
        self._affinity.check()
        stamped = self._journal.record(event, topic)
        topic = stamped.topic
        if topic is not None:
            self._subscriptions.reopen(topic)
        if self._all.observers:
            self._all.on_next(stamped)
        self._deliver(stamped, topic)
        return stamped

    def publish_threadsafe(
        self,
        event: Any,
        *,
        topic: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> concurrent.futures.Future[Event]:
        """:meth:`publish` from any thread: the event is published on the broker's loop.

        Args:
            event: as for :meth:`publish`.
            topic: as for :meth:`publish`.
            loop: the loop to publish on; by default the one the broker was used on (created,
                subscribed to or published to from a running loop).

        Returns:
            A future of the stamped event (or of the error ``publish`` raised).

        Raises:
            BrokerError: when the broker has not been used on a loop yet and ``loop`` is not given.

        Example:
            >>> import asyncio
            >>> from rxchronos.stream import Broker, Event
            >>> async def main():
            ...     broker = Broker()  # created on the loop: publish_threadsafe knows it
            ...     future = await asyncio.to_thread(broker.publish_threadsafe, Event(type="x"))
            ...     return (await asyncio.wrap_future(future)).id == f"{broker.epoch}-1"
            >>> asyncio.run(main())
            True
        """
        return self._affinity.call_soon(lambda: self.publish(event, topic=topic), loop)

    def finish_topic(self, topic: str, *, data: Any = None) -> Event:
        """End a topic (a finished run): its streams get a ``done`` event and complete.

        Subscriptions to only finished topics complete; a later SSE (re)connect to the topic gets
        HTTP 204, which stops a browser's ``EventSource`` from reconnecting. Publishing to the
        topic again reopens it.

        Args:
            topic: the topic to finish.
            data: the ``done`` event's data; by default ``{"topic": topic}``.

        Returns:
            The stamped ``done`` event.

        Example:
            >>> from rxchronos.stream import Broker, Event
            >>> broker = Broker()
            >>> seen = []
            >>> _ = broker.subscribe(topics=["s1"]).subscribe(
            ...     lambda e: seen.append(e.type), on_completed=lambda: seen.append("|"))
            >>> _ = broker.finish_topic("s1")
            >>> seen
            ['done', '|']
        """
        check_topic(topic)
        done = self.publish(
            Event(type="done", data={"topic": topic} if data is None else data), topic=topic
        )
        self._subscriptions.finish(topic)
        return done

    def is_finished(self, topic: str) -> bool:
        """Whether ``topic`` was finished (and not reopened since)."""
        return self._subscriptions.is_finished(topic)

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(
        self,
        client_id: str | None = None,
        *,
        topics: str | Iterable[str] | None = None,
        last_event_id: str | None = None,
    ) -> reactivex.Observable[Event]:
        """A cold Observable of the broker's events: each subscription is one subscriber.

        Args:
            client_id: a name for :meth:`unsubscribe` and :meth:`stats`; several subscriptions
                may share one.
            topics: receive only events of these topics (a string is one topic); ``None``
                receives every event.
            last_event_id: the id of the last event this client saw: the events after it are
                replayed first, in order, then live ones follow with no gap and no duplicate. An
                id that is too old for the ring or from another broker life gives one ``reset``
                event first (``data``: ``reason`` and the id), then live events.

        Example:
            >>> from rxchronos.stream import Broker, Event
            >>> broker = Broker()
            >>> first = broker.publish(Event(type="a"))
            >>> _ = broker.publish(Event(type="b"))
            >>> seen = []
            >>> resumed = broker.subscribe(last_event_id=first.id)
            >>> _ = resumed.subscribe(lambda e: seen.append(e.type))
            >>> _ = broker.publish(Event(type="c"))
            >>> seen
            ['b', 'c']
        """
        topic_set = normalise_topics(topics)
        check_client(client_id, last_event_id)

        def on_subscribe(
            observer: abc.ObserverBase[Event], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            return self._attach(
                observer, client_id=client_id, topics=topic_set, last_event_id=last_event_id
            )

        return reactivex.create(on_subscribe)

    def _attach(
        self,
        consumer: abc.ObserverBase[Event],
        *,
        client_id: str | None = None,
        topics: frozenset[str] | None = None,
        last_event_id: str | None = None,
    ) -> abc.DisposableBase:
        """Attach an observer directly (what :meth:`subscribe` and the SSE routes use).

        Replays synchronously, then attaches, so nothing can be published in between.

        Returns:
            A disposable that detaches the observer.
        """
        self._affinity.bind()
        if self._closed:
            consumer.on_completed()
            return Disposable()
        replayed = () if last_event_id is None else self._journal.resume(last_event_id, topics)
        return self._subscriptions.open(consumer, client_id, topics, replayed)

    def unsubscribe(self, client_id: str) -> int:
        """Complete every subscription (SSE connections included) made with ``client_id``.

        Returns:
            How many subscriptions were completed.
        """
        if not isinstance(client_id, str):
            raise TypeError(f"client_id must be a string, got {type(client_id).__name__}")
        ended = self._subscriptions.of_client(client_id)
        for subscription in ended:
            subscription.complete()
        return len(ended)

    # -- lifecycle, statistics and the SSE route ----------------------------------------------

    def close(self) -> None:
        """Complete every subscriber and stop accepting events. Idempotent.

        Open SSE streams end (their handlers return at once), so an app that calls this on
        shutdown does not wait for them.
        """
        if self._closed:
            return
        self._closed = True
        self._subscriptions.complete_all()
        self._all.on_completed()

    def stats(self) -> BrokerStats:
        """A snapshot of subscribers, their buffers, drops and disconnects.

        Example:
            >>> from rxchronos.stream import Broker
            >>> broker = Broker(replay_size=10)
            >>> _ = broker.subscribe("c1", topics="t").subscribe()
            >>> s = broker.stats()
            >>> s.subscribers, s.replay_size, s.subscriptions[0].client_id
            (1, 10, 'c1')
        """
        dropped, subscriptions = self._subscriptions.stats()
        replay = self._journal.replay
        return BrokerStats(
            subscribers=len(self._subscriptions),
            published=self._journal.published,
            replay_buffered=len(replay),
            replay_size=replay.capacity,
            dropped=dropped,
            disconnects=self._subscriptions.disconnects,
            subscriptions=subscriptions,
        )

    def sse_handler(
        self,
        client_id: str | None = None,
        *,
        topics: str | Iterable[str] | None = None,
        named_events: bool = False,
        heartbeat: float | None = 15.0,
        retry: float | None = 3.0,
        write_timeout: float | None = 10.0,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """An aiohttp handler streaming this broker's events as Server-Sent Events.

        Each request gets its own subscription (two tabs with one client id both get every
        event). See :func:`rxchronos.stream.web.broker_handler` for the details and the
        arguments, and :func:`rxchronos.stream.web.add_sse_route` for topics from the URL and
        authorization. End open streams on shutdown with
        ``app.on_shutdown.append(rxchronos.stream.web.close_streams)`` (or by closing the broker).

        Example:
            >>> from aiohttp import web
            >>> from rxchronos.stream import Broker
            >>> broker = Broker()
            >>> app = web.Application()
            >>> _ = app.router.add_get("/events", broker.sse_handler("client-123"))
            >>> app.on_shutdown.append(lambda app: broker.aclose())
        """
        from rxchronos.stream.web import broker_handler

        return broker_handler(
            self,
            client_id=client_id,
            topics=topics,
            named_events=named_events,
            heartbeat=heartbeat,
            retry=retry,
            write_timeout=write_timeout,
        )

    async def aclose(self) -> None:
        """:meth:`close`, as a coroutine: fits ``app.on_shutdown`` and ``async with`` code."""
        self.close()
