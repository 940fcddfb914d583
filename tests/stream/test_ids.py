"""Event ids: ``<epoch>-<n>``, ASCII, short, strictly increasing; epochs differ between lives."""

from __future__ import annotations

import pytest

from rxchronos.stream._ids import EventIds, ParsedId, parse_event_id


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
