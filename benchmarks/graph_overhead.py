"""Graph runner overhead per node: rxchronos vs LangGraph, in the same run.

A 3-node linear graph, each node setting one key. For rxchronos, ``runner.stream(...)`` is
subscribed and every event is consumed (node_start, node_end, edge_transition, checkpoint,
completed), with no store, ``MemoryStore`` and ``SQLiteStore``. For LangGraph, ``astream`` with
``stream_mode="updates"``, without and with ``InMemorySaver``. Each figure is the best of several
repeats, in microseconds per node.

A fan-out graph too: one node, then 10 nodes in parallel (each adding to a list through a
reducer), then a join; 12 nodes per run, every event streamed (``runner.stream``), against
LangGraph's ``astream`` (``stream_mode="updates"``) on the same graph, no store on either side.

Targets: rxchronos without a store at most 1/20 of LangGraph without a checkpointer, and with
``MemoryStore`` at most 1/10 of LangGraph with ``InMemorySaver``; the fan-out graph at most 1/10
of LangGraph's per-node overhead.

Usage::

    python benchmarks/graph_overhead.py           # full run
    python benchmarks/graph_overhead.py --quick   # a few seconds
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import tempfile
import time
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from typing import Any
from typing import Protocol
from typing import TypedDict

from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateGraph

NODES = 3
WIDTH = 10
FAN_NODES = WIDTH + 2


class Node(Protocol):
    def __call__(self, state: Any) -> Awaitable[dict[str, Any]]: ...


def setter(i: int) -> Node:
    """Node ``n<i>``, setting key ``k<i>``: the same function for both libraries."""
    key = f"k{i}"

    async def node(state: Any) -> dict[str, int]:
        return {key: i}

    return node


def rx_graph() -> StateGraph:
    n1, n2, n3 = (setter(i) for i in range(1, NODES + 1))
    return (
        StateGraph("bench")
        .add_node("n1", n1)
        .add_node("n2", n2)
        .add_node("n3", n3)
        .set_entry_point("n1")
        .add_edge("n1", "n2")
        .add_edge("n2", "n3")
        .set_finish_point("n3")
    )


def rx_case(runner: Runner) -> Callable[[int], Awaitable[int]]:
    loop = asyncio.get_running_loop()

    async def one(i: int) -> int:
        done: asyncio.Future[None] = loop.create_future()
        count = 0

        def on_next(_: Any) -> None:
            nonlocal count
            count += 1

        runner.stream(f"s{i}", {"i": i}).subscribe(
            on_next, done.set_exception, lambda: done.set_result(None)
        )
        await done
        return count

    return one


class LGState(TypedDict, total=False):
    i: int
    k1: int
    k2: int
    k3: int


def lg_case(checkpointer: bool) -> Callable[[int], Awaitable[int]]:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END
    from langgraph.graph import START
    from langgraph.graph import StateGraph as LGStateGraph

    n1, n2, n3 = (setter(i) for i in range(1, NODES + 1))

    builder = LGStateGraph(LGState)
    builder.add_node("n1", n1)
    builder.add_node("n2", n2)
    builder.add_node("n3", n3)
    builder.add_edge(START, "n1")
    builder.add_edge("n1", "n2")
    builder.add_edge("n2", "n3")
    builder.add_edge("n3", END)
    graph = builder.compile(checkpointer=InMemorySaver() if checkpointer else None)

    async def one(i: int) -> int:
        config: Any = {"configurable": {"thread_id": f"t{i}"}} if checkpointer else None
        count = 0
        async for _ in graph.astream({"i": i}, config, stream_mode="updates"):
            count += 1
        return count

    return one


def adder(i: int) -> Node:
    """Branch ``w<i>`` of the fan-out graph: adds ``[i]`` to ``results``."""

    async def node(state: Any) -> dict[str, Any]:
        return {"results": [i]}

    return node


async def fan_start(state: Any) -> dict[str, Any]:
    return {"started": True}


async def fan_merge(state: Any) -> dict[str, Any]:
    return {"total": sum(state["results"])}


def rx_fan_out() -> Runner:
    graph = StateGraph("fan", reducers={"results": operator.add}).add_node("start", fan_start)
    for i in range(WIDTH):
        graph.add_node(f"w{i}", adder(i)).add_edge("start", f"w{i}")
    graph.add_node("merge", fan_merge).add_edge([f"w{i}" for i in range(WIDTH)], "merge")
    return Runner(graph.set_entry_point("start").compile())


class LGFanState(TypedDict, total=False):
    i: int
    started: bool
    results: Annotated[list[int], operator.add]
    total: int


def lg_fan_out() -> Callable[[int], Awaitable[int]]:
    from langgraph.graph import END
    from langgraph.graph import START
    from langgraph.graph import StateGraph as LGStateGraph

    builder = LGStateGraph(LGFanState)
    builder.add_node("start", fan_start)
    builder.add_edge(START, "start")
    for i in range(WIDTH):
        builder.add_node(f"w{i}", adder(i))
        builder.add_edge("start", f"w{i}")
    builder.add_node("merge", fan_merge)
    builder.add_edge([f"w{i}" for i in range(WIDTH)], "merge")
    builder.add_edge("merge", END)
    graph = builder.compile()

    async def one(i: int) -> int:
        count = 0
        async for _ in graph.astream({"i": i, "results": []}, stream_mode="updates"):
            count += 1
        return count

    return one


async def measure(
    run: Callable[[int], Awaitable[int]], iterations: int, repeats: int, nodes: int = NODES
) -> float:
    """Best-of-``repeats`` microseconds per node over ``iterations`` runs."""
    for i in range(min(50, iterations)):  # warm up
        await run(-i - 1)
    best = float("inf")
    offset = 0
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(iterations):
            await run(offset + i)
        best = min(best, time.perf_counter() - start)
        offset += iterations
    return best / (iterations * nodes) * 1e6


async def main(quick: bool) -> None:
    iterations, repeats = (200, 3) if quick else (2000, 5)
    lg_iterations = max(50, iterations // 4)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        try:
            cases: list[tuple[str, Callable[[int], Awaitable[int]], int]] = [
                ("rxchronos, no store", rx_case(Runner(rx_graph().compile())), iterations),
                (
                    "rxchronos, MemoryStore",
                    rx_case(Runner(rx_graph().compile(), MemoryStore())),
                    iterations,
                ),
                (
                    "rxchronos, SQLiteStore",
                    rx_case(Runner(rx_graph().compile(), store)),
                    max(50, iterations // 10),
                ),
                ("LangGraph astream, no checkpointer", lg_case(False), lg_iterations),
                ("LangGraph astream, InMemorySaver", lg_case(True), lg_iterations),
            ]
            results = {name: await measure(run, n, repeats) for name, run, n in cases}
        finally:
            await store.aclose()
    fan_iterations = 100 if quick else 1000
    rx_fan = await measure(rx_case(rx_fan_out()), fan_iterations, repeats, FAN_NODES)
    lg_fan = await measure(lg_fan_out(), max(25, fan_iterations // 4), repeats, FAN_NODES)

    lg_plain = results["LangGraph astream, no checkpointer"]
    lg_saver = results["LangGraph astream, InMemorySaver"]
    versus = {
        "rxchronos, no store": lg_plain,
        "rxchronos, MemoryStore": lg_saver,
        "rxchronos, SQLiteStore": lg_saver,
    }
    targets = {"rxchronos, no store": 1 / 20, "rxchronos, MemoryStore": 1 / 10}
    print(f"graph overhead: 3-node linear graph, {'quick' if quick else 'full'} run")
    print()
    print("| case | us per node | vs LangGraph | target |")
    print("| --- | ---: | ---: | --- |")
    for name, micros in results.items():
        ratio = f"{micros / versus[name]:.3f}x" if name in versus else ""
        target = targets.get(name)
        verdict = ""
        if target is not None:
            met = micros / versus[name] <= target
            verdict = f"<= {target:.2f}x {'met' if met else 'MISSED'}"
        print(f"| {name} | {micros:.1f} | {ratio} | {verdict} |")
    print()
    print(f"fan-out graph: 1 -> {WIDTH} parallel -> join ({FAN_NODES} nodes), every event streamed")
    print()
    print("| case | us per node | vs LangGraph | target |")
    print("| --- | ---: | ---: | --- |")
    fan_ratio = rx_fan / lg_fan
    print(
        f"| rxchronos, no store | {rx_fan:.1f} | {fan_ratio:.3f}x | <= 0.10x "
        f"{'met' if fan_ratio <= 0.1 else 'MISSED'} |"
    )
    print(f"| LangGraph astream, no checkpointer | {lg_fan:.1f} | | |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a few seconds)")
    asyncio.run(main(parser.parse_args().quick))
