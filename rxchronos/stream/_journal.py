"""What a broker has published: each event stamped with its id, the recent ones kept for resuming.

:class:`Journal` is the publishing half of a :class:`~rxchronos.stream.Broker` without the
delivery: it turns what is published into a stamped :class:`~rxchronos.stream.Event` (the next
id of this broker's life, the topic, the JSON encoded once), records it in the replay ring, and
answers a client that resumes after a ``Last-Event-ID``. A publish that is refused (no type, data
that is not JSON, a bad topic) uses no id and leaves the ring alone.
"""

from __future__ import annotations

from rxchronos.stream._event import Event, stamp_event
from rxchronos.stream._ids import EventIds
from rxchronos.stream._replay import ReplayBuffer
from rxchronos.stream._resume import events_after
from rxchronos.stream._subscription import check_topic

__all__ = ["Journal"]


class Journal:
    """The ids and the replay ring of one broker's life.

    Example:
        >>> from rxchronos.stream import Event
        >>> journal = Journal(replay_size=8)
        >>> first = journal.record(Event(type="a"), topic="s1")
        >>> _ = journal.record(Event(type="b"), topic=None)
        >>> [e.type for e in journal.resume(first.id, None)], journal.published
        (['b'], 2)
    """

    __slots__ = ("ids", "replay")

    def __init__(self, replay_size: int) -> None:
        self.replay = ReplayBuffer(replay_size)
        self.ids = EventIds()

    @property
    def published(self) -> int:
        """How many events were recorded: the sequence number of the last one."""
        return self.replay.last_seq

    def record(self, event: object, topic: str | None) -> Event:
        """Stamp ``event`` with the next id and ``topic`` (``None``: its own), and keep it.

        Raises:
            TypeError: when ``event`` has no type, its data is not JSON, or a topic is not a
                non-empty string.
            ValueError: when its type is empty or contains CR, LF or NUL.
        """
        if topic is not None:
            check_topic(topic)
        replay = self.replay
        stamped = stamp_event(event, id=self.ids.id_of(replay.last_seq + 1), topic=topic)
        if topic is None and stamped.topic is not None:
            check_topic(stamped.topic)
        replay.append(stamped)
        return stamped

    def resume(self, last_event_id: str, topics: frozenset[str] | None) -> list[Event]:
        """What a client that saw ``last_event_id`` missed (of ``topics``), or one ``reset`` event.

        See :mod:`rxchronos.stream._resume`.
        """
        return events_after(last_event_id, topics, replay=self.replay, ids=self.ids)
