"""What a broker has published: event ids, the replay ring, and resuming a client after its id.

Ids are ``<epoch>-<sequence>``: the sequence increases strictly within one broker's life, and the
epoch names that life (it changes when the process restarts), so a ``Last-Event-ID`` from an
earlier life is recognised instead of being served a wrong slice of the ring. Ids are short ASCII
(well under the 128 bytes we promise), e.g. ``lx2k9c1q7f-42``.

`Journal` is the publishing half of a
[Broker][rxchronos.stream.Broker] without the delivery: it turns what is published into a stamped
[Event][rxchronos.stream.Event] (the next id, the topic, the JSON encoded once), keeps it in the
bounded replay ring, and answers a client that resumes: exactly the events after its id, in order,
or, when that is impossible (the id is too old for the ring, from another life, from the future,
or not an id at all), one ``reset`` event, never a silent gap. A publish that is refused (no type,
data that is not JSON, a bad topic) uses no id and leaves the ring alone.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Collection
from itertools import islice
from typing import NamedTuple

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.stream._event import Event
from rxchronos.stream._event import check_topic
from rxchronos.stream._event import stamp_event

__all__ = ["EventIds", "Journal", "ParsedId", "ReplayBuffer", "parse_event_id", "reset_event"]

_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_MAX_ID_LENGTH = 128
_ECHO_LIMIT = 128  # how much of a client's id a reset event repeats


class ParsedId(NamedTuple):
    """A ``Last-Event-ID`` split into its epoch and sequence number."""

    epoch: str
    seq: int


def _base36(number: int) -> str:
    digits: list[str] = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_DIGITS36[rest])
        if not number:
            return "".join(reversed(digits))


def new_epoch() -> str:
    """A fresh epoch: the time in milliseconds and four random characters, base 36."""
    suffix = "".join(secrets.choice(_DIGITS36) for _ in range(4))
    return _base36(time.time_ns() // 1_000_000) + suffix


def check_epoch(epoch: str) -> str:
    """``epoch``, or ``ValueError`` unless it is 1 to 32 ASCII letters or digits."""
    if not isinstance(epoch, str) or not epoch.isascii() or not epoch.isalnum() or len(epoch) > 32:
        raise InvalidArgumentError(
            f"an epoch must be 1 to 32 ASCII letters or digits, got {epoch!r}"
        )
    return epoch


def parse_event_id(text: str) -> ParsedId | None:
    """Parse an ``<epoch>-<sequence>`` id; ``None`` when ``text`` is not one.

    Example:
        >>> parse_event_id("lx2k9c1q7f-42")
        ParsedId(epoch='lx2k9c1q7f', seq=42)
        >>> parse_event_id("42") is None
        True
    """
    if len(text) > _MAX_ID_LENGTH:
        return None
    epoch, sep, seq = text.rpartition("-")
    if not sep or not text.isascii() or not seq.isdigit() or not epoch.isalnum():
        return None
    return ParsedId(epoch, int(seq))


def reset_event(reason: str, last_event_id: str, id: str | None) -> Event:
    """The one event a client gets instead of a replay that cannot be exact.

    Its ``data`` says why (``reason``) and repeats the start of the client's id, made printable
    (a header that was not valid UTF-8 reaches us with lone surrogates, which JSON cannot carry);
    its ``id`` is the newest one (``None``: no id line), so resuming from the reset continues
    without a gap.

    Example:
        >>> reset_event("invalid_id", "\\udcff\\udcfe", "e0-3").data
        {'reason': 'invalid_id', 'last_event_id': '\\\\xff\\\\xfe'}
        >>> reset_event("invalid_id", "\\ud800-1", "e0-3").data["last_event_id"]
        '\\\\ud800-1'
    """
    shown = last_event_id[:_ECHO_LIMIT]
    try:
        shown = shown.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte (a JSON "\ud800", say)
        shown = shown.encode("utf-8", "backslashreplace").decode()
    return Event(type="reset", data={"reason": reason, "last_event_id": shown}, id=id)


class EventIds:
    """The ids of one broker's life: ``<epoch>-1``, ``<epoch>-2``, ...

    Example:
        >>> ids = EventIds(epoch="e0")
        >>> ids.id_of(1), ids.id_of(2)
        ('e0-1', 'e0-2')
    """

    __slots__ = ("_prefix", "epoch")

    def __init__(self, epoch: str | None = None) -> None:
        self.epoch = check_epoch(epoch if epoch is not None else new_epoch())
        self._prefix = self.epoch + "-"

    def id_of(self, seq: int) -> str:
        """The id of sequence number ``seq`` in this epoch."""
        return self._prefix + str(seq)


class ReplayBuffer:
    """A bounded ring of the most recent events, addressed by sequence number.

    The ring also counts the sequence numbers: every published event goes in, so they are
    consecutive, and finding the events after a given id is an index computation, not a search.

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
            raise ArgumentTypeError(f"replay_size must be an int >= 0, got {capacity!r}")
        if capacity < 0:
            raise InvalidArgumentError(f"replay_size must be >= 0, got {capacity}")
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
        """Add the next event published: its sequence number is `last_seq` + 1."""
        self._last_seq += 1
        if self.capacity:
            self._events.append(event)

    def after(
        self, seq: int, topics: Collection[str] | None = None, *, upto: int | None = None
    ) -> list[Event] | None:
        """The events after ``seq`` (up to ``upto``), oldest first, or ``None`` if some are gone.

        Args:
            seq: the sequence number the client has seen last (0: from the beginning).
            topics: keep only events of these topics; ``None`` keeps every event.
            upto: the last sequence number to include; ``None``: the newest.

        Returns:
            The events, possibly none; ``None`` when ``seq`` is older than the ring reaches back
            or newer than anything published (the client must be told to reset).
        """
        last = self._last_seq
        if seq > last or seq < 0:
            return None
        first_seq = last - len(self._events) + 1
        if seq < first_seq - 1:
            return None
        start = seq - first_seq + 1
        stop = len(self._events) if upto is None else max(start, upto - first_seq + 1)
        if start >= stop:
            return []
        selected = list(islice(self._events, start, stop))
        if topics is None:
            return selected
        return [event for event in selected if event.topic in topics]


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
            ValueError: when its type is empty or contains CR, LF or NUL, or its data holds a
                NaN or infinite float.
        """
        if topic is not None:
            check_topic(topic)
        replay = self.replay
        stamped = stamp_event(event, id=self.ids.id_of(replay.last_seq + 1), topic=topic)
        if topic is None and stamped.topic is not None:
            check_topic(stamped.topic)
        replay.append(stamped)
        return stamped

    def resume(
        self, last_event_id: str, topics: frozenset[str] | None, *, upto: int | None = None
    ) -> list[Event]:
        """What a client that saw ``last_event_id`` missed (of ``topics``), or one ``reset`` event.

        Args:
            last_event_id: the client's id.
            topics: the topics it reads; ``None``: every one.
            upto: the newest sequence number already delivered live (later ones reach the client
                live, so they are not replayed); ``None``: the newest recorded.
        """
        ids = self.ids
        replay = self.replay
        parsed = parse_event_id(last_event_id)
        if parsed is None or parsed.epoch != ids.epoch:
            reason = "unknown_epoch" if parsed is not None else "invalid_id"
        else:
            events = replay.after(parsed.seq, topics, upto=upto)
            if events is not None:
                return events
            reason = "too_old" if parsed.seq < replay.last_seq else "unknown_id"
        newest = replay.last_seq if upto is None else upto
        return [reset_event(reason, last_event_id, ids.id_of(newest))]
