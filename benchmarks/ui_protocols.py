"""Benchmark: what speaking a frontend protocol costs, against rxchronos' own event frames.

The same fan-out (one publisher, N SSE clients on 127.0.0.1; ``sse_fanout.py``'s harness and
clients) with the same graph events (``emit("tick", ...)`` in a node) spelled three ways:
``plain`` (the broker's own frames, as a ``Runner`` publishes them), ``ui`` (the AI SDK's UI
message stream, as ``add_chat_route`` serves it) and ``ag-ui`` (AG-UI events built with the
``ag-ui-protocol`` models, as ``add_ag_ui_route`` serves it). Reported: events/s delivered and the
server's CPU time per delivered event, with each protocol's ratio to ``plain``.
Target: each protocol at most 1.3x the plain frames' CPU per event.

Run ``python benchmarks/ui_protocols.py`` (``bench`` and ``ui`` extras); ``--quick``: a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import sse_fanout  # noqa: E402 - the fan-out harness

KINDS = ("plain", "ui", "ag-ui")
TARGET = 1.3


async def main(options: argparse.Namespace) -> None:
    sse_fanout.SERVER = str(HERE / "_ui_protocols_server.py")
    print(
        f"protocol fan-out on 127.0.0.1, {options.clients} clients, {options.deliveries:,}"
        f" deliveries per run, best of {options.repeat}\n"
    )
    results: dict[str, sse_fanout.Fanout] = {}
    for _ in range(options.repeat):
        for kind in KINDS:  # interleaved, so that a busy moment hits every contender alike
            run = await sse_fanout.measure_fanout(kind, options.clients, options.burst, options)
            best = results.get(kind)
            if run.problem:
                print(f"{kind}: {run.problem}")
            elif best is None or best.problem or run.cpu_us < best.cpu_us:
                results[kind] = run
    plain = results.get("plain")
    head = f"{'spelling':<8} {'events/s':>10} {'CPU us/event':>13} {'vs plain':>9} {'p99 ms':>8}"
    print(head)
    print("-" * len(head))
    for kind in KINDS:
        r = results.get(kind)
        if r is None:
            print(f"{kind:<8} failed")
            continue
        vs = sse_fanout.ratio(r.cpu_us, plain.cpu_us if plain else 0)
        print(f"{kind:<8} {r.events_per_s:>10,.0f} {r.cpu_us:>13.2f} {vs:>9} {r.p99_ms:>8.2f}")
    print(f"\ntarget: server CPU per delivered event <= {TARGET}x plain")
    for kind in ("ui", "ag-ui"):
        r = results.get(kind)
        if r is None or plain is None:
            print(f"  {kind:<6} incomplete run")
            continue
        met = r.cpu_us <= TARGET * plain.cpu_us
        print(f"  {kind:<6} {r.cpu_us / plain.cpu_us:.2f}x  {'met' if met else 'MISSED'}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--deliveries", type=int, default=None, help="per run, in all")
    parser.add_argument("--burst", type=int, default=10, help="events published between yields")
    parser.add_argument("--repeat", type=int, default=None, help="runs per spelling (best kept)")
    parser.add_argument("--latency-load", type=int, default=20_000, help="deliveries/s")
    parser.add_argument("--latency-seconds", type=float, default=None)
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument("--broker-buffer", type=int, default=1024, help="the broker's buffer_size")
    parser.add_argument("--timeout", type=float, default=60.0, help="bound on every wait, s")
    options = parser.parse_args(argv)
    options.deliveries = options.deliveries or (50_000 if options.quick else 300_000)
    options.repeat = options.repeat or (2 if options.quick else 3)
    options.latency_seconds = options.latency_seconds or (0.5 if options.quick else 2.0)
    return options


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
