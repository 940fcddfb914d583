"""Read-only state values: equal to plain ones, serialisable, copyable, and truly read-only."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from rxchronos.graph._state import FrozenDict, FrozenList, freeze, freeze_mapping

MUTATIONS = [
    lambda v: v["d"].__setitem__("k", 1),
    lambda v: v["d"].update(k=1),
    lambda v: v["d"].pop("a"),
    lambda v: v["d"].setdefault("z", 1),
    lambda v: v["d"].clear(),
    lambda v: v["l"].append(1),
    lambda v: v["l"].extend([1]),
    lambda v: v["l"].insert(0, 1),
    lambda v: v["l"].pop(),
    lambda v: v["l"].sort(),
    lambda v: v["l"].__setitem__(0, 9),
    lambda v: v["l"].__iadd__([1]),
    lambda v: v["l"][1].append(1),  # nested, from a tuple
]


def sample() -> FrozenDict:
    return freeze_mapping({"d": {"a": 1}, "l": [1, (2, [3])], "s": {1, 2}, "n": None})


@pytest.mark.parametrize("mutate", MUTATIONS)
def test_every_mutation_is_refused(mutate: Any) -> None:
    value = sample()
    with pytest.raises(TypeError, match="read-only"):
        mutate(value)
    assert value == sample()


def test_equal_to_plain_values_and_json_serialisable() -> None:
    value = sample()
    assert value["d"] == {"a": 1}
    assert value["l"] == [1, [2, [3]]]
    assert value["s"] == frozenset({1, 2})
    assert json.loads(json.dumps({k: v for k, v in value.items() if k != "s"})) == {
        "d": {"a": 1},
        "l": [1, [2, [3]]],
        "n": None,
    }


def test_copies_and_pickles_keep_the_type() -> None:
    value = sample()
    for clone in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert clone == value
        assert type(clone) is FrozenDict
        assert type(clone["l"]) is FrozenList


def test_plain_copies_are_mutable() -> None:
    value = sample()
    mutable = dict(value)
    mutable["x"] = 1
    items = list(value["l"])
    items.append(4)
    assert "x" not in value and len(value["l"]) == 2


def test_frozen_values_pass_through_untouched() -> None:
    value = sample()
    assert freeze(value["d"]) is value["d"]
    assert freeze_mapping(value) is value
