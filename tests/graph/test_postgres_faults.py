"""PostgreSQL under faults: a worker process SIGKILLed mid-run, whose session another process
resumes once the dead worker's lease has expired; and a PostgreSQL server restarted mid-run (a
private, throwaway cluster on a free port), which fails the run with a typed error, after which the
same store resumes it without a restart of the application."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rxchronos.graph import CheckpointStoreError
from rxchronos.graph import PostgresStore
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import SessionBusyError
from rxchronos.graph import StateGraph

from ..conftest import free_port
from ..conftest import skip_or_fail
from .helpers import chain
from .test_durability import _crash_when
from .test_durability import _run

CHILD = """
import asyncio, json, sys
from rxchronos.graph import PostgresStore, Runner, StateGraph

mode, dsn, schema = sys.argv[1:4]

async def step1(state):
    return {"trail": [*state["trail"], f"{mode}:n1"]}

async def step2(state):
    if mode == "crash":
        print("in n2", flush=True)  # the checkpoint after n1 is committed by now
        await asyncio.sleep(3600)  # killed here
    return {"trail": [*state["trail"], f"{mode}:n2"]}

graph = (StateGraph("faults").add_node("n1", step1).add_node("n2", step2)
         .set_entry_point("n1").add_edge("n1", "n2").set_finish_point("n2").compile())

async def main():
    async with PostgresStore(dsn, schema=schema) as store:
        runner = Runner(graph, store, lease_ttl=3.0)
        if mode == "resume":
            result = await runner.resume("job")
        else:
            result = await runner.run("job", {"trail": []})
        print(json.dumps({"status": result.status, "state": result.state}), flush=True)

asyncio.run(main())
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_a_sigkilled_worker_s_session_is_resumed_by_another_process_after_its_lease(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    import psycopg

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    _crash_when(script, b"in n2", postgres_dsn, pg_schema)

    with psycopg.connect(postgres_dsn) as raw:
        left = raw.execute(
            f'SELECT next_node FROM "{pg_schema}".checkpoints ORDER BY seq'
        ).fetchall()
        row = raw.execute(
            f"SELECT extract(epoch FROM expires_at - clock_timestamp()) "
            f'FROM "{pg_schema}".leases WHERE session_id = %s',
            ("job",),
        ).fetchone()
    assert left == [("n2",)]
    assert row is not None  # the dead worker's lease is still there
    expires_in = float(row[0])

    async def resume_too_soon() -> None:
        graph = StateGraph("faults").add_node("n2", dict).set_entry_point("n2").compile()
        async with PostgresStore(postgres_dsn, schema=pg_schema) as store:
            with pytest.raises(SessionBusyError, match="session 'job' is running elsewhere"):
                await Runner(graph, store).resume("job")

    if expires_in > 0.5:  # (a heavily loaded machine may be past it already)
        asyncio.run(resume_too_soon())
    time.sleep(max(0.0, expires_in) + 0.2)  # the lease times out

    result = _run(script, "resume", postgres_dsn, pg_schema, timeout=120)
    assert result == {"status": "completed", "state": {"trail": ["crash:n1", "resume:n2"]}}


# --- a private PostgreSQL server, restarted mid-run ----------------------------------------


def _find(program: str) -> str | None:
    found = shutil.which(program)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"))
    return versions[-1] if versions else None


class PrivateCluster:
    """A throwaway PostgreSQL cluster in a temporary folder, owned by the ``postgres`` OS user
    when the tests run as root (the server refuses to run as root)."""

    def __init__(self, folder: Path, pg_ctl: str, initdb: str) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.pg_ctl = pg_ctl
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root without runuser: cannot start PostgreSQL")
            shutil.chown(folder, "postgres")
            self.prefix = [runuser, "-u", "postgres", "--"]
        self._do(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres:a-password@127.0.0.1:{self.port}/postgres"

    def _do(self, *argv: str) -> None:
        done = subprocess.run(
            [*self.prefix, *argv], capture_output=True, text=True, timeout=120, cwd=self.folder
        )
        assert done.returncode == 0, f"{argv[0]} failed: {done.stdout}{done.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        log = str(self.folder / "server.log")  # (the server must not hold our output pipes)
        self._do(
            self.pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self) -> None:
        self._do(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        done = subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data), "status"],
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    pg_ctl, initdb = _find("pg_ctl"), _find("initdb")
    if pg_ctl is None or initdb is None:
        skip_or_fail(
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed: cannot start a "
            "private server to restart",
            require_env="RXCHRONOS_REQUIRE_POSTGRES",
        )
        raise AssertionError("unreachable")
    # a folder of its own under the system's temporary folder: pytest's are private to this user,
    # and the server runs as the postgres user
    with tempfile.TemporaryDirectory(prefix="rxchronos-pg-") as name:
        cluster = PrivateCluster(Path(name), pg_ctl, initdb)
        cluster.start()
        try:
            yield cluster
        finally:
            if cluster.running():
                cluster.stop()


async def test_a_server_restarted_mid_run_fails_the_run_typed_then_the_store_recovers(
    private_cluster: PrivateCluster,
) -> None:
    reached, go_on = asyncio.Event(), asyncio.Event()

    async def waits(state: Mapping[str, Any]) -> dict[str, Any]:
        reached.set()
        await go_on.wait()
        return {"waited": True}

    graph = chain(
        ("first", lambda s: {"first": 1}), ("waits", waits), ("last", lambda s: {"last": 1})
    )
    async with PostgresStore(private_cluster.dsn, schema="app", timeout=3) as store:
        runner = Runner(graph, store, lease_ttl=30)
        events: list[str] = []
        runner.events.subscribe(lambda e: events.append(str(e.type)))
        run = asyncio.create_task(runner.run("s", {}))
        await asyncio.wait_for(reached.wait(), 60)
        await asyncio.to_thread(private_cluster.stop)  # the server goes away mid-run
        go_on.set()
        with pytest.raises(CheckpointStoreError) as info:
            await asyncio.wait_for(run, 120)
        assert "a-password" not in str(info.value)
        assert f"127.0.0.1 port={private_cluster.port}" in str(info.value)
        assert info.value.run_state is not None
        assert info.value.run_state.status is RunStatus.FAILED
        assert events[-1] == "error"
        notes = getattr(info.value, "__notes__", [])  # the lease could not be given up either
        assert any("lease of session 's' could not be released" in note for note in notes)

        await asyncio.to_thread(private_cluster.start)  # back, with its data
        latest = await store.latest("s")  # no restart of the application
        # this runner gives up its leftover lease itself and resumes at once (others would
        # wait for the lease to expire)
        assert latest is not None and latest.next_node == "waits"
        reached.clear()
        result = await asyncio.wait_for(runner.resume("s"), 120)
        assert result.status is RunStatus.COMPLETED
        assert result.state == {"first": 1, "waited": True, "last": 1}
