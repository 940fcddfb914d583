"""``benchmarks/distributed_fanout.py --quick`` runs end to end: every setup delivers, and
RedisBroker's clients get every event in order, also after resuming on the other worker. Only
correctness is asserted; the speed targets are the benchmark's to report, never a test's."""

from __future__ import annotations

import shutil

from tests._bench import run_benchmark
from tests.conftest import skip_or_fail


def test_the_quick_run_delivers_every_event_in_order_and_resumes_on_the_other_worker() -> None:
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed", require_env="RXCHRONOS_REQUIRE_REDIS")
    done = run_benchmark(
        "distributed_fanout.py",
        *("--quick", "--timeout", "60"),
        needs=("broadcaster", "aiohttp_sse", "psutil"),
    )
    out = done.stdout
    assert " failed: " not in out, out + done.stderr  # no setup failed
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].isalpha()}
    for kind in ("redis-broker", "broker", "broadcaster"):
        assert kind in rows, out
    assert rows["redis-broker"][-1] == "0" and rows["broker"][-1] == "0", out  # gaps
    assert "PASS  zero gaps (0)" in out, out
    assert "PASS  resume on the other worker" in out, out
