"""Benchmark: one publisher fanning Server-Sent Events out to N clients, against its peers.

Each contender runs alone in a server process on 127.0.0.1 (``_fanout_server.py``); N aiohttp SSE
clients read it from separate processes (``_fanout_client.py``). Contenders:

* ``broker``: rxchronos ``Broker.publish`` + ``broker.sse_handler()``;
* ``aiohttp-sse``: the usual hand-written pattern, a per-client ``asyncio.Queue`` and
  ``EventSourceResponse.send`` per event;
* ``sse-starlette``: the same pattern with sse-starlette under uvicorn;
* ``raw``: the limit, one pre-encoded frame written to every ``StreamResponse``.

For N = 100 and N = 1,000 each contender goes through two phases on the same connections:

1. throughput: M events published as fast as possible, yielding to the event loop after every
   event (burst 1: one event per loop turn, as when each arrives on its own from a model stream)
   and after every 10 (``--bursts``); events/s *delivered* = N x M / (last arrival - first
   publish), and the server process's CPU time (user + system) per delivered event;
2. latency: events published at a steady pace (``--latency-load`` deliveries/s in all), each
   carrying its publish time; p50/p99 of arrival - publish over every client.

Then the memory check: one client connects and reads nothing while 1,000,000 events are
published; the server's resident memory growth is reported (``raw`` cannot take part: a stalled
client blocks its publisher, which is reported as such).

Each measurement ends by stopping the server process before its clients go, so that no server
sees the disconnects of the benchmark's own teardown. What a server prints on stderr (a traceback
of an error in a request handler or in the publisher) fails its row and is shown; a failed row of
rxchronos's ``broker`` makes the benchmark exit with status 1.

With the clients on the same machine, the client side can saturate first; server CPU per event is
then the fair comparison. Everything is on loopback, bounded in time, and stops by itself. Run
``python benchmarks/sse_fanout.py`` (``bench`` extra); ``--quick`` for a small smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

HERE = Path(__file__).parent
SERVER = str(HERE / "_fanout_server.py")
CLIENT = str(HERE / "_fanout_client.py")
KINDS = ("broker", "aiohttp-sse", "sse-starlette", "raw")
RXCHRONOS = ("broker",)
"""The contenders that are rxchronos: any failure of theirs fails the benchmark."""
BASELINE = "aiohttp-sse"
LINE_LIMIT = 1 << 26  # a client's report carries every latency it measured


@dataclass
class Delivery:
    """What one contender delivered to ``clients`` streams: throughput, server CPU, latency, or
    the problem that stopped the measurement (``distributed_fanout`` adds its own columns)."""

    kind: str
    clients: int
    events_per_s: float = 0.0
    cpu_us: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    problem: str = ""


@dataclass
class Fanout(Delivery):
    burst: int = field(kw_only=True)


@dataclass
class Memory:
    kind: str
    growth_mb: float = 0.0
    seconds: float = 0.0
    note: str = ""
    problem: str = ""


class ServerProcess:
    """A contender's server process, driven by JSON lines over its stdin and stdout."""

    def __init__(self, kind: str, process: asyncio.subprocess.Process, timeout: float) -> None:
        self.kind = kind
        self.process = process
        self.psutil = psutil.Process(process.pid)
        self.timeout = timeout
        self.port = 0
        assert process.stderr is not None
        self.stderr = asyncio.ensure_future(process.stderr.read())  # read as it comes, till EOF

    @classmethod
    async def start(cls, kind: str, buffer_size: int, timeout: float) -> ServerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            SERVER,
            kind,
            str(buffer_size),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        server = cls(kind, process, timeout)
        try:
            server.port = (await server.read())["port"]
        except BaseException:
            printed = await server.stop()
            if printed:
                raise RuntimeError(f"the {kind} server did not start:\n{printed}") from None
            raise
        return server

    async def read(self, timeout: float | None = None) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout or self.timeout)
        if not line:
            raise RuntimeError("the server process ended")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def ask(self, timeout: float | None = None, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        return await self.read(timeout)

    async def wait_connected(self, count: int) -> None:
        deadline = time.monotonic() + self.timeout
        while (await self.ask(cmd="connected"))["connected"] < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} clients connected")
            await asyncio.sleep(0.05)

    def cpu(self) -> float:
        times = self.psutil.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self.psutil.memory_info().rss)

    async def stop(self) -> str:
        """End the process; return what it printed on stderr (nothing when all went well), also
        shown on this process's stderr."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        printed = (await self.stderr).decode(errors="replace").strip()
        if printed:
            print(f"--- the {self.kind} server printed on stderr:\n{printed}", file=sys.stderr)
        return printed


def printed_problem(printed: str) -> str:
    """A server's stderr as a row's problem: its last line (the exception, for a traceback)."""
    return "the server printed on stderr: " + printed.splitlines()[-1] if printed else ""


async def spawn_client(script: str, *args: object) -> asyncio.subprocess.Process:
    """A client process running ``script`` with ``args``; it reports on stdout, a JSON line per
    phase."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        limit=LINE_LIMIT,
        cwd=HERE,
    )


