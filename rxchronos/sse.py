"""The Server-Sent Events wire codec: an incremental WHATWG decoder and a matching encoder.

One implementation of the ``text/event-stream`` format serves both directions: reading provider
streams ([`rxchronos.model`][rxchronos.model]) and serving browsers
([`rxchronos.stream`][rxchronos.stream]). The decoder follows the `WHATWG interpretation rules
<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>`_
exactly and is the hot path of every stream, so it works on whole buffers (``bytes.rfind``, one
UTF-8 decode per batch of complete lines, ``str.split``) rather than byte by byte. What it holds
between pieces is bounded (``max_size``, [`DEFAULT_MAX_SIZE`][rxchronos.sse.DEFAULT_MAX_SIZE] unless
given): a peer that never ends a line or an event gets a
[`FrameTooLargeError`][rxchronos.FrameTooLargeError], not the reader's memory.

Ollama streams newline-delimited JSON instead; [`NDJSONSplitter`][rxchronos.sse.NDJSONSplitter] is
its incremental splitter.

Example:
    >>> from rxchronos.sse import SSEDecoder, encode_event
    >>> decoder = SSEDecoder()
    >>> wire = encode_event("hello\\nworld", event="greeting", id="1")
    >>> decoder.feed(wire[:7]) + decoder.feed(wire[7:])
    [ServerSentEvent(data='hello\\nworld', event='greeting', id='1', retry=None)]
"""

from __future__ import annotations

import json
import sys
from itertools import islice
from typing import Any
from typing import NamedTuple

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import FrameTooLargeError
from rxchronos._errors import InvalidArgumentError
from rxchronos._ndjson import DEFAULT_MAX_SIZE
from rxchronos._ndjson import NDJSONSplitter
from rxchronos._ndjson import check_max_size

__all__ = [
    "DEFAULT_MAX_SIZE",
    "FrameTooLargeError",
    "NDJSONSplitter",
    "SSEDecoder",
    "ServerSentEvent",
    "encode_comment",
    "encode_event",
]


class ServerSentEvent(NamedTuple):
    """One dispatched event of a ``text/event-stream``. Immutable.

    Attributes:
        data: the event's data: its ``data:`` lines joined with ``"\\n"``.
        event: the event type; ``"message"`` when the block had no (or an empty) ``event:`` line.
        id: the stream's last event id when this event was dispatched (``""`` when none was set).
        retry: the reconnection time in milliseconds given in this event's block, else ``None``.

    Example:
        >>> ev = ServerSentEvent(data='{"n": 1}', id="7")
        >>> ev.event, ev.json()
        ('message', {'n': 1})
    """

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None

    def json(self) -> Any:
        """Parse `data` as JSON.

        Raises:
            json.JSONDecodeError: when the data is not JSON (a ``ValueError``).
        """
        return json.loads(self.data)


_MAX_RETRY = 2**64 - 1
"""The largest reconnection time the decoder reports, in milliseconds: a longer ``retry:`` value
(it may have thousands of digits) is clamped to it."""

_new_event = tuple.__new__  # builds a ServerSentEvent without the keyword-argument machinery


