"""Who is subscribed to a broker: opening subscriptions, their statistics, and topic checks.

:class:`Subscriptions` is the broker's registry. :meth:`Subscriptions.open` gives a new
subscriber its replay and then attaches it, in one synchronous call. Each open subscription has a
:class:`Subscription` record (its client id and topics, for ``unsubscribe`` and ``stats``) and
its observer is in the :class:`~rxchronos.stream._multicast.Fanout` that ``publish`` delivers
through. Finished topics are remembered (a bounded number of them) so that a late subscriber of a
finished run completes at once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reactivex import abc
from reactivex.disposable import Disposable

from rxchronos.stream._multicast import Fanout
from rxchronos.stream._subscriber import FrameSink, SubscriberStats

__all__ = [
    "BrokerStats",
    "Subscription",
    "Subscriptions",
    "check_client",
    "check_topic",
    "normalise_topics",
]

_MAX_FINISHED_TOPICS = 10_000


@dataclass(frozen=True, slots=True)
class BrokerStats:
    """A snapshot of a broker, like anyio's ``statistics()``.

    Attributes:
        subscribers: open subscriptions (``subscribe()`` and SSE connections; not ``events``).
        published: events published so far.
        replay_buffered: events held in the replay ring.
        replay_size: the ring's capacity.
        dropped: frames dropped by ``drop_oldest``/``drop_newest`` buffers, ended ones included.
        disconnects: consumers the broker cut off because their buffer overflowed.
        subscriptions: one :class:`SubscriberStats` per open subscription.

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


class Subscription:
    """One open subscription: who it is for, what it receives, how to detach it."""

    __slots__ = ("_registry", "client_id", "consumer", "open", "topics")

    def __init__(
        self,
        registry: Subscriptions,
        consumer: abc.ObserverBase[Any],
        client_id: str | None,
        topics: frozenset[str] | None,
    ) -> None:
        self._registry = registry
        self.open = True
        self.consumer = consumer
        self.client_id = client_id
        self.topics = topics

    def detach(self) -> None:
        """Stop delivering to it (idempotent)."""
        if self.open:
            self.open = False
            self._registry.forget(self)

    def complete(self) -> None:
        """Complete its observer, then detach it."""
        self.consumer.on_completed()
        self.detach()

    def stats(self) -> SubscriberStats:
        topics = tuple(sorted(self.topics)) if self.topics is not None else None
        if isinstance(self.consumer, FrameSink):
            return self.consumer.stats(self.client_id, topics)
        return SubscriberStats(client_id=self.client_id, topics=topics)


class Subscriptions:
    """The open subscriptions of one broker, the fan-out to them, and the finished topics."""

    __slots__ = ("_finished", "_open", "disconnects", "dropped", "fanout")

    def __init__(self) -> None:
        self.fanout = Fanout()
        self._open: dict[Subscription, None] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self.dropped = 0
        self.disconnects = 0

    def __len__(self) -> int:
        return len(self._open)

    def open(
        self,
        consumer: abc.ObserverBase[Any],
        client_id: str | None,
        topics: frozenset[str] | None,
        replayed: Iterable[Any] = (),
    ) -> abc.DisposableBase:
        """Give ``consumer`` the ``replayed`` events, then every live one until disposed.

        Both happen in this one synchronous call, so no event can be published in between: no
        gap, no duplicate. A consumer of only finished topics completes after its replay.
        """
        for event in replayed:
            consumer.on_next(event)
        if topics is not None and self.all_finished(topics):
            consumer.on_completed()
            return Disposable()
        subscription = Subscription(self, consumer, client_id, topics)
        self.fanout.add(consumer, topics)
        self._open[subscription] = None
        return Disposable(subscription.detach)

    def forget(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``, keeping its drops and disconnect in the counts."""
        if subscription not in self._open:
            return
        del self._open[subscription]
        self.fanout.remove(subscription.consumer, subscription.topics)
        consumer = subscription.consumer
        if isinstance(consumer, FrameSink):
            self.dropped += consumer.stats(None, None).dropped
            if consumer.queue.overflowed:
                self.disconnects += 1

    def of_client(self, client_id: str) -> list[Subscription]:
        return [s for s in self._open if s.client_id == client_id]

    def complete_all(self) -> None:
        for subscription in list(self._open):
            subscription.complete()

    def stats(self) -> tuple[int, tuple[SubscriberStats, ...]]:
        """The drops so far (open buffers included) and a snapshot per open subscription."""
        snapshots = tuple(s.stats() for s in self._open)
        return self.dropped + sum(s.dropped for s in snapshots), snapshots

    # -- finished topics ----------------------------------------------------------------------

    def finish(self, topic: str) -> None:
        """Remember ``topic`` as finished; complete the subscriptions that have nothing left."""
        self._finished[topic] = None
        if len(self._finished) > _MAX_FINISHED_TOPICS:
            self._finished.popitem(last=False)
        for subscription in list(self._open):
            if subscription.topics is not None and self.all_finished(subscription.topics):
                subscription.complete()

    def reopen(self, topic: str) -> None:
        if self._finished:
            self._finished.pop(topic, None)

    def is_finished(self, topic: str) -> bool:
        return topic in self._finished

    def all_finished(self, topics: frozenset[str]) -> bool:
        return bool(self._finished) and all(topic in self._finished for topic in topics)


def check_topic(topic: object) -> None:
    """Raise ``TypeError`` unless ``topic`` is a non-empty string."""
    if not isinstance(topic, str) or not topic:
        raise TypeError(f"a topic must be a non-empty string, got {topic!r}")


def check_client(client_id: object, last_event_id: object) -> None:
    """Raise ``TypeError`` unless ``client_id`` and ``last_event_id`` are strings or ``None``."""
    for name, value in (("client_id", client_id), ("last_event_id", last_event_id)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a string or None, got {type(value).__name__}")


def normalise_topics(topics: str | Iterable[str] | None) -> frozenset[str] | None:
    """``None``, one topic or several, as a frozen set of checked topics."""
    if topics is None:
        return None
    if isinstance(topics, bytes | bytearray) or not isinstance(topics, str | Iterable):
        raise TypeError(
            f"topics must be a string, an iterable of strings or None, got {type(topics).__name__}"
        )
    chosen = frozenset((topics,)) if isinstance(topics, str) else frozenset(topics)
    if not chosen:
        raise ValueError("topics must name at least one topic, or be None for every event")
    for topic in chosen:
        check_topic(topic)
    return chosen
