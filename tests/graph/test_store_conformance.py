"""One contract, three stores: MemoryStore, SQLiteStore and PostgresStore pass the same tests.

Every store: the checkpoint contract, runs that checkpoint after every node, resume, time travel
(resume from a checkpoint, fork, replay). The durable stores (SQLite, PostgreSQL) also: typed
errors for state JSON cannot hold, for damaged rows, for a newer schema, for a closed store; and
reopening. The shared stores (the :class:`LeaseStore` ones) also: session leases and the
cancel flag, one run per session across workers (each worker here is a store instance of its own,
with its own connections), and a cancel from another worker.
"""

from __future__ import annotations

import asyncio
import operator
import sqlite3
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from contextlib import asynccontextmanager
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rxchronos import ArgumentTypeError
from rxchronos.graph import Checkpoint
from rxchronos.graph import CheckpointStore
from rxchronos.graph import CheckpointStoreError
from rxchronos.graph import LeaseStore
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import PendingWritesStore
from rxchronos.graph import PostgresStore
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import Send
from rxchronos.graph import SessionBusyError
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateGraph
from rxchronos.graph import StateSerializationError

from .helpers import Hang
from .helpers import approval_graph
from .helpers import assert_failed
from .helpers import chain
from .helpers import linear_graph
from .helpers import loop_graph
from .helpers import one_node
from .helpers import record as record_events

StoreOpener = Callable[[], AbstractAsyncContextManager[Any]]


@dataclass
class Backend:
    """A store kind under test: ``open()`` gives another store on the same data (a second
    worker); ``raw(sql, params)`` runs SQL on the data directly (durable stores only)."""

    name: str
    open: StoreOpener
    saved_writes: Callable[[], Awaitable[list[tuple[str, int]]]]
    """Every pending write the store holds, as ``(checkpoint_id, task)``, sorted."""
    raw: Callable[[str, tuple[Any, ...]], Awaitable[None]] | None = None


def make_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if name == "memory":
        shared = MemoryStore()

        @asynccontextmanager
        async def same_memory() -> AsyncIterator[MemoryStore]:
            yield shared

        async def memory_writes() -> list[tuple[str, int]]:
            return sorted((cid, task) for cid, saved in shared._writes.items() for task in saved)

        return Backend("memory", same_memory, memory_writes)
    if name == "sqlite":
        path = tmp_path / "runs.db"

        async def sqlite_raw(statement: str, params: tuple[Any, ...]) -> None:
            with closing(sqlite3.connect(path)) as raw, raw:
                raw.execute(statement.replace("%s", "?"), params)

        async def sqlite_writes() -> list[tuple[str, int]]:
            with closing(sqlite3.connect(path)) as raw:
                query = "SELECT checkpoint_id, task FROM pending_writes ORDER BY 1, 2"
                return [(cid, task) for cid, task in raw.execute(query)]

        return Backend("sqlite", lambda: SQLiteStore(path), sqlite_writes, sqlite_raw)
    dsn: str = request.getfixturevalue("postgres_dsn")
    schema: str = request.getfixturevalue("pg_schema")

    async def postgres_raw(statement: str, params: tuple[Any, ...]) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as raw:
            await raw.execute(f'SET search_path TO "{schema}"')
            await raw.execute(statement, params)  # type: ignore[arg-type]

    async def postgres_writes() -> list[tuple[str, int]]:
        import psycopg

        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as raw:
            await raw.execute(f'SET search_path TO "{schema}"')
            rows = await raw.execute("SELECT checkpoint_id, task FROM pending_writes ORDER BY 1, 2")
            return [(cid, task) for cid, task in await rows.fetchall()]

    return Backend(
        "postgres", lambda: PostgresStore(dsn, schema=schema), postgres_writes, postgres_raw
    )


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Every store."""
    return make_backend(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The stores that outlive the process and that several workers share (``LeaseStore``s);
    MemoryStore belongs to one process."""
    return make_backend(request.param, request, tmp_path)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Any]:
    async with backend.open() as opened:
        yield opened


@pytest.fixture
async def db_store(db: Backend) -> AsyncIterator[Any]:
    async with db.open() as opened:
        assert isinstance(opened, LeaseStore)
        yield opened


def durable(backend: Backend) -> Callable[[str, tuple[Any, ...]], Awaitable[None]]:
    assert backend.raw is not None
    return backend.raw


def checkpoint(
    cid: str, session: str, step: int, *, parent: str | None = None, **state: object
) -> Checkpoint:
    return Checkpoint(cid, session, "run", step, state, "next", False, parent, 1.5)


# --- every store ---------------------------------------------------------------------------


async def test_store_contract(store: CheckpointStore) -> None:
    assert isinstance(store, CheckpointStore)
    assert await store.latest("s") is None
    assert await store.list_checkpoints("s") == []
    assert await store.get("c1") is None
    await store.put(checkpoint("c1", "s", 1, x=1))
    await store.put(checkpoint("c2", "other", 1, y=2))
    await store.put(checkpoint("c3", "s", 2, x=2, nested={"a": [1, 2]}))
    assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == ["c1", "c3"]
    latest = await store.latest("s")
    assert latest == checkpoint("c3", "s", 2, x=2, nested={"a": [1, 2]})
    got = await store.get("c2")
    assert got is not None and got.session_id == "other" and got.state == {"y": 2}


