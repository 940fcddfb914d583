"""The SSE codec: the WHATWG examples, every interpretation rule, and property tests."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxchronos import FrameTooLargeError
from rxchronos import RxChronosError
from rxchronos.sse import DEFAULT_MAX_SIZE
from rxchronos.sse import NDJSONSplitter
from rxchronos.sse import ServerSentEvent
from rxchronos.sse import SSEDecoder
from rxchronos.sse import encode_comment
from rxchronos.sse import encode_event


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def data_of(*chunks: bytes) -> list[str]:
    return [event.data for event in decode(*chunks)]


def reference_decode(raw: bytes) -> list[ServerSentEvent]:
    """A literal, slow transcription of the WHATWG rules, to compare the fast decoder against."""
    text = raw.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split("\r\n|\r|\n", text)[:-1]  # the last piece is unterminated: never a line
    events: list[ServerSentEvent] = []
    data, event_type, last_id_buffer, retry = "", "", "", None
    for line in lines:
        if line == "":
            if data == "":
                event_type, retry = "", None
                continue
            events.append(
                ServerSentEvent(data[:-1], event_type or "message", last_id_buffer, retry)
            )
            data, event_type, retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, value = line.split(":", 1)
            value = value.removeprefix(" ")
        else:
            field, value = line, ""
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id" and "\0" not in value:
            last_id_buffer = value
        elif field == "retry" and value != "" and all(c in "0123456789" for c in value):
            retry = int(value)
    return events


# --- the specification's own examples -------------------------------------------------------


def test_spec_example_stock_ticker_joins_data_lines() -> None:
    assert decode(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [ServerSentEvent("YHOO\n+2\n10")]


def test_spec_example_ids_and_leading_space() -> None:
    wire = (
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n"
    )
    assert decode(wire) == [
        ServerSentEvent("first event", id="1"),
        ServerSentEvent("second event", id=""),
        ServerSentEvent(" third event", id=""),
    ]


def test_spec_example_empty_data_and_unterminated_last_block() -> None:
    assert data_of(b"data\n\ndata\ndata\n\ndata:") == ["", "\n"]


def test_spec_example_space_after_colon_is_optional() -> None:
    assert data_of(b"data:test\n\ndata: test\n\n") == ["test", "test"]


# --- line endings ------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(eol: bytes) -> None:
    wire = b"event: e" + eol + b"data: a" + eol + b"data: b" + eol + eol
    assert decode(wire) == [ServerSentEvent("a\nb", event="e")]


def test_mixed_line_endings() -> None:
    assert data_of(b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r") == ["a\nb\nc", "d"]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    assert data_of(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == ["a\nb"]


def test_cr_at_chunk_end_followed_by_other_text_is_a_lone_cr() -> None:
    assert data_of(b"data: a\r", b"\r") == ["a"]
    assert data_of(b"data: a\r", b"data: b\r\r") == ["a\nb"]


def test_cr_then_empty_chunk_then_lf() -> None:
    assert data_of(b"data: a\r", b"", b"\n", b"\r\n") == ["a"]


def test_byte_by_byte_feeding() -> None:
    wire = "id: 7\r\nevent: ü\r\ndata: 😀\r\n\r\n".encode()
    assert decode(*(wire[i : i + 1] for i in range(len(wire)))) == [
        ServerSentEvent("😀", event="ü", id="7")
    ]


# --- byte-order mark and UTF-8 ---------------------------------------------------------------


def test_one_leading_bom_is_stripped_even_when_split() -> None:
    assert data_of(b"\xef\xbb", b"\xbfdata: x\n\n") == ["x"]


def test_a_second_bom_is_not_stripped() -> None:
    # the second BOM becomes part of the field name "\ufeffdata", an unknown field
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []


def test_a_bom_later_in_the_stream_is_data() -> None:
    assert data_of(b"data: a\n\n\xef\xbb\xbfdata: b\n\ndata: \xef\xbb\xbfc\n\n") == ["a", "\ufeffc"]


def test_multibyte_character_split_across_chunks() -> None:
    wire = "data: héllo 😀\n\n".encode()
    for cut in range(len(wire)):
        assert data_of(wire[:cut], wire[cut:]) == ["héllo 😀"]


def test_invalid_utf8_becomes_replacement_character() -> None:
    assert data_of(b"data: a\xffb\xe2\x82\n\n") == ["a\ufffdb\ufffd"]


# --- fields --------------------------------------------------------------------------------------


def test_comments_are_ignored() -> None:
    assert decode(b":\n: keep-alive\n:data: x\n\n") == []
    assert data_of(b": c\ndata: x\n: c\n\n") == ["x"]


def test_field_is_split_at_the_first_colon_and_one_space_removed() -> None:
    assert data_of(b"data:  a: b:c\n\n") == [" a: b:c"]
    assert data_of(b"data:x\n\n") == ["x"]


def test_line_without_colon_is_a_field_with_empty_value() -> None:
    assert data_of(b"data\ndata\n\n") == ["\n"]


def test_field_names_are_case_sensitive_and_unknown_fields_ignored() -> None:
    assert decode(b"Data: x\nDATA: y\nfoo: bar\n\n") == []
    assert decode(b"foo: bar\nevent: e\ndata: x\n\n") == [ServerSentEvent("x", event="e")]


def test_event_type_defaults_to_message_and_resets_after_each_block() -> None:
    events = decode(b"event: a\ndata: 1\n\nevent:\ndata: 2\n\ndata: 3\n\nevent: b\n\ndata: 4\n\n")
    assert [e.event for e in events] == ["a", "message", "message", "message"]


def test_block_without_data_is_not_dispatched() -> None:
    assert decode(b"event: e\n\nretry: 5\n\nid: 1\n\n") == []


# --- ids -------------------------------------------------------------------------------------


def test_last_event_id_persists_across_events() -> None:
    events = decode(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n")
    assert [e.id for e in events] == ["1", "1", "2"]


def test_empty_id_resets_the_last_event_id() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid:\ndata: b\n\n")
    assert [e.id for e in events] == ["1", ""]
    assert decoder.last_event_id == ""


def test_id_containing_nul_is_ignored() -> None:
    events = decode(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert [e.id for e in events] == ["1", "1"]


def test_block_without_data_still_updates_last_event_id() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 5\n\n") == []
    assert decoder.last_event_id == "5"
    assert decoder.feed(b"data: x\n\n") == [ServerSentEvent("x", id="5")]


def test_id_in_an_unfinished_block_is_not_yet_the_last_event_id() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert decoder.last_event_id == "1"
    decoder.close()
    assert decoder.last_event_id == "1"


# --- retry -------------------------------------------------------------------------------------


def test_retry_only_when_all_ascii_digits() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 1500\ndata: a\n\ndata: b\n\n")
    assert [e.retry for e in events] == [1500, None]
    assert decoder.retry == 1500
    for bad in (b"retry: 10a", b"retry: -1", b"retry:", b"retry: 1 ", b"retry: \xd9\xa1", b"retry"):
        assert decoder.feed(bad + b"\ndata: c\n\n") == [ServerSentEvent("c")]
        assert decoder.retry == 1500
    decoder.feed(b"retry: 0\n\n")
    assert decoder.retry == 0


@pytest.mark.parametrize(
    ("digits", "retry"),
    [
        ("9" * 19, 10**19 - 1),
        ("18446744073709551615", 2**64 - 1),
        ("18446744073709551616", 2**64 - 1),
        ("0" * 30 + "42", 42),
        ("7" * 5000, 2**64 - 1),  # more digits than int() takes from a str
        ("1" + "0" * 100_000, 2**64 - 1),
    ],
)
def test_a_retry_of_any_length_is_clamped_to_64_bits(digits: str, retry: int) -> None:
    decoder = SSEDecoder()
    events = decoder.feed(f"retry: {digits}\ndata: a\n\n".encode())
    assert decoder.retry == retry
    assert [(e.data, e.retry) for e in events] == [("a", retry)]


def test_retry_before_any_event_is_exposed() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 3000\n")
    assert decoder.retry == 3000


# --- EOF, limits, misuse -------------------------------------------------------------------------


def test_event_not_closed_by_a_blank_line_at_eof_is_discarded() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: done\n\ndata: partial\n") == [ServerSentEvent("done")]
    assert decoder.feed(b"data: more") == []
    assert decoder.close() == []
    assert decoder.close() == []


def test_feed_after_close_is_an_error() -> None:
    decoder = SSEDecoder()
    decoder.close()
    with pytest.raises(ValueError, match="after close"):
        decoder.feed(b"data: x\n\n")


def test_feed_rejects_text_and_accepts_bytearray() -> None:
    decoder = SSEDecoder()
    with pytest.raises(TypeError, match="takes bytes, got str"):
        decoder.feed("data: x\n\n")  # type: ignore[arg-type]
    assert decoder.feed(bytearray(b"data: x\n\n")) == [ServerSentEvent("x")]  # type: ignore[arg-type]


def test_long_lines_below_the_limit_are_fine() -> None:
    payload = "x" * 1_000_000
    wire = f"data: {payload}\n\n".encode()
    pieces = [wire[i : i + 997] for i in range(0, len(wire), 997)]
    assert data_of(*pieces) == [payload]


def test_a_line_that_never_ends_is_refused_at_the_default_limit() -> None:
    decoder = SSEDecoder()
    piece = b"x" * 65536
    fed = 0
    with pytest.raises(FrameTooLargeError, match="SSE line grew past max_size=8388608") as caught:
        while fed <= DEFAULT_MAX_SIZE + len(piece):
            decoder.feed(piece)
            fed += len(piece)
    assert caught.value.limit == DEFAULT_MAX_SIZE
    assert isinstance(caught.value, RxChronosError)
    assert fed == DEFAULT_MAX_SIZE  # refused by the piece that crossed the limit
    with pytest.raises(ValueError, match="after close"):
        decoder.feed(b"\n\n")  # the decoder is closed: its buffer is freed


@pytest.mark.parametrize("split", [False, True])
def test_the_line_bound_is_exact(split: bool) -> None:
    line = b"data: " + b"y" * 10  # 16 bytes, not yet ended
    decoder = SSEDecoder(max_size=16)
    if split:
        assert decoder.feed(b"data: one\n\n" + line[:3]) == [ServerSentEvent("one")]
        assert decoder.feed(line[3:]) == []
    else:
        assert decoder.feed(line) == []
    assert decoder.feed(b"\n\n") == [ServerSentEvent("y" * 10)]
    with pytest.raises(FrameTooLargeError):
        SSEDecoder(max_size=16).feed(b"data: x\n\n" + line + b"z")  # what follows the newline


def test_an_event_whose_data_keeps_growing_is_refused() -> None:
    decoder = SSEDecoder(max_size=20)
    assert decoder.feed(b"data: 0123456789\n") == []  # 10 characters held
    assert decoder.feed(b"data: 012345678\n") == []  # 10 + 1 + 9 = 20: at the limit
    with pytest.raises(FrameTooLargeError, match="SSE event's data grew past max_size=20"):
        decoder.feed(b"data: \n")  # 21


def test_an_event_completed_in_a_later_piece_is_bounded_too() -> None:
    decoder = SSEDecoder(max_size=20)
    assert decoder.feed(b"data: 0123456789\n") == []
    with pytest.raises(FrameTooLargeError):
        decoder.feed(b"data: 0123456789\n\n")  # 21 characters, dispatched in this piece
    at_limit = SSEDecoder(max_size=21)
    assert at_limit.feed(b"data: 0123456789\n") == []
    assert at_limit.feed(b"data: 0123456789\n\n") == [ServerSentEvent("0123456789\n0123456789")]


def test_an_event_larger_than_the_limit_in_one_piece_is_refused() -> None:
    wire = b"data: aaaaaaaaaa\ndata: bbbbbbbbbb\n\n"
    with pytest.raises(FrameTooLargeError):
        SSEDecoder(max_size=20).feed(wire)
    small_events = b"data: aaaaaaaaaa\n\n" * 5  # more than the limit, but each event is under it
    assert len(SSEDecoder(max_size=20).feed(small_events)) == 5
    with pytest.raises(FrameTooLargeError):  # the large one after small ones, in the same piece
        SSEDecoder(max_size=20).feed(small_events + wire)


def test_a_refused_piece_leaves_the_resume_point_at_the_events_returned_before_it() -> None:
    huge = b"id: 3\ndata: " + b"x" * 25 + b"\n\n"
    in_one_piece = SSEDecoder(max_size=20)
    assert in_one_piece.feed(b"id: 1\nretry: 10\ndata: a\n\n") == [
        ServerSentEvent("a", id="1", retry=10)
    ]
    with pytest.raises(FrameTooLargeError):  # event 2 is completed too, but never returned
        in_one_piece.feed(b"id: 2\ndata: b\n\n" + huge + b"retry: 5\n\n")
    assert (in_one_piece.last_event_id, in_one_piece.retry) == ("1", 10)

    carried = SSEDecoder(max_size=20)
    assert carried.feed(b"id: 1\ndata: a\n\nid: 2\ndata: " + b"y" * 15 + b"\n") == [
        ServerSentEvent("a", id="1")
    ]
    with pytest.raises(FrameTooLargeError):  # the held event completed past the limit
        carried.feed(b"data: " + b"z" * 10 + b"\n\nid: 4\ndata: c\n\n")
    assert carried.last_event_id == "1"

    growing = SSEDecoder(max_size=20)
    assert growing.feed(b"id: 1\ndata: a\n\nid: 2\ndata: " + b"y" * 15 + b"\n") != []
    with pytest.raises(FrameTooLargeError):  # the held event grows past the limit
        growing.feed(b"data: " + b"z" * 10 + b"\n")
    assert growing.last_event_id == "1"


def test_no_limit_when_asked() -> None:
    decoder = SSEDecoder(max_size=None)
    for _ in range(200):
        decoder.feed(b"x" * 65536)  # 12.5 MiB, past the default
    assert decoder.feed(b"\n\n") == []  # a field named x...x: ignored


@pytest.mark.parametrize("cls", [SSEDecoder, NDJSONSplitter])
def test_bad_limits(cls: type[SSEDecoder] | type[NDJSONSplitter]) -> None:
    with pytest.raises(ValueError, match=r"max_size=\.\.\.\) must be >= 1"):
        cls(max_size=0)
    with pytest.raises(TypeError, match="takes an int or None"):
        cls(max_size=1.5)  # type: ignore[arg-type]


def test_server_sent_event_is_immutable_with_defaults() -> None:
    event = ServerSentEvent('{"a": [1]}')
    assert (event.event, event.id, event.retry) == ("message", "", None)
    assert event.json() == {"a": [1]}
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]


# --- encoder -------------------------------------------------------------------------------------


def test_encode_event_all_fields() -> None:
    wire = encode_event("a\r\nb\rc\nd", event="delta", id="9", retry=250)
    assert wire == b"event: delta\nid: 9\nretry: 250\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    assert decode(wire) == [ServerSentEvent("a\nb\nc\nd", event="delta", id="9", retry=250)]


def test_encode_empty_data_still_writes_a_data_line() -> None:
    assert encode_event("") == b"data: \n\n"
    assert decode(encode_event("")) == [ServerSentEvent("")]


def test_encode_does_not_split_on_unicode_line_separators() -> None:
    text = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg"
    assert encode_event(text).count(b"data:") == 1
    assert data_of(encode_event(text)) == [text]


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b"])
def test_encode_rejects_framing_characters_in_event_and_id(bad: str) -> None:
    with pytest.raises(ValueError, match="event must not contain CR, LF or NUL"):
        encode_event("x", event=bad)
    with pytest.raises(ValueError, match="id must not contain CR, LF or NUL"):
        encode_event("x", id=bad)


def test_encode_rejects_negative_or_non_int_retry_and_non_text_data() -> None:
    with pytest.raises(ValueError, match="retry must be >= 0"):
        encode_event("x", retry=-1)
    with pytest.raises(TypeError, match="retry must be an int"):
        encode_event("x", retry=True)
    with pytest.raises(TypeError, match="data must be a str"):
        encode_event(b"x")  # type: ignore[arg-type]


def test_encode_comment() -> None:
    assert encode_comment("ping") == b": ping\n"
    assert encode_comment() == b":\n"
    assert encode_comment("a\r\nb") == b": a\n: b\n"
    assert decode(encode_comment("a\nb") + encode_event("x")) == [ServerSentEvent("x")]


# --- properties -----------------------------------------------------------------------------------

field_text = st.text().filter(lambda s: not any(c in s for c in "\r\n\x00"))


@given(
    data=st.text(),
    event=st.none() | field_text,
    id_=st.none() | field_text,
    retry=st.none() | st.integers(min_value=0, max_value=2**63),
)
def test_decode_of_encode_is_identity(
    data: str, event: str | None, id_: str | None, retry: int | None
) -> None:
    # SSE has no escaping: CRLF and CR in data come back as LF, the one line end the format keeps
    sent = ServerSentEvent(data, event or "message", id_ or "", retry)
    normalised = sent._replace(data=data.replace("\r\n", "\n").replace("\r", "\n"))
    assert decode(encode_event(data, event=event, id=id_, retry=retry)) == [normalised]


@given(st.text().filter(lambda s: "\r" not in s))
def test_decode_of_encode_is_exact_for_text_without_cr(data: str) -> None:
    assert decode(encode_event(data)) == [ServerSentEvent(data)]


@st.composite
def wire_and_cuts(draw: st.DrawFn, source: st.SearchStrategy[bytes]) -> tuple[bytes, list[int]]:
    wire = draw(source)
    cuts = draw(st.lists(st.integers(min_value=0, max_value=len(wire)), max_size=12))
    return wire, sorted(cuts)


def pieces_of(wire: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(bounds)]


event_streams = st.lists(
    st.tuples(st.text(), st.none() | field_text, st.none() | field_text), max_size=6
).map(lambda evs: b"".join(encode_event(d, event=e, id=i) for d, e, i in evs))

sse_fragments = st.lists(
    st.sampled_from(
        [
            b"data",
            b"data:",
            b"data: ",
            b"event:",
            b"id: ",
            b"id",
            b"retry: ",
            b"12",
            b": ",
            b"x",
            b" ",
            b"\r",
            b"\n",
            b"\r\n",
            b"\x00",
            b"\xef\xbb\xbf",
            "é😀".encode(),
            b"\xe2\x82",
            b"\xff",
            b"Data:",
            b"\n\n",
        ]
    ),
    max_size=40,
).map(b"".join)


@given(wire_and_cuts(event_streams))
def test_any_split_of_encoded_events_gives_the_same_events(case: tuple[bytes, list[int]]) -> None:
    wire, cuts = case
    assert decode(*pieces_of(wire, cuts)) == decode(wire) == reference_decode(wire)


@given(wire_and_cuts(sse_fragments | st.binary(max_size=200)))
def test_any_bytes_any_split_match_the_reference_rules(case: tuple[bytes, list[int]]) -> None:
    wire, cuts = case
    assert decode(*pieces_of(wire, cuts)) == reference_decode(wire)


@given(wire_and_cuts(sse_fragments), st.integers(min_value=1, max_value=40))
def test_a_bound_refuses_only_what_is_past_it(case: tuple[bytes, list[int]], limit: int) -> None:
    """Under any split: the events are the reference's, or the error names a real excess."""
    wire, cuts = case
    decoder = SSEDecoder(max_size=limit)
    events: list[ServerSentEvent] = []
    try:
        for piece in pieces_of(wire, cuts):
            events.extend(decoder.feed(piece))
    except FrameTooLargeError:
        longest_line = max(len(line) for line in re.split(rb"\r\n|\r|\n", wire))
        longest_data = max((len(ev.data) for ev in reference_decode(wire + b"\n\n")), default=0)
        assert max(longest_line, longest_data) > limit
    else:
        assert events == reference_decode(wire)
        assert all(len(event.data) <= limit for event in events)  # nothing past it got through


