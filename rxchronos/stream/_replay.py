"""The replay ring: the last N published events, served to clients that reconnect.

The ring also counts the sequence numbers: every published event goes in, so they are
consecutive, and finding the events after a given id is an index computation, not a search.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from itertools import islice

from rxchronos.stream._event import Event

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """A bounded ring of the most recent events, addressed by sequence number.

    Example:
        >>> from rxchronos.stream import Event
        >>> ring = ReplayBuffer(2)
        >>> for n in (1, 2, 3):
        ...     ring.append(Event(type="tick", data=n))
        >>> [e.data for e in ring.after(1)], ring.after(0) is None, ring.last_seq
        ([2, 3], True, 3)
    """

    __slots__ = ("_events", "_last_seq", "capacity")

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"replay_size must be an int >= 0, got {capacity!r}")
        if capacity < 0:
            raise ValueError(f"replay_size must be >= 0, got {capacity}")
        self.capacity = capacity
        self._events: deque[Event] = deque(maxlen=capacity)
        self._last_seq = 0

    def __len__(self) -> int:
        return len(self._events)

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest event appended (0 before the first)."""
        return self._last_seq

    def append(self, event: Event) -> None:
        """Add the next event published: its sequence number is :attr:`last_seq` + 1."""
        self._last_seq += 1
        if self.capacity:
            self._events.append(event)

    def after(self, seq: int, topics: Collection[str] | None = None) -> list[Event] | None:
        """The events after ``seq``, oldest first, or ``None`` when some of them are gone.

        Args:
            seq: the sequence number the client has seen last (0: from the beginning).
            topics: keep only events of these topics; ``None`` keeps every event.

        Returns:
            The events, possibly none; ``None`` when ``seq`` is older than the ring reaches back
            or newer than anything published (the client must be told to reset).
        """
        if seq > self._last_seq or seq < 0:
            return None
        first_seq = self._last_seq - len(self._events) + 1
        if seq < first_seq - 1:
            return None
        start = seq - first_seq + 1
        events = self._events
        if start == len(events):
            return []
        selected = list(islice(events, start, None))
        if topics is None:
            return selected
        return [event for event in selected if event.topic in topics]
