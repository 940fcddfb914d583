"""``rxchronos demo --workers N``: N aiohttp worker processes on one port, sharing Redis and
PostgreSQL.

The supervisor (the ``rxchronos demo`` process) first checks the model, Redis and PostgreSQL
(creating or migrating the store's schema once), so a wrong URL is one error line, not N
tracebacks. It then starts the workers (``multiprocessing``, spawned), each serving the demo app
with a [SharedBackend][rxchronos.demo.SharedBackend] on the same address with ``SO_REUSEPORT``:
the kernel spreads connections over them, and a page whose worker dies reconnects to another
one, which resumes its event stream from Redis (and adopts its run, if that worker was running
it). The supervisor holds the port (bound, not listening) as long as it runs, so a worker that
dies is replaced on the same port: it reports the death and starts a new process with the same
number after a backoff (``RESTART_BACKOFF`` seconds, doubling with each death of that number
within ``RESTART_WINDOW`` seconds, at most ``MAX_RESTART_BACKOFF``), watching the other workers
all the while. A replacement that fails to start (its ready report is an error, it exits before
serving, or it does not serve within a minute) counts as a death. A number that dies more than
``MAX_RESTARTS`` times within ``RESTART_WINDOW`` seconds is given up, with the reason; when every
number is given up the supervisor exits with status 1. Ctrl-C (or SIGTERM) stops every worker,
a starting one too, with SIGTERM (their runs end cancelled and stay resumable), then SIGKILL for
one that has not stopped within ``STOP_TIMEOUT`` seconds.
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
import time
from collections import deque
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import TextIO

from rxchronos import RxChronosError
from rxchronos.demo._shared import SharedBackend
from rxchronos.model import Provider
from rxchronos.model import provider_from_string

__all__ = [
    "MAX_RESTARTS",
    "MAX_RESTART_BACKOFF",
    "RESTART_BACKOFF",
    "RESTART_WINDOW",
    "STOP_TIMEOUT",
    "WorkerConfig",
    "WorkersError",
    "serve_workers",
]

STOP_TIMEOUT = 10.0
"""Seconds a worker has to stop after SIGTERM before it is killed."""
MAX_RESTARTS = 5
"""Restarts of one worker number within ``RESTART_WINDOW`` seconds; its next death gives it up."""
RESTART_WINDOW = 60.0
"""Seconds over which the deaths of a worker number are counted."""
RESTART_BACKOFF = 0.5
"""Seconds before a dead worker is restarted; doubled with each death within the window."""
MAX_RESTART_BACKOFF = 5.0
"""The longest wait before a restart, in seconds."""
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
        0 after a clean stop, 1 when no worker is left (each kept dying or failing to start).

    Raises:
        BrokerUnavailableError: Redis cannot be reached (its URL is named, without password).
        CheckpointStoreError: PostgreSQL cannot be reached (likewise).
        WorkersError: the port cannot be served, or a worker failed to start.
    """
    where = asyncio.run(_check(config))
    with _reserved_port(config.host, config.port) as port:
        config = dataclasses.replace(config, port=port)
        context = multiprocessing.get_context("spawn")
        slots = [_Slot(n) for n in range(1, workers + 1)]
        with _stopping_on_sigterm():
            try:
                for slot in slots:
                    slot.start(context, config)
                _wait_ready(slots)
            except BaseException:
                _stop(slots, out)
                raise
        shown = f"[{config.host}]" if ":" in config.host else config.host
        pids = ", ".join(str(slot.process.pid) for slot in slots if slot.process)
        print(
            f"rxchronos demo: open http://{shown}:{port}/  ({workers} workers, pids {pids}; "
            f"{where}; Ctrl-C stops)",
            file=out,
            flush=True,
        )
        with _stopping_on_sigterm():
            try:
                return _Supervisor(slots, context, config, out).run()
            except KeyboardInterrupt:
                _stop(slots, out)
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
    """The port to serve on, held (bound, not listening) for the block: no other program
    (without ``SO_REUSEPORT``) takes it while no worker listens on it."""
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


