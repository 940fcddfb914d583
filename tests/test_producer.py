"""from_producer: the one "task per subscription" primitive, rule by rule (see rxchronos.aio)."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from collections.abc import AsyncIterator
from collections.abc import Callable
from typing import Any

import pytest
import reactivex
from reactivex import operators as ops

from rxchronos import NoRunningLoopError
from rxchronos import RxChronosError
from rxchronos.aio import from_producer
from rxchronos.aio import to_async_iterator

Emit = Callable[[Any], None]


@pytest.fixture
async def reported() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the loop's exception handler during the test (including un-retrieved task
    exceptions, found by collecting garbage at the end)."""
    loop = asyncio.get_running_loop()
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: contexts.append(context))
    yield contexts
    gc.collect()
    loop.set_exception_handler(None)
    assert not any("never retrieved" in context["message"] for context in contexts), contexts


class Producer:
    """A producer that emits ``items`` (awaiting between them), then waits or fails, and records
    what it saw."""

    def __init__(
        self,
        items: list[Any],
        *,
        wait: bool = False,
        fail: Exception | None = None,
        suspend: bool = True,
    ) -> None:
        self.items = items
        self.wait = wait
        self.fail = fail
        self.suspend = suspend
        self.emitted = 0
        self.saw_cancel = False
        self.finished = asyncio.Event()
        self.forever = asyncio.Event()

    async def __call__(self, emit: Emit) -> None:
        try:
            for item in self.items:
                if self.suspend:
                    await asyncio.sleep(0)
                emit(item)
                self.emitted += 1
            if self.fail is not None:
                raise self.fail
            if self.wait:
                await self.forever.wait()
        except asyncio.CancelledError:
            self.saw_cancel = True
            raise
        finally:
            self.finished.set()


