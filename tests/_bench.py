"""Running a benchmark script's quick run from a test: the peers it needs are the ``bench`` extra
(a skip with a reason, or a failure when ``RXCHRONOS_REQUIRE_BENCH=1``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from tests.conftest import skip_or_fail

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(
    script: str, *args: str, needs: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script> <args>`` in a child process and return what it printed (it is
    not checked: the caller asserts on the output). ``needs`` are the modules it imports."""
    for module in needs:
        if importlib.util.find_spec(module) is None:
            skip_or_fail(
                f"{module} is not installed (pip install 'rxchronos[bench]')",
                require_env="RXCHRONOS_REQUIRE_BENCH",
            )
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
