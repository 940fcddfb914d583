"""Redis for the RedisBroker tests: the shared server (a unique namespace per test, removed after,
never FLUSHALL) and private ``redis-server`` processes that fault tests stop and restart."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import redis

from ..conftest import skip_or_fail

SHARED_URL = os.environ.get("RXCHRONOS_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE = "RXCHRONOS_REQUIRE_REDIS"
_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
