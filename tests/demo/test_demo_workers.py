"""The supervisor of ``rxchronos demo --workers N`` replaces a worker that dies.

Each test runs the command as a real subprocess (``start_workers``, see ``workers_cli``): a
SIGKILLed worker is replaced by a new process that serves on the same port; a worker that cannot
start (its Redis, a private ``redis-server``, was stopped) is restarted with a growing backoff,
then given up, and the command exits 1 when it was the only one; Ctrl-C while a replacement
starts stops it too.
Without Redis or PostgreSQL the tests skip, or fail under the ``RXCHRONOS_REQUIRE_*`` vars.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import urllib.request
from collections.abc import Callable

from rxchronos.demo._app import WORKER_HEADER
from rxchronos.demo._workers import MAX_RESTARTS
from tests.demo.workers_cli import WAIT
from tests.demo.workers_cli import StartWorkers
from tests.stream.redis_servers import PrivateRedis
from tests.stream.redis_servers import private_redis

TRIES = 500  # new connections made to reach one worker among the others


def worker_of(base: str) -> int:
    """The worker that answers a request on a new connection."""
    with urllib.request.urlopen(f"{base}api/graph", timeout=30) as response:
        return int(response.headers[WORKER_HEADER])


def wait_for(found: Callable[[], list[int]], want: bool) -> list[int]:
    """``found()`` once it is non-empty (``want``) or empty (not ``want``), or after ``WAIT``
    seconds."""
    deadline = time.monotonic() + WAIT
    while bool(pids := found()) != want and time.monotonic() < deadline:
        time.sleep(0.01)
    return pids


def test_a_killed_worker_is_replaced_by_a_new_process_on_the_same_port(
    start_workers: StartWorkers,
) -> None:
    demo = start_workers(2)
    first, victim = demo.pids
    os.kill(victim, signal.SIGKILL)
    died = demo.expect("worker 2 (pid")
    assert died.strip() == (
        f"rxchronos demo: worker 2 (pid {victim}) died (killed by SIGKILL); "
        "1 of 2 still serving; restarting it in 0.5 s"
    )
    restarted = demo.expect("restarted")
    assert restarted.startswith("rxchronos demo: worker 2 restarted (pid "), restarted
    replacement = int(restarted.rpartition("(pid ")[2].rstrip(")\n"))
    assert replacement not in (first, victim)

    seen = set()
    for _ in range(TRIES):
        seen.add(worker_of(demo.base))
        if replacement in seen and first in seen:
            break
    assert seen == {first, replacement}  # both serve the port, the dead one does not

    assert demo.stop() == 0, demo.err
    assert "rxchronos demo: stopped\n" in demo.out
    assert "Traceback" not in "".join(demo.err)


def test_a_worker_that_cannot_start_is_given_up_after_the_limit(
    start_workers: StartWorkers,
) -> None:
    redis: PrivateRedis
    with private_redis() as redis:
        demo = start_workers(1, redis.url)
        (worker,) = demo.pids
        redis.stop()  # every new worker fails to reach it; the command checked it at start
        with contextlib.suppress(ProcessLookupError):  # it may have stopped on its own
            os.kill(worker, signal.SIGKILL)
        assert demo.wait() == 1, demo.err

    reports = [line.removeprefix("rxchronos demo: ").strip() for line in demo.out[1:]]
    assert reports[0].startswith(f"worker 1 (pid {worker}) died ("), reports
    assert reports[0].endswith("; 0 of 1 still serving; restarting it in 0.5 s"), reports
    unreachable = f"could not start: Redis at {redis.url} is unreachable ("
    failures = reports[1 : 1 + MAX_RESTARTS]
    for failure, delay in zip(failures, ["1", "2", "4", "5", None], strict=True):
        assert failure.startswith("worker 1 (pid "), failure
        assert unreachable in failure, failure
        tail = "; 0 of 1 still serving" + (f"; restarting it in {delay} s" if delay else "")
        assert failure.endswith(tail), failure
    given_up = reports[1 + MAX_RESTARTS]
    assert given_up.startswith(
        f"worker 1 keeps dying ({MAX_RESTARTS + 1} times in 60 s): not restarted; "
        f"last: {unreachable}"
    ), given_up
    assert reports[2 + MAX_RESTARTS :] == ["no worker is left (each kept dying); stopping"]
    assert "Traceback" not in "".join(demo.err)


def test_ctrl_c_while_a_replacement_starts_stops_it_too(start_workers: StartWorkers) -> None:
    demo = start_workers(2)
    os.kill(demo.pids[0], signal.SIGKILL)
    demo.expect("worker 1 (pid")
    replacement = wait_for(  # the new process, still importing or connecting
        lambda: [p for p in demo.processes(workers_only=True) if p not in demo.pids], True
    )
    assert replacement, demo.out
    assert demo.stop() == 0, demo.err
    assert "rxchronos demo: stopped\n" in demo.out
    assert wait_for(demo.processes, False) == []
    assert "Traceback" not in "".join(demo.err)
