"""Event: validation, the wire frame, and publishing things that merely have a ``type``."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC
from datetime import datetime
from enum import StrEnum
from typing import Any

import pydantic_core
import pytest
from pydantic import BaseModel
from pydantic import ValidationError

from rxchronos.sse import SSEDecoder
from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream._event import event_from_payload
from rxchronos.stream._event import stamp_event


class Kind(StrEnum):
    NODE_END = "node_end"


class GraphLike(BaseModel):
    type: Kind
    run_id: str
    state: dict[str, Any]
    timestamp: datetime


@dataclasses.dataclass
class Tick:
    type: str
    n: int


class Plain:
    def __init__(self) -> None:
        self.type = "plain"
        self.value = 3
        self._hidden = "x"


def test_default_frame_has_no_event_line_so_onmessage_gets_it() -> None:
    event = Event(type="node_end", data={"node": "extract"}, id="e-1")
    assert event.to_sse() == b'id: e-1\ndata: {"type":"node_end","data":{"node":"extract"}}\n\n'


def test_named_frame_adds_the_type_as_event_name() -> None:
    frame = Event(type="token", data="Hi", id="e-2").to_sse(named=True)
    (decoded,) = SSEDecoder().feed(frame)
    assert (decoded.event, decoded.id) == ("token", "e-2")
    assert decoded.json() == {"type": "token", "data": "Hi"}


@pytest.mark.parametrize("reserved", ["message", "error", "open"])
def test_reserved_names_are_never_sent_as_event_names(reserved: str) -> None:
    frame = Event(type=reserved, data=None).to_sse(named=True)
    assert b"event:" not in frame
    assert SSEDecoder().feed(frame)[0].json()["type"] == reserved


def test_frames_are_encoded_once_and_shared() -> None:
    event = Event(type="a", data=[1, 2])
    assert event.to_sse() is event.to_sse()
    assert event.to_sse(named=True) is event.to_sse(named=True)


def test_data_with_newlines_stays_one_data_line() -> None:
    frame = Event(type="t", data="line1\nline2\r\n").to_sse()
    assert frame.count(b"data:") == 1
    assert SSEDecoder().feed(frame)[0].json()["data"] == "line1\nline2\r\n"


@pytest.mark.parametrize("bad", ["", "a\nb", "a\rb", "a\0b"])
def test_bad_types_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        Event(type=bad)


def test_enum_types_become_their_value() -> None:
    assert Event(type=Kind.NODE_END).type == "node_end"


def test_stamping_a_pydantic_model_keeps_its_fields_as_json_data() -> None:
    when = datetime(2024, 1, 2, tzinfo=UTC)
    source = GraphLike(type=Kind.NODE_END, run_id="r1", state={"n": 1}, timestamp=when)
    event = stamp_event(source, id="e-7", topic="s1")
    assert (event.type, event.id, event.topic, event.timestamp) == ("node_end", "e-7", "s1", when)
    assert event.data == {"run_id": "r1", "state": {"n": 1}, "timestamp": "2024-01-02T00:00:00Z"}
    wire = SSEDecoder().feed(event.to_sse())[0]
    assert json.loads(wire.data)["data"]["run_id"] == "r1"


def test_stamping_mappings_dataclasses_and_plain_objects() -> None:
    assert stamp_event({"type": "m", "x": 1}, id="1", topic=None).data == {"x": 1}
    assert stamp_event(Tick(type="tick", n=2), id="2", topic=None).data == {"n": 2}
    plain = stamp_event(Plain(), id="3", topic=None)
    assert (plain.type, plain.data) == ("plain", {"value": 3})


def test_stamping_an_event_keeps_its_topic_unless_one_is_given() -> None:
    event = Event(type="a", topic="t1")
    assert stamp_event(event, id="1", topic=None).topic == "t1"
    assert stamp_event(event, id="1", topic="t2").topic == "t2"
    assert event.id is None  # the original is never changed


@pytest.mark.parametrize("item", [42, "text", object(), {"no_type": 1}, {"type": 3}])
def test_things_without_a_string_type_are_refused_clearly(item: object) -> None:
    with pytest.raises(TypeError, match="publish"):
        stamp_event(item, id="1", topic=None)


def test_data_that_is_not_json_is_refused_at_stamping() -> None:
    with pytest.raises(TypeError, match="does not serialise to JSON"):
        stamp_event(Event(type="bad", data=object()), id="1", topic=None)


@pytest.mark.parametrize(
    "data",
    [None, "é\n\u2028", 3.5, [1, {"a": None}], {"type": "text-delta", "delta": 'say "hi"'}],
)
def test_data_frame_is_the_data_alone_cut_from_the_json_encoded_once(data: object) -> None:
    stamped = Broker().publish(Event(type="part", data=data), topic="t")
    frame = stamped.data_frame()
    assert frame == f"id: {stamped.id}\ndata: ".encode() + pydantic_core.to_json(data) + b"\n\n"
    assert stamped.data_frame() is frame  # built once, shared by every connection
    assert stamped.to_sse() != frame


def test_data_frame_of_a_payload_written_elsewhere_is_encoded_again() -> None:
    spaced = event_from_payload(
        b'{ "type": "part", "data": {"a": 1} }', id="e-1", topic=None, timestamp=datetime.now(UTC)
    )
    assert spaced.data_frame() == b'id: e-1\ndata: {"a":1}\n\n'
