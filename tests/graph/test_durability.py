"""A run killed with SIGKILL mid-run resumes in a new process to the same final state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rxchronos

CHILD = """
import asyncio, json, sys
from rxchronos.graph import Runner, SQLiteStore, StateGraph

mode, db, marker, log = sys.argv[1:5]

def make(i):
    async def node(state):
        with open(log, "a") as f:
            f.write(f"{mode}:n{i}\\n")
        if mode == "crash" and i == 3:
            open(marker, "w").close()   # checkpoints of n1 and n2 are committed by now
            await asyncio.sleep(3600)   # killed here
        return {"total": state["total"] * 10 + i, "trail": [*state["trail"], f"n{i}"]}
    return node

graph = StateGraph("durable")
for i in range(1, 6):
    graph.add_node(f"n{i}", make(i))
    if i > 1:
        graph.add_edge(f"n{i - 1}", f"n{i}")
graph.set_entry_point("n1").set_finish_point("n5")

async def main():
    async with SQLiteStore(db) as store:
        runner = Runner(graph.compile(), store)
        if mode == "resume":
            result = await runner.resume("job")
        else:
            result = await runner.run("job", {"total": 0, "trail": []})
        print(json.dumps({"status": result.status, "state": result.state}))

asyncio.run(main())
"""


def _env() -> dict[str, str]:
    root = str(Path(rxchronos.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _run(script: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(script), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_mid_run_then_resume_in_a_new_process(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    db, marker, log = tmp_path / "runs.db", tmp_path / "at-n3", tmp_path / "calls.log"

    victim = subprocess.Popen(
        [sys.executable, str(script), "crash", str(db), str(marker), str(log)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():  # wait for the marker, not for a guessed amount of time
            assert victim.poll() is None, victim.stderr.read() if victim.stderr else b""
            assert time.monotonic() < deadline, "the child never reached node n3"
            time.sleep(0.01)
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        if victim.stderr:
            victim.stderr.close()

    resumed = _run(script, "resume", str(db), str(marker), str(log))
    reference = _run(script, "full", str(tmp_path / "ref.db"), str(marker), str(log))

    assert resumed == reference
    assert resumed["state"] == {"total": 12345, "trail": ["n1", "n2", "n3", "n4", "n5"]}
    calls = log.read_text().split()
    crashed = [c for c in calls if c.startswith("crash:")]
    again = [c for c in calls if c.startswith("resume:")]
    assert crashed == ["crash:n1", "crash:n2", "crash:n3"]
    assert again == ["resume:n3", "resume:n4", "resume:n5"]  # completed nodes did not run again
