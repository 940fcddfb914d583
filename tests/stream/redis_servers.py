"""Redis for the RedisBroker tests: the shared server (a unique namespace per test, removed after,
never FLUSHALL) and private ``redis-server`` processes that fault tests stop and restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path

import redis
from aiohttp import web

from ..conftest import free_port
from ..conftest import skip_or_fail

SHARED_URL = os.environ.get("RXCHRONOS_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE = "RXCHRONOS_REQUIRE_REDIS"
_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")
ROOT = Path(__file__).resolve().parents[2]


def shared_url() -> str:
    """The shared server's URL, or a skip (a failure when RXCHRONOS_REQUIRE_REDIS=1)."""
    try:
        redis.Redis.from_url(SHARED_URL, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        skip_or_fail(f"no Redis at {SHARED_URL} ({exc})", require_env=REQUIRE)
    return SHARED_URL


def new_namespace() -> str:
    return "rxtest" + uuid.uuid4().hex[:12]


def drop_namespace(url: str, namespace: str) -> None:
    """Delete the keys of ``namespace`` (and only those)."""
    with contextlib.suppress(redis.RedisError, OSError):
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


class Worker:
    """A worker process serving HTTP on 127.0.0.1 (``base``), until its stdin closes."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def worker_processes(module: str, count: int, *args: str) -> AsyncIterator[list[Worker]]:
    """``count`` processes of ``python -m module *args``, each printing its port first."""
    started: list[Worker] = []
    try:
        for _ in range(count):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                *args,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            started.append(Worker(process, int(line)))
        yield started
    finally:
        for worker in started:
            if worker.process.returncode is None:
                assert worker.process.stdin is not None
                worker.process.stdin.close()
                try:
                    await asyncio.wait_for(worker.process.wait(), 10)
                except TimeoutError:
                    worker.process.kill()
                    await worker.process.wait()


async def serve_until_stdin_closes(app: web.Application) -> None:
    """Serve ``app`` on a free port of 127.0.0.1, print the port, stop when stdin closes.

    The body of a worker process of `worker_processes`.
    """
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(runner.addresses[0][1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin
    await runner.cleanup()


class PrivateRedis:
    """A ``redis-server`` of our own, without persistence, that a test can stop and restart."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            skip_or_fail("redis-server is not installed", require_env=REQUIRE)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.binary is not None
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *_NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
