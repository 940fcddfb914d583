"""Incremental splitter for newline-delimited JSON (Ollama's native streaming format).

Re-exported from [`rxchronos.sse`][rxchronos.sse] as
[`NDJSONSplitter`][rxchronos.sse.NDJSONSplitter], with the size bound both stream decoders share
([`DEFAULT_MAX_SIZE`][rxchronos.sse.DEFAULT_MAX_SIZE]).
"""

from __future__ import annotations

import sys

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import FrameTooLargeError
from rxchronos._errors import InvalidArgumentError

__all__ = ["DEFAULT_MAX_SIZE", "NDJSONSplitter", "check_max_size"]

DEFAULT_MAX_SIZE = 8 * 1024 * 1024
"""The default ``max_size`` of the stream decoders: 8 MiB, room for a model's inline image in one
event, far below what would hurt a reader."""


def check_max_size(owner: str, max_size: int | None) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``max_size`` is an int >= 1 or ``None``."""
    if max_size is None:
        return
    if isinstance(max_size, bool) or not isinstance(max_size, int):
        raise ArgumentTypeError(
            f"{owner}(max_size=...) takes an int or None, got {type(max_size).__name__}"
        )
    if max_size < 1:
        raise InvalidArgumentError(
            f"{owner}(max_size=...) must be >= 1 (or None for no limit), got {max_size}"
        )


class NDJSONSplitter:
    """Split a byte stream into complete, non-blank lines, incrementally.

    Lines end in LF (a CR before it is dropped too). Blank lines are skipped. Each returned line is
    one JSON document, ready for ``json.loads``.

    Args:
        max_size: the longest line, in bytes, the splitter holds or returns; a longer one raises
            [`FrameTooLargeError`][rxchronos.FrameTooLargeError] and closes the splitter. ``None``
            for no limit.

    Example:
        >>> splitter = NDJSONSplitter()
        >>> splitter.feed(b'{"a": 1}\\n{"b"')
        [b'{"a": 1}']
        >>> splitter.feed(b': 2}\\r\\n\\n{"c": 3}')
        [b'{"b": 2}']
        >>> splitter.close()
        [b'{"c": 3}']
    """

    __slots__ = ("_closed", "_max_size", "_pending", "_pending_size")

    def __init__(self, *, max_size: int | None = DEFAULT_MAX_SIZE) -> None:
        check_max_size("NDJSONSplitter", max_size)
        self._max_size = sys.maxsize if max_size is None else max_size
        self._pending: list[bytes] = []  # pieces of the current, unterminated line
        self._pending_size = 0
        self._closed = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add the next piece of the stream; return the lines it completes, in order.

        Raises:
            TypeError: when ``chunk`` is not bytes.
            ValueError: after [`close`][rxchronos.sse.NDJSONSplitter.close].
            FrameTooLargeError: when a line is longer than ``max_size``.
        """
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise ArgumentTypeError(
                f"NDJSONSplitter.feed() takes bytes, got {type(chunk).__name__}"
            )
        if self._closed:
            raise InvalidArgumentError(
                "NDJSONSplitter.feed() called after close(); create a new splitter"
            )
        end = chunk.rfind(b"\n") + 1
        if not end:
            if chunk:
                self._pending.append(bytes(chunk))
                self._pending_size += len(chunk)
                if self._pending_size > self._max_size:
                    self._too_large()
            return []
        if self._pending:
            self._pending.append(bytes(chunk[:end]))
            complete = b"".join(self._pending)
            self._pending = []
        else:
            complete = bytes(chunk[:end])
        self._pending_size = len(chunk) - end
        if self._pending_size:
            self._pending.append(bytes(chunk[end:]))
            if self._pending_size > self._max_size:
                self._too_large()
        lines = complete.split(b"\n")
        lines.pop()  # complete ends with LF: the last item is always b""
        found = [_strip_cr(line) for line in lines if line.strip()]
        if len(complete) > self._max_size and max(map(len, found), default=0) > self._max_size:
            self._too_large()
        return found

    def close(self) -> list[bytes]:
        """End the stream (EOF); return the last line when it was not terminated by LF.

        ``feed`` after ``close`` raises ``ValueError``; calling ``close`` again returns ``[]``.
        """
        self._closed = True
        rest = b"".join(self._pending)
        self._pending = []
        self._pending_size = 0
        return [_strip_cr(rest)] if rest.strip() else []

    def _too_large(self) -> None:
        self.close()
        raise FrameTooLargeError(
            f"an NDJSON line grew past max_size={self._max_size} bytes; raise "
            "NDJSONSplitter(max_size=...) if the stream really sends documents that long",
            limit=self._max_size,
        )


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line[-1:] == b"\r" else line
