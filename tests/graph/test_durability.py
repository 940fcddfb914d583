"""A run killed with SIGKILL mid-run (in a linear graph, between the steps of a branching one,
and in the middle of a parallel step) resumes in a new process to the same final state, once the
dead worker's lease on the session has expired (until then the session is busy)."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

import rxchronos
from rxchronos.graph import Runner
from rxchronos.graph import SessionBusyError
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateGraph

CHILD = """
import asyncio, json, sys
from rxchronos.graph import Runner, SQLiteStore, StateGraph

mode, db, log = sys.argv[1:4]
LEASE_TTL = 3.0

def make(i):
    async def node(state):
        with open(log, "a") as f:
            f.write(f"{mode}:n{i}\\n")
        if mode == "crash" and i == 3:
            print("in n3", flush=True)  # checkpoints of n1 and n2 are committed by now
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
        runner = Runner(graph.compile(), store, lease_ttl=LEASE_TTL)
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


def _run(script: Path, *args: str, timeout: float = 60) -> dict[str, object]:
    """Run ``script *args`` to its end and return the JSON it printed."""
    try:
        done = subprocess.run(
            [sys.executable, str(script), *args],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"child {args[0]!r} did not finish within {timeout} s; stderr: {exc.stderr!r}")
    assert done.returncode == 0, f"child {args[0]!r} exited {done.returncode}: {done.stderr}"
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _wait_for_line(process: subprocess.Popen[bytes], expected: bytes, timeout: float) -> None:
    """Block until ``process`` prints ``expected`` (bounded; fails clearly on exit or timeout)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                break
            line = process.stdout.readline()
            if line.strip() == expected:
                return
            if not line:  # end of output: the child exited
                pytest.fail(f"the child exited ({process.wait()}) before printing {expected!r}")
    pytest.fail(f"the child did not print {expected!r} within {timeout} s")


def _crash_when(script: Path, marker: bytes, *args: str) -> None:
    """Run ``script crash *args`` and SIGKILL it once it prints ``marker``."""
    errors_path = script.with_suffix(".err")
    with errors_path.open("wb") as errors:
        victim = subprocess.Popen(
            [sys.executable, str(script), "crash", *args],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        try:
            try:
                _wait_for_line(victim, marker, timeout=60)
            except BaseException:
                print(errors_path.read_text())  # shown by pytest on failure
                raise
            os.kill(victim.pid, signal.SIGKILL)
            assert victim.wait(timeout=30) == -signal.SIGKILL
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait(timeout=30)
            if victim.stdout is not None:
                victim.stdout.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_mid_run_then_resume_in_a_new_process(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    db, log = tmp_path / "runs.db", tmp_path / "calls.log"

    _crash_when(script, b"in n3", str(db), str(log))

    with closing(sqlite3.connect(db)) as raw:  # what the killed process left behind
        left = raw.execute("SELECT next_node FROM checkpoints ORDER BY seq").fetchall()
        (expires_at,) = raw.execute("SELECT expires_at FROM leases").fetchone()
    assert left == [("n2",), ("n3",)]

    async def resume_too_soon() -> None:  # the dead worker's lease has not expired yet
        graph = StateGraph("durable").add_node("n3", dict).set_entry_point("n3").compile()
        async with SQLiteStore(db) as store:
            runner = Runner(graph, store)
            with pytest.raises(SessionBusyError, match="session 'job' is running elsewhere"):
                await runner.resume("job")

    if time.time() < expires_at - 0.5:  # (a heavily loaded machine may be past it already)
        asyncio.run(resume_too_soon())
    time.sleep(max(0.0, expires_at - time.time()) + 0.1)  # the lease times out

    resumed = _run(script, "resume", str(db), str(log))
    reference = _run(script, "full", str(tmp_path / "ref.db"), str(log))

    assert resumed == reference
    assert resumed["state"] == {"total": 12345, "trail": ["n1", "n2", "n3", "n4", "n5"]}
    calls = log.read_text().split()
    crashed = [c for c in calls if c.startswith("crash:")]
    again = [c for c in calls if c.startswith("resume:")]
    assert crashed == ["crash:n1", "crash:n2", "crash:n3"]
    assert again == ["resume:n3", "resume:n4", "resume:n5"]  # completed nodes did not run again


BRANCHING_CHILD = """
import asyncio, json, operator, sys
from rxchronos.graph import Runner, SQLiteStore, StateGraph

mode, db, log, shape = sys.argv[1:5]

def make(name):
    async def node(state):
        with open(log, "a") as f:
            f.write(f"{mode}:{name}\\n")
        if mode == "crash" and name == "c":
            if shape == "parallel":  # c runs beside a and b: wait until their writes are saved
                step = await store.latest("job")  # the checkpoint the step continues from
                while len(await store.get_writes(step.checkpoint_id)) < 2:
                    await asyncio.sleep(0.01)
            print("in c", flush=True)
            await asyncio.sleep(3600)  # killed here
        await asyncio.sleep(0.01 if name == "a" else 0)
        return {"trail": [name], name: len(state["trail"])}
    return node

