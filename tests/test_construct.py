"""The one way to build a pydantic model without validation: on the installed pydantic, equal to
what ``model_construct`` builds."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr

from rxchronos._construct import constructor
from rxchronos.graph import EventType, StreamEvent


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


def test_models_it_cannot_build_are_refused() -> None:
    class Private(BaseModel):
        x: int
        _cache: int = PrivateAttr(default=0)

    with pytest.raises(TypeError, match="model_construct"):
        constructor(Private)
