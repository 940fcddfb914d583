"""``rxchronos demo --workers N``: N aiohttp worker processes on one port, sharing Redis and
PostgreSQL.

The supervisor (the ``rxchronos demo`` process) first checks the model, Redis and PostgreSQL
(creating or migrating the store's schema once), so a wrong URL is one error line, not N
tracebacks. It then starts the workers (``multiprocessing``, spawned), each serving the demo app
with a [SharedBackend][rxchronos.demo.SharedBackend] on the same address with ``SO_REUSEPORT``:
the kernel spreads connections over them, and a page whose worker dies reconnects to another
one, which resumes its event stream from Redis (and adopts its run, if that worker was running
it). The supervisor reports every worker that dies; when none is left it exits with status 1.
Ctrl-C (or SIGTERM) stops every worker with SIGTERM (their runs end cancelled and stay
resumable), then SIGKILL for one that has not stopped within ``STOP_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TextIO

from rxchronos import RxChronosError
from rxchronos.demo._shared import SharedBackend
from rxchronos.model import Provider, provider_from_string

__all__ = ["STOP_TIMEOUT", "WorkerConfig", "WorkersError", "serve_workers"]

STOP_TIMEOUT = 10.0
"""Seconds a worker has to stop after SIGTERM before it is killed."""
_READY_TIMEOUT = 60.0  # seconds every worker has to start serving


class WorkersError(RxChronosError):
    """The demo's workers could not be started (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What every worker of ``rxchronos demo --workers N`` serves, and with what."""

    host: str
    port: int
    redis_url: str
    postgres_dsn: str
    namespace: str
    schema: str
    model: str | None
    delay: float
    pace: float = 0.6

    def backend(self) -> SharedBackend:
        """A new (unopened) backend of this configuration."""
        return SharedBackend(
            self.redis_url, self.postgres_dsn, namespace=self.namespace, schema=self.schema
        )

    def provider(self) -> Provider:
        """The model: the one named, or the offline scripted one."""
        from rxchronos.demo._agent import demo_provider

        return provider_from_string(self.model) if self.model else demo_provider(self.delay)


def serve_workers(config: WorkerConfig, workers: int, out: TextIO) -> int:
    """Check the backends, start ``workers`` processes, supervise them until Ctrl-C or SIGTERM.

    Returns:
        0 after a clean stop, 1 when every worker died.

    Raises:
        BrokerUnavailableError: Redis cannot be reached (its URL is named, without password).
        CheckpointStoreError: PostgreSQL cannot be reached (likewise).
        WorkersError: the port cannot be served, or a worker failed to start.
    """
    where = asyncio.run(_check(config))
    with _reserved_port(config.host, config.port) as port:
        config = dataclasses.replace(config, port=port)
        context = multiprocessing.get_context("spawn")
        pipes = [context.Pipe(duplex=False) for _ in range(workers)]
        processes = [
            context.Process(
                target=_worker_main, args=(config, n, sender), name=f"rxchronos-demo-worker-{n}"
            )
            for n, (_, sender) in enumerate(pipes, start=1)
        ]
        with _stopping_on_sigterm():
            try:
                for process in processes:
                    process.start()
                _wait_ready(processes, [receiver for receiver, _ in pipes])
            except BaseException:
                _stop(processes, out)
                raise
    shown = f"[{config.host}]" if ":" in config.host else config.host
    pids = ", ".join(str(p.pid) for p in processes)
    print(
        f"rxchronos demo: open http://{shown}:{port}/  ({workers} workers, pids {pids}; {where}; "
        "Ctrl-C stops)",
        file=out,
        flush=True,
    )
    with _stopping_on_sigterm():
        try:
            return _supervise(processes, out)
        except KeyboardInterrupt:
            _stop(processes, out)
            print("rxchronos demo: stopped", file=out, flush=True)
            return 0


async def _check(config: WorkerConfig) -> str:
    """Open the model, Redis and PostgreSQL once (migrating the schema); say where runs live."""
    async with config.provider():
        pass
    backend = config.backend()
    await backend.open()
    await backend.aclose()
    return backend.describe()