@dataclass(slots=True)
class _Slot:
    """A worker number: the process serving as it (and those that did before), and its deaths."""

    number: int
    state: str = "starting"  # starting, serving, waiting (to be restarted), given up
    process: BaseProcess | None = None
    report: Connection | None = None  # where a starting worker says it serves (or why not)
    ready_by: float = 0.0  # when a starting worker must have said it
    restart_at: float = 0.0  # when a waiting worker is started again
    deaths: deque[float] = field(default_factory=deque)  # when, within RESTART_WINDOW
    started: list[BaseProcess] = field(default_factory=list)  # those not known to have exited

    def start(self, context: SpawnContext, config: WorkerConfig) -> None:
        """Start a process serving as this worker; its ready report is awaited by ``ready()``."""
        self.started = [p for p in self.started if p.exitcode is None]
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_main,
            args=(config, self.number, sender),
            name=f"rxchronos-demo-worker-{self.number}",
        )
        self.state, self.process, self.report = "starting", process, receiver
        self.started.append(process)
        try:
            process.start()
        finally:
            sender.close()  # the worker has its own copy: its exit ends the report
        self.ready_by = time.monotonic() + _READY_TIMEOUT

    def ready(self, now: float) -> str | None:
        """For a starting worker: ``None`` while it starts, ``""`` once it serves, otherwise how
        it failed to (a worker still starting at ``ready_by`` is killed)."""
        process = self.process
        assert process is not None
        if self.report is not None:
            try:
                problem = self.report.recv() if self.report.poll() else None
            except EOFError:  # it exited without a word: its exit code tells why
                problem = None
                self._drop_report()
            if problem is not None:
                self._drop_report()
                if problem:
                    return f"could not start: {problem}"
                self.state = "serving"
                return ""
        if process.exitcode is not None:
            return f"exited before serving ({_how(process)})"
        if now >= self.ready_by:
            process.kill()
            process.join()
            return f"did not start serving within {_READY_TIMEOUT:.0f} s"
        return None

    def _drop_report(self) -> None:
        if self.report is not None:
            self.report.close()
            self.report = None

    def lost(self, now: float) -> int:
        """Count a death (or a failed start) at ``now``; how many fall within RESTART_WINDOW."""
        self._drop_report()
        self.deaths.append(now)
        while self.deaths[0] <= now - RESTART_WINDOW:
            self.deaths.popleft()
        return len(self.deaths)

    def handles(self) -> list[Connection | int]:
        """What ``multiprocessing.connection.wait`` watches for this worker."""
        if self.state not in ("starting", "serving") or self.process is None:
            return []
        return [self.process.sentinel, *([self.report] if self.report is not None else [])]

    def due(self) -> float | None:
        """When this worker needs looking at even if none of its handles is ready."""
        if self.state == "waiting":
            return self.restart_at
        return self.ready_by if self.state == "starting" else None


def _wait_ready(slots: Sequence[_Slot]) -> None:
    """Return when every worker serves; ``WorkersError`` with the first failure otherwise."""
    while waiting := [slot for slot in slots if slot.state == "starting"]:
        due = min(slot.ready_by for slot in waiting)
        handles = [handle for slot in waiting for handle in slot.handles()]
        multiprocessing.connection.wait(handles, timeout=max(0.0, due - time.monotonic()))
        now = time.monotonic()
        for slot in waiting:
            problem = slot.ready(now)
            if problem:
                raise WorkersError(f"worker {slot.number} {problem}")


class _Supervisor:
    """Restart each worker that dies, until one dies more than MAX_RESTARTS times in a row."""

    def __init__(
        self, slots: Sequence[_Slot], context: SpawnContext, config: WorkerConfig, out: TextIO
    ) -> None:
        self._slots = slots
        self._context = context
        self._config = config
        self._out = out

    def run(self) -> int:
        """Supervise until no worker is left (then 1); Ctrl-C or SIGTERM interrupt it."""
        while live := [slot for slot in self._slots if slot.state != "given up"]:
            handles = [handle for slot in live for handle in slot.handles()]
            due = [when for slot in live if (when := slot.due()) is not None]
            timeout = max(0.0, min(due) - time.monotonic()) if due else None
            multiprocessing.connection.wait(handles, timeout=timeout)
            now = time.monotonic()
            for slot in live:
                self._look_at(slot, now)
        self._say("no worker is left (each kept dying); stopping")
        return 1

    def _look_at(self, slot: _Slot, now: float) -> None:
        process = slot.process
        assert process is not None
        if slot.state == "waiting":
            if now >= slot.restart_at:
                slot.start(self._context, self._config)
        elif slot.state == "starting":
            problem = slot.ready(now)
            if problem == "":
                self._say(f"worker {slot.number} restarted (pid {process.pid})")
            elif problem is not None:
                self._lost(slot, process, problem, now)
        elif process.exitcode is not None:
            self._lost(slot, process, f"died ({_how(process)})", now)

    def _lost(self, slot: _Slot, process: BaseProcess, what: str, now: float) -> None:
        """Report a worker that died or failed to start; restart it later, or give it up."""
        times = slot.lost(now)
        slot.state = "given up" if times > MAX_RESTARTS else "waiting"
        serving = sum(s.state == "serving" for s in self._slots)
        report = (
            f"worker {slot.number} (pid {process.pid}) {what}; "
            f"{serving} of {len(self._slots)} still serving"
        )
        if slot.state == "waiting":
            delay = min(RESTART_BACKOFF * 2 ** (times - 1), MAX_RESTART_BACKOFF)
            slot.restart_at = now + delay
            self._say(f"{report}; restarting it in {delay:g} s")
        else:
            self._say(report)
            self._say(
                f"worker {slot.number} keeps dying ({times} times in {RESTART_WINDOW:g} s): "
                f"not restarted; last: {what}"
            )

    def _say(self, line: str) -> None:
        print(f"rxchronos demo: {line}", file=self._out, flush=True)


def _how(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


def _stop(slots: Sequence[_Slot], out: TextIO) -> None:
    """SIGTERM every worker still running (one starting too), then SIGKILL those that do not
    stop in time."""
    started = [p for slot in slots for p in slot.started if p.pid is not None]
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
