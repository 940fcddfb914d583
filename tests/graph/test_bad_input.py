"""Bad input at run time: each is a clear, typed error naming what was wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from rxchronos import ArgumentTypeError
from rxchronos.graph import END
from rxchronos.graph import CheckpointNotFoundError
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import NothingToResumeError
from rxchronos.graph import RoutingError
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateGraph
from rxchronos.graph import emit

from .helpers import approval_graph
from .helpers import linear_graph
from .helpers import node_error
from .helpers import one_node
from .helpers import record


@pytest.mark.parametrize(
    ("returned", "name"), [("done", "str"), ([("x", 1)], "list"), (42, "int"), ((1,), "tuple")]
)
async def test_a_node_returning_a_non_mapping_fails_naming_the_node(
    returned: object, name: str
) -> None:
    runner = Runner(one_node(lambda s: returned, node_id="bad"))
    await node_error(runner, f"node 'bad' returned {name}; a node returns a mapping", TypeError)


async def test_a_node_returning_none_changes_nothing() -> None:
    result = await Runner(one_node(lambda s: None)).run("s", {"kept": 1})
    assert result.status is RunStatus.COMPLETED and result.state == {"kept": 1}


async def test_a_node_returning_a_non_string_key_is_named() -> None:
    runner = Runner(one_node(lambda s: {7: "x"}))
    await node_error(runner, "node 'a' returned a non-string state key 7", TypeError)


def routed(route: Any, path_map: Any = None) -> Runner:
    graph = (
        StateGraph("g")
        .add_node("a", lambda s: {})
        .add_node("b", lambda s: {})
        .set_entry_point("a")
        .add_conditional_edge("a", route, path_map)
        .compile()
    )
    return Runner(graph)


@pytest.mark.parametrize("path_map", [None, {"go": "b", "stop": END}])
@pytest.mark.parametrize(
    ("answer", "shown"), [({"b": 1}, r"dict \{'b': 1\}"), (None, "NoneType None"), (1, "int 1")]
)
async def test_a_route_returning_a_non_string_fails_naming_the_node(
    answer: object, shown: str, path_map: Mapping[str, str] | None
) -> None:
    runner = routed(lambda s: answer, path_map)
    await node_error(runner, f"route of node 'a' returned {shown}; a route returns", RoutingError)


async def test_a_route_returning_an_unknown_key_names_the_path_map() -> None:
    runner = routed(lambda s: "b", {"go": "b", "stop": END})
    await node_error(
        runner, r"returned 'b', which is not in its path_map \['go', 'stop'\]", RoutingError
    )


async def test_a_route_returning_a_coroutine_is_refused_without_leaking_it() -> None:
    async def decide(state: Mapping[str, Any]) -> str:
        return "b"

    # a plain function handing back a coroutine passes add_conditional_edge; the run refuses it
    # and closes it (pytest turns a "never awaited" warning into an error)
    await node_error(routed(lambda s: decide(s)), "returned coroutine", RoutingError)


async def test_a_string_enum_is_a_valid_route_answer() -> None:
    from enum import StrEnum

    class Go(StrEnum):
        B = "b"

    result = await routed(lambda s: Go.B, {"b": "b"}).run("s", {})
    assert result.status is RunStatus.COMPLETED and result.node_id == "b"


async def test_an_in_thread_function_handing_back_a_coroutine_is_awaited() -> None:
    async def work(state: Mapping[str, Any], value: int) -> dict[str, Any]:
        return {"x": value}

    graph = one_node(lambda s: work(s, 3), in_thread=True)
    assert (await Runner(graph).run("s", {})).state == {"x": 3}


@pytest.mark.parametrize("store", ["runs.db", MemoryStore, object()])
def test_a_store_that_is_not_a_checkpoint_store_is_refused(store: object) -> None:
    with pytest.raises(TypeError, match="store must be a CheckpointStore instance"):
        Runner(linear_graph().compile(), store)  # type: ignore[arg-type]


@pytest.mark.parametrize("broker", ["topic", object()])
def test_a_broker_without_publish_is_refused(broker: object) -> None:
    with pytest.raises(TypeError, match="broker must have publish"):
        Runner(linear_graph().compile(), broker=broker)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_steps", [0, -1, True, 2.5, "10"])
def test_max_steps_must_be_a_positive_int(max_steps: object) -> None:
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        Runner(linear_graph().compile(), max_steps=max_steps)  # type: ignore[arg-type]


def test_a_graph_that_is_not_compiled_is_refused() -> None:
    with pytest.raises(
        TypeError, match=r"compiled graph \(StateGraph\(...\).compile\(\)\), got StateGraph"
    ):
        Runner(linear_graph())  # type: ignore[arg-type]


@pytest.mark.parametrize("session_id", ["", None, 3])
async def test_a_session_id_must_be_a_non_empty_string(session_id: object) -> None:
    with pytest.raises(ValueError, match="session_id must be a non-empty string"):
        await Runner(linear_graph().compile()).run(session_id, {})  # type: ignore[arg-type]


async def test_a_non_mapping_update_is_refused_before_anything_runs() -> None:
    runner = Runner(approval_graph().compile(), MemoryStore())
    await runner.run("s", {})
    for update in ("yes", [("answer", "yes")], []):
        with pytest.raises(TypeError, match="update must be a mapping or None"):
            await runner.resume("s", update=update)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="update must be a mapping or None"):
            runner.stream_resume("s", update=update)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state keys must be strings"):
        await runner.resume("s", update={1: "yes"})  # type: ignore[dict-item]
    paused = await runner.store.latest("s")  # type: ignore[union-attr]
    assert paused is not None
    with pytest.raises(TypeError, match="update must be a mapping or None"):
        await runner.fork_from(paused.checkpoint_id, "yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="update must be a mapping or None"):
        await runner.resume_from_checkpoint(paused.checkpoint_id, update=3)  # type: ignore[arg-type]
    # the session is still paused and resumable
    assert (await runner.resume("s", update={"answer": "yes"})).state["published"] is True


async def test_unknown_sessions_and_checkpoints_are_named() -> None:
    runner = Runner(linear_graph().compile(), MemoryStore())
    with pytest.raises(NothingToResumeError, match="session 'ghost' has no checkpoint"):
        await runner.resume("ghost")
    with pytest.raises(NothingToResumeError, match="session 'ghost' has no checkpoint"):
        await runner.stream_resume("ghost")
    for travel in (runner.resume_from_checkpoint, runner.fork_from, runner.replay_from):
        with pytest.raises(CheckpointNotFoundError, match="no checkpoint with id 'c-404'"):
            await travel("c-404")


@pytest.mark.parametrize("checkpoint_id", [["x"], {"a": 1}, 5, None])
@pytest.mark.parametrize("travel", ["resume_from_checkpoint", "fork_from", "replay_from"])
async def test_a_checkpoint_id_that_is_not_a_str_is_a_type_error_naming_it(
    travel: str, checkpoint_id: object
) -> None:
    class Untouched(MemoryStore):
        async def get(self, checkpoint_id: str) -> Any:
            raise AssertionError("the store was asked")

    runner = Runner(linear_graph().compile(), Untouched())
    with pytest.raises(
        ArgumentTypeError,
        match=rf"{travel}\(\) checkpoint_id must be a str .* got {type(checkpoint_id).__name__}",
    ):
        await getattr(runner, travel)(checkpoint_id)


async def test_every_way_of_resuming_a_completed_session_says_it_completed() -> None:
    store = MemoryStore()
    runner = Runner(linear_graph().compile(), store)
    await runner.run("s", {})
    last = await store.latest("s")
    assert last is not None and last.next_node is None
    with pytest.raises(NothingToResumeError, match="session 's' completed at checkpoint"):
        await runner.resume("s")
    with pytest.raises(NothingToResumeError, match="completed"):
        await runner.stream_resume("s")
    with pytest.raises(NothingToResumeError, match="completed"):
        await runner.resume_from_checkpoint(last.checkpoint_id)
    with pytest.raises(NothingToResumeError, match="completed"):
        await runner.fork_from(last.checkpoint_id, {"x": 1}, session_id="f")
    assert await store.list_checkpoints("f") == []  # nothing was written for the refused fork


async def test_a_fork_needs_a_session_of_its_own() -> None:
    store = MemoryStore()
    runner = Runner(approval_graph().compile(), store)
    await runner.run("orig", {})
    await runner.run("taken", {})
    paused = await store.latest("orig")
    assert paused is not None
    before = await store.list_checkpoints("orig")
    with pytest.raises(ValueError, match="not the checkpoint's own 'orig'"):
        await runner.fork_from(paused.checkpoint_id, {"answer": "yes"}, session_id="orig")
    with pytest.raises(ValueError, match="session 'taken' already has checkpoints"):
        await runner.fork_from(paused.checkpoint_id, {"answer": "yes"}, session_id="taken")
    with pytest.raises(ValueError, match="session_id must be a non-empty string"):
        await runner.fork_from(paused.checkpoint_id, session_id="")
    assert await store.list_checkpoints("orig") == before


async def test_a_checkpoint_of_a_node_the_graph_no_longer_has_is_named(tmp_path: Any) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        await Runner(approval_graph().compile(), store).run("s", {})
        renamed = (
            StateGraph("approval")
            .add_node("draft", lambda s: {})
            .add_interrupt_node("check", lambda s: {})
            .set_entry_point("draft")
            .add_edge("draft", "check")
            .compile()
        )
        with pytest.raises(NothingToResumeError, match="continues at node 'review', which graph"):
            await Runner(renamed, store).resume("s")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"rows": [1, object()]},
            r"emit\('progress'\): data\['rows'\]\[1\] cannot be sent as JSON",
        ),
        ({"by_id": {7: "x"}}, r"data\['by_id'\] cannot be sent as JSON: its key 7 is a int"),
    ],
)
async def test_emit_with_data_json_cannot_carry_fails_the_node(
    data: dict[str, Any], message: str
) -> None:
    def node(state: Mapping[str, Any]) -> None:
        emit("progress", data)

    runner = Runner(one_node(node))
    seen = record(runner)
    with pytest.raises(NodeError, match=message) as info:
        await runner.run("s", {})
    assert isinstance(info.value.__cause__, TypeError)
    assert [e.type for e in seen] == ["node_start", "error"]  # nothing half-sent
    with pytest.raises(TypeError, match=message):
        emit("progress", data)  # the same check outside a run