class SSEDecoder:
    """Incremental ``text/event-stream`` decoder following the WHATWG rules.

    Feed it the raw bytes of a response in pieces of any size; it returns the events completed by
    each piece. Lines end in CRLF, LF or a lone CR (also when a CR ends one piece and its LF starts
    the next); one leading byte-order mark is stripped; each complete line is decoded as UTF-8 with
    invalid bytes replaced by U+FFFD, so a character split across pieces is fine. A ``retry:``
    value counts only when it is all ASCII digits; one above ``2**64 - 1`` milliseconds (of any
    length, also thousands of digits) is clamped to ``2**64 - 1``, never an error.

    Args:
        last_event_id: the last event id to start from, e.g. the one a client reconnects with,
            so that events without an ``id:`` line carry it (as a browser's ``EventSource``
            keeps it across reconnections).
        max_size: the most the decoder holds for one line not yet ended (in bytes) and for one
            event's data (in characters); more raises
            [`FrameTooLargeError`][rxchronos.FrameTooLargeError] from
            [`feed`][rxchronos.sse.SSEDecoder.feed] and closes the decoder. ``None`` for no limit.

    Raises:
        TypeError: when ``last_event_id`` is not a string, or ``max_size`` not an int or None.
        ValueError: when ``last_event_id`` contains NUL, CR or LF (no ``id:`` line can set it),
            or ``max_size`` is below 1.

    Example:
        >>> decoder = SSEDecoder()
        >>> decoder.feed(b": keep-alive\\r\\nid: 42\\r\\ndata: {\\"a\\"")
        []
        >>> decoder.feed(b": 1}\\r\\n\\r\\n")
        [ServerSentEvent(data='{"a": 1}', event='message', id='42', retry=None)]
        >>> decoder.last_event_id
        '42'
        >>> decoder.close()
        []
        >>> from rxchronos import FrameTooLargeError
        >>> try:
        ...     SSEDecoder(max_size=8).feed(b"data: no end in sight")
        ... except FrameTooLargeError as exc:
        ...     print(exc.limit, str(exc).split(";")[0])
        8 an SSE line grew past max_size=8 bytes without a line ending
    """

    __slots__ = (
        "_block_retry",
        "_closed",
        "_data",
        "_data_counted",
        "_data_size",
        "_event",
        "_id_buffer",
        "_last_event_id",
        "_max_size",
        "_pending",
        "_pending_size",
        "_resume",
        "_retry",
        "_skip_lf",
        "_started",
    )

    def __init__(self, last_event_id: str = "", *, max_size: int | None = DEFAULT_MAX_SIZE) -> None:
        if not isinstance(last_event_id, str):
            raise ArgumentTypeError(
                f"SSEDecoder(last_event_id=...) takes a str, got {type(last_event_id).__name__}"
            )
        if "\x00" in last_event_id or "\r" in last_event_id or "\n" in last_event_id:
            raise InvalidArgumentError(
                "SSEDecoder(last_event_id=...) must not contain NUL, CR or LF, "
                f"got {last_event_id!r}"
            )
        check_max_size("SSEDecoder", max_size)
        self._max_size = sys.maxsize if max_size is None else max_size
        self._pending: list[bytes] = []  # bytes of the current, not yet terminated line
        self._pending_size = 0
        self._skip_lf = (
            False  # the last piece ended in CR: an LF starting the next one belongs to it
        )
        self._started = False  # a first complete line was seen (BOM handling is done)
        self._closed = False
        self._data: list[str] = []  # the data lines of the current block
        self._data_size = 0  # the size of the data lines held between feeds (counted so far)
        self._data_counted = 0  # how many of them are counted in _data_size
        self._event = ""  # the event type buffer
        self._block_retry: int | None = None  # a valid retry field in the current block
        self._id_buffer = last_event_id  # the last event id buffer (persists across blocks)
        self._last_event_id = last_event_id  # the last event id as of the last dispatch
        self._retry: int | None = None
        self._resume: tuple[str, int | None] = (last_event_id, None)
        """``last_event_id`` and ``retry`` as of the events last returned, taken where a piece
        may turn out too large (see `_refuse_event`)."""

    @property
    def last_event_id(self) -> str:
        """The last event id as of the last dispatched block (``""`` when none was set).

        This is what a client sends back as ``Last-Event-ID`` when it reconnects. A block without
        data still updates it; an ``id`` in a block not yet closed by a blank line does not.
        """
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The latest valid reconnection time (``retry:`` field) in milliseconds, or ``None``.

        At most ``2**64 - 1``: a larger value is clamped to it.
        """
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next piece of the stream; return the events it completes, in order.

        Args:
            chunk: the next bytes, of any length (also empty).

        Raises:
            TypeError: when ``chunk`` is not bytes.
            ValueError: after [`close`][rxchronos.sse.SSEDecoder.close].
            FrameTooLargeError: when a line not yet ended or an event's data grows past
                ``max_size``. The decoder is closed then; none of the events the piece
                completed is returned, and ``last_event_id`` and ``retry`` are as of the events
                returned before it.
        """
        if type(chunk) is not bytes:
            chunk = self._coerce(chunk)
        if self._closed:
            raise InvalidArgumentError(
                "SSEDecoder.feed() called after close(); create a new decoder"
            )
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == 10:  # the LF of a CRLF split across pieces
                chunk = chunk[1:]
        lf = chunk.rfind(b"\n")
        cr = chunk.rfind(b"\r")
        end = lf if lf > cr else cr
        if end < 0:
            if chunk:
                self._pending.append(chunk)
                self._pending_size += len(chunk)
                if self._pending_size > self._max_size:
                    self._too_large("an SSE line grew past max_size={} bytes without a line ending")
            return []
        end += 1
        size = len(chunk)
        if cr == size - 1:
            self._skip_lf = True
        if self._pending:
            self._pending.append(chunk[:end])
            complete = b"".join(self._pending)
            self._pending = [chunk[end:]] if end < size else []
            self._pending_size = size - end
        elif end == size:
            complete = chunk
        else:
            complete = chunk[:end]
            self._pending = [chunk[end:]]
            self._pending_size = size - end
        big = False  # the complete lines are more than max_size together: see _interpret
        if len(complete) + self._pending_size > self._max_size:  # rare: one test for both
            self._resume = (self._last_event_id, self._retry)
            if self._pending_size > self._max_size:
                self._too_large("an SSE line grew past max_size={} bytes without a line ending")
            big = len(complete) > self._max_size
        text = complete.decode("utf-8", "replace")
        if cr >= 0:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        lines = text.split("\n")
        lines.pop()  # the text ends with a line terminator: the last item is always ""
        return self._interpret(lines, big)

    def close(self) -> list[ServerSentEvent]:
        """End the stream (EOF) and return the events still to dispatch.

        Under the WHATWG rules that is always none: an event not closed by a blank line before EOF
        is discarded, and so is an unterminated last line. The list is returned so that a call site
        reads like [`feed`][rxchronos.sse.SSEDecoder.feed] (and like
        [`NDJSONSplitter.close`][rxchronos.sse.NDJSONSplitter.close]). ``feed`` after ``close``
        raises ``ValueError``; calling ``close`` again is harmless.
        """
        self._closed = True
        self._pending = []
        self._pending_size = 0
        self._data = []
        self._data_size = self._data_counted = 0
        self._event = ""
        self._block_retry = None
        return []

    def _too_large(self, message: str) -> None:
        limit = self._max_size
        self.close()
        raise FrameTooLargeError(
            message.format(limit)
            + "; raise SSEDecoder(max_size=...) if the stream really sends lines that long",
            limit=limit,
        )

    @staticmethod
    def _coerce(chunk: object) -> bytes:
        if isinstance(chunk, bytearray | memoryview):
            return bytes(chunk)
        raise ArgumentTypeError(
            f"SSEDecoder.feed() takes bytes, got {type(chunk).__name__}; "
            "pass the raw response bytes (e.g. from resp.content.iter_any())"
        )

    def _interpret(self, lines: list[str], big: bool) -> list[ServerSentEvent]:
        """Apply the interpretation rules to complete lines (state kept in locals for speed).

        ``big``: the lines are more than ``max_size`` together, so an event's data may be too.
        Otherwise only data carried in from earlier pieces can make an event too large: the
        sizes are checked once the lines are read (see `_bound`), not once per event.
        """
        events: list[ServerSentEvent] = []
        data = self._data
        check = big or bool(data)
        event = self._event
        block_retry = self._block_retry
        id_buffer = self._id_buffer
        for line in lines:
            if not line:  # a blank line dispatches the block
                self._last_event_id = id_buffer
                if data:
                    events.append(
                        _new_event(
                            ServerSentEvent,
                            (
                                data[0] if len(data) == 1 else "\n".join(data),
                                event or "message",
                                id_buffer,
                                block_retry,
                            ),
                        )
                    )
                    data = []
                event = ""
                block_retry = None
                continue
            if line[:6] == "data: ":  # the common case first
                data.append(line[6:])
                continue
            colon = line.find(":")
            if colon == 0:
                continue  # a comment
            if colon < 0:
                field, value = line, ""
            else:
                field = line[:colon]
                value = (
                    line[colon + 2 :] if line[colon + 1 : colon + 2] == " " else line[colon + 1 :]
                )
            if field == "data":
                data.append(value)
            elif field == "event":
                event = value
            elif field == "id":
                if "\x00" not in value:
                    id_buffer = value
            elif field == "retry":
                if value.isascii() and value.isdigit():
                    block_retry = self._retry = (
                        int(value) if len(value) < 20 else _clamp_retry(value)
                    )
            # any other field is ignored
        if check and events:  # rare: data carried in from earlier pieces, or a huge piece
            self._bound(events, big)
        if data:
            self._hold(data)
        self._data = data
        self._event = event
        self._block_retry = block_retry
        self._id_buffer = id_buffer
        return events

    def _bound(self, events: list[ServerSentEvent], big: bool) -> None:
        """Bound the data of the events a piece dispatched: all of them when the piece alone was
        larger than ``max_size``, else the first, the one that took the data carried in."""
        for dispatched in events if big else events[:1]:
            if len(dispatched.data) > self._max_size:
                self._refuse_event()
        self._data_size = self._data_counted = 0  # what was carried in is dispatched

    def _hold(self, data: list[str]) -> None:
        """Count the data lines the current event keeps past this piece; bound them."""
        size = self._data_size + sum(
            len(line) + 1 for line in islice(data, self._data_counted, None)
        )
        self._data_size, self._data_counted = size, len(data)
        if size - 1 > self._max_size:
            self._refuse_event()
        self._resume = (self._last_event_id, self._retry)  # where the next piece starts

    def _refuse_event(self) -> None:
        """An event's data is past ``max_size``: none of the events this piece completed is
        returned, so ``last_event_id`` and ``retry`` go back to where they were before it (a
        client resuming from them asks for those events again)."""
        self._last_event_id, self._retry = self._resume
        self._too_large("an SSE event's data grew past max_size={} characters")