@pytest.mark.parametrize("given", [[], {"a": 1}, 5, None, b"s"])
async def test_an_id_that_is_not_a_str_is_a_type_error_before_any_io(
    store: Any, given: object
) -> None:
    await store.put(checkpoint("c1", "s", 1, x=1))
    calls = [
        (store.get, "checkpoint_id"),
        (store.latest, "session_id"),
        (store.list_checkpoints, "session_id"),
        (store.get_writes, "checkpoint_id"),
    ]
    for call, name in calls:
        with pytest.raises(ArgumentTypeError, match=f"{name} must be a str, got "):
            await call(given)
    assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == ["c1"]


async def test_runs_resume_through_every_store(store: CheckpointStore) -> None:
    runner = Runner(approval_graph().compile(), store)
    await runner.run("s", {"note": "ünïcode"})
    result = await runner.resume("s", update={"answer": "yes"})
    assert result.state["published"] is True
    assert result.state["note"] == "ünïcode"


async def test_checkpoints_after_every_node_with_next_node_and_parents(
    store: CheckpointStore,
) -> None:
    await Runner(linear_graph().compile(), store).run("s", {})
    history = await store.list_checkpoints("s")
    assert [(c.step, c.next_node, c.paused) for c in history] == [
        (1, "transform", False),
        (2, "load", False),
        (3, None, False),
    ]
    first, second, _ = history
    assert [c.parent_id for c in history] == [None, first.checkpoint_id, second.checkpoint_id]
    assert history[0].state == {"rows": [1, 2, 3]}
    assert await store.get(history[1].checkpoint_id) == history[1]


async def test_time_travel_resume_fork_and_replay(store: CheckpointStore) -> None:
    runner = Runner(loop_graph().compile(), store)
    await runner.run("orig", {"limit": 3})
    history = await store.list_checkpoints("orig")
    assert [c.state["count"] for c in history] == [1, 2, 3]
    fork = await runner.fork_from(history[0].checkpoint_id, {"limit": 5}, session_id="f")
    replay = await runner.replay_from(history[1].checkpoint_id, session_id="r")
    assert (fork.state["count"], replay.state["count"]) == (5, 3)
    assert await store.list_checkpoints("orig") == history  # forks leave the original alone
    assert (await store.list_checkpoints("f"))[0].parent_id == history[0].checkpoint_id
    rewound = await runner.resume_from_checkpoint(history[0].checkpoint_id, update={"limit": 4})
    assert (rewound.session_id, rewound.state["count"]) == ("orig", 4)
    after = await store.list_checkpoints("orig")
    assert after[: len(history)] == history
    assert after[len(history)].parent_id == history[0].checkpoint_id


async def test_pending_writes_contract(store: Any) -> None:
    assert isinstance(store, PendingWritesStore)
    assert await store.get_writes("c1") == {}
    await store.put_writes("c1", 2, {"log": ["c"], "n": {"deep": [1, "é"]}})
    await store.put_writes("c1", 0, {"log": ["a"]})
    await store.put_writes("c2", 0, {"other": True})
    await store.put_writes("c1", 0, {"log": ["a2"]})  # a task saved again replaces its writes
    saved = await store.get_writes("c1")
    assert saved == {0: {"log": ["a2"]}, 2: {"log": ["c"], "n": {"deep": [1, "é"]}}}
    assert list(saved) == [0, 2]
    with pytest.raises(TypeError):
        saved[2]["log"].append("x")  # type: ignore[attr-defined]  # read-only, like states
    assert await store.get_writes("c2") == {0: {"other": True}}
    with pytest.raises(TypeError, match="task must be the task's number in its step"):
        await store.put_writes("c1", "0", {})
    with pytest.raises(ValueError, match="task must be 0 or more"):
        await store.put_writes("c1", -1, {})
    with pytest.raises(TypeError, match="writes must be a mapping with str keys, got list"):
        await store.put_writes("c1", 1, [("x", 1)])
    with pytest.raises(TypeError, match="checkpoint_id must be a str"):
        await store.put_writes(None, 1, {})


async def test_a_checkpoint_deletes_its_parents_pending_writes_in_its_own_session(
    backend: Backend, store: Any
) -> None:
    await store.put(checkpoint("c1", "s", 1))
    await store.put(checkpoint("k1", "keep", 1))
    for cid in ("c1", "k1", "nowhere"):
        await store.put_writes(cid, 0, {"log": [cid]})
        await store.put_writes(cid, 1, {"log": [cid]})
    await store.put(checkpoint("c2", "s", 2, parent="c1"))  # the step after c1 is done
    assert await store.get_writes("c1") == {}
    assert await backend.saved_writes() == [("k1", 0), ("k1", 1), ("nowhere", 0), ("nowhere", 1)]
    # a fork's first checkpoint: its parent belongs to another session, which keeps its writes
    await store.put(checkpoint("f1", "fork", 1, parent="k1"))
    await store.put(checkpoint("o1", "other", 1, parent="nowhere"))  # a parent the store lacks
    assert await backend.saved_writes() == [("k1", 0), ("k1", 1), ("nowhere", 0), ("nowhere", 1)]
    assert [c.checkpoint_id for c in await store.list_checkpoints("s")] == ["c1", "c2"]


