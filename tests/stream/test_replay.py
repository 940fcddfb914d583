"""Event ids (``<epoch>-<n>``, ASCII, short; epochs differ between lives) and the replay ring
(exactly the events after an id, or ``None`` when some are gone)."""

from __future__ import annotations

import pytest

from rxchronos.stream import Event
from rxchronos.stream._replay import EventIds
from rxchronos.stream._replay import ParsedId
from rxchronos.stream._replay import ReplayBuffer
from rxchronos.stream._replay import parse_event_id


def filled(capacity: int, count: int) -> ReplayBuffer:
    ring = ReplayBuffer(capacity)
    for seq in range(1, count + 1):
        ring.append(Event(type="e", data=seq, topic="odd" if seq % 2 else "even"))
    return ring


def test_after_returns_exactly_the_later_events_in_order() -> None:
    ring = filled(5, 8)
    assert [e.data for e in ring.after(3) or []] == [4, 5, 6, 7, 8]
    assert [e.data for e in ring.after(6) or []] == [7, 8]
    assert ring.after(8) == []


def test_an_id_older_than_the_ring_reaches_is_a_gap() -> None:
    assert filled(5, 8).after(2) is None


def test_an_id_newer_than_anything_published_is_unknown() -> None:
    assert filled(5, 8).after(9) is None


def test_topics_filter_the_replay() -> None:
    assert [e.data for e in filled(10, 6).after(1, {"even"}) or []] == [2, 4, 6]


def test_an_empty_ring_still_knows_the_current_position() -> None:
    ring = filled(0, 3)
    assert ring.after(3) == []
    assert ring.after(2) is None
    assert len(ring) == 0


def test_the_ring_counts_every_event_it_was_given() -> None:
    ring = filled(3, 5)
    assert ring.last_seq == 5 and len(ring) == 3
    assert [e.data for e in ring.after(2) or []] == [3, 4, 5]


def test_negative_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="replay_size"):
        ReplayBuffer(-1)


def test_ids_are_short_ascii_and_parse_back() -> None:
    ids = EventIds()
    for seq in [*range(1, 1001), 10**30]:
        text = ids.id_of(seq)
        assert text.isascii() and len(text.encode()) <= 128
        assert parse_event_id(text) == ParsedId(ids.epoch, seq)


def test_two_lives_have_different_epochs() -> None:
    assert len({EventIds().epoch for _ in range(50)}) == 50


@pytest.mark.parametrize(
    "text", ["", "42", "-42", "abc-", "abc-x1", "ab c-1", "a-1\n", "é-1", "a-" + "9" * 200]
)
def test_foreign_ids_do_not_parse(text: str) -> None:
    assert parse_event_id(text) is None


def test_bad_epochs_are_refused() -> None:
    with pytest.raises(ValueError, match="epoch"):
        EventIds(epoch="no-dashes")