@contextlib.contextmanager
def _reserved_port(host: str, port: int) -> Iterator[int]:
    """The port to serve on, held (bound, not listening) until the workers listen on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            holder.bind((host, port))
        except OSError as exc:
            raise WorkersError(
                f"cannot serve on {host}:{port} ({exc.strerror or exc}); "
                "try another --port, or --port 0 for any free one"
            ) from None
        yield int(holder.getsockname()[1])
    finally:
        holder.close()


@contextlib.contextmanager
def _stopping_on_sigterm() -> Iterator[None]:
    """SIGTERM stops the supervisor as Ctrl-C does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait_ready(processes: Sequence[BaseProcess], reports: list[Connection]) -> None:
    """Return when every worker serves; ``WorkersError`` with the first failure otherwise."""
    waiting = dict(enumerate(zip(processes, reports, strict=True), start=1))
    while waiting:
        channels = [report for _, report in waiting.values()]
        sentinels = [process.sentinel for process, _ in waiting.values()]
        if not multiprocessing.connection.wait([*channels, *sentinels], timeout=_READY_TIMEOUT):
            raise WorkersError(
                f"worker {min(waiting)} did not start serving within {_READY_TIMEOUT:.0f} s"
            )
        for number, (process, report) in list(waiting.items()):
            if report.poll():
                problem = report.recv()
                if problem:
                    raise WorkersError(f"worker {number} could not start: {problem}")
                del waiting[number]
            elif process.exitcode is not None:
                raise WorkersError(f"worker {number} exited before serving ({_how(process)})")


def _supervise(processes: Sequence[BaseProcess], out: TextIO) -> int:
    """Report each worker that dies; return 1 when none is left."""
    alive = dict(enumerate(processes, start=1))
    while alive:
        multiprocessing.connection.wait([p.sentinel for p in alive.values()])
        for number, process in list(alive.items()):
            if process.exitcode is None:
                continue
            del alive[number]
            print(
                f"rxchronos demo: worker {number} (pid {process.pid}) died ({_how(process)}); "
                f"{len(alive)} of {len(processes)} still serving",
                file=out,
                flush=True,
            )
    print("rxchronos demo: every worker died; stopping", file=out, flush=True)
    return 1


def _how(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


def _stop(processes: Sequence[BaseProcess], out: TextIO) -> None:
    """SIGTERM every worker still running, then SIGKILL those that do not stop in time."""
    started = [p for p in processes if p.pid is not None]
    for process in started:
        if process.exitcode is None:
            process.terminate()
    for process in started:
        process.join(STOP_TIMEOUT)
        if process.exitcode is None:
            print(
                f"rxchronos demo: worker pid {process.pid} did not stop in {STOP_TIMEOUT:.0f} s; "
                "killing it",
                file=out,
                flush=True,
            )
            process.kill()
            process.join()


# --- in a worker --------------------------------------------------------------------------------


def _worker_main(config: WorkerConfig, number: int, report: Connection) -> None:
    """A worker process: serve the demo app on the shared port until SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the supervisor, which stops us
    try:
        asyncio.run(_serve(config, report))
    except RxChronosError as exc:
        print(f"rxchronos demo: worker {number} (pid {os.getpid()}): {exc}", file=sys.stderr)
        raise SystemExit(1) from None


async def _serve(config: WorkerConfig, report: Connection) -> None:
    """Serve until SIGTERM; ``report`` gets ``""`` once serving, or what kept the worker from it."""
    from aiohttp import web

    from rxchronos.demo._app import create_app

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    backend = config.backend()
    try:
        await backend.open()
    except RxChronosError as exc:
        report.send(str(exc))
        return
    try:
        app = create_app(config.provider(), pace=config.pace, shared=backend)
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, config.host, config.port, reuse_port=True)
            try:
                await site.start()
            except OSError as exc:
                report.send(f"cannot serve on {config.host}:{config.port} ({exc})")
                return
            report.send("")
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        await backend.aclose()
