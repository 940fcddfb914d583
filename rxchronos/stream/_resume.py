"""Resuming a client: the events after its ``Last-Event-ID``, or one explicit ``reset`` event.

A client that reconnects sends the id of the last event it saw. When the replay ring still holds
everything after it, those events are replayed, in order. Otherwise (the id is too old for the
ring, from another broker life, from the future, or not an id at all) the client gets one
``reset`` event instead, never a silent gap; its id is the newest one, so resuming from the
reset continues without a gap.
"""

from __future__ import annotations

from rxchronos.stream._event import Event
from rxchronos.stream._ids import EventIds, parse_event_id
from rxchronos.stream._replay import ReplayBuffer

__all__ = ["events_after"]

_ECHO_LIMIT = 128  # how much of a client's id a reset event repeats


def events_after(
    last_event_id: str, topics: frozenset[str] | None, *, replay: ReplayBuffer, ids: EventIds
) -> list[Event]:
    """The events to send a client resuming after ``last_event_id`` (see the module docs).

    Example:
        >>> from rxchronos.stream._ids import EventIds
        >>> from rxchronos.stream._replay import ReplayBuffer
        >>> ids, ring = EventIds(epoch="e0"), ReplayBuffer(8)
        >>> for n in (1, 2):
        ...     ring.append(Event(type="n", data=n, id=ids.id_of(n)))
        >>> [e.data for e in events_after("e0-1", None, replay=ring, ids=ids)]
        [2]
        >>> events_after("nonsense", None, replay=ring, ids=ids)[0].data["reason"]
        'invalid_id'
    """
    parsed = parse_event_id(last_event_id)
    if parsed is None or parsed.epoch != ids.epoch:
        reason = "unknown_epoch" if parsed is not None else "invalid_id"
    else:
        events = replay.after(parsed.seq, topics)
        if events is not None:
            return events
        reason = "too_old" if parsed.seq < replay.last_seq else "unknown_id"
    reset = Event(
        type="reset",
        data={"reason": reason, "last_event_id": last_event_id[:_ECHO_LIMIT]},
        id=ids.id_of(replay.last_seq),
    )
    return [reset]