class Recorder:
    """An observer recording everything; ``done`` resolves at its end."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.errors: list[Exception] = []
        self.completed = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def subscribe(self, observable: reactivex.Observable[Any]) -> Any:
        return observable.subscribe(self.items.append, self._error, self._completed)

    def _error(self, error: Exception) -> None:
        self.errors.append(error)
        self.done.set_result(None)

    def _completed(self) -> None:
        self.completed += 1
        self.done.set_result(None)


async def no_task_left(before: set[asyncio.Task[Any]]) -> bool:
    for _ in range(200):
        if not asyncio.all_tasks() - before:
            return True
        await asyncio.sleep(0)
    return False


# --- rule 1: no loop ---------------------------------------------------------------------------


def test_subscribing_without_a_loop_names_the_call() -> None:
    source = from_producer(Producer([1]), what="Thing.stream()")
    with pytest.raises(NoRunningLoopError, match=r"^Thing\.stream\(\) must run on"):
        source.subscribe()
    errors: list[Exception] = []
    source.subscribe(on_error=errors.append)
    assert isinstance(errors[0], NoRunningLoopError)


def test_produce_must_be_callable() -> None:
    with pytest.raises(TypeError, match="coroutine function produce"):
        from_producer("not a function")  # type: ignore[arg-type]


# --- rule 2: a task per subscription, disposal -------------------------------------------------


async def test_each_subscription_runs_its_own_task(reported: list[dict[str, Any]]) -> None:
    before = asyncio.all_tasks()
    calls = 0

    async def produce(emit: Emit) -> None:
        nonlocal calls
        calls += 1
        emit(calls)

    source = from_producer(produce)
    first, second = Recorder(), Recorder()
    first.subscribe(source)
    second.subscribe(source)
    assert len(asyncio.all_tasks() - before) == 2
    await asyncio.gather(first.done, second.done)
    assert sorted(first.items + second.items) == [1, 2]
    assert first.completed == second.completed == 1
    assert await no_task_left(before)
    assert reported == []


async def test_dispose_cancels_the_producer_at_its_await(reported: list[dict[str, Any]]) -> None:
    before = asyncio.all_tasks()
    producer = Producer(["a"], wait=True)
    recorder = Recorder()
    subscription = recorder.subscribe(from_producer(producer))
    while not recorder.items:
        await asyncio.sleep(0)
    subscription.dispose()
    await producer.finished.wait()
    assert producer.saw_cancel
    assert await no_task_left(before)
    assert not recorder.done.done()  # a disposal is neither an error nor a completion
    subscription.dispose()  # a second dispose does nothing
    assert reported == []


async def test_dispose_before_the_task_starts_never_runs_the_producer() -> None:
    before = asyncio.all_tasks()
    producer = Producer([1])
    from_producer(producer).subscribe().dispose()
    assert await no_task_left(before)
    assert not producer.finished.is_set()


async def test_a_running_producer_is_held_until_it_ends_however_it_ends() -> None:
    """The strong reference that keeps a suspended producer's task alive (asyncio holds tasks
    weakly) goes when the task ends: by completion, by error, by disposal at an await, and by a
    disposal before the task started (its coroutine never runs)."""
    from rxchronos import aio

    held = set(aio._RUNNING)
    waiting = Producer(["a"], wait=True)
    recorder = Recorder()
    subscription = recorder.subscribe(from_producer(waiting))
    while not recorder.items:
        await asyncio.sleep(0)
    gc.collect()  # nothing else refers to the task: it must survive this
    assert len(aio._RUNNING - held) == 1
    subscription.dispose()
    await waiting.finished.wait()
    completed, failed = Recorder(), Recorder()
    completed.subscribe(from_producer(Producer([1])))
    failed.subscribe(from_producer(Producer([1], fail=ValueError("boom"))))
    from_producer(Producer([1])).subscribe().dispose()
    assert len(aio._RUNNING - held) == 3
    await asyncio.gather(completed.done, failed.done)
    for _ in range(5):
        await asyncio.sleep(0)
    assert aio._RUNNING - held == set()
    assert completed.completed == 1 and isinstance(failed.errors[0], ValueError)


async def test_dispose_from_another_thread(reported: list[dict[str, Any]]) -> None:
    before = asyncio.all_tasks()
    producer = Producer([1], wait=True)
    recorder = Recorder()
    subscription = recorder.subscribe(from_producer(producer))
    while not recorder.items:
        await asyncio.sleep(0)
    await asyncio.to_thread(subscription.dispose)
    await asyncio.wait_for(producer.finished.wait(), 30)
    assert producer.saw_cancel
    assert await no_task_left(before)
    assert reported == []


async def test_dispose_after_the_end_does_nothing(reported: list[dict[str, Any]]) -> None:
    recorder = Recorder()
    subscription = recorder.subscribe(from_producer(Producer([1, 2])))
    await recorder.done
    subscription.dispose()
    await asyncio.sleep(0)
    assert (recorder.items, recorder.completed, reported) == ([1, 2], 1, [])


async def test_dispose_inside_on_next_stops_a_producer_that_never_awaits() -> None:
    producer = Producer(list(range(1000)), suspend=False)
    recorder = Recorder()
    recorder.subscribe(from_producer(producer).pipe(ops.take(3)))
    await recorder.done
    await producer.finished.wait()
    assert recorder.items == [0, 1, 2] and recorder.completed == 1
    assert producer.emitted == 3 and producer.saw_cancel  # its 4th emit raised CancelledError


async def test_dispose_inside_on_next_cancels_a_producer_that_then_waits() -> None:
    producer = Producer([1], wait=True)
    recorder = Recorder()
    recorder.subscribe(from_producer(producer).pipe(ops.take(1)))
    await recorder.done
    await asyncio.wait_for(producer.finished.wait(), 30)
    assert producer.saw_cancel


async def test_a_cancellation_that_is_not_a_disposal_is_an_error() -> None:
    before = asyncio.all_tasks()
    producer = Producer([1], wait=True)
    recorder = Recorder()
    recorder.subscribe(from_producer(producer, what="Thing.stream()"))
    while not recorder.items:
        await asyncio.sleep(0)
    (task,) = asyncio.all_tasks() - before
    task.cancel()  # e.g. the loop shutting down
    await recorder.done
    assert isinstance(recorder.errors[0], RxChronosError)
    assert str(recorder.errors[0]) == "Thing.stream() was cancelled before it finished"
    assert await no_task_left(before)


# --- rule 3: the producer's end ---------------------------------------------------------------


async def test_return_is_completion_and_exception_is_error(reported: list[dict[str, Any]]) -> None:
    done, failed = Recorder(), Recorder()
    boom = ValueError("boom")
    done.subscribe(from_producer(Producer([1, 2])))
    failed.subscribe(from_producer(Producer([1], fail=boom)))
    await asyncio.gather(done.done, failed.done)
    assert (done.items, done.completed, done.errors) == ([1, 2], 1, [])
    assert (failed.items, failed.completed, failed.errors) == ([1], 0, [boom])
    assert reported == []


class Halt(BaseException):
    """A BaseException of the producer's own (not an Exception)."""