# --- NDJSON --------------------------------------------------------------------------------------


def test_ndjson_splits_complete_lines_and_skips_blank_ones() -> None:
    splitter = NDJSONSplitter()
    assert splitter.feed(b'{"a":1}\r\n\n  \n{"b"') == [b'{"a":1}']
    assert splitter.feed(b":2}") == []
    assert splitter.feed(b"\n") == [b'{"b":2}']
    assert splitter.close() == []


def test_ndjson_close_returns_the_unterminated_last_line() -> None:
    splitter = NDJSONSplitter()
    assert splitter.feed(b'{"a":1}\n{"done"') == [b'{"a":1}']
    assert splitter.feed(b":true}") == []
    assert splitter.close() == [b'{"done":true}']
    with pytest.raises(ValueError, match="after close"):
        splitter.feed(b"{}\n")
    with pytest.raises(TypeError, match="takes bytes"):
        NDJSONSplitter().feed("{}\n")  # type: ignore[arg-type]


def test_ndjson_long_lines_below_the_limit_are_fine() -> None:
    line = b'{"x": "' + b"y" * 500_000 + b'"}'
    splitter = NDJSONSplitter()
    out = [piece for i in range(0, len(line), 1000) for piece in splitter.feed(line[i : i + 1000])]
    assert out + splitter.feed(b"\n") == [line]


