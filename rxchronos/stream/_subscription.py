"""The record of one open broker subscription, the broker's statistics, and topic checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from reactivex import abc

from rxchronos.stream._event import Event
from rxchronos.stream._subscriber import FrameBuffer, SubscriberStats

__all__ = ["BrokerStats", "Subscription", "check_topic", "normalise_topics"]


class _Registry(Protocol):
    def _forget(self, subscription: Subscription) -> None: ...


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

    __slots__ = ("_broker", "client_id", "consumer", "links", "topics")

    def __init__(
        self,
        broker: _Registry,
        consumer: abc.ObserverBase[Event],
        client_id: str | None,
        topics: frozenset[str] | None,
    ) -> None:
        self._broker = broker
        self.links: list[abc.DisposableBase] | None = []
        self.consumer = consumer
        self.client_id = client_id
        self.topics = topics

    def detach(self) -> None:
        links, self.links = self.links, None
        if links is None:
            return
        for link in links:
            link.dispose()
        self._broker._forget(self)

    def complete(self) -> None:
        self.consumer.on_completed()
        self.detach()

    def stats(self) -> SubscriberStats:
        topics = tuple(sorted(self.topics)) if self.topics is not None else None
        if isinstance(self.consumer, FrameBuffer):
            return self.consumer.stats(self.client_id, topics)
        return SubscriberStats(client_id=self.client_id, topics=topics)


def check_topic(topic: object) -> None:
    if not isinstance(topic, str) or not topic:
        raise TypeError(f"a topic must be a non-empty string, got {topic!r}")


def normalise_topics(topics: str | Iterable[str] | None) -> frozenset[str] | None:
    if topics is None:
        return None
    chosen = frozenset((topics,)) if isinstance(topics, str) else frozenset(topics)
    if not chosen:
        raise ValueError("topics must name at least one topic, or be None for every event")
    for topic in chosen:
        check_topic(topic)
    return chosen
