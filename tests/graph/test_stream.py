"""runner.stream(...) is cold; runner.events is hot; disposal cancels without leaking tasks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from reactivex import operators as ops

from rxchronos import NoRunningLoopError
from rxchronos import operators as rxo
from rxchronos.graph import MemoryStore
from rxchronos.graph import NodeError
from rxchronos.graph import RunCancelledError
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent
from rxchronos.graph import emit

from .helpers import LINEAR
from .helpers import Hang
from .helpers import approval_graph
from .helpers import chain
from .helpers import collect
from .helpers import fail_on
from .helpers import kinds
from .helpers import linear_graph
from .helpers import no_other_tasks
from .helpers import one_node
from .helpers import path_kinds
from .helpers import record


async def test_stream_is_cold_and_runs_once_per_subscription() -> None:
    calls: list[int] = []

    def count(state: Mapping[str, Any]) -> dict[str, Any]:
        calls.append(1)
        return {"n": len(calls)}

    runner = Runner(StateGraph("g").add_node("c", count).set_entry_point("c").compile())
    observable = runner.stream("s", {})
    await asyncio.sleep(0)
    assert calls == []  # nothing happens before subscribe
    first = await observable.pipe(ops.to_list())
    second = await observable.pipe(ops.to_list())
    assert len(calls) == 2
    assert first[0].run_id != second[0].run_id
    assert [e.state["n"] for e in (first[-1], second[-1])] == [1, 2]


async def test_stream_completes_after_completed() -> None:
    runner = Runner(linear_graph().compile())
    events = await collect(runner, "s", {})
    assert events[-1].type == "completed"
    assert await no_other_tasks() == set()


async def test_stream_completes_after_an_interrupt() -> None:
    runner = Runner(approval_graph().compile(), MemoryStore())
    events = await collect(runner, "s", {})
    assert kinds(events)[-1] == "interrupt:review"


async def test_stream_errors_with_node_error_after_the_error_event() -> None:
    def boom(state: Mapping[str, Any]) -> dict[str, Any]:
        raise RuntimeError("nope")

    runner = Runner(StateGraph("g").add_node("boom", boom).set_entry_point("boom").compile())
    seen: list[StreamEvent] = []
    failure: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    runner.stream("s", {}).subscribe(seen.append, failure.set_result, lambda: None)
    error = await failure
    assert isinstance(error, NodeError)
    assert kinds(seen) == ["node_start:boom", "error:boom"]
    assert await no_other_tasks() == set()


async def test_hot_events_see_every_run_and_never_complete() -> None:
    runner = Runner(linear_graph().compile())
    seen: list[StreamEvent] = []
    completed: list[bool] = []
    runner.events.subscribe(seen.append, on_completed=lambda: completed.append(True))
    await runner.run("a", {})
    await collect(runner, "b", {})
    await runner.run("c", {})
    assert completed == []
    assert [e.session_id for e in seen if e.type == "completed"] == ["a", "b", "c"]


async def test_disposing_cancels_the_run_emits_cancelled_and_keeps_the_checkpoint() -> None:
    slow = Hang()
    store = MemoryStore()
    runner = Runner(chain(("fast", lambda s: {"fast": True}), ("slow", slow)), store)
    hot = record(runner)
    received: list[StreamEvent] = []
    subscription = runner.stream("s", {}).subscribe(received.append)
    await slow.started.wait()
    subscription.dispose()
    assert await no_other_tasks() == set()  # the run task is gone
    assert not slow.finished
    assert hot[-1].type == "cancelled" and hot[-1].node_id == "slow"
    assert all(e.type != "cancelled" for e in received)  # the disposed observer hears nothing
    latest = await store.latest("s")
    assert latest is not None and latest.next_node == "slow"

    async def quick(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"slow": "resumed"}

    resumed = Runner(chain(("fast", lambda s: {"fast": True}), ("slow", quick)), store)
    result = await resumed.resume("s")
    assert result.state == {"fast": True, "slow": "resumed"}


async def test_cancel_makes_run_return_cancelled() -> None:
    wait = Hang()
    runner = Runner(one_node(wait, node_id="w"))
    task = asyncio.create_task(runner.run("s", {}))
    await wait.started.wait()
    assert await runner.cancel("s") is True
    result = await task
    assert result.status is RunStatus.CANCELLED
    assert result.node_id == "w"
    assert await runner.cancel("s") is False
    assert await no_other_tasks() == set()


async def test_cancelling_the_caller_propagates() -> None:
    wait = Hang()
    runner = Runner(one_node(wait, node_id="w"))
    hot = record(runner)
    task = asyncio.create_task(runner.run("s", {}))
    await wait.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hot[-1].type == "cancelled"
    assert await no_other_tasks() == set()


async def test_subscribing_without_a_running_loop_is_a_no_running_loop_error() -> None:
    runner = Runner(linear_graph().compile())
    hot = record(runner)
    errors: list[Exception] = []

    def subscribe_in_thread() -> None:
        runner.stream("s", {}).subscribe(on_error=errors.append)

    await asyncio.to_thread(subscribe_in_thread)
    assert len(errors) == 1 and isinstance(errors[0], NoRunningLoopError)
    assert "runner.stream(...).subscribe() must run on the asyncio event loop's thread" in str(
        errors[0]
    )
    assert hot == []  # nothing ran
    assert (await runner.run("s", {})).status == "completed"  # and the session is free


async def test_of_type_filters_events() -> None:
    runner = Runner(linear_graph().compile())
    events = await runner.stream("s", {}).pipe(rxo.of_type("node_end", "completed"), ops.to_list())
    wanted = ("node_end:", "completed:")
    assert kinds(events) == [k for k in path_kinds(*LINEAR) if k.startswith(wanted)]


async def test_a_failing_subscriber_fails_the_run_loudly() -> None:
    runner = Runner(linear_graph().compile())
    fail_on(runner, "node_end", LookupError("subscriber bug"))
    with pytest.raises(LookupError, match="subscriber bug"):
        await runner.run("s", {})


async def test_disposing_before_the_run_starts_frees_the_session() -> None:
    runner = Runner(linear_graph().compile())
    hot = record(runner)
    runner.stream("s", {}).subscribe().dispose()  # the run task never got to run
    assert await no_other_tasks() == set()
    assert hot == []
    result = await runner.run("s", {})  # the session is not left busy
    assert result.status is RunStatus.COMPLETED


async def test_runner_cancel_ends_a_stream_with_an_error_not_a_hang() -> None:
    from rxchronos.graph import RunCancelledError

    wait = Hang()
    runner = Runner(one_node(wait, node_id="w"))
    received: list[StreamEvent] = []
    failure: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    runner.stream("s", {}).subscribe(received.append, failure.set_result)
    await wait.started.wait()
    assert await runner.cancel("s") is True
    error = await failure
    assert isinstance(error, RunCancelledError)
    assert error.run_state.status is RunStatus.CANCELLED
    assert kinds(received) == ["node_start:w", "cancelled:w"]
    assert await no_other_tasks() == set()


async def test_hot_events_keep_flowing_after_a_failed_and_a_cancelled_run() -> None:
    hang = Hang()

    async def node(state: Mapping[str, Any]) -> dict[str, Any]:
        if state["mode"] == "fail":
            raise ValueError("bad input")
        if state["mode"] == "hang":
            await hang(state)
        return {"ok": True}

    runner = Runner(one_node(node, node_id="n"))
    seen = record(runner)
    with pytest.raises(NodeError):
        await runner.run("s1", {"mode": "fail"})
    hanging = asyncio.create_task(runner.run("s2", {"mode": "hang"}))
    await hang.started.wait()
    await runner.cancel("s2")
    assert (await hanging).status is RunStatus.CANCELLED
    disposed = runner.stream("s3", {"mode": "hang"}).subscribe()
    hang.started.clear()
    await hang.started.wait()
    disposed.dispose()
    await runner.run("s4", {"mode": "ok"})
    late = record(runner)  # a subscriber arriving after all that also gets events
    await runner.run("s5", {"mode": "ok"})
    ends = [(e.session_id, e.type) for e in seen if e.type not in ("node_start", "node_end")]
    assert ends == [
        ("s1", "error"),
        ("s2", "cancelled"),
        ("s3", "cancelled"),
        ("s4", "completed"),
        ("s5", "completed"),
    ]
    assert kinds(late) == ["node_start:n", "node_end:n", "completed:n"]
    assert await no_other_tasks() == set()


async def test_concurrent_streams_each_get_only_their_own_run() -> None:
    async def step(state: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"trail": [*state.get("trail", []), state["who"]]}

    runner = Runner(chain(("a", step), ("b", step)), MemoryStore())
    hot = record(runner)
    streams = await asyncio.gather(*(collect(runner, f"s{i}", {"who": i}) for i in range(4)))
    for i, events in enumerate(streams):
        assert {e.session_id for e in events} == {f"s{i}"}
        assert len({e.run_id for e in events}) == 1
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[-1].state is not None and events[-1].state["trail"] == [i, i]
    assert len({e.run_id for e in hot[:4]}) > 1  # the runs really interleaved
    assert sorted(hot, key=lambda e: (e.session_id, e.seq)) == [e for s in streams for e in s]


async def test_an_in_thread_node_emitting_after_its_run_was_cancelled_adds_nothing() -> None:
    entered, release, left = threading.Event(), threading.Event(), threading.Event()

    def blocking(state: Mapping[str, Any]) -> dict[str, Any]:
        entered.set()
        release.wait(30)
        emit("late", {"n": 1})  # the run is over by now
        left.set()
        return {"late": True}

    runner = Runner(one_node(blocking, node_id="b", in_thread=True))
    hot = record(runner)
    task = asyncio.create_task(runner.run("s", {}))
    assert await asyncio.to_thread(entered.wait, 30), "the node never started"
    await runner.cancel("s")
    assert (await task).status is RunStatus.CANCELLED
    release.set()
    assert await asyncio.to_thread(left.wait, 30), "the node never finished"
    await no_other_tasks()  # let the thread's hand-over to the loop run
    assert kinds(hot) == ["node_start:b", "cancelled:b"]


async def test_a_runner_as_async_context_manager_cancels_its_runs_on_exit() -> None:
    started = asyncio.Event()

    async def slow(state: Mapping[str, Any]) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(3600)
        return {}

    store = MemoryStore()
    graph = chain(("first", lambda s: {"x": 1}), ("slow", slow))
    errors: list[Exception] = []
    async with Runner(graph, store) as runner:
        awaited = asyncio.ensure_future(runner.run("a", {}))
        runner.stream("b", {}).subscribe(on_error=errors.append)
        while not (started.is_set() and len(runner._active) == 2):
            await asyncio.sleep(0.01)
    assert (await awaited).status == "cancelled"
    assert len(errors) == 1 and isinstance(errors[0], RunCancelledError)
    for session in ("a", "b"):  # resumable from the checkpoint after "first"
        latest = await store.latest(session)
        assert latest is not None and latest.next_node == "slow"
    async with Runner(chain(("quick", lambda s: {"y": 2}))) as idle:  # nothing left to cancel
        assert (await idle.run("c", {})).status == "completed"