def _clamp_retry(digits: str) -> int:
    """A ``retry:`` value of 20 digits or more, as an int of at most `_MAX_RETRY` (``int()``
    refuses a string of thousands of digits; leading zeros do not count)."""
    digits = digits.lstrip("0")
    return min(int(digits), _MAX_RETRY) if len(digits) <= 20 else _MAX_RETRY


def _split_lines(text: str) -> list[str]:
    """Split on CRLF, LF and lone CR only (``str.splitlines`` also splits on U+2028 and more)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _check_field(name: str, value: str) -> None:
    if not isinstance(value, str):
        raise ArgumentTypeError(f"encode_event(): {name} must be a str, got {type(value).__name__}")
    if "\r" in value or "\n" in value or "\x00" in value:
        raise InvalidArgumentError(
            f"encode_event(): {name} must not contain CR, LF or NUL, got {value!r}; "
            "these would break the event's framing"
        )


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """Encode one event as ``text/event-stream`` bytes, ending in the blank line that dispatches it.

    ``data`` becomes one ``data:`` line per line (split on CRLF, LF and CR only), always at least
    one, so [`SSEDecoder`][rxchronos.sse.SSEDecoder] gives back exactly ``data``.

    Args:
        data: the event's data; any text.
        event: the event type (``event:`` line); omitted when ``None``.
        id: the event id (``id:`` line); ``""`` resets the client's last event id.
        retry: the reconnection time in milliseconds (``retry:`` line).

    Raises:
        ValueError: when ``event`` or ``id`` contains CR, LF or NUL, or ``retry`` is negative.
        TypeError: when an argument has the wrong type.

    Example:
        >>> encode_event("a\\nb", event="delta", id="3")
        b'event: delta\\nid: 3\\ndata: a\\ndata: b\\n\\n'
    """
    if not isinstance(data, str):
        raise ArgumentTypeError(f"encode_event(): data must be a str, got {type(data).__name__}")
    parts: list[str] = []
    if event is not None:
        _check_field("event", event)
        parts.append(f"event: {event}\n")
    if id is not None:
        _check_field("id", id)
        parts.append(f"id: {id}\n")
    if retry is not None:
        if type(retry) is not int:
            raise ArgumentTypeError(
                f"encode_event(): retry must be an int, got {type(retry).__name__}"
            )
        if retry < 0:
            raise InvalidArgumentError(
                f"encode_event(): retry must be >= 0 milliseconds, got {retry}"
            )
        parts.append(f"retry: {retry}\n")
    if "\n" in data or "\r" in data:
        parts.extend(f"data: {line}\n" for line in _split_lines(data))
    else:
        parts.append(f"data: {data}\n")
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    """Encode a comment (``: text``), e.g. a heartbeat that keeps an idle connection open.

    Clients ignore comments. A multi-line ``text`` becomes one comment line per line.

    Example:
        >>> encode_comment("ping")
        b': ping\\n'
    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"encode_comment(): text must be a str, got {type(text).__name__}")
    if not text:
        return b":\n"
    return "".join(f": {line}\n" for line in _split_lines(text)).encode("utf-8")
