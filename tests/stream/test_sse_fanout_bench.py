"""``benchmarks/sse_fanout.py`` ends cleanly: its quick run prints no traceback, its teardown
shows no server a disconnect, and what a server prints on stderr fails its row (for rxchronos's
broker, the benchmark). Only correctness is asserted; the speed targets are the benchmark's to
report, never a test's."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests._bench import BENCHMARKS
from tests._bench import run_benchmark
from tests.conftest import skip_or_fail

NEEDS = ("aiohttp_sse", "sse_starlette", "uvicorn", "psutil")

FAKE_SERVER = """
import json, socket, sys

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
for line in sys.stdin:
    command = json.loads(line)["cmd"]
    if command == "connected" and sys.argv[1] == "unconnected":
        answer = {"connected": 0}
    elif command == "publish":
        print("Traceback (most recent call last):", file=sys.stderr)
        print("ConnectionResetError: [Errno 104] Connection reset by peer", file=sys.stderr)
        sys.stderr.flush()
        answer = {"started": 0.0, "ended": 0.0}
    else:
        answer = {"connected": 1} if command == "connected" else {}
    print(json.dumps(answer), flush=True)
"""
"""A server that takes the stalled client and fails its publish as a handler's error would (run
with the kind ``unconnected``: one that never sees its client connect)."""


@pytest.fixture
def fanout() -> Iterator[ModuleType]:
    """``benchmarks/sse_fanout.py`` as a module (its peers are the ``bench`` extra)."""
    for module in NEEDS:
        if importlib.util.find_spec(module) is None:
            skip_or_fail(
                f"{module} is not installed (pip install 'rxchronos[bench]')",
                require_env="RXCHRONOS_REQUIRE_BENCH",
            )
    spec = importlib.util.spec_from_file_location("sse_fanout", BENCHMARKS / "sse_fanout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sse_fanout"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["sse_fanout"]


def test_the_quick_run_measures_every_contender_and_prints_no_traceback(
    fanout: ModuleType,
) -> None:
    done = run_benchmark(
        "sse_fanout.py",
        *("--quick", "--clients", "10", "--bursts", "1", "--deliveries", "2000"),
        *("--latency-seconds", "0.2", "--memory-events", "20000", "--timeout", "60"),
        needs=NEEDS,
    )
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, out + err
    assert "Traceback" not in err and "printed on stderr" not in err, err
    assert "failed:" not in out, out
    rows = [line.split() for line in out.splitlines()]
    for kind in fanout.KINDS:
        assert [row[0] for row in rows if row[1:2] == [kind]] == ["10"], out  # its fan-out row
        assert any(row[:1] == [kind] for row in rows), out  # its memory row


async def test_no_server_sees_the_stalled_client_go(
    fanout: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stalled client is closed with unread data (a reset for its server): only after the
    server stopped, however long a server takes to go."""
    stop = fanout.ServerProcess.stop

    async def slow_stop(server: object) -> str:
        await asyncio.sleep(0.5)  # room for a server to handle a reset, were there one
        printed: str = await stop(server)
        return printed

    monkeypatch.setattr(fanout.ServerProcess, "stop", slow_stop)
    options = fanout.parse_args(["--quick", "--memory-events", "20000"])
    for kind in ("aiohttp-sse", "raw"):  # each raised the reset: its handler, its publisher
        memory = await fanout.measure_memory(kind, options)
        assert memory.problem == "", memory


@pytest.fixture
def failing_server(fanout: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The benchmark's servers replaced by `FAKE_SERVER` (it prints a traceback on stderr)."""
    script = tmp_path / "failing_server.py"
    script.write_text(FAKE_SERVER)
    monkeypatch.setattr(fanout, "SERVER", str(script))


async def test_a_server_printing_an_error_fails_the_broker_and_the_benchmark(
    fanout: ModuleType, failing_server: None
) -> None:
    options = fanout.parse_args(["--quick", "--memory-events", "10"])
    memory = await fanout.measure_memory("broker", options)
    assert memory.problem == (
        "the server printed on stderr: ConnectionResetError: [Errno 104] Connection reset by peer"
    )
    assert fanout.rxchronos_failures([], [memory]) == [
        f"rxchronos's broker failed: {memory.problem}"
    ]
    assert fanout.rxchronos_failures([], [fanout.Memory("raw", problem="blocked")]) == []


async def test_a_stalled_client_that_never_connects_fails_the_row(
    fanout: ModuleType, failing_server: None
) -> None:
    options = fanout.parse_args(["--quick", "--timeout", "0.5"])
    memory = await fanout.measure_memory("unconnected", options)
    assert memory.problem == "the stalled client was not connected: fewer than 1 clients connected"
