"""Interrupts, resume after a pause or a failure, and time travel."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from reactivex import operators as ops

from rxchronos.graph import END
from rxchronos.graph import CheckpointNotFoundError
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import NothingToResumeError
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateGraph
from rxchronos.graph import StateSerializationError

from .helpers import approval_graph
from .helpers import assert_failed
from .helpers import chain
from .helpers import collect
from .helpers import kinds
from .helpers import linear_graph
from .helpers import loop_graph
from .helpers import record


async def test_resume_runs_the_interrupt_node_and_does_not_pause_again() -> None:
    runner = Runner(approval_graph().compile(), MemoryStore())
    paused = await runner.run("s", {})
    assert paused.status is RunStatus.PAUSED
    seen = record(runner)
    result = await runner.resume("s", update={"answer": "yes"})
    assert result.status is RunStatus.COMPLETED
    assert result.state == {"text": "hello", "answer": "yes", "approved": True, "published": True}
    assert kinds(seen) == [
        "checkpoint:review",  # the answer is saved before the node runs
        "node_start:review",
        "node_end:review",
        "checkpoint:review",
        "edge_transition:publish",
        "node_start:publish",
        "node_end:publish",
        "checkpoint:publish",
        "completed:publish",
    ]
    assert result.run_id != paused.run_id
    assert seen[1].state is not None and seen[1].state["answer"] == "yes"  # review saw the answer


async def test_stream_resume_is_cold_and_completes() -> None:
    runner = Runner(approval_graph().compile(), MemoryStore())
    await runner.run("s", {})
    events = await runner.stream_resume("s", update={"answer": "no"}).pipe(ops.to_list())
    assert events[-1].type == "completed"
    assert events[-1].state is not None and events[-1].state["published"] is False


async def test_an_interrupt_node_pauses_every_time_it_is_reached() -> None:
    def ask(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"asked": state.get("asked", 0) + 1}

    graph = (
        StateGraph("g")
        .add_interrupt_node("ask", ask)
        .set_entry_point("ask")
        .add_conditional_edge("ask", lambda s: "ask" if s["asked"] < 2 else END)
        .compile()
    )
    runner = Runner(graph, MemoryStore())
    assert (await runner.run("s", {})).status is RunStatus.PAUSED  # before the first ask
    second = await runner.resume("s")
    assert second.status is RunStatus.PAUSED and second.state["asked"] == 1  # the loop came back
    done = await runner.resume("s")
    assert done.status is RunStatus.COMPLETED and done.state["asked"] == 2


async def test_resume_after_a_failure_retries_the_failed_node_only() -> None:
    calls: list[str] = []
    broken = {"on": True}

    def step(name: str) -> Any:
        def node(state: Mapping[str, Any]) -> dict[str, Any]:
            calls.append(name)
            if name == "b" and broken["on"]:
                raise ConnectionError("flaky")
            return {name: True}

        return node

    runner = Runner(chain(*[(name, step(name)) for name in "abc"]), MemoryStore())
    with pytest.raises(NodeError):
        await runner.run("s", {})
    broken["on"] = False
    result = await runner.resume("s")
    assert calls == ["a", "b", "b", "c"]
    assert result.state == {"a": True, "b": True, "c": True}


async def test_resume_errors_are_clear() -> None:
    runner = Runner(linear_graph().compile(), MemoryStore())
    with pytest.raises(NothingToResumeError, match="no checkpoint"):
        await runner.resume("unknown")
    await runner.run("s", {})
    with pytest.raises(NothingToResumeError, match="completed"):
        await runner.resume("s")
    with pytest.raises(NothingToResumeError, match="needs checkpoints"):
        await Runner(linear_graph().compile()).resume("s")
    with pytest.raises(CheckpointNotFoundError):
        await runner.resume_from_checkpoint("nope")


async def test_resume_from_checkpoint_rewinds_the_session_and_keeps_history() -> None:
    store = MemoryStore()
    runner = Runner(loop_graph().compile(), store)
    await runner.run("s", {"limit": 3})
    history = await store.list_checkpoints("s")
    first = history[0]
    assert first.state["count"] == 1
    result = await runner.resume_from_checkpoint(first.checkpoint_id, update={"limit": 5})
    assert result.session_id == "s"
    assert result.state["count"] == 5
    after = await store.list_checkpoints("s")
    assert after[: len(history)] == history  # old history untouched
    assert after[len(history)].parent_id == first.checkpoint_id


async def test_fork_from_makes_a_new_session_and_leaves_the_original_alone() -> None:
    store = MemoryStore()
    runner = Runner(approval_graph().compile(), store)
    await runner.run("orig", {})
    paused = await store.latest("orig")
    assert paused is not None and paused.paused
    before = await store.list_checkpoints("orig")
    fork = await runner.fork_from(paused.checkpoint_id, {"answer": "yes"}, session_id="what-if")
    assert fork.session_id == "what-if"
    assert fork.state["published"] is True
    assert await store.list_checkpoints("orig") == before
    fork_history = await store.list_checkpoints("what-if")
    assert fork_history[0].parent_id == paused.checkpoint_id
    assert fork_history[0].state["answer"] == "yes"
    # the original can still be resumed its own way
    original = await runner.resume("orig", update={"answer": "no"})
    assert original.state["published"] is False


async def test_replay_from_runs_again_from_the_recorded_state() -> None:
    calls: list[str] = []

    def node(name: str) -> Any:
        def run(state: Mapping[str, Any]) -> dict[str, Any]:
            calls.append(name)
            return {name: len(calls)}

        return run

    store = MemoryStore()
    runner = Runner(chain(("a", node("a")), ("b", node("b"))), store)
    await runner.run("s", {})
    first = (await store.list_checkpoints("s"))[0]
    replay = await runner.replay_from(first.checkpoint_id)
    assert calls == ["a", "b", "b"]
    assert replay.session_id.startswith("s-fork-")
    assert replay.state == {"a": 1, "b": 3}
    assert len(await store.list_checkpoints("s")) == 2


async def test_the_resume_update_is_kept_when_the_resumed_node_fails() -> None:
    attempts: list[object] = []

    def review(state: Mapping[str, Any]) -> dict[str, Any]:
        attempts.append(state.get("answer"))
        if len(attempts) == 1:
            raise ConnectionError("reviewer service down")
        return {"approved": state["answer"] == "yes"}

    graph = chain(("draft", lambda s: {"text": "hello"}), ("review", review), interrupts={"review"})
    store = MemoryStore()
    runner = Runner(graph, store)
    await runner.run("s", {})
    with pytest.raises(NodeError):
        await runner.resume("s", update={"answer": "yes"})
    saved = await store.latest("s")
    assert saved is not None and saved.paused and saved.state["answer"] == "yes"
    result = await runner.resume("s")  # no need to ask the human again
    assert attempts == ["yes", "yes"]
    assert result.status is RunStatus.COMPLETED and result.state["approved"] is True


async def test_an_update_sqlite_cannot_store_fails_the_resume_and_the_session_stays_paused(
    tmp_path: Path,
) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        runner = Runner(approval_graph().compile(), store)
        await runner.run("s", {})
        before = await store.list_checkpoints("s")
        seen = record(runner)
        with pytest.raises(
            StateSerializationError, match=r"at state\['answer'\]\['when'\]"
        ) as info:
            await runner.resume("s", update={"answer": {"when": object()}})
        state = assert_failed(info.value.run_state, seen, "review")  # a failed run, like a node's
        assert (state.steps, state.checkpoint_id) == (0, before[-1].checkpoint_id)
        assert kinds(seen) == ["error:review"]  # nothing ran
        assert await store.list_checkpoints("s") == before
        assert (await runner.resume("s", update={"answer": "yes"})).state["published"] is True


def raw_rows(path: Path, session_id: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as raw:
        return raw.execute(
            "SELECT * FROM checkpoints WHERE session_id = ? ORDER BY seq", (session_id,)
        ).fetchall()


async def test_fork_and_replay_leave_the_original_rows_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with SQLiteStore(path) as store:
        runner = Runner(loop_graph().compile(), store)
        await runner.run("orig", {"limit": 3})
        history = await store.list_checkpoints("orig")
        before = raw_rows(path, "orig")
        assert len(before) == 3
        fork = await runner.fork_from(history[0].checkpoint_id, {"limit": 5}, session_id="f")
        replay = await runner.replay_from(history[1].checkpoint_id, session_id="r")
        assert raw_rows(path, "orig") == before
        assert (fork.state["count"], replay.state["count"]) == (5, 3)
        assert [row[1:] for row in raw_rows(path, "orig")] == [row[1:] for row in before]
        assert (await store.list_checkpoints("f"))[0].parent_id == history[0].checkpoint_id


async def test_a_resumed_step_keeps_the_task_ids_of_an_uninterrupted_run() -> None:
    def ids(events: list[Any]) -> list[str | None]:
        return [e.task_id for e in events if e.type == "node_start"]

    runner = Runner(approval_graph().compile(), MemoryStore())
    seen = record(runner)
    await runner.run("s", {})
    await runner.resume("s", update={"answer": "yes"})
    nodes = approval_graph().compile().nodes
    plain = chain(*((name, nodes[name].fn) for name in ("draft", "review", "publish")))
    reference = await collect(Runner(plain), "ref", {"answer": "yes"})
    assert ids(seen) == ids(reference) == ["draft:1", "review:2", "publish:3"]
