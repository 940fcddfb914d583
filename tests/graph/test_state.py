"""Read-only state values: equal to plain ones, serialisable, copyable, and truly read-only."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from rxchronos.graph import GraphError
from rxchronos.graph import ReadOnlyStateError
from rxchronos.graph._state import FrozenDict
from rxchronos.graph._state import FrozenList
from rxchronos.graph._state import freeze
from rxchronos.graph._state import freeze_mapping

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
    with pytest.raises(ReadOnlyStateError, match="read-only") as caught:
        mutate(value)
    assert isinstance(caught.value, GraphError) and isinstance(caught.value, TypeError)
    assert "return an update from the node" in str(caught.value)
    assert value == sample()


@pytest.mark.parametrize(
    ("mutate", "key", "words"),
    [
        (lambda v: v.__setitem__("items", []), "items", "cannot set key 'items'"),
        (lambda v: v.__delitem__("d"), "d", "cannot delete key 'd'"),
        (lambda v: v.pop("n"), "n", "cannot pop key 'n'"),
        (lambda v: v.setdefault("z", 1), "z", "cannot set key 'z'"),
        (lambda v: v["l"].__setitem__(0, 9), 0, "cannot set index 0"),
        (lambda v: v.update(x=1), None, "cannot call update()"),
        (lambda v: v["l"].append(1), None, "cannot call append()"),
    ],
)
def test_the_error_names_the_key_and_how_to_change_state(
    mutate: Any, key: object, words: str
) -> None:
    with pytest.raises(ReadOnlyStateError) as caught:
        mutate(sample())
    assert caught.value.key == key
    message = str(caught.value)
    assert message.startswith(f"graph state is read-only: {words}; return an update")
    if isinstance(key, str):
        assert f"return {{{key!r}: new_value}}" in message


async def test_a_node_that_mutates_its_state_fails_with_the_typed_error() -> None:
    from rxchronos.graph import NodeError
    from rxchronos.graph import Runner
    from rxchronos.graph import StateGraph

    def mutate(state: Any) -> None:
        state["items"].append(1)

    graph = StateGraph("g").add_node("a", mutate).set_entry_point("a").compile()
    with pytest.raises(NodeError) as caught:
        await Runner(graph).run("s", {"items": []})
    assert isinstance(caught.value.__cause__, ReadOnlyStateError)
    assert "ReadOnlyStateError: graph state is read-only" in caught.value.run_state.error


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
