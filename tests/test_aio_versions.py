"""``from_producer`` subscribes without reactivex's trampoline (see ``rxchronos.aio._Producer``):
pinned to the reactivex it was checked against, and still an Observable like any other."""

from __future__ import annotations

import asyncio

import reactivex
from reactivex import operators as ops

from rxchronos.aio import CHECKED_REACTIVEX, from_producer


def test_the_installed_reactivex_is_one_the_producer_was_checked_against() -> None:
    assert reactivex.__version__ in CHECKED_REACTIVEX, (
        f"reactivex {reactivex.__version__} is not among {CHECKED_REACTIVEX}: check that "
        "Observable.subscribe still only adds the trampoline and AutoDetachObserver that "
        "rxchronos.aio._Producer skips, re-measure benchmarks/graph_overhead.py, add the version"
    )


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
