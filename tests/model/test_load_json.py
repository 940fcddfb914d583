"""The JSON loader every parser reads chunks with: it reads what the standard library reads (a
JSON document with whitespace around it), gives the same values, and refuses the rest with
``MalformedData``, whichever of its two readers decides."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from rxchronos import ArgumentTypeError
from rxchronos.model import ProviderStreamError
from rxchronos.model import StreamParser
from rxchronos.model import load_json
from rxchronos.model._dialect import MalformedData
from rxchronos.model._types import ChatResponse

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]))
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_SPACE = st.sampled_from(["", " ", "\n", " \t\r\n "])


def stdlib(data: str) -> tuple[str, Any]:
    """What the standard library makes of ``data`` with its surrounding whitespace removed."""
    try:
        return "value", json.loads(data.strip())
    except (ValueError, RecursionError):
        return "refused", None


def ours(data: str) -> tuple[str, Any]:
    try:
        return "value", load_json(data)
    except MalformedData:
        return "refused", None


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and the types kept apart (1 is not 1.0, nor True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(value=_VALUES, before=_SPACE, after=_SPACE, ascii=st.booleans())
def test_every_json_document_reads_as_the_standard_library_reads_it(
    value: Any, before: str, after: str, ascii: bool
) -> None:
    data = before + json.dumps(value, ensure_ascii=ascii) + after
    kind, got = ours(data)
    assert kind == "value"
    assert same(got, json.loads(data))


@settings(max_examples=500, deadline=None)
@given(
    data=st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.eE+-truefalsnNIiy \t\n\\u\x00')))
    | st.text()
)
def test_any_text_is_read_or_refused_as_the_standard_library_does(data: str) -> None:
    expected_kind, expected = stdlib(data)
    kind, got = ours(data)
    assert kind == expected_kind
    assert same(got, expected)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ('"\\ud800"', "\ud800"),  # a lone surrogate escape
        ('"\ud800"', "\ud800"),  # a str holding one
        ("[" * 300 + "]" * 300, None),  # deeper than pydantic-core goes
        ('{"a": 1}\u00a0', {"a": 1}),  # Unicode whitespace after the document
        ("\u2003[1]", [1]),  # and before it
        ("NaN", None),
        ("[Infinity, -Infinity]", [math.inf, -math.inf]),
        ('{"a": 1, "a": 2}', {"a": 2}),  # the last duplicate key wins
        ("1e400", math.inf),
        ("123456789012345678901234567890", 123456789012345678901234567890),
    ],
)
def test_documents_only_the_standard_library_reads_or_that_are_easy_to_get_wrong(
    data: str, value: Any
) -> None:
    got = load_json(data)
    if value is None:
        assert same(got, json.loads(data.strip()))
    else:
        assert same(got, value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "not JSON"),
        ('{"a": 1,}', "not JSON"),
        ('{"a": 1} x', "extra data at 8"),
        ('{"a": 1}{"b": 2}', "extra data at 8"),
        ("[" * 100_000, "nested too deeply"),
        ('"\x01"', "not JSON"),
        ("\ufeff{}", "not JSON"),
    ],
)
def test_what_is_not_one_document_is_malformed_data_saying_why(data: str, message: str) -> None:
    with pytest.raises(MalformedData, match=message):
        load_json(data)


@pytest.mark.parametrize("data", [b"{}", bytearray(b"{}"), None, 5])
def test_only_text_is_loaded(data: Any) -> None:
    with pytest.raises(ArgumentTypeError, match="must be a str, got"):
        load_json(data)


class _Objects(StreamParser):
    def parse(self, event: str, data: str) -> list[ChatResponse]:
        return self.deltas({"content": str(sorted(self.load_object(data, event)))})


@pytest.mark.parametrize(
    ("data", "content"),
    [('{"b": 1, "a": 2}', "['a', 'b']"), ('{"\\ud800": 1}\u00a0', "['\\ud800']")],
)
def test_a_parser_loads_objects_through_the_same_two_readers(data: str, content: str) -> None:
    [delta] = _Objects(provider="objects").feed("message", data)
    assert delta.content == content


@pytest.mark.parametrize(
    ("event", "data", "kind", "text"),
    [
        ("message", "[1]", "malformed", "not a JSON object"),
        ("message", "{", "malformed", "not JSON"),
        ("message", '{"a": 1} 2', "malformed", "extra data"),
        ("error", "the server is on fire", "provider_error", "the server is on fire"),
        ("message", b'{"a": 1}', "malformed", "must be a str, got bytes"),
    ],
)
def test_a_parser_refuses_what_is_not_an_object(
    event: str, data: Any, kind: str, text: str
) -> None:
    with pytest.raises(ProviderStreamError, match=text) as raised:
        _Objects(provider="objects").feed(event, data)
    assert raised.value.kind == kind