async def start_clients(
    url: str, clients: int, procs: int, phase1: int, phase2: int, timeout: float
) -> list[asyncio.subprocess.Process]:
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    return [
        await spawn_client(CLIENT, url, share, phase1, phase2, timeout) for share in shares if share
    ]


async def read_line(process: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    if not line:
        raise RuntimeError("a client process ended without reporting")
    answer: dict[str, Any] = json.loads(line)
    return answer


async def first_phase_end(readers: list[asyncio.subprocess.Process], timeout: float) -> float:
    """When the last of the client processes received the last event of the first phase.

    Raises:
        RuntimeError: a process reports failed streams instead (with its first errors).
    """
    last = 0.0
    for reader in readers:
        answer = await read_line(reader, timeout)
        if "phase1" not in answer:
            raise RuntimeError(f"{answer['failed']} streams failed: {answer['errors'][:2]}")
        last = max(last, answer["phase1"])
    return last


async def second_phase(
    readers: list[asyncio.subprocess.Process], timeout: float
) -> tuple[float, float, list[dict[str, Any]]]:
    """p50 and p99 of the latencies the client processes measured in the second phase (in
    milliseconds), and their reports."""
    reports = [await read_line(reader, timeout) for reader in readers]
    p50, p99 = percentiles([latency for report in reports for latency in report["latencies"]])
    return p50, p99, reports


async def stop_clients(readers: list[asyncio.subprocess.Process]) -> None:
    for reader in readers:
        if reader.returncode is None:
            reader.kill()
        await reader.wait()


async def measure_fanout(
    kind: str, clients: int, burst: int, options: argparse.Namespace
) -> Fanout:
    phase1 = max(1, options.deliveries // clients)
    rate = options.latency_load / clients
    phase2 = max(10, round(rate * options.latency_seconds))
    result = Fanout(kind, clients, burst=burst)
    timeout = options.timeout
    server = await ServerProcess.start(kind, options.broker_buffer, timeout)
    readers: list[asyncio.subprocess.Process] = []
    try:
        url = f"http://127.0.0.1:{server.port}/events"
        readers = await start_clients(url, clients, options.client_procs, phase1, phase2, timeout)
        await server.wait_connected(clients)
        cpu_before = server.cpu()
        started = (await server.ask(cmd="publish", count=phase1, burst=burst))["started"]
        last = await first_phase_end(readers, timeout)
        cpu = server.cpu() - cpu_before
        result.events_per_s = clients * phase1 / (last - started)
        result.cpu_us = cpu / (clients * phase1) * 1e6
        await server.ask(cmd="pace", count=phase2, rate=rate)
        result.p50_ms, result.p99_ms, reports = await second_phase(readers, timeout)
        failed = sum(report["failed"] for report in reports)
        if failed:
            result.problem = f"{failed} streams failed in the latency phase"
        return result
    except (TimeoutError, RuntimeError) as exc:
        result.problem = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        # the server first: the readers' going away is no event for it to handle
        result.problem = result.problem or printed_problem(await server.stop())
        await stop_clients(readers)


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``latencies`` (seconds), in milliseconds (0, 0 for none)."""
    if not latencies:
        return 0.0, 0.0
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1e3, cuts[98] * 1e3


def stalled_client(port: int) -> socket.socket:
    """A client that sends its request and then never reads: its socket buffers stay small."""
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", port))
    stalled.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    return stalled


async def measure_memory(kind: str, options: argparse.Namespace) -> Memory:
    result = Memory(kind)
    server = await ServerProcess.start(kind, options.broker_buffer, options.timeout)
    stalled = stalled_client(server.port)
    try:
        try:
            await server.wait_connected(1)
        except TimeoutError as exc:
            result.problem = f"the stalled client was not connected: {exc}"
            return result
        before = server.rss()
        timeout = options.timeout if kind != "raw" else 5.0
        answer = await server.ask(
            timeout, cmd="publish", count=options.memory_events, burst=max(options.bursts)
        )
        result.seconds = answer["ended"] - answer["started"]
        result.growth_mb = (server.rss() - before) / 1e6
        stats = await server.ask(cmd="stats")
        result.note = ", ".join(f"{k} {v}" for k, v in stats.items())
    except TimeoutError:
        result.note = f"the publisher blocked (no progress within {timeout:.0f} s)"
        result.growth_mb = (server.rss() - before) / 1e6
        if kind in RXCHRONOS:  # it must not block: it drops the stalled client's backlog
            result.problem = result.note
    finally:
        # the server first: a stalled client closed with unread data resets its connection, an
        # error for the server's handler (or, for raw, its publisher) to raise
        result.problem = result.problem or printed_problem(await server.stop())
        stalled.close()
    return result


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}x" if value and reference else "-"


def groups(results: list[Fanout]) -> list[tuple[int, int]]:
    return sorted({(r.burst, r.clients) for r in results})


def print_fanout(results: list[Fanout]) -> None:
    head = (
        f"{'clients':>7}  {'server':<13} {'events/s':>10} {'vs ' + BASELINE:>15}"
        f" {'CPU us/event':>13} {'vs raw':>7} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'p99 vs ' + BASELINE:>19}"
    )
    print(head)
    print("-" * len(head))
    for burst, clients in groups(results):
        group = {r.kind: r for r in results if (r.burst, r.clients) == (burst, clients)}
        print(f"{'':>7}  publisher yields every {burst} event(s)")
        base, raw = group.get(BASELINE), group.get("raw")
        for r in group.values():
            if r.problem:
                print(f"{clients:>7}  {r.kind:<13} failed: {r.problem}")
                continue
            print(
                f"{clients:>7}  {r.kind:<13} {r.events_per_s:>10,.0f}"
                f" {ratio(r.events_per_s, base.events_per_s if base else 0):>15}"
                f" {r.cpu_us:>13.2f} {ratio(r.cpu_us, raw.cpu_us if raw else 0):>7}"
                f" {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
                f" {ratio(r.p99_ms, base.p99_ms if base else 0):>19}"
            )


def print_memory(results: list[Memory], events: int) -> None:
    print(f"\nresident memory growth of the server, {events:,} events, one stalled client")
    head = f"{'server':<13} {'growth MB':>10} {'publish s':>10}  note"
    print(head)
    print("-" * len(head))
    for r in results:
        note = f"failed: {r.problem}" if r.problem else r.note
        print(f"{r.kind:<13} {r.growth_mb:>10.1f} {r.seconds:>10.2f}  {note}")


def print_targets(results: list[Fanout], memory: list[Memory]) -> None:
    print("\ntargets for the broker")
    for burst, clients in groups(results):
        group = {
            r.kind: r for r in results if (r.burst, r.clients) == (burst, clients) and not r.problem
        }
        broker, base, raw = group.get("broker"), group.get(BASELINE), group.get("raw")
        if broker is None or base is None or raw is None:
            print(f"  burst {burst:<3} N={clients}: incomplete run")
            continue
        checks = [
            ("throughput >= 2x " + BASELINE, broker.events_per_s >= 2 * base.events_per_s),
            ("server CPU/event <= 2x raw", broker.cpu_us <= 2 * raw.cpu_us),
            ("p99 <= " + BASELINE, broker.p99_ms <= base.p99_ms),
        ]
        for name, ok in checks:
            print(f"  burst {burst:<3} N={clients:<5} {name:<30} {'met' if ok else 'MISSED'}")
    for r in memory:
        if r.kind == "broker":
            met = r.growth_mb < 50 and not r.problem
            print(f"  memory growth < 50 MB{'':<24} {'met' if met else 'MISSED'}")


async def main(options: argparse.Namespace) -> int:
    """Run every measurement and print the tables; the exit status: 1 when rxchronos failed."""
    print(
        f"SSE fan-out on 127.0.0.1, {psutil.cpu_count()} CPUs; clients in"
        f" {options.client_procs} process(es); throughput phase {options.deliveries:,}"
        f" deliveries (publisher bursts {options.bursts}); latency phase {options.latency_load:,}"
        f" deliveries/s for {options.latency_seconds} s\n"
    )
    results = []
    for burst in options.bursts:
        for clients in options.clients:
            for kind in options.kinds:
                results.append(await measure_fanout(kind, clients, burst, options))
    print_fanout(results)
    memory = [await measure_memory(kind, options) for kind in options.kinds]
    print_memory(memory, options.memory_events)
    print_targets(results, memory)
    failures = rxchronos_failures(results, memory)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def rxchronos_failures(results: list[Fanout], memory: list[Memory]) -> list[str]:
    """What failed in the rows of rxchronos's contenders (those fail the benchmark)."""
    rows: list[Fanout | Memory] = [*results, *memory]
    return [
        f"rxchronos's {r.kind} failed: {r.problem}"
        for r in rows
        if r.kind in RXCHRONOS and r.problem
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--clients", type=int, nargs="+", default=None)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--deliveries", type=int, default=None, help="throughput phase, total")
    parser.add_argument(
        "--bursts", type=int, nargs="+", default=[1, 10], help="events published between yields"
    )
    parser.add_argument("--latency-load", type=int, default=20_000, help="deliveries/s")
    parser.add_argument("--latency-seconds", type=float, default=None)
    parser.add_argument("--memory-events", type=int, default=None)
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument("--broker-buffer", type=int, default=1024, help="the broker's buffer_size")
    parser.add_argument("--timeout", type=float, default=60.0, help="bound on every wait, s")
    options = parser.parse_args(argv)
    quick = options.quick
    options.clients = options.clients or ([10, 100] if quick else [100, 1000])
    options.deliveries = options.deliveries or (20_000 if quick else 200_000)
    options.latency_seconds = options.latency_seconds or (0.5 if quick else 2.0)
    options.memory_events = options.memory_events or (100_000 if quick else 1_000_000)
    return options


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