class Flaky:
    """Nodes for a parallel step (a, b, c) whose first run fails in b after a finished, while c is
    still running (and whose first ``b_fails`` calls of b fail); every call is counted."""

    def __init__(self, b_fails: int = 1) -> None:
        self.calls: list[str] = []
        self.a_done = asyncio.Event()
        self.b_fails = b_fails

    def graph(self, *, fail: bool) -> Any:
        async def a(state: Mapping[str, Any]) -> dict[str, Any]:
            self.calls.append("a")
            self.a_done.set()
            return {"log": ["a"], "a": state["topic"]}

        async def b(state: Mapping[str, Any]) -> dict[str, Any]:
            self.calls.append("b")
            if fail and self.calls.count("b") <= self.b_fails:
                await self.a_done.wait()  # a has returned: its writes are being saved
                raise ConnectionError("search backend down")
            return {"log": ["b"]}

        async def c(state: Mapping[str, Any]) -> dict[str, Any]:
            self.calls.append("c")
            if fail and self.calls.count("c") == 1:
                await asyncio.Event().wait()  # still running when b fails: cancelled
            return {"log": ["c"]}

        return (
            StateGraph("flaky", reducers={"log": operator.add})
            .add_node("plan", lambda s: {"log": ["plan"]})
            .add_node("a", a)
            .add_node("b", b)
            .add_node("c", c)
            .add_node("merge", lambda s: {"merged": "+".join(s["log"])})
            .set_entry_point("plan")
            .add_edge("plan", "a")
            .add_edge("plan", "b")
            .add_edge("plan", "c")
            .add_edge(["a", "b", "c"], "merge")
            .compile()
        )


async def failed_step(store: Any, b_fails: int = 1) -> tuple[Flaky, Runner, Any]:
    """A run of the `Flaky` graph that failed in its parallel step: the nodes, the runner, and
    the checkpoint the step continues from."""
    nodes = Flaky(b_fails=b_fails)
    runner = Runner(nodes.graph(fail=True), store)
    with pytest.raises(NodeError):
        await runner.run("s", {"topic": "sky", "log": []})
    return nodes, runner, await store.latest("s")


async def test_a_failed_branch_keeps_the_finished_writes_and_resume_runs_the_rest(
    backend: Backend, store: Any
) -> None:
    nodes = Flaky()
    runner = Runner(nodes.graph(fail=True), store)
    seen = record_events(runner)
    with pytest.raises(NodeError, match="search backend down") as caught:
        await runner.run("s", {"topic": "sky", "log": []})
    assert (caught.value.node_id, caught.value.task_id, caught.value.ns) == ("b", "b:2", ())
    assert nodes.calls == ["a", "b", "c"]
    latest = await store.latest("s")
    assert latest is not None and latest.next_node == "a"  # the step's checkpoint, unchanged
    assert await store.get_writes(latest.checkpoint_id) == {0: {"log": ["a"], "a": "sky"}}
    assert [e.type for e in seen][-1] == "error"

    again = Runner(nodes.graph(fail=True), store)  # another worker, or a restart
    seen = record_events(again)
    resumed = await again.resume("s")
    assert nodes.calls[3:] == ["b", "c"]  # a finished before: it did not run again
    assert [e.node_id for e in seen if e.type == "node_start"] == ["b", "c", "merge"]
    step = next(e for e in seen if e.type == "step_end")
    assert step.data == {"step": 2, "task_ids": ["a:2", "b:2", "c:2"]}

    reference = await Runner(Flaky().graph(fail=False), MemoryStore()).run(
        "ref", {"topic": "sky", "log": []}
    )
    assert resumed.status is RunStatus.COMPLETED
    assert resumed.state == reference.state
    assert resumed.state["merged"] == "plan+a+b+c"  # task order, whatever ran when
    assert await backend.saved_writes() == []  # the step's checkpoint folded them in


async def test_a_completed_run_leaves_no_pending_writes(backend: Backend, store: Any) -> None:
    seen: list[dict[int, Mapping[str, Any]]] = []

    async def watch(state: Mapping[str, Any]) -> dict[str, Any]:
        """Beside a and b: waits until both saved their writes, then keeps what was saved."""
        step = await store.latest("s")  # the checkpoint the step continues from
        async with asyncio.timeout(30):  # a guard against a hang, not a timed assertion
            while len(saved := await store.get_writes(step.checkpoint_id)) < 2:
                await asyncio.sleep(0.001)
        seen.append(saved)
        return {"log": ["watch"]}

    graph = (
        StateGraph("twice", reducers={"log": operator.add})
        .add_node("plan", lambda s: {"log": ["plan"]})
        .add_node("a", lambda s: {"log": ["a"]})
        .add_node("b", lambda s: {"log": ["b"]})
        .add_node("watch", watch)
        .add_node("fan", lambda s: {"log": ["fan"]})
        .add_node("x", lambda s: {"log": ["x"]})
        .add_node("y", lambda s: {"log": ["y"]})
        .set_entry_point("plan")
    )
    for name in ("a", "b", "watch"):
        graph.add_edge("plan", name)
    graph.add_edge(["a", "b", "watch"], "fan").add_edge("fan", "x").add_edge("fan", "y")
    done = await Runner(graph.compile(), store).run("s", {"log": []})
    assert done.status is RunStatus.COMPLETED
    assert done.state["log"] == ["plan", "a", "b", "watch", "fan", "x", "y"]
    assert seen == [{0: {"log": ["a"]}, 1: {"log": ["b"]}}]  # they were saved during the step
    assert await backend.saved_writes() == []


