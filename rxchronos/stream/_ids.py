"""Event ids: ``<epoch>-<sequence>``, strictly increasing within one broker's life.

The epoch names a broker's life (it changes when the process restarts), so a client that
reconnects with a ``Last-Event-ID`` from an earlier life is recognised instead of being served
a wrong slice of the replay ring. Ids are short ASCII (well under the 128 bytes we promise), e.g.
``lx2k9c1q7f-42``.
"""

from __future__ import annotations

import secrets
import time
from typing import NamedTuple

__all__ = ["EventIds", "ParsedId", "parse_event_id"]

_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_MAX_ID_LENGTH = 128


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


def parse_event_id(text: str) -> ParsedId | None:
    """Parse an id made by :class:`EventIds`; ``None`` when ``text`` is not one.

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


class EventIds:
    """The ids of one broker's life: ``<epoch>-1``, ``<epoch>-2``, ...

    The sequence numbers themselves are counted by the replay ring, which every event goes into.

    Example:
        >>> ids = EventIds(epoch="e0")
        >>> ids.id_of(1), ids.id_of(2)
        ('e0-1', 'e0-2')
    """

    __slots__ = ("_prefix", "epoch")

    def __init__(self, epoch: str | None = None) -> None:
        self.epoch = epoch if epoch is not None else new_epoch()
        if not self.epoch.isascii() or not self.epoch.isalnum() or len(self.epoch) > 32:
            raise ValueError(f"an epoch must be 1 to 32 ASCII letters or digits, got {epoch!r}")
        self._prefix = self.epoch + "-"

    def id_of(self, seq: int) -> str:
        """The id of sequence number ``seq`` in this epoch."""
        return self._prefix + str(seq)