@pytest.mark.parametrize("raised", [Halt("halt"), GeneratorExit("closed")])
async def test_a_base_exception_is_an_error_not_a_hang(
    raised: BaseException, reported: list[dict[str, Any]]
) -> None:
    async def produce(emit: Emit) -> None:
        emit(1)
        await asyncio.sleep(0)
        raise raised

    recorder = Recorder()
    recorder.subscribe(from_producer(produce, what="halting()"))
    await asyncio.wait_for(recorder.done, 5)
    (error,) = recorder.errors
    assert type(error) is RxChronosError and error.__cause__ is raised
    assert str(error) == f"halting() stopped: its producer raised {type(raised).__name__}: {raised}"
    assert (recorder.items, recorder.completed, reported) == ([1], 0, [])


_INTERRUPTED = """
import asyncio
from rxchronos import RxChronosError
from rxchronos.aio import from_producer

errors = []

async def produce(emit):
    await asyncio.sleep(0)
    raise KeyboardInterrupt

async def main():
    from_producer(produce).subscribe(print, errors.append)
    await asyncio.sleep(3600)

try:
    asyncio.run(main())
except KeyboardInterrupt:
    (error,) = errors
    assert type(error) is RxChronosError and type(error.__cause__) is KeyboardInterrupt
    print("interrupted")
"""


def test_keyboard_interrupt_reaches_on_error_and_still_stops_the_loop() -> None:
    # in a process of its own: an interrupt unwinding through pytest's own frames upsets it
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "interrupted\n", "")


async def test_nothing_is_emitted_after_the_end() -> None:
    leaked: list[Emit] = []

    async def produce(emit: Emit) -> None:
        emit("last")
        leaked.append(emit)

    recorder = Recorder()
    recorder.subscribe(from_producer(produce))
    await recorder.done
    with pytest.raises(asyncio.CancelledError, match="the subscription is over"):
        leaked[0]("late")
    assert recorder.items == ["last"] and recorder.completed == 1


async def test_an_awaited_chain_ends() -> None:
    assert await from_producer(Producer([1, 2, 3])).pipe(ops.to_list()) == [1, 2, 3]


# --- rule 4: the subscriber's on_next raises ---------------------------------------------------


async def test_on_next_raising_stops_the_producer_and_reaches_on_error(
    reported: list[dict[str, Any]],
) -> None:
    before = asyncio.all_tasks()
    producer = Producer([1, 2, 3], wait=True)
    bug = KeyError("bug in the subscriber")
    errors: list[Exception] = []

    def on_next(item: int) -> None:
        if item == 2:
            raise bug

    from_producer(producer).subscribe(on_next, errors.append)
    await producer.finished.wait()
    assert await no_task_left(before)
    assert errors == [bug]
    assert producer.emitted == 1 and producer.saw_cancel  # emit(2) raised CancelledError
    assert reported == []


