"""The one way to build without ``__init__`` or validation: on the installed pydantic, equal to
what ``model_construct`` builds; for a frozen slotted dataclass, equal to what ``__init__``
builds."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import PrivateAttr

from rxchronos._construct import constructor
from rxchronos._construct import slots_constructor
from rxchronos._errors import ArgumentTypeError
from rxchronos.graph import Checkpoint
from rxchronos.graph import EventType
from rxchronos.graph import StreamEvent


def test_it_builds_what_model_construct_builds() -> None:
    values: dict[str, Any] = {
        "type": EventType.NODE_END,
        "run_id": "r",
        "session_id": "s",
        "seq": 3,
        "node_id": "a",
        "task_id": "a:1",
        "ns": (),
        "state": {"x": 1},
        "update": {"x": 1},
        "error": None,
        "data": None,
        "timestamp": 1.5,
    }
    built = constructor(StreamEvent)(dict(values))
    reference = StreamEvent.model_construct(**values)
    assert built == reference == StreamEvent(**values)
    assert built.model_fields_set == reference.model_fields_set == set(StreamEvent.model_fields)
    assert built.model_dump_json() == reference.model_dump_json()
    assert built.__pydantic_extra__ is None and built.__pydantic_private__ is None
    with pytest.raises(pydantic.ValidationError):
        built.seq = 4  # frozen like any instance
    assert built.model_copy(update={"seq": 4}).seq == 4


def test_a_model_that_allows_extra_fields_gets_none_of_its_own() -> None:
    class Extra(BaseModel):
        model_config = ConfigDict(extra="allow")
        x: int

    make = constructor(Extra)
    first, second = make({"x": 1}), make({"x": 2})
    assert first == Extra.model_construct(x=1) == Extra(x=1)
    assert first.model_extra == {} and first.model_dump() == {"x": 1}
    first.y = 3  # type: ignore[attr-defined]  # an extra field, set later
    assert first.model_extra == {"y": 3} and second.model_extra == {}


def test_a_model_with_private_attributes_takes_their_values() -> None:
    class Private(BaseModel):
        model_config = ConfigDict(frozen=True)
        x: int
        _cache: int = PrivateAttr(default=0)

    make = constructor(Private)
    built = make({"x": 1}, {"_cache": 5})
    reference = Private.model_construct(x=1)
    assert built != reference and reference._cache == 0  # == compares private attributes too
    reference._cache = 5
    assert built == reference
    assert built.model_fields_set == {"x"} and built.model_dump() == {"x": 1}
    assert make({"x": 2}, {"_cache": 6})._cache == 6 and built._cache == 5  # not shared
    with pytest.raises(ArgumentTypeError, match="Private has private attributes"):
        make({"x": 1})


def test_the_broker_event_is_built_with_its_frame_cache() -> None:
    from datetime import UTC
    from datetime import datetime

    from rxchronos.stream import Event
    from rxchronos.stream._event import event_from_payload

    at = datetime(2026, 1, 2, tzinfo=UTC)
    built = event_from_payload(b'{"type":"t","data":[1]}', id="e-1", topic="a", timestamp=at)
    reference = Event(type="t", data=[1], id="e-1", topic="a", timestamp=at)
    assert built.model_dump() == reference.model_dump()
    assert built.model_fields_set == reference.model_fields_set
    assert built.__pydantic_private__ == {
        "_json": b'{"type":"t","data":[1]}',
        "_frame": None,
        "_named_frame": None,
        "_data_frame": None,
    }
    assert built.to_sse() == reference.to_sse()


@dataclass(frozen=True, slots=True)
class Pair:
    left: int
    right: list[int] = field(default_factory=list)


def test_slots_constructor_builds_what_init_builds() -> None:
    values = ("c1", "s", "r", 2, {"x": 1}, "next", True, "c0", 1.5, {"tasks": []})
    built = slots_constructor(Checkpoint)(*values)
    assert built == Checkpoint(*values)
    assert type(built) is Checkpoint and replace(built, step=3).step == 3
    with pytest.raises(FrozenInstanceError):
        built.step = 4  # type: ignore[misc]
    assert slots_constructor(Pair)(1, [2]) == Pair(1, [2])
    with pytest.raises(TypeError):
        slots_constructor(Pair)(1)  # no default is filled in: every field is given


def test_classes_slots_constructor_cannot_build_are_refused() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass(slots=True)
    class Mutable:
        x: int

    @dataclass(frozen=True, slots=True)
    class Computed:
        x: int
        twice: int = field(init=False, default=0)

    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError("negative")

    for cls in (NoSlots, Mutable, int):
        with pytest.raises(ArgumentTypeError, match="not a frozen dataclass with slots"):
            slots_constructor(cls)
    for cls in (Computed, Checked):
        with pytest.raises(ArgumentTypeError, match="use its __init__"):
            slots_constructor(cls)


class _Span(BaseModel):
    model_config = ConfigDict(frozen=True)
    start: int = 0
    end: int = -1
    tags: tuple[str, ...] = ()


def test_defaults_fill_the_fields_left_out_and_leave_the_given_dict_alone() -> None:
    build = constructor(_Span, defaults=True)
    values = {"start": 3, "tags": ("a",)}
    span = build(values)
    assert span == _Span(start=3, tags=("a",)) == _Span.model_construct(start=3, tags=("a",))
    assert span.end == -1
    assert span.model_fields_set == {"start", "end", "tags"}
    assert list(span.model_dump()) == ["start", "end", "tags"]  # the model's order
    values["start"] = 9  # the instance has a dict of its own
    assert span.start == 3
    assert build({"start": 1}).tags == ()


class _Open(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    x: int = 0


class _Required(BaseModel):
    model_config = ConfigDict(frozen=True)
    x: int


class _Mutable(BaseModel):
    x: int = 0


class _Factory(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[int] = pydantic.Field(default_factory=list)


class _Private(BaseModel):
    model_config = ConfigDict(frozen=True)
    x: int = 0
    _cache: str | None = PrivateAttr(default=None)


@pytest.mark.parametrize(
    ("model", "why"),
    [
        (_Mutable, "is not frozen"),
        (_Required, "fields without a default: x"),
        (_Factory, "has a default factory"),
        (_Open, "private attributes or extra fields"),
        (_Private, "private attributes or extra fields"),
    ],
)
def test_defaults_are_refused_where_they_cannot_be_shared(model: type[BaseModel], why: str) -> None:
    with pytest.raises(ArgumentTypeError, match=why):
        constructor(model, defaults=True)