graph = StateGraph(shape, reducers={"trail": operator.add})
for name in ("plan", "a", "b", "c", "merge"):
    graph.add_node(name, make(name))
graph.set_entry_point("plan")
if shape == "join":  # plan -> (a, b); a -> c; (b, c) -> merge
    graph.add_edge("plan", "a").add_edge("plan", "b").add_edge("a", "c")
    graph.add_edge(["b", "c"], "merge")
else:  # plan -> (a, b, c) -> merge
    for name in ("a", "b", "c"):
        graph.add_edge("plan", name)
    graph.add_edge(["a", "b", "c"], "merge")

async def main():
    global store  # the nodes read it
    async with SQLiteStore(db) as store:
        runner = Runner(graph.compile(), store, lease_ttl=1.0)
        if mode == "resume":
            result = await runner.resume("job")
        else:
            result = await runner.run("job", {"trail": []})
        print(json.dumps({"status": result.status, "state": result.state}))

asyncio.run(main())
"""
"""A branching run in a child process: ``crash`` (stops in node c, to be killed), ``full`` or
``resume`` of session ``job``, on the graph ``shape`` ``join`` or ``parallel``."""


def _resume_once_the_lease_expired(
    script: Path, tmp_path: Path, expires_at: float, shape: str
) -> dict[str, object]:
    """Wait for the killed worker's lease to time out, resume ``tmp_path/runs.db`` in a new
    process, and check its result against a run of the same graph that was never killed."""
    time.sleep(max(0.0, expires_at - time.time()) + 0.1)
    log = str(tmp_path / "calls.log")
    resumed = _run(script, "resume", str(tmp_path / "runs.db"), log, shape)
    assert resumed == _run(script, "full", str(tmp_path / "ref.db"), log, shape)
    return resumed


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_in_a_branching_run_then_resume_keeps_the_waiting_join(tmp_path: Path) -> None:
    script = tmp_path / "branching.py"
    script.write_text(BRANCHING_CHILD)
    db, log = tmp_path / "runs.db", tmp_path / "calls.log"
    _crash_when(script, b"in c", str(db), str(log), "join")

    with closing(sqlite3.connect(db)) as raw:
        left = raw.execute("SELECT next_node, branches FROM checkpoints ORDER BY seq").fetchall()
        (expires_at,) = raw.execute("SELECT expires_at FROM leases").fetchone()
    assert [row[0] for row in left] == ["a", "c"]
    assert json.loads(left[0][1])["tasks"] == [{"node": "a"}, {"node": "b"}]
    assert json.loads(left[1][1]) == {"tasks": [{"node": "c"}], "joins": {"0": ["b"]}}
    resumed = _resume_once_the_lease_expired(script, tmp_path, expires_at, "join")
    assert resumed["state"] == {
        "trail": ["plan", "a", "b", "c", "merge"],
        **{"plan": 0, "a": 1, "b": 1, "c": 3, "merge": 4},  # the length of the trail each saw
    }
    calls = log.read_text().split()
    assert [c for c in calls if c.startswith("resume:")] == ["resume:c", "resume:merge"]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_in_the_middle_of_a_parallel_step_then_resume_reruns_only_the_unfinished(
    tmp_path: Path,
) -> None:
    script = tmp_path / "parallel.py"
    script.write_text(BRANCHING_CHILD)
    db, log = tmp_path / "runs.db", tmp_path / "calls.log"
    _crash_when(script, b"in c", str(db), str(log), "parallel")

    with closing(sqlite3.connect(db)) as raw:  # what the killed process left behind
        left = raw.execute("SELECT checkpoint_id, next_node FROM checkpoints").fetchall()
        writes = raw.execute("SELECT checkpoint_id, task, writes FROM pending_writes").fetchall()
        (expires_at,) = raw.execute("SELECT expires_at FROM leases").fetchone()
    assert [row[1] for row in left] == ["a"]  # the parallel step never finished
    assert sorted((cid, task, json.loads(text)) for cid, task, text in writes) == [
        (left[0][0], 0, {"trail": ["a"], "a": 1}),
        (left[0][0], 1, {"trail": ["b"], "b": 1}),
    ]
    resumed = _resume_once_the_lease_expired(script, tmp_path, expires_at, "parallel")
    assert resumed["state"] == {
        "trail": ["plan", "a", "b", "c", "merge"],
        **{"plan": 0, "a": 1, "b": 1, "c": 1, "merge": 4},  # the length of the trail each saw
    }
    calls = log.read_text().split()
    assert sorted(c for c in calls if c.startswith("crash:")) == [
        "crash:a",
        "crash:b",
        "crash:c",
        "crash:plan",
    ]
    # a and b had finished before the kill: only c and what follows ran again
    assert [c for c in calls if c.startswith("resume:")] == ["resume:c", "resume:merge"]
    for finished in (db, tmp_path / "ref.db"):  # the step's checkpoint folded its writes in
        with closing(sqlite3.connect(finished)) as raw:
            assert raw.execute("SELECT * FROM pending_writes").fetchall() == []
