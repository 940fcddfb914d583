"""Benchmark: SSE fan-out across worker processes on Redis, against the in-process broker and the
usual Python pattern.

In one run, on a private ``redis-server`` (no persistence, a free port; its CPU and command
counts are this benchmark's alone):

* ``redis-broker``: rxchronos ``RedisBroker``: a publisher process and two aiohttp worker
  processes, each with ``--clients`` SSE clients (the clients in processes of their own);
* ``broker``: the in-process ``Broker``, one worker that also publishes, ``--clients`` clients
  (the baseline for CPU per event);
* ``broadcaster``: encode/broadcaster's Redis backend feeding a per-client queue in aiohttp-sse
  handlers: a publisher process and two workers, as for ``redis-broker``.

Each goes through a throughput phase (``--events`` published as fast as the publisher can,
yielding to its loop every 10) and a latency phase (events at a steady pace, each carrying its
publish time). Reported: delivered events/s, p50/p99 publish-to-receive latency, server CPU per
delivered event (workers, publisher and redis-server, from psutil and Redis ``INFO cpu``), Redis
commands per published event (``INFO commandstats`` delta), and gaps (streams that missed an
event or got one twice or out of order). Then the resume check: clients read half the events
from one ``RedisBroker`` worker, reconnect to the other with ``Last-Event-ID`` and must get every
remaining event once, in order.

Targets (printed with PASS/MISS): ``redis-broker`` events/s >= 2x ``broadcaster``; its CPU per
delivered event <= 1.5x ``broker``; p99 <= 50 ms; zero gaps; resume with nothing missed. Run
``python benchmarks/distributed_fanout.py`` (``bench`` extra, ``redis-server`` on PATH);
``--quick`` for a small smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import redis
from sse_fanout import Delivery
from sse_fanout import ServerProcess
from sse_fanout import first_phase_end
from sse_fanout import ratio
from sse_fanout import read_line
from sse_fanout import second_phase
from sse_fanout import spawn_client
from sse_fanout import stop_clients

HERE = Path(__file__).parent
CLIENT = str(HERE / "_distributed_client.py")
# kind -> (worker processes, whether a separate publisher process publishes)
SETUPS = {"redis-broker": (2, True), "broker": (1, False), "broadcaster": (2, True)}


@dataclass
class Result(Delivery):
    workers: int = field(kw_only=True)
    commands: float = 0.0
    gaps: int = 0
    notes: list[str] = field(default_factory=list)


class PrivateRedis:
    """A ``redis-server`` of this run's own, without persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]  # noqa: RUF005
            + ["--appendonly", "no", "--maxclients", "10000"],
            stdout=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def cpu(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def commands(self) -> int:
        return sum(int(v["calls"]) for v in self.client.info("commandstats").values())

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(10)


async def start_clients(
    urls: list[str], clients: int, phase1: int, phase2: int, timeout: float, hop: int = 0
) -> list[asyncio.subprocess.Process]:
    """One client process of ``clients`` streams per URL (hopping to the next URL after
    ``hop`` events when given)."""
    processes = []
    for n, url in enumerate(urls):
        extra = [urls[(n + 1) % len(urls)], hop] if hop else []
        processes.append(await spawn_client(CLIENT, url, clients, phase1, phase2, timeout, *extra))
    return processes


async def all_attached(readers: list[asyncio.subprocess.Process], timeout: float) -> None:
    """Wait until every stream of every client process has its preamble (it is attached)."""
    for reader in readers:
        line = await read_line(reader, timeout)
        if "connected" not in line:
            raise RuntimeError(f"a client process did not attach: {line.get('errors')}")


async def stop_all(readers: list[asyncio.subprocess.Process], servers: list[ServerProcess]) -> None:
    await stop_clients(readers)
    for server in servers:
        await server.stop()


async def start_servers(kind: str, options: argparse.Namespace) -> list[ServerProcess]:
    workers, separate = SETUPS[kind]
    count = workers + (1 if separate else 0)
    return [await ServerProcess.start(kind, options.buffer, options.timeout) for _ in range(count)]


async def measure(kind: str, store: PrivateRedis, options: argparse.Namespace) -> Result:
    workers = SETUPS[kind][0]
    result = Result(kind, options.clients, workers=workers)
    os.environ["RXCHRONOS_BENCH_NAMESPACE"] = "bench" + uuid.uuid4().hex[:8]
    timeout = options.timeout
    servers = await start_servers(kind, options)
    serving, publisher = servers[:workers], servers[-1]
    readers: list[asyncio.subprocess.Process] = []
    phase1 = options.events
    phase2 = max(10, round(options.latency_rate * options.latency_seconds))
    try:
        urls = [f"http://127.0.0.1:{s.port}/events" for s in serving]
        readers = await start_clients(urls, options.clients, phase1, phase2, timeout)
        for server in serving:
            await server.wait_connected(options.clients)
        await all_attached(readers, timeout)
        cpu_before = sum(s.cpu() for s in servers) + store.cpu()
        commands_before = store.commands()
        answer = await publisher.ask(cmd="publish", count=phase1, burst=10)
        last = await first_phase_end(readers, timeout)
        delivered = workers * options.clients * phase1
        cpu = sum(s.cpu() for s in servers) + store.cpu() - cpu_before
        result.events_per_s = delivered / (last - answer["started"])
        result.cpu_us = cpu / delivered * 1e6
        result.commands = (store.commands() - commands_before) / phase1
        await publisher.ask(cmd="pace", count=phase2, rate=options.latency_rate)
        result.p50_ms, result.p99_ms, reports = await second_phase(readers, timeout)
        for report in reports:
            result.gaps += report["gaps"]
            if report["failed"] or report["gaps"]:
                result.notes.extend(report["errors"][:2])
        return result
    except (TimeoutError, RuntimeError) as exc:
        result.problem = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        await stop_all(readers, servers)


async def resume_check(options: argparse.Namespace) -> tuple[bool, str]:
    """Clients read half the events from one RedisBroker worker, then resume on the other."""
    os.environ["RXCHRONOS_BENCH_NAMESPACE"] = "bench" + uuid.uuid4().hex[:8]
    servers = await start_servers("redis-broker", options)
    serving, publisher = servers[:2], servers[-1]
    total, clients = options.resume_events, options.resume_clients
    readers: list[asyncio.subprocess.Process] = []
    try:
        urls = [f"http://127.0.0.1:{s.port}/events" for s in serving]
        readers = await start_clients(urls, clients, 1, total - 1, options.timeout, total // 2)
        for server in serving:
            await server.wait_connected(clients)
        await all_attached(readers, options.timeout)
        await publisher.ask(cmd="pace", count=total, rate=options.resume_rate)
        received = gaps = failed = 0
        errors: list[str] = []
        for reader in readers:
            line = await read_line(reader, options.timeout)
            while "received" not in line:
                line = await read_line(reader, options.timeout)
            received += line["received"]
            gaps += line["gaps"]
            failed += line["failed"]
            errors.extend(line["errors"])
        expected = 2 * clients * total
        ok = received == expected and gaps == 0 and failed == 0
        detail = (
            f"{2 * clients} clients hopped workers after {total // 2} of {total} events: "
            f"{received:,} of {expected:,} events received, {gaps} gaps, {failed} failed"
        )
        return ok, detail + (f" ({errors[:2]})" if errors else "")
    finally:
        await stop_all(readers, servers)


def print_results(results: list[Result]) -> None:
    head = (
        f"{'setup':<14} {'workers':>7} {'clients':>7} {'events/s':>10} {'CPU us/event':>13}"
        f" {'Redis cmds/event':>17} {'p50 ms':>7} {'p99 ms':>7} {'gaps':>5}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        if r.problem:
            print(f"{r.kind:<14} failed: {r.problem}")
            continue
        print(
            f"{r.kind:<14} {r.workers:>7} {r.workers * r.clients:>7} {r.events_per_s:>10,.0f}"
            f" {r.cpu_us:>13.2f} {r.commands:>17.3f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}"
            f" {r.gaps:>5}"
        )
        for note in r.notes[:2]:
            print(f"{'':<14} {note}")


def print_targets(results: list[Result], resumed: tuple[bool, str]) -> bool:
    got = {r.kind: r for r in results if not r.problem}
    redis_broker, broker, peer = got.get("redis-broker"), got.get("broker"), got.get("broadcaster")
    print("\ntargets for redis-broker")
    if redis_broker is None or broker is None or peer is None:
        print("  incomplete run: MISS")
        return False
    checks = [
        (
            f"events/s >= 2x broadcaster ({ratio(redis_broker.events_per_s, peer.events_per_s)})",
            redis_broker.events_per_s >= 2 * peer.events_per_s,
        ),
        (
            f"CPU/event <= 1.5x in-process ({ratio(redis_broker.cpu_us, broker.cpu_us)})",
            redis_broker.cpu_us <= 1.5 * broker.cpu_us,
        ),
        (f"p99 <= 50 ms ({redis_broker.p99_ms:.1f} ms)", redis_broker.p99_ms <= 50),
        (f"zero gaps ({redis_broker.gaps})", redis_broker.gaps == 0),
        (f"resume on the other worker: {resumed[1]}", resumed[0]),
    ]
    for name, ok in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {name}")
    return all(ok for _, ok in checks)


async def main(options: argparse.Namespace) -> bool:
    store = PrivateRedis()
    os.environ["RXCHRONOS_BENCH_REDIS"] = store.url
    try:
        print(
            f"distributed SSE fan-out on 127.0.0.1, {psutil.cpu_count()} CPUs; {options.clients}"
            f" clients per worker; throughput phase {options.events:,} events; latency phase"
            f" {options.latency_rate:,} events/s for {options.latency_seconds} s\n"
        )
        results = [await measure(kind, store, options) for kind in options.kinds]
        print_results(results)
        resumed = await resume_check(options)
        return print_targets(results, resumed)
    finally:
        store.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--kinds", nargs="+", choices=list(SETUPS), default=list(SETUPS))
    parser.add_argument("--clients", type=int, default=None, help="SSE clients per worker")
    parser.add_argument("--events", type=int, default=None, help="throughput phase, published")
    parser.add_argument("--latency-rate", type=int, default=100, help="events/s published")
    parser.add_argument("--latency-seconds", type=float, default=None)
    parser.add_argument("--resume-events", type=int, default=None)
    parser.add_argument("--resume-clients", type=int, default=None, help="per worker")
    parser.add_argument("--resume-rate", type=int, default=200, help="events/s published")
    parser.add_argument("--buffer", type=int, default=4096, help="the brokers' buffer_size")
    parser.add_argument("--timeout", type=float, default=120.0, help="bound on every wait, s")
    options = parser.parse_args(argv)
    quick = options.quick
    options.clients = options.clients or (10 if quick else 100)
    options.events = options.events or (200 if quick else 2_000)
    options.latency_seconds = options.latency_seconds or (0.5 if quick else 3.0)
    options.resume_events = options.resume_events or (40 if quick else 400)
    options.resume_clients = options.resume_clients or (5 if quick else 50)
    return options


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(parse_args())) else 1)