async def test_on_next_raising_ends_an_awaited_chain() -> None:
    def explode(item: int) -> int:
        raise ZeroDivisionError(item)

    recorder = Recorder()
    observable = from_producer(Producer([1, 2]))
    observable.subscribe(explode, recorder._error)
    await asyncio.wait_for(recorder.done, 30)
    assert isinstance(recorder.errors[0], ZeroDivisionError)


async def test_on_next_raising_without_on_error_reaches_the_handler(
    reported: list[dict[str, Any]],
) -> None:
    producer = Producer([1])
    bug = KeyError("no on_error here")

    def on_next(item: int) -> None:
        raise bug

    from_producer(producer, what="Thing.stream()").subscribe(on_next)
    await producer.finished.wait()
    await asyncio.sleep(0)
    assert [context["exception"] for context in reported] == [bug]
    assert reported[0]["message"] == "Thing.stream(): the subscriber's on_error raised"


async def test_what_the_producer_raises_while_stopping_is_reported(
    reported: list[dict[str, Any]],
) -> None:
    bug, cleanup = KeyError("bug"), OSError("cleanup failed")

    async def produce(emit: Emit) -> None:
        try:
            emit(1)
        finally:
            raise cleanup

    def on_next(item: int) -> None:
        raise bug

    errors: list[Exception] = []
    from_producer(produce).subscribe(on_next, errors.append)
    while not errors:
        await asyncio.sleep(0)
    assert errors == [bug]
    assert [context["exception"] for context in reported] == [cleanup]
    assert "while stopping for the subscriber" in reported[0]["message"]


# --- rule 5: the end's callbacks raise; late producer failures ---------------------------------


async def test_on_completed_raising_reaches_the_handler(reported: list[dict[str, Any]]) -> None:
    bug = ValueError("collector failed while completing")

    def on_completed() -> None:
        raise bug

    before = asyncio.all_tasks()
    from_producer(Producer([1]), what="Thing.stream()").subscribe(on_completed=on_completed)
    assert await no_task_left(before)
    assert [context["exception"] for context in reported] == [bug]
    assert reported[0]["message"] == "Thing.stream(): the subscriber's on_completed raised"


async def test_on_error_raising_reaches_the_handler(reported: list[dict[str, Any]]) -> None:
    boom, bug = RuntimeError("producer failed"), ValueError("on_error failed")

    def on_error(error: Exception) -> None:
        assert error is boom
        raise bug

    before = asyncio.all_tasks()
    from_producer(Producer([], fail=boom)).subscribe(on_error=on_error)
    assert await no_task_left(before)
    assert [context["exception"] for context in reported] == [bug]


async def test_a_producer_failing_after_disposal_is_reported(
    reported: list[dict[str, Any]],
) -> None:
    late = OSError("failed while closing")
    finished = asyncio.Event()

    async def produce(emit: Emit) -> None:
        try:
            emit(1)
            await asyncio.Event().wait()
        finally:
            finished.set()
            raise late

    recorder = Recorder()
    subscription = recorder.subscribe(from_producer(produce))
    while not recorder.items:
        await asyncio.sleep(0)
    subscription.dispose()
    await finished.wait()
    await asyncio.sleep(0)
    assert [context["exception"] for context in reported] == [late]
    assert "after the subscription was disposed" in reported[0]["message"]
    assert not recorder.done.done()


# --- the bridges together ----------------------------------------------------------------------


async def test_to_async_iterator_break_disposes_the_producer() -> None:
    producer = Producer(list(range(100)), wait=True)
    async for n in to_async_iterator(from_producer(producer)):
        if n == 2:
            break
    await asyncio.wait_for(producer.finished.wait(), 30)
    assert producer.saw_cancel and producer.emitted < 100
