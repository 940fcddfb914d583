"""The runner's shortcuts behave like the general paths they replace: how ``runner.stream`` is
subscribed, how events are built (or not, when nobody listens), MemoryStore saves, and hot
listeners that come and go during delivery."""

from __future__ import annotations

import asyncio
import gc
import operator
import random
from collections.abc import Mapping
from typing import Any

from reactivex import Observable
from reactivex import Observer

from rxchronos.graph import Checkpoint
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent

from .helpers import LINEAR
from .helpers import chain
from .helpers import collect
from .helpers import kinds
from .helpers import linear_graph
from .helpers import path_kinds
from .helpers import record


class Recorder:
    """A duck-typed observer (not a reactivex ``Observer``)."""

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_next(self, event: StreamEvent) -> None:
        self.events.append(event)

    def on_error(self, error: Exception) -> None:
        self.ended.set_result(f"error: {error}")

    def on_completed(self) -> None:
        self.ended.set_result("completed")


async def test_stream_takes_an_observer_object_like_any_observable() -> None:
    runner = Runner(linear_graph().compile())
    duck = Recorder()
    runner.stream("duck", {}).subscribe(duck)  # type: ignore[arg-type]
    assert await duck.ended == "completed"
    assert kinds(duck.events) == path_kinds(*LINEAR)

    seen: list[StreamEvent] = []
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    observer: Observer[StreamEvent] = Observer(
        seen.append, done.set_exception, lambda: done.set_result(None)
    )
    runner.stream("rx", {}).subscribe(observer)
    await done
    assert kinds(seen) == kinds(duck.events)


async def test_stream_subscribed_without_callbacks_still_runs_once() -> None:
    runner = Runner(linear_graph().compile())
    hot = record(runner)
    runner.stream("s", {}).subscribe()
    while not hot or hot[-1].type != "completed":
        await asyncio.sleep(0)
    assert kinds(hot) == path_kinds(*LINEAR)


async def test_disposing_after_the_run_ended_changes_nothing() -> None:
    runner = Runner(linear_graph().compile(), MemoryStore())
    hot = record(runner)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    subscription = runner.stream("s", {}).subscribe(on_completed=lambda: done.set_result(None))
    await done
    subscription.dispose()
    subscription.dispose()
    await asyncio.sleep(0)
    assert hot[-1].type == "completed" and "cancelled" not in kinds(hot)
    assert (await runner.run("s", {})).status == "completed"  # the session is free


async def test_a_stream_is_an_observable_with_the_usual_attributes() -> None:
    stream = Runner(linear_graph().compile()).stream("s", {})
    assert isinstance(stream, Observable)
    assert set(vars(Observable())) <= set(vars(stream))  # e.g. the lock some operators take


async def test_events_are_complete_pydantic_models() -> None:
    events = await collect(Runner(linear_graph().compile()), "s", {})
    fields = set(StreamEvent.model_fields)
    for event in events:
        assert type(event) is StreamEvent
        assert event.model_fields_set == fields
        assert StreamEvent.model_validate(event.model_dump()) == event
    first = events[0]
    moved = first.model_copy(update={"seq": 99})
    assert (moved.seq, first.seq) == (99, 1)
    assert events[1].model_fields_set == fields  # copying one event touched no other
    for event in events:  # every field in the model's order, as model_dump and JSON give them
        assert list(vars(event)) == list(StreamEvent.model_fields)


def test_the_event_template_is_the_models_fields_and_defaults() -> None:
    from rxchronos.graph._execution import _EVENT_DEFAULTS

    assert list(_EVENT_DEFAULTS) == list(StreamEvent.model_fields)
    for name, field in StreamEvent.model_fields.items():
        if not field.is_required():
            assert _EVENT_DEFAULTS[name] == field.default, name


async def test_seq_counts_events_nobody_was_listening_to() -> None:
    late: list[StreamEvent] = []

    def transform(state: Mapping[str, Any]) -> dict[str, Any]:
        runner.events.subscribe(late.append)  # the first listener arrives mid-run
        return {"doubled": []}

    runner = Runner(chain(("extract", lambda s: {"rows": []}), ("transform", transform)))
    result = await runner.run("s", {})
    assert result.status == "completed"
    # extract: start 1, end 2, edge 3; transform: start 4, then the listener hears end 5
    assert [(e.seq, e.type) for e in late] == [(5, "node_end"), (6, "completed")]


