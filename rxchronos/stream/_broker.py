"""The in-process [Broker][rxchronos.stream.Broker], and the local fan-out every broker shares.

A broker takes no lock per event: everything it does runs on its event loop's thread.

* `LoopAffinity` remembers that loop, refuses a publish from another thread with a
  [BrokerError][rxchronos.stream.BrokerError] that names the way out, and runs a call on the
  loop for ``publish_threadsafe``.
* `Subscriptions` is the local fan-out: who is subscribed (client id, topics), the finished
  topics, and delivery. It calls the observers directly, from per-topic snapshots rebuilt only
  when someone subscribes or leaves, and it never lets one observer break the others: an
  ``on_next`` that raises is reported to the loop's exception handler while the rest still get
  the event, and completing everyone (close, finish, unsubscribe) goes on past an
  ``on_completed`` that raises and reports a [SubscriberError][rxchronos.stream.SubscriberError]
  after. Events published from inside a delivery (a subscriber that publishes) are queued and
  delivered after the current one, so ids reach every subscriber in increasing order.
* `Broker` puts these together with a `Journal` (ids and the replay ring) and the SSE routes
  it inherits from [SSERoutes][rxchronos.stream.web.SSERoutes].
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from abc import abstractmethod
from collections import OrderedDict
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.subject import Subject

from rxchronos._closable import AsyncClosable
from rxchronos._errors import ArgumentTypeError
from rxchronos._queue import Overflow
from rxchronos.stream._errors import BrokerClosedError
from rxchronos.stream._errors import BrokerError
from rxchronos.stream._errors import SubscriberError
from rxchronos.stream._event import Event
from rxchronos.stream._event import check_client
from rxchronos.stream._event import check_topic
from rxchronos.stream._event import check_utf8
from rxchronos.stream._event import normalise_topics
from rxchronos.stream._protocol import BrokerStats
from rxchronos.stream._protocol import Control
from rxchronos.stream._protocol import SubscriberStats
from rxchronos.stream._replay import Journal
from rxchronos.stream._serve import FrameSink
from rxchronos.stream._serve import check_overflow
from rxchronos.stream.web import SSERoutes

__all__ = ["BaseBroker", "Broker", "LoopAffinity", "Subscriptions", "check_control"]

_T = TypeVar("_T")
_Observers = tuple[abc.ObserverBase[Any], ...]
_MAX_FINISHED_TOPICS = 10_000


class LoopAffinity:
    """The event loop (and its thread) a broker runs on, once it has been used on one.

    Example:
        >>> import asyncio
        >>> affinity = LoopAffinity()
        >>> async def main():
        ...     affinity.check()  # binds to the running loop
        ...     future = await asyncio.to_thread(affinity.call_soon, lambda: "on the loop")
        ...     return await asyncio.wrap_future(future)
        >>> asyncio.run(main())
        'on the loop'
    """

    __slots__ = ("loop", "thread")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: int | None = None
        self.bind()

    def bind(self) -> None:
        """Adopt the running event loop, if there is one (a later loop replaces an earlier one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop is not self.loop:
            self.loop = loop
            self.thread = threading.get_ident()

    def check(self) -> None:
        """Bind on first use; raise ``BrokerError`` on a thread other than the loop's."""
        if self.thread is None:
            self.bind()
        elif self.thread != threading.get_ident():
            raise BrokerError(
                "Broker.publish() was called from another thread than its event loop's; "
                "use publish_threadsafe() there"
            )

    def call_soon(
        self, call: Callable[[], _T], loop: asyncio.AbstractEventLoop | None = None
    ) -> concurrent.futures.Future[_T]:
        """Run ``call`` on ``loop`` (default: the bound one), from any thread.

        Returns:
            A future of its result (or of the exception it raised).

        Raises:
            BrokerError: when no loop is bound yet and ``loop`` is not given.
            BrokerClosedError: when the loop is closed (the application has stopped).
        """
        target = loop or self.loop
        if target is None:
            raise BrokerError(
                "publish_threadsafe() does not know the broker's event loop yet: create, "
                "subscribe to or publish to the broker on its loop first, or pass loop="
            )
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

        if target.is_closed():
            raise BrokerClosedError("publish_threadsafe(): the broker's event loop is closed")
        try:
            target.call_soon_threadsafe(run)
        except RuntimeError as exc:  # closed between the check and the call
            raise BrokerClosedError(
                "publish_threadsafe(): the broker's event loop is closed"
            ) from exc
        return future


class _Subscription:
    """One open subscription: who it is for, what it receives, and its buffer (an SSE
    connection's `FrameSink`, whether it is the consumer or what the consumer forwards to)."""

    __slots__ = ("client_id", "consumer", "sink", "topics")

    def __init__(
        self,
        consumer: abc.ObserverBase[Any],
        client_id: str | None,
        topics: frozenset[str] | None,
        buffered: abc.ObserverBase[Any],
    ) -> None:
        self.consumer = consumer
        self.client_id = client_id
        self.topics = topics
        self.sink = buffered if isinstance(buffered, FrameSink) else None

    def stats(self) -> SubscriberStats:
        topics = tuple(sorted(self.topics)) if self.topics is not None else None
        if self.sink is not None:
            return self.sink.stats(self.client_id, topics)
        return SubscriberStats(client_id=self.client_id, topics=topics)


class Subscriptions:
    """The local fan-out of a broker: subscribers by topic, finished topics, ordered delivery.

    Example:
        >>> from reactivex import Observer
        >>> subs, seen = Subscriptions(), []
        >>> _ = subs.open(Observer(lambda v: seen.append(("all", v))), None, None)
        >>> _ = subs.open(Observer(lambda v: seen.append(("a", v))), None, frozenset({"a"}))
        >>> subs.deliver("x", "a")
        >>> subs.deliver("y", "b")
        >>> seen
        [('all', 'x'), ('a', 'x'), ('all', 'y')]
    """

    __slots__ = (
        "_by_topic",
        "_delivering",
        "_everything",
        "_finished",
        "_hot",
        "_open",
        "_snapshots",
        "disconnects",
        "dropped",
        "pending",
    )

    def __init__(self) -> None:
        self._open: dict[_Subscription, None] = {}
        self._everything: dict[abc.ObserverBase[Any], None] = {}
        self._by_topic: dict[str, dict[abc.ObserverBase[Any], None]] = {}
        self._snapshots: dict[str | None, _Observers] = {None: ()}
        self._hot: _Observers = ()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._delivering = False
        self.pending: deque[tuple[Any, str | None]] = deque()
        self.dropped = 0
        self.disconnects = 0

    def __len__(self) -> int:
        return len(self._open)

    @property
    def watched_topics(self) -> frozenset[str]:
        """The topics some open subscription receives (nothing is kept for the others)."""
        return frozenset(self._by_topic)

    # -- delivery ------------------------------------------------------------------------------

    def deliver(self, event: Any, topic: str | None) -> None:
        """Give ``event`` to the hot observers, every-event subscribers and those of ``topic``.

        Called again from inside a delivery (a subscriber that publishes), it queues the event
        and returns; the outer call delivers it after the current one.
        """
        if self._delivering:
            self.pending.append((event, topic))
            return
        self._delivering = True
        first: Exception | None = None
        try:
            first = self._deliver_one(event, topic)
            pending = self.pending
            while pending:
                error = self._deliver_one(*pending.popleft())
                first = first or error
        finally:
            self._delivering = False
        if first is not None and not _in_loop():
            raise first

    def _deliver_one(self, event: Any, topic: str | None) -> Exception | None:
        snapshots = self._snapshots
        observers = snapshots[None]
        if topic is not None:
            of_topic = snapshots.get(topic)
            if of_topic:
                observers = observers + of_topic if observers else of_topic
        if self._hot:
            observers = self._hot + observers
        first: Exception | None = None
        for observer in observers:
            try:
                observer.on_next(event)
            except Exception as exc:
                first = first or exc
                _report(exc, "a broker subscriber raised in on_next (the others got the event)")
        return first

    # -- subscribing ---------------------------------------------------------------------------

    def open(
        self,
        consumer: abc.ObserverBase[Any],
        client_id: str | None,
        topics: frozenset[str] | None,
        replayed: Iterable[Any] = (),
        *,
        forwards_to: abc.ObserverBase[Any] | None = None,
    ) -> abc.DisposableBase:
        """Give ``consumer`` the ``replayed`` events, then every live one until disposed.

        Both happen in this one call, and what is published meanwhile (by a consumer's
        callback) is delivered after the consumer is attached: no gap, no duplicate. A consumer
        of only finished topics completes after its replay. ``forwards_to`` is the observer a
        wrapping ``consumer`` (a resuming gate) passes the events on to: when it is an SSE
        connection's buffer, its fill, drops and disconnect are what ``stats()`` counts.
        """
        outer = self._delivering
        self._delivering = True
        try:
            for event in replayed:
                consumer.on_next(event)
            if topics is not None and self.all_finished(topics):
                consumer.on_completed()
                return Disposable()
            subscription = _Subscription(consumer, client_id, topics, forwards_to or consumer)
            self._add(consumer, topics)
            self._open[subscription] = None
        finally:
            if not outer:
                self._delivering = False
                if self.pending:
                    self.deliver(*self.pending.popleft())
        return Disposable(lambda: self._forget(subscription))

    def hot(self) -> reactivex.Observable[Any]:
        """An Observable of every event delivered from now on (``Broker.events``)."""

        def on_subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            self._hot = (*self._hot, observer)

            def leave() -> None:
                self._hot = tuple(o for o in self._hot if o is not observer)

            return Disposable(leave)

        return reactivex.create(on_subscribe)

    def _add(self, observer: abc.ObserverBase[Any], topics: frozenset[str] | None) -> None:
        if topics is None:
            self._everything[observer] = None
            self._snapshots[None] = tuple(self._everything)
            return
        for topic in sorted(topics):
            observers = self._by_topic.setdefault(topic, {})
            observers[observer] = None
            self._snapshots[topic] = tuple(observers)

    def _forget(self, subscription: _Subscription) -> None:
        """Stop delivering to ``subscription``, keeping its drops and disconnect in the counts."""
        if subscription not in self._open:
            return
        del self._open[subscription]
        observer, topics = subscription.consumer, subscription.topics
        if topics is None:
            self._everything.pop(observer, None)
            self._snapshots[None] = tuple(self._everything)
        else:
            for topic in topics:
                observers = self._by_topic.get(topic)
                if observers is None:
                    continue
                observers.pop(observer, None)
                if observers:
                    self._snapshots[topic] = tuple(observers)
                else:
                    del self._by_topic[topic]
                    del self._snapshots[topic]
        sink = subscription.sink
        if sink is not None:
            self.dropped += sink.stats(None, None).dropped
            if sink.queue.overflowed:
                self.disconnects += 1

    # -- ending ----------------------------------------------------------------------------------

    def complete(self, which: Callable[[_Subscription], bool], what: str) -> int:
        """Detach and complete the subscriptions ``which`` selects, all of them, then report.

        Returns:
            How many were completed.

        Raises:
            SubscriberError: outside an event loop, when some ``on_completed`` raised (on the
                loop it goes to the loop's exception handler instead).
        """
        chosen = [s for s in self._open if which(s)]
        for subscription in chosen:
            self._forget(subscription)
        _complete_all([s.consumer for s in chosen], what)
        return len(chosen)

    def close(self) -> None:
        """Complete every subscriber and the hot observers, all of them, then report."""
        chosen = list(self._open)
        for subscription in chosen:
            self._forget(subscription)
        hot, self._hot = self._hot, ()
        _complete_all([*(s.consumer for s in chosen), *hot], "closed")

    def fail_all(self, error: Exception) -> None:
        """End every subscription with ``error`` (the live feed is lost); hot observers stay."""
        chosen = list(self._open)
        for subscription in chosen:
            self._forget(subscription)
        for subscription in chosen:
            try:
                subscription.consumer.on_error(error)
            except Exception as exc:
                _report(exc, "a broker subscriber raised in on_error")

    def stats(self) -> tuple[int, tuple[SubscriberStats, ...]]:
        """The drops so far (open buffers included) and a snapshot per open subscription."""
        snapshots = tuple(s.stats() for s in self._open)
        return self.dropped + sum(s.dropped for s in snapshots), snapshots

    def finish(self, topic: str) -> None:
        """Remember ``topic`` as finished; complete the subscriptions that have nothing left."""
        self._finished[topic] = None
        if len(self._finished) > _MAX_FINISHED_TOPICS:
            self._finished.popitem(last=False)
        self.complete(
            lambda s: s.topics is not None and self.all_finished(s.topics),
            f"finished topic {topic!r}",
        )

    def reopen(self, topic: str) -> None:
        """Forget that ``topic`` was finished (it is published to again)."""
        if self._finished:
            self._finished.pop(topic, None)

    def is_finished(self, topic: str) -> bool:
        """Whether ``topic`` was finished (and not reopened since)."""
        return topic in self._finished

    def all_finished(self, topics: frozenset[str]) -> bool:
        """Whether every one of ``topics`` is finished."""
        return bool(self._finished) and all(topic in self._finished for topic in topics)


def check_control(session_id: object, command: object | None = None) -> None:
    """Raise ``TypeError`` unless ``session_id`` (and ``command``, when given) is a non-empty
    one-line string, ``ValueError`` when one holds a lone surrogate (no store could carry it)."""
    for name, value in (("session_id", session_id), ("command", command)):
        if value is None and name == "command":
            return
        if not isinstance(value, str) or not value or "\n" in value:
            raise ArgumentTypeError(f"{name} must be a non-empty one-line string, got {value!r}")
        check_utf8(name, value)


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _report(exc: Exception, message: str) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.call_exception_handler({"message": message, "exception": exc})


def _complete_all(observers: list[abc.ObserverBase[Any]], what: str) -> None:
    errors: list[Exception] = []
    for observer in observers:
        try:
            observer.on_completed()
        except Exception as exc:
            errors.append(exc)
    if not errors:
        return
    error = SubscriberError(what, errors)
    if not _in_loop():
        raise error
    _report(error, str(error))


class BaseBroker(AsyncClosable, SSERoutes):
    """What every broker class shares: its loop, its local subscribers and their buffers.

    [Broker][rxchronos.stream.Broker] and [RedisBroker][rxchronos.stream.RedisBroker] build on
    it; a new backend does too, adding publishing, ``attach`` (with its history) and its
    lifecycle.
    """

    def __init__(self, *, buffer_size: int, overflow: Overflow) -> None:
        check_overflow(overflow, buffer_size)
        self._buffer_size = buffer_size
        self._overflow: Overflow = overflow
        self._subscriptions = Subscriptions()
        self._affinity = LoopAffinity()
        self._closed = False
        self._controls: Subject[Control] = Subject()

    @property
    def controls(self) -> reactivex.Observable[Control]:
        """The hot stream of the control commands that reach this process (``control()``)."""
        return self._controls

    @property
    def buffer_size(self) -> int:
        """Each SSE connection's buffer, in events."""
        return self._buffer_size

    @property
    def overflow(self) -> Overflow:
        """What a full SSE connection buffer does."""
        return self._overflow

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    @property
    def events(self) -> reactivex.Observable[Event]:
        """The hot stream of every event published from now on (no replay, no buffer)."""
        if self._closed:
            return reactivex.empty()
        return self._subscriptions.hot()

    def is_finished(self, topic: str) -> bool:
        """Whether ``topic`` was finished (and not reopened since)."""
        return self._subscriptions.is_finished(topic)

    @abstractmethod
    def publish(self, event: Any, *, topic: str | None = None) -> Event:
        """Take ``event`` for the subscribers of ``topic`` (each backend says how)."""

    def publish_threadsafe(
        self,
        event: Any,
        *,
        topic: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> concurrent.futures.Future[Event]:
        """[publish][rxchronos.stream.Broker.publish] from any thread, on the broker's loop.

        Args:
            event: as for ``publish``.
            topic: as for ``publish``.
            loop: the loop to publish on; by default the one the broker was used on (created,
                subscribed to or published to from a running loop).

        Returns:
            A future of the stamped event (or of the error ``publish`` raised).

        Raises:
            BrokerError: when the broker has not been used on a loop yet and ``loop`` is not given.
            BrokerClosedError: when that loop is closed.

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

    def close(self) -> None:
        """Complete every local subscriber and stop accepting events. Idempotent.

        Every subscriber is completed even when one's ``on_completed`` raises (reported after, as
        a [SubscriberError][rxchronos.stream.SubscriberError]). Open SSE streams end (their
        handlers return at once), so an app that calls this on shutdown does not wait for them.
        A broker that stores events elsewhere keeps storing what it holds until ``aclose()``
        (a [RedisBroker][rxchronos.stream.RedisBroker] its outbox).
        """
        if self._closed:
            return
        self._closed = True
        self._subscriptions.close()

    def unsubscribe(self, client_id: str) -> int:
        """Complete every subscription (SSE connections included) made with ``client_id``.

        Returns:
            How many subscriptions were completed.
        """
        if not isinstance(client_id, str):
            raise ArgumentTypeError(f"client_id must be a string, got {type(client_id).__name__}")
        return self._subscriptions.complete(
            lambda s: s.client_id == client_id, f"unsubscribed client {client_id!r}"
        )

    def _stats(self, published: int, replay_buffered: int, replay_size: int) -> BrokerStats:
        subscriptions = self._subscriptions
        dropped, snapshots = subscriptions.stats()
        return BrokerStats(
            subscribers=len(subscriptions),
            published=published,
            replay_buffered=replay_buffered,
            replay_size=replay_size,
            dropped=dropped,
            disconnects=subscriptions.disconnects,
            subscriptions=snapshots,
        )


class Broker(BaseBroker):
    """Fans events out to subscribers and SSE clients: Chronos' ``stream.Broker``, as Rx.

    ``publish`` stamps each event with an id (``<epoch>-<n>``: strictly increasing, the epoch
    naming this broker's life) and multicasts it; a bounded replay ring lets a client that
    reconnects with its last id get exactly what it missed. Everything runs on the event loop's
    thread; use [publish_threadsafe][rxchronos.stream.Broker.publish_threadsafe] from other
    threads. It satisfies [BrokerProtocol][rxchronos.stream.BrokerProtocol], and ``async with
    Broker() as broker:`` closes it on the way out.

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
        super().__init__(buffer_size=buffer_size, overflow=overflow)
        self._journal = Journal(replay_size)
        self._flags: OrderedDict[str, str] = OrderedDict()

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

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, event: Any, *, topic: str | None = None) -> Event:
        """Stamp ``event`` with the next id and deliver it to every matching subscriber.

        A subscriber that publishes from its callback does not reorder anything: its event is
        delivered to everyone after the one being delivered.

        Args:
            event: an [Event][rxchronos.stream.Event], or anything with a ``type`` that
                serialises to JSON (a graph ``StreamEvent``, a pydantic model, a dataclass, a
                mapping).
            topic: the topic (e.g. a session id); ``None`` keeps the event's own ``topic``.
                Publishing to a finished topic reopens it.

        Returns:
            The stamped event (with ``id`` and ``topic``); the one you passed is not changed.

        Raises:
            BrokerClosedError: after [close][rxchronos.stream.Broker.close].
            BrokerError: when called from a thread other than the event loop's.
            TypeError: when ``event`` has no type or does not serialise to JSON.
            ValueError: when its data holds a NaN or infinite float (JSON has none).

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
        self._subscriptions.deliver(stamped, topic)
        return stamped

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

    async def control(self, session_id: str, command: str) -> None:
        """Send ``command`` (e.g. ``"cancel"``) for ``session_id``: ``controls`` emits it, and
        it stays as the session's flag until [take_control][rxchronos.stream.Broker.take_control]
        reads it, so a command sent before the run starts is not lost.

        Example:
            >>> import asyncio
            >>> from rxchronos.stream import Broker
            >>> async def main():
            ...     broker, seen = Broker(), []
            ...     broker.controls.subscribe(seen.append)
            ...     await broker.control("session-1", "cancel")
            ...     first = await broker.take_control("session-1")
            ...     return seen, first, await broker.take_control("session-1")
            >>> asyncio.run(main())
            ([Control(session_id='session-1', command='cancel')], 'cancel', None)
        """
        check_control(session_id, command)
        if self._closed:
            raise BrokerClosedError("control() after Broker.close()")
        self._flags[session_id] = command
        self._flags.move_to_end(session_id)
        if len(self._flags) > _MAX_FINISHED_TOPICS:
            self._flags.popitem(last=False)
        self._controls.on_next(Control(session_id, command))

    async def take_control(self, session_id: str) -> str | None:
        """The session's pending command, read and cleared (``None`` when there is none).

        Raises:
            TypeError: when ``session_id`` is not a non-empty one-line string.
            ValueError: when it holds a lone surrogate.
        """
        check_control(session_id)
        return self._flags.pop(session_id, None)

    async def flush(self) -> None:
        """Nothing to wait for: an in-process broker delivers in ``publish`` itself.

        Here for [BrokerProtocol][rxchronos.stream.BrokerProtocol], so that code written for a
        distributed broker runs unchanged.
        """
        if self._closed:
            raise BrokerClosedError("flush() after Broker.close()")

    # -- subscribing ---------------------------------------------------------------------------

    def subscribe(
        self,
        client_id: str | None = None,
        *,
        topics: str | Iterable[str] | None = None,
        last_event_id: str | None = None,
    ) -> reactivex.Observable[Event]:
        """A cold Observable of the broker's events: each subscription is one subscriber.

        Args:
            client_id: a name for [unsubscribe][rxchronos.stream.Broker.unsubscribe] and
                [stats][rxchronos.stream.Broker.stats]; several subscriptions may share one.
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
            return self._open(observer, client_id, topic_set, last_event_id)

        return reactivex.create(on_subscribe)

    async def attach(
        self,
        consumer: abc.ObserverBase[Event],
        *,
        client_id: str | None = None,
        topics: frozenset[str] | None = None,
        last_event_id: str | None = None,
    ) -> abc.DisposableBase:
        """Attach an observer directly, as [SSESource][rxchronos.stream.SSESource] asks.

        The SSE routes use it; the replay and the attachment happen without a pause, so nothing
        is published in between.

        Example:
            >>> import asyncio
            >>> from reactivex import Observer
            >>> from rxchronos.stream import Broker, Event
            >>> async def main():
            ...     broker, seen = Broker(), []
            ...     _ = await broker.attach(Observer(lambda e: seen.append(e.type)))
            ...     _ = broker.publish(Event(type="a"))
            ...     return seen
            >>> asyncio.run(main())
            ['a']
        """
        check_client(client_id, last_event_id)
        return self._open(consumer, client_id, topics, last_event_id)

    def _open(
        self,
        consumer: abc.ObserverBase[Event],
        client_id: str | None,
        topics: frozenset[str] | None,
        last_event_id: str | None,
    ) -> abc.DisposableBase:
        self._affinity.bind()
        if self._closed:
            consumer.on_completed()
            return Disposable()
        subscriptions = self._subscriptions
        replayed: list[Event] = []
        if last_event_id is not None:
            journal = self._journal
            # events published from a callback and not delivered yet reach it live, not twice
            delivered = journal.published - len(subscriptions.pending)
            replayed = journal.resume(last_event_id, topics, upto=delivered)
        return subscriptions.open(consumer, client_id, topics, replayed)

    async def history(self, topic: str) -> list[Event]:
        """The events of ``topic`` still in the replay ring, oldest first (``done`` included).

        What a route that keeps its own state in a topic reads back (which reply is the latest,
        where it starts); the same call on a distributed broker reads the shared history.

        Example:
            >>> import asyncio
            >>> from rxchronos.stream import Broker, Event
            >>> broker = Broker()
            >>> _ = broker.publish(Event(type="a"), topic="t1")
            >>> _ = broker.publish(Event(type="b"), topic="t2")
            >>> _ = broker.finish_topic("t1")
            >>> [e.type for e in asyncio.run(broker.history("t1"))]
            ['a', 'done']
        """
        check_topic(topic)
        replay = self._journal.replay
        return replay.after(replay.last_seq - len(replay), frozenset((topic,))) or []

    # -- lifecycle and statistics ----------------------------------------------------------------

    async def aclose(self) -> None:
        """[close][rxchronos.stream.Broker.close], as a coroutine (for ``app.on_shutdown``)."""
        self.close()

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
        replay = self._journal.replay
        return self._stats(self._journal.published, len(replay), replay.capacity)
