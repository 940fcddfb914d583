"""Incremental splitter for newline-delimited JSON (Ollama's native streaming format).

Re-exported from :mod:`rxchronos.sse` as :class:`~rxchronos.sse.NDJSONSplitter`.
"""

from __future__ import annotations

__all__ = ["NDJSONSplitter"]


class NDJSONSplitter:
    """Split a byte stream into complete, non-blank lines, incrementally, with no length limit.

    Lines end in LF (a CR before it is dropped too). Blank lines are skipped. Each returned line is
    one JSON document, ready for ``json.loads``.

    Example:
        >>> splitter = NDJSONSplitter()
        >>> splitter.feed(b'{"a": 1}\\n{"b"')
        [b'{"a": 1}']
        >>> splitter.feed(b': 2}\\r\\n\\n{"c": 3}')
        [b'{"b": 2}']
        >>> splitter.close()
        [b'{"c": 3}']
    """

    __slots__ = ("_closed", "_pending")

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # pieces of the current, unterminated line
        self._closed = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add the next piece of the stream; return the lines it completes, in order.

        Raises:
            TypeError: when ``chunk`` is not bytes.
            ValueError: after :meth:`close`.
        """
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"NDJSONSplitter.feed() takes bytes, got {type(chunk).__name__}")
        if self._closed:
            raise ValueError("NDJSONSplitter.feed() called after close(); create a new splitter")
        end = chunk.rfind(b"\n") + 1
        if not end:
            if chunk:
                self._pending.append(bytes(chunk))
            return []
        if self._pending:
            self._pending.append(bytes(chunk[:end]))
            complete = b"".join(self._pending)
            self._pending = []
        else:
            complete = bytes(chunk[:end])
        if end < len(chunk):
            self._pending.append(bytes(chunk[end:]))
        lines = complete.split(b"\n")
        lines.pop()  # complete ends with LF: the last item is always b""
        return [_strip_cr(line) for line in lines if line.strip()]

    def close(self) -> list[bytes]:
        """End the stream (EOF); return the last line when it was not terminated by LF.

        ``feed`` after ``close`` raises ``ValueError``; calling ``close`` again returns ``[]``.
        """
        self._closed = True
        rest = b"".join(self._pending)
        self._pending = []
        return [_strip_cr(rest)] if rest.strip() else []


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line[-1:] == b"\r" else line