def test_ndjson_a_line_past_the_limit_is_refused() -> None:
    splitter = NDJSONSplitter(max_size=8)
    assert splitter.feed(b'{"a":1}\r\n{"b"') == [b'{"a":1}']
    assert splitter.feed(b":22}") == []  # 8 bytes held: at the limit
    with pytest.raises(FrameTooLargeError, match="NDJSON line grew past max_size=8") as caught:
        splitter.feed(b"3")
    assert caught.value.limit == 8
    with pytest.raises(ValueError, match="after close"):
        splitter.feed(b"\n")
    with pytest.raises(FrameTooLargeError):
        NDJSONSplitter(max_size=8).feed(b'{"c":333}\n')  # a whole line in one piece
    assert NDJSONSplitter(max_size=8).feed(b'{"c":33}\r\n' * 3) == [b'{"c":33}'] * 3
    assert NDJSONSplitter().feed(b"x" * 100) == []  # the default is DEFAULT_MAX_SIZE
    with pytest.raises(FrameTooLargeError):
        NDJSONSplitter().feed(b"x" * (DEFAULT_MAX_SIZE + 1))


@given(wire_and_cuts(st.binary(max_size=200)))
def test_ndjson_any_split_gives_the_same_lines(case: tuple[bytes, list[int]]) -> None:
    wire, cuts = case
    splitter = NDJSONSplitter()
    lines = [line for piece in pieces_of(wire, cuts) for line in splitter.feed(piece)]
    lines += splitter.close()
    expected = [ln.removesuffix(b"\r") for ln in wire.split(b"\n") if ln.strip()]
    assert lines == expected


# --- starting from a known last event id (a reconnecting client) ---------------------------------


def test_a_decoder_can_start_from_a_known_last_event_id() -> None:
    decoder = SSEDecoder(last_event_id="e1-7")
    assert decoder.last_event_id == "e1-7"
    events = decoder.feed(b"data: no id line\n\nid: e1-8\ndata: new id\n\nid\ndata: reset\n\n")
    assert [(e.data, e.id) for e in events] == [
        ("no id line", "e1-7"),
        ("new id", "e1-8"),
        ("reset", ""),
    ]
    assert decoder.last_event_id == ""


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b"])
def test_a_start_id_that_no_id_line_could_carry_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="must not contain NUL, CR or LF"):
        SSEDecoder(last_event_id=bad)


def test_a_start_id_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="takes a str"):
        SSEDecoder(last_event_id=7)  # type: ignore[arg-type]