async def test_a_memory_store_subclass_is_saved_through_its_own_put() -> None:
    class Counting(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.puts: list[str | None] = []

        async def put(self, checkpoint: Checkpoint) -> None:
            self.puts.append(checkpoint.next_node)
            await super().put(checkpoint)

    store = Counting()
    await Runner(linear_graph().compile(), store).run("s", {})
    assert store.puts == ["transform", "load", None]
    assert [c.next_node for c in await store.list_checkpoints("s")] == store.puts


async def test_memory_store_checkpoints_match_the_general_path() -> None:
    store = MemoryStore()
    runner = Runner(linear_graph().compile(), store)
    events = await collect(runner, "s", {})
    history = await store.list_checkpoints("s")
    written = [e for e in events if e.type == "checkpoint"]
    assert [e.data for e in written] == [
        {"checkpoint_id": c.checkpoint_id, "step": c.step, "next_node": c.next_node}
        | {"paused": False}
        for c in history
    ]
    assert [c.step for c in history] == [1, 2, 3]
    assert [c.parent_id for c in history] == [
        None,
        history[0].checkpoint_id,
        history[1].checkpoint_id,
    ]
    assert all(isinstance(c, Checkpoint) and c.run_id == events[0].run_id for c in history)
    assert history[-1] == Checkpoint(*(getattr(history[-1], f) for f in Checkpoint.__slots__))


async def test_hot_listeners_joining_and_leaving_during_delivery() -> None:
    runner = Runner(linear_graph().compile())
    first: list[StreamEvent] = []
    joined: list[StreamEvent] = []
    subscription = None

    def leave_after_one(event: StreamEvent) -> None:
        first.append(event)
        assert subscription is not None
        subscription.dispose()
        runner.events.subscribe(joined.append)  # hears from the next event on

    subscription = runner.events.subscribe(leave_after_one)
    everything = record(runner)
    await runner.run("s", {})
    assert [e.seq for e in first] == [1]
    assert [e.seq for e in joined] == [e.seq for e in everything][1:]


async def test_sync_nodes_returning_awaitables_and_none_still_work() -> None:
    async def later() -> dict[str, Any]:
        return {"late": True}

    graph = chain(("coro", lambda s: later()), ("nothing", lambda s: None))
    events = await collect(Runner(graph), "s", {})
    assert events[-1].state == {"late": True}
    assert [e.update for e in events if e.type == "node_end"] == [{"late": True}, {}]


async def test_run_ids_do_not_follow_the_random_module_seed() -> None:
    runner = Runner(linear_graph().compile())
    ids = []
    for _ in range(2):
        random.seed(7)  # a notebook or a test seeding the global generator
        ids.append((await runner.run("s", {})).run_id)
    assert ids[0] != ids[1]
    assert all(len(run_id) == 32 and int(run_id, 16) >= 0 for run_id in ids)


async def test_a_finished_run_is_freed_by_reference_counting() -> None:
    """A run leaves no reference cycle behind (the subscription's task, its ``emit``, the run's
    execution and events): the cyclic collector never has work from a run, whose cost would
    otherwise land on later runs. Checked for a plain run, one with a MemoryStore, a parallel
    step and a failing node."""

    def boom(state: Mapping[str, Any]) -> None:
        raise ValueError("boom")

    fan = (
        StateGraph("fan", reducers={"n": operator.add})
        .add_node("a", lambda s: {"n": [1]})
        .add_node("b", lambda s: {"n": [2]})
        .add_node("c", lambda s: {"n": [3]})
        .set_entry_point("a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .compile()
    )
    runners = [
        Runner(linear_graph().compile()),
        Runner(linear_graph().compile(), MemoryStore()),
        Runner(fan),
        Runner(StateGraph("g").add_node("x", boom).set_entry_point("x").compile()),
    ]
    loop = asyncio.get_running_loop()

    async def run_once(runner: Runner, session_id: str) -> None:
        ended: asyncio.Future[None] = loop.create_future()
        runner.stream(session_id, {}).subscribe(
            lambda _: None, lambda _: ended.set_result(None), lambda: ended.set_result(None)
        )
        await ended
        await asyncio.sleep(0)  # the subscription's task ends after telling the subscriber

    for runner in runners:  # warm up: first-use caches are not garbage
        await run_once(runner, "warm")
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for i, runner in enumerate(runners):
            await run_once(runner, f"s{i}")
        gc.collect()
        ours = [
            o
            for o in gc.garbage
            if type(o).__module__.startswith("rxchronos")
            or getattr(o, "__module__", None) in ("rxchronos.aio", "rxchronos.graph._runner")
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []
