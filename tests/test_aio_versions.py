"""``from_producer`` subscribes without reactivex's trampoline (see ``rxchronos.aio._Producer``):
checked against the installed reactivex's subscribe path, and still an Observable like any other."""

from __future__ import annotations

import asyncio
import inspect

import reactivex
from reactivex import abc
from reactivex import operators as ops
from reactivex.disposable import Disposable

from rxchronos.aio import _Producer
from rxchronos.aio import from_producer


def test_reactivex_subscribes_through_the_two_methods_the_producer_overrides() -> None:
    for name in ("subscribe", "_subscribe_core"):
        theirs = inspect.signature(getattr(reactivex.Observable, name)).parameters
        ours = inspect.signature(getattr(_Producer, name)).parameters
        assert list(theirs) == list(ours), (
            f"reactivex {reactivex.__version__}: Observable.{name}{list(theirs)} is not the "
            f"{list(ours)} rxchronos.aio._Producer overrides; check _Producer against it"
        )
    reached: list[str] = []

    class Recording(reactivex.Observable[int]):
        def _subscribe_core(
            self, observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            reached.append("core")
            observer.on_completed()
            return Disposable()

    Recording().pipe(ops.map(lambda n: n)).subscribe()
    assert reached == ["core"], "operators no longer end in the source's _subscribe_core"


async def test_a_producer_takes_observers_callbacks_and_operators_like_any_observable() -> None:
    async def produce(emit: object) -> None:
        for n in range(4):
            emit(n)  # type: ignore[operator]
            await asyncio.sleep(0)

    source = from_producer(produce)
    assert isinstance(source, reactivex.Observable)
    assert await source.pipe(ops.map(lambda n: n * 10), ops.to_list()) == [0, 10, 20, 30]
    merged = await reactivex.merge(source, source).pipe(ops.count())
    assert merged == 8
    done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
    seen: list[int] = []
    source.subscribe(
        reactivex.Observer(seen.append, done.set_exception, lambda: done.set_result(seen))
    )
    assert await done == [0, 1, 2, 3]
    first = await source.pipe(ops.take(2), ops.to_list())  # disposed from inside on_next
    assert first == [0, 1]
