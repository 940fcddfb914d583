"""``benchmarks/ui_protocols.py --quick`` runs end to end: every spelling's 100 streams get every
event. Only delivery is asserted; the CPU target is the benchmark's to report, never a test's."""

from __future__ import annotations

from tests._bench import run_benchmark


def test_the_quick_run_delivers_every_event_in_every_spelling() -> None:
    done = run_benchmark(
        "ui_protocols.py",
        *("--quick", "--repeat", "1", "--timeout", "60"),
        needs=("aiohttp_sse", "psutil"),
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].isalpha()}
    for kind in ("plain", "ui", "ag-ui"):
        assert kind in rows and rows[kind][1] != "failed", out  # a row of figures, not a failure
        assert f"{kind}:" not in out, out  # no run of it reported a problem
    assert "incomplete run" not in out, out