async def test_writes_carried_by_a_resumes_update_survive_another_failure(
    backend: Backend, store: Any
) -> None:
    nodes, runner, step = await failed_step(store, b_fails=2)
    with pytest.raises(NodeError, match="search backend down"):
        await runner.resume("s", update={"topic": "sea"})  # saved first, then b fails again
    carried = await store.latest("s")
    assert carried.parent_id == step.checkpoint_id and carried.state["topic"] == "sea"
    assert await store.get_writes(step.checkpoint_id) == {}  # moved to the update's checkpoint
    assert (await store.get_writes(carried.checkpoint_id))[0] == {"log": ["a"], "a": "sky"}
    done = await runner.resume("s")
    assert done.status is RunStatus.COMPLETED and done.state["merged"] == "plan+a+b+c"
    assert nodes.calls.count("a") == 1  # its writes were used by both resumes
    assert await backend.saved_writes() == []


async def test_a_resume_whose_carried_writes_cannot_be_saved_keeps_them_under_the_parent(
    backend: Backend, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes, runner, step = await failed_step(store)
    put_writes = type(store).put_writes
    failed: list[str] = []

    async def fails_once(self: Any, checkpoint_id: str, task: int, writes: Any) -> None:
        if not failed:  # the store goes away while the resume carries the writes
            failed.append(checkpoint_id)
            raise CheckpointStoreError("store gone")
        await put_writes(self, checkpoint_id, task, writes)

    monkeypatch.setattr(type(store), "put_writes", fails_once)
    with pytest.raises(CheckpointStoreError, match="store gone"):
        await runner.resume("s", update={"topic": "sea"})
    assert failed and failed[0] != step.checkpoint_id  # carried to the update's checkpoint...
    latest = await store.latest("s")
    assert latest.checkpoint_id == step.checkpoint_id  # ...which was never written
    assert (await store.get_writes(step.checkpoint_id))[0] == {"log": ["a"], "a": "sky"}
    done = await runner.resume("s")
    assert done.status is RunStatus.COMPLETED and nodes.calls.count("a") == 1


async def test_a_fork_of_a_failed_step_leaves_the_writes_to_the_original_session(
    backend: Backend, store: Any
) -> None:
    nodes, runner, step = await failed_step(store)
    forked = await runner.fork_from(step.checkpoint_id, {"topic": "sea"}, session_id="f")
    assert forked.status is RunStatus.COMPLETED and forked.state["a"] == "sea"
    assert nodes.calls.count("a") == 2  # a fork runs the whole step
    assert await store.get_writes(step.checkpoint_id) == {0: {"log": ["a"], "a": "sky"}}
    done = await runner.resume("s")
    assert done.status is RunStatus.COMPLETED and done.state["a"] == "sky"
    assert nodes.calls.count("a") == 2  # the original's resume used a's saved writes
    assert await backend.saved_writes() == []


async def test_a_pending_write_for_a_task_the_step_lacks_is_a_store_error(store: Any) -> None:
    _, runner, latest = await failed_step(store)
    await store.put_writes(latest.checkpoint_id, 7, {"log": ["?"]})
    with pytest.raises(CheckpointStoreError, match="writes saved for task 7, but its step has 3"):
        await runner.resume("s")


def paused_beside(counts: dict[str, int], *reviews: str) -> Any:
    """plan -> (reviews..., a, b): each review is a subgraph that drafts, then pauses at an
    interrupt; a and b are plain nodes. Calls are counted by node (``review/draft``...)."""

    def counted(name: str, fn: Any) -> Any:
        def node(state: Mapping[str, Any]) -> Any:
            counts[name] = counts.get(name, 0) + 1
            return fn(state)

        return node

    graph = StateGraph("outer", reducers={"log": operator.add})
    graph.add_node("plan", lambda s: {"log": ["plan"]}).set_entry_point("plan")
    for review in reviews:
        inner = (
            StateGraph(review)
            .add_node("draft", counted(f"{review}/draft", lambda s: {"log": ["draft"]}))
            .add_interrupt_node(
                "approve",
                counted(f"{review}/approve", lambda s, r=review: {r: s.get("answer")}),
            )
            .set_entry_point("draft")
            .add_edge("draft", "approve")
            .compile()
        )
        graph.add_node(review, inner).add_edge("plan", review)
    for name in ("a", "b"):
        graph.add_node(name, counted(name, lambda s, n=name: {"log": [n]})).add_edge("plan", name)
    return graph.compile()


async def test_a_subgraph_pausing_in_a_parallel_step_keeps_its_finished_siblings(
    backend: Backend, store: Any
) -> None:
    counts: dict[str, int] = {}
    runner = Runner(paused_beside(counts, "review"), store)
    seen = record_events(runner)
    first = await runner.run("s", {"log": []})
    assert first.status is RunStatus.PAUSED and first.node_id == "review"
    assert counts == {"review/draft": 1, "a": 1, "b": 1}
    paused = await store.latest("s")
    assert paused.paused and paused.parent_id is not None
    # a's and b's writes were carried to the paused checkpoint, and are gone from its parent
    assert await store.get_writes(paused.checkpoint_id) == {1: {"log": ["a"]}, 2: {"log": ["b"]}}
    assert await store.get_writes(paused.parent_id) == {}
    ends = [e.node_id for e in seen if e.type == "node_end" and not e.ns]
    assert seen[-1].type == "interrupt" and {"a", "b"} <= set(ends)  # they ran to the end first
    seen.clear()
    done = await runner.resume("s", update={"answer": "ok"})
    assert done.status is RunStatus.COMPLETED
    assert counts == {"review/draft": 1, "review/approve": 1, "a": 1, "b": 1}
    assert [e.node_id for e in seen if e.type == "node_start"] == ["review", "approve"]
    # the resumed step's tasks keep their ids: the same ns as before the pause
    assert {e.ns for e in seen if e.ns} == {("review:2",)}
    assert [e.task_id for e in seen if e.type == "node_start"] == ["review:2", "approve:2"]
    assert done.state["review"] == "ok"
    assert done.state["log"] == ["plan", "draft", "a", "b"]  # task order: review, a, b
    assert await backend.saved_writes() == []


async def test_two_subgraphs_pausing_in_one_step_are_resumed_one_at_a_time(
    backend: Backend, store: Any
) -> None:
    counts: dict[str, int] = {}
    runner = Runner(paused_beside(counts, "left", "right"), store)
    seen = record_events(runner)
    first = await runner.run("s", {"log": []})
    assert first.status is RunStatus.PAUSED
    assert [e.ns for e in seen if e.type == "interrupt"] == [("left:2",)]
    seen.clear()
    second = await runner.resume("s", update={"answer": "L"})
    assert second.status is RunStatus.PAUSED and second.node_id == "right"
    interrupts = [e for e in seen if e.type == "interrupt"]
    assert len(interrupts) == 1 and interrupts[0].ns[0].startswith("right:")
    again = await store.latest("s")  # left's writes and its siblings', carried on
    assert list(await store.get_writes(again.checkpoint_id)) == [0, 2, 3]
    assert await store.get_writes(again.parent_id) == {}
    seen.clear()
    done = await runner.resume("s", update={"answer": "R"})
    assert done.status is RunStatus.COMPLETED
    assert counts == {
        "left/draft": 1,
        "right/draft": 1,
        "a": 1,
        "b": 1,
        "left/approve": 1,
        "right/approve": 1,
    }
    assert (done.state["left"], done.state["right"]) == ("L", "R")
    assert done.state["log"] == ["plan", "draft", "draft", "a", "b"]
    assert "answer" not in done.state  # each answer went to the subgraph that paused
    assert await backend.saved_writes() == []


async def test_time_travel_on_a_branched_run(store: Any) -> None:
    nodes = Flaky()
    graph = nodes.graph(fail=False)
    runner = Runner(graph, store)
    original = await runner.run("orig", {"topic": "sky", "log": []})
    history = await store.list_checkpoints("orig")
    assert [(c.next_node, c.branches) for c in history] == [
        ("a", {"tasks": [{"node": "a"}, {"node": "b"}, {"node": "c"}], "joins": {}}),
        ("merge", None),
        (None, None),
    ]
    before_step = history[0].checkpoint_id
    await store.put_writes(before_step, 0, {"log": ["stale"]})  # a fork never uses these
    nodes.calls.clear()
    fork = await runner.fork_from(before_step, {"topic": "sea"}, session_id="fork")
    assert sorted(nodes.calls) == ["a", "b", "c"]  # the whole step runs again
    assert (fork.state["a"], fork.state["merged"]) == ("sea", "plan+a+b+c")
    replay = await runner.replay_from(before_step, session_id="replay")
    assert replay.state == original.state
    assert await store.list_checkpoints("orig") == history
    rewound = await runner.resume_from_checkpoint(before_step, update={"topic": "sun"})
    assert rewound.state["a"] == "sun" and rewound.state["merged"] == "plan+a+b+c"
    again = await store.list_checkpoints("orig")
    assert again[: len(history)] == history and len(again) > len(history)
    forked = await store.list_checkpoints("fork")
    assert forked[0].parent_id == before_step


# --- durable stores ------------------------------------------------------------------------


async def test_unserialisable_state_names_the_key_and_fails_the_run(
    db: Backend, db_store: Any
) -> None:
    durable(db)
    graph = chain(("ok", lambda s: {"fine": 1}), ("bad", lambda s: {"conn": object()}))
    runner = Runner(graph, db_store)
    seen = record_events(runner)
    with pytest.raises(StateSerializationError, match="state key 'conn'") as info:
        await runner.run("s", {})
    assert info.value.key == "conn"
    state = assert_failed(info.value.run_state, seen, "bad")
    assert (state.steps, state.session_id) == (2, "s")
    assert state.error is not None and state.error.startswith("StateSerializationError: ")
    history = await db_store.list_checkpoints("s")
    assert [c.next_node for c in history] == ["bad"]  # the bad one was never written
    assert state.checkpoint_id == history[-1].checkpoint_id  # the latest good one


@pytest.mark.parametrize(
    ("update", "key", "path", "where", "why"),
    [
        (
            {"cfg": {"hosts": ["a", object()]}},
            "cfg",
            ("cfg", "hosts", 1),
            "state['cfg']['hosts'][1]",
            "object is not JSON-serialisable",
        ),
        (
            {"counts": {"ok": {1: "one"}}},
            "counts",
            ("counts", "ok"),
            "state['counts']['ok']",
            "its key 1 is a int: JSON object keys are strings (it would come back as '1')",
        ),
        (
            {"seen": {("a", 1): True}},
            "seen",
            ("seen",),
            "state['seen']",
            "its key ('a', 1) is a tuple",
        ),
        ({"tags": {"x", "y"}}, "tags", ("tags",), "state['tags']", "frozenset is not JSON"),
        (
            {"fine": 1, "big": [10**5000]},
            "big",
            ("big", 0),
            "state['big'][0]",
            "the int has more than 4300 digits",
        ),
    ],
)
async def test_unserialisable_nested_values_are_named_by_their_path(
    db: Backend,
    db_store: Any,
    update: dict[str, object],
    key: str,
    path: tuple[object, ...],
    where: str,
    why: str,
) -> None:
    durable(db)
    graph = one_node(lambda s: update)
    with pytest.raises(StateSerializationError) as info:
        await Runner(graph, db_store).run("s", {"fine": [1, {"deep": "ok"}]})
    assert await db_store.list_checkpoints("s") == []
    assert (info.value.key, info.value.path) == (key, path)
    assert f"state key {key!r} cannot be serialised to JSON: at {where}, {why}" in str(info.value)


async def test_a_send_argument_that_json_cannot_carry_names_the_send(
    db: Backend, db_store: Any
) -> None:
    durable(db)
    graph = (
        StateGraph("g")
        .add_node("plan", lambda s: None)
        .add_node("work", lambda s: {"done": True})
        .set_entry_point("plan")
        .add_conditional_edge("plan", lambda s: [Send("work", {"n": 1}), Send("work", {"x": b"b"})])
        .compile()
    )
    with pytest.raises(StateSerializationError) as info:
        await Runner(graph, db_store).run("s", {})
    assert (info.value.key, info.value.path) == ("tasks", ("tasks", 1, "arg", "x"))
    assert str(info.value).startswith(
        "the argument of Send('work', ...) (task 1 of the next step) cannot be serialised to "
        "JSON: at branches['tasks'][1]['arg']['x'], bytes is not JSON-serialisable; keep Send "
        "arguments to JSON types"
    )
    assert await db_store.list_checkpoints("s") == []  # the step with the Sends was not written


async def test_shared_values_nan_nul_and_unicode_round_trip(db: Backend, db_store: Any) -> None:
    durable(db)
    shared_value = [{"x": 1}]
    graph = one_node(
        lambda s: {"one": shared_value, "two": shared_value, "nan": float("nan"), "é": "ü\x00"}
    )
    await Runner(graph, db_store).run("s", {})
    latest = await db_store.latest("s")
    assert latest is not None
    assert latest.state["one"] == latest.state["two"] == [{"x": 1}]
    assert latest.state["nan"] != latest.state["nan"]  # NaN, as stored
    assert latest.state["é"] == "ü\x00"


async def test_a_duplicate_checkpoint_id_is_a_store_error_and_writes_nothing(
    db: Backend, db_store: Any
) -> None:
    durable(db)
    await db_store.put(checkpoint("c1", "s", 1))
    await db_store.put_writes("c1", 0, {"log": ["a"]})
    with pytest.raises(
        CheckpointStoreError, match=r"failed: .*(IntegrityError|UniqueViolation)"
    ) as info:
        await db_store.put(checkpoint("c1", "s", 2, parent="c1"))  # the same id twice
    cause = {"sqlite": "IntegrityError", "postgres": "UniqueViolation"}[db.name]
    assert type(info.value.__cause__).__name__ == cause  # the driver's own error, kept
    assert [c.step for c in await db_store.list_checkpoints("s")] == [1]
    assert await db.saved_writes() == [("c1", 0)]  # the parent's writes too: one transaction


async def test_a_damaged_row_is_a_store_error_naming_it(db: Backend, db_store: Any) -> None:
    raw = durable(db)
    await db_store.put(checkpoint("c1", "s", 1, x=1))
    await raw("UPDATE checkpoints SET state = %s WHERE checkpoint_id = %s", ('{"x": 1', "c1"))
    for read in (db_store.latest("s"), db_store.get("c1"), db_store.list_checkpoints("s")):
        with pytest.raises(
            CheckpointStoreError,
            match=r"checkpoint 'c1' in .* is damaged: its state is not valid JSON",
        ):
            await read
    await raw("UPDATE checkpoints SET state = %s WHERE checkpoint_id = %s", ("[1, 2]", "c1"))
    with pytest.raises(CheckpointStoreError, match="its state is list, not a JSON object"):
        await db_store.latest("s")


async def test_pending_writes_are_json_and_a_damaged_one_is_named(
    db: Backend, db_store: Any
) -> None:
    raw = durable(db)
    with pytest.raises(StateSerializationError, match="state key 'conn'"):
        await db_store.put_writes("c1", 0, {"conn": object()})
    assert await db_store.get_writes("c1") == {}  # nothing was written
    await db_store.put_writes("c1", 0, {"x": 1})
    await raw("UPDATE pending_writes SET writes = %s WHERE checkpoint_id = %s", ("[1", "c1"))
    with pytest.raises(
        CheckpointStoreError,
        match=r"checkpoint 'c1' in .* is damaged: the writes of its task 0 are not valid JSON",
    ):
        await db_store.get_writes("c1")


async def test_a_branch_whose_writes_cannot_be_saved_fails_the_run(
    db: Backend, db_store: Any
) -> None:
    durable(db)
    graph = (
        StateGraph("g")
        .add_node("plan", lambda s: {})
        .add_node("ok", lambda s: {"fine": 1})
        .add_node("bad", lambda s: {"conn": object()})
        .set_entry_point("plan")
        .add_edge("plan", "ok")
        .add_edge("plan", "bad")
        .compile()
    )
    runner = Runner(graph, db_store)
    seen = record_events(runner)
    with pytest.raises(StateSerializationError, match="state key 'conn'") as info:
        await runner.run("s", {})
    assert info.value.run_state is not None and info.value.run_state.status is RunStatus.FAILED
    assert seen[-1].type == "error"
    latest = await db_store.latest("s")
    assert latest is not None and latest.next_node == "ok"
    assert await db_store.get_writes(latest.checkpoint_id) == {0: {"fine": 1}}


async def test_a_newer_schema_is_refused(db: Backend, db_store: Any) -> None:
    raw = durable(db)
    await db_store.put(checkpoint("c1", "s", 1))
    await raw("INSERT INTO schema_version VALUES (%s)", (99,))
    with pytest.raises(CheckpointStoreError, match="schema version 99, newer"):
        async with db.open() as second:  # PostgresStore checks on opening, SQLite on use
            await second.latest("s")


async def test_a_closed_store_says_so(db: Backend) -> None:
    durable(db)
    async with db.open() as opened:
        await opened.put(checkpoint("c1", "s", 1))
    with pytest.raises(CheckpointStoreError, match="is closed"):
        await opened.latest("s")


async def test_a_paused_session_survives_reopening_and_resumes(db: Backend, db_store: Any) -> None:
    durable(db)
    await Runner(approval_graph().compile(), db_store).run("s", {})
    async with db.open() as second:
        latest = await second.latest("s")
        assert latest is not None and latest.paused and latest.next_node == "review"
        with pytest.raises(TypeError):
            latest.state["text"] = "x"
        result = await Runner(approval_graph().compile(), second).resume("s")
        assert result.state["published"] is False


async def test_a_parallel_step_and_a_waiting_join_survive_reopening(
    db: Backend, db_store: Any
) -> None:
    durable(db)
    graph = (
        StateGraph("g", reducers={"log": operator.add})
        .add_node("a", lambda s: {"log": ["a"]})
        .add_node("b", lambda s: {"log": ["b"]})
        .add_node("c", lambda s: {"log": ["c"]})
        .add_interrupt_node("d", lambda s: {"log": ["d"]})
        .add_node("e", lambda s: {"log": ["e"]})
        .set_entry_point("a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge(["c", "d"], "e")
        .compile()
    )
    paused = await Runner(graph, db_store).run("s", {"log": []})
    assert paused.status == "paused" and paused.node_id == "d"
    async with db.open() as second:
        history = await second.list_checkpoints("s")
        assert history[0].branches == {"tasks": [{"node": "b"}, {"node": "c"}], "joins": {}}
        assert history[-1].branches == {"tasks": [{"node": "d"}], "joins": {"0": ["c"]}}
        result = await Runner(graph, second).resume("s")
    assert result.state["log"] == ["a", "b", "c", "d", "e"]


async def test_send_arguments_and_tool_call_ids_round_trip(store: CheckpointStore) -> None:
    branches = {
        "tasks": [{"node": "tool", "arg": {"q": "é", "n": [1, 2]}, "tool_call_id": "call_1"}],
        "joins": {},
    }
    saved = Checkpoint("c1", "s", "run", 1, {"x": 1}, "tool", False, None, 1.5, branches)
    await store.put(saved)
    loaded = await store.get("c1")
    assert loaded is not None and loaded.branches == branches


# --- shared stores: leases -----------------------------------------------------------------


async def test_a_lease_has_one_owner_until_released_or_expired(db_store: Any) -> None:
    leases: LeaseStore = db_store
    assert (await leases.acquire_lease("s", "a", 30)).owner == "a"
    taken = await leases.acquire_lease("s", "b", 30)
    assert taken.owner == "a" and 0 < taken.expires_in <= 30
    assert await leases.renew_lease("s", "a", 30) == "held"
    assert await leases.renew_lease("s", "b", 30) == "lost"
    await leases.release_lease("s", "b")  # not b's: nothing happens
    assert (await leases.acquire_lease("s", "b", 30)).owner == "a"
    await leases.release_lease("s", "a")
    assert (await leases.acquire_lease("s", "b", 30)).owner == "b"
    assert (await leases.acquire_lease("other", "c", 30)).owner == "c"  # per session


async def test_put_and_release_saves_and_gives_up_only_its_owners_lease(
    db: Backend, db_store: Any
) -> None:
    assert (await db_store.acquire_lease("s", "a", 30)).owner == "a"
    first = Checkpoint("c1", "s", "run", 1, {"x": 1}, "next", False, None, 1.5)
    await db_store.put_and_release(first, "b")  # not b's lease: it stays a's
    assert (await db_store.acquire_lease("s", "b", 30)).owner == "a"
    await db_store.put_writes("c1", 0, {"x": 2})
    last = Checkpoint("c2", "s", "run", 2, {"x": 2}, None, False, "c1", 2.5)
    await db_store.put_and_release(last, "a")
    assert [c.checkpoint_id for c in await db_store.list_checkpoints("s")] == ["c1", "c2"]
    assert await db.saved_writes() == []  # the step after c1 is done: its writes went with it
    assert (await db_store.acquire_lease("s", "b", 30)).owner == "b"


async def test_an_expired_lease_goes_to_the_next_owner_without_the_old_cancel_flag(
    db_store: Any,
) -> None:
    leases: LeaseStore = db_store
    assert await leases.request_cancel("s") is False  # nobody runs it: nothing to flag
    await leases.acquire_lease("s", "crashed", 0.2)
    assert await leases.request_cancel("s") is True
    assert await leases.renew_lease("s", "crashed", 0.2) == "cancel"
    await asyncio.sleep(0.5)  # the owner stopped renewing: its lease ran out
    assert await leases.request_cancel("s") is False
    assert (await leases.acquire_lease("s", "next", 30)).owner == "next"
    assert await leases.renew_lease("s", "next", 30) == "held"
    assert await leases.renew_lease("s", "crashed", 30) == "lost"


async def test_racing_workers_get_the_lease_exactly_once(db: Backend, db_store: Any) -> None:
    async with db.open() as second, db.open() as third:
        stores: list[LeaseStore] = [db_store, second, third] * 4
        holders = await asyncio.gather(
            *(s.acquire_lease("s", f"worker-{i}", 30) for i, s in enumerate(stores))
        )
    winners = {h.owner for h in holders}
    assert len(winners) == 1, holders
    assert sum(h.owner == f"worker-{i}" for i, h in enumerate(holders)) == 1


# --- shared stores: runs across workers ----------------------------------------------------


def waiting_graph(gate: asyncio.Event, started: asyncio.Event) -> Any:
    async def slow(state: Mapping[str, Any]) -> dict[str, Any]:
        started.set()
        await gate.wait()
        return {"done": True}

    return chain(("first", lambda s: {"n": 1}), ("slow", slow), ("last", lambda s: {"m": 2}))


async def test_concurrent_resumes_of_one_session_exactly_one_wins(
    db: Backend, db_store: Any
) -> None:
    gate, started = asyncio.Event(), asyncio.Event()
    graph = waiting_graph(gate, started)
    # a run that stopped before "slow" (its worker died): any worker may resume it
    await db_store.put(Checkpoint("seed", "s", "r0", 1, {"n": 1}, "slow", False, None, 1.0))
    async with db.open() as second, db.open() as third:
        workers = [Runner(graph, s) for s in (db_store, second, third)]
        tasks = {asyncio.create_task(w.resume("s")) for w in workers}
        losers: set[asyncio.Task[Any]] = set()
        while len(losers) < 2:  # the losers fail while the winner waits at the gate
            done, _ = await asyncio.wait(
                tasks - losers, timeout=30, return_when=asyncio.FIRST_COMPLETED
            )
            assert done, "the losing resumes did not fail"
            losers |= done
        await asyncio.wait_for(started.wait(), 30)  # the winner runs on
        gate.set()
        (winner,) = tasks - losers
        result = await asyncio.wait_for(winner, 30)
    for loser in losers:
        with pytest.raises(SessionBusyError, match="session 's' is running elsewhere"):
            loser.result()
    assert result.status is RunStatus.COMPLETED
    assert [c.next_node for c in await db_store.list_checkpoints("s")] == ["slow", "last", None]


async def test_a_cancel_from_another_worker_stops_the_run_and_it_stays_resumable(
    db: Backend, db_store: Any
) -> None:
    hang = Hang()
    graph = chain(("first", lambda s: {"n": 1}), ("hang", hang), ("last", lambda s: {"m": 2}))
    running = Runner(graph, db_store, lease_ttl=5)
    seen = record_events(running)
    async with db.open() as other_store:
        other = Runner(graph, other_store)
        assert await other.cancel("s") is False  # nothing runs yet
        task = asyncio.create_task(running.run("s", {}))
        await asyncio.wait_for(hang.started.wait(), 30)
        assert await other.cancel("s") is True
        result = await asyncio.wait_for(task, 30)
        assert result.status is RunStatus.CANCELLED and not hang.finished
        assert seen[-1].type == "cancelled" and seen[-1].node_id == "hang"
        assert (await db_store.latest("s")).next_node == "hang"  # type: ignore[union-attr]
        # the lease was given up and the flag went with it: another worker resumes at once
        fixed = chain(("first", dict), ("hang", lambda s: {"h": 1}), ("last", dict))
        resumed = await asyncio.wait_for(Runner(fixed, other_store).resume("s"), 30)
        assert resumed.status is RunStatus.COMPLETED and resumed.state["h"] == 1
