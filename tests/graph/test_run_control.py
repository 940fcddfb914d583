"""Run control across worker processes: a run on worker A, cancelled from worker B through the
RedisBroker's control channel (and the PostgresStore's flag), ends with its ``cancelled`` event and
is resumed by B from its last checkpoint. Real Redis and PostgreSQL, a namespace and a schema of
this test's own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """A ``tests.graph.control_worker`` process: commands in, JSON lines out."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")

    async def until(self, key: str) -> dict[str, Any]:
        """Read lines until one has ``key``; every line read is kept in ``seen``."""
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), 60)
            assert line, f"the worker ended; it said {self.seen}"
            message: dict[str, Any] = json.loads(line)
            self.seen.append(message)
            if key in message:
                return message


@contextlib.asynccontextmanager
async def worker(url: str, namespace: str, dsn: str, schema: str) -> AsyncIterator[Worker]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.graph.control_worker",
        url,
        namespace,
        dsn,
        schema,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    started = Worker(process)
    try:
        await started.until("ready")
        yield started
    finally:
        if process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_a_cancel_from_another_worker_goes_through_the_broker_and_the_run_resumes(
    redis_namespace: tuple[str, str], postgres_dsn: str, pg_schema: str
) -> None:
    url, namespace = redis_namespace
    async with (
        worker(url, namespace, postgres_dsn, pg_schema) as a,
        worker(url, namespace, postgres_dsn, pg_schema) as b,
    ):
        b.send("cancel s")
        assert (await b.until("cancel"))["cancel"] is False  # nothing runs yet: nothing to flag
        a.send("run s")
        while (await a.until("event")) != {"event": "node_start", "node": "hang"}:
            pass
        b.send("cancel s")
        assert (await b.until("cancel"))["cancel"] is True
        assert (await a.until("ended"))["ended"] == "cancelled"
        after_hang = a.seen[a.seen.index({"event": "node_start", "node": "hang"}) + 1 :]
        # the control message reached A (through Redis) before its run ended, with its event
        assert after_hang == [
            {"control": ["s", "cancel"]},
            {"event": "cancelled", "node": "hang"},
            {"ended": "cancelled"},
        ]
        b.send("resume s")
        resumed = await b.until("resumed")
        assert resumed["resumed"] == "completed"
        assert resumed["state"] == {"n": 1, "go": True, "hung": False, "m": 2}
        assert {"event": "node_end", "node": "hang"} in b.seen
        assert {"event": "cancelled", "node": "hang"} not in b.seen  # A's run was A's alone
