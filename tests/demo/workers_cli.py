"""``rxchronos demo --workers N`` as a real subprocess, for the tests of its workers.

The command runs on a free port, on the shared Redis (a namespace of its own) and PostgreSQL (a
schema of its own): the ``start_workers`` fixture (``conftest``) starts it. Its output is read
line by line as it comes, so that a test can wait for a report.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # bounds a wait for a report of the command; never an assertion about speed
MARK = "RXCHRONOS_TEST_DEMO_MARK"  # set in the command's environment, inherited by its workers


StartWorkers = Callable[..., "DemoWorkers"]


class DemoWorkers:
    """A running ``rxchronos demo --workers N``: its URL, its worker pids, its output."""

    def __init__(self, redis_url: str, namespace: str, dsn: str, schema: str, workers: int):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.mark = uuid.uuid4().hex
        command = [sys.executable, "-m", "rxchronos", "demo", "--redis", redis_url]
        command += ["--postgres", dsn, "--workers", str(workers), "--port", str(self.port)]
        command += ["--namespace", namespace, "--schema", schema, "--delay", "0.05"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), MARK: self.mark},
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out, True)),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err, False)),
        ]
        for reader in self._readers:
            reader.start()
        line = self.expect("rxchronos demo: open ")
        assert line.startswith(f"rxchronos demo: open http://127.0.0.1:{self.port}/"), line
        assert f"{workers} workers" in line, line
        pids = line.partition(" pids ")[2].partition(";")[0]
        self.pids = [int(pid) for pid in pids.split(", ")]

    def _read(self, stream: IO[str], lines: list[str], report: bool) -> None:
        for line in stream:
            lines.append(line)
            if report:
                self._lines.put(line)
        if report:
            self._lines.put(None)

    def expect(self, fragment: str) -> str:
        """The next line of output that contains ``fragment`` (failing when the command ends
        before printing it)."""
        while True:
            try:
                line = self._lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"no {fragment!r} within {WAIT:.0f} s: {self.out}") from None
            if line is None:
                raise AssertionError(f"the demo ended before {fragment!r}: {self.out} {self.err}")
            if fragment in line:
                return line

    def wait(self) -> int:
        """Wait for the command to end (killing it after ``WAIT`` seconds); its exit status."""
        try:
            self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return self.process.returncode

    def stop(self) -> int:
        """Ctrl-C the command (if it still runs); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.wait()

    def processes(self, *, workers_only: bool = False) -> list[int]:
        """The pids of the live processes the command started, found by the mark in their
        environment: its workers (a starting one too) and, unless ``workers_only``,
        multiprocessing's helpers."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.process.pid:
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                command = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            except OSError:  # gone, or not ours
                continue
            if f"{MARK}={self.mark}".encode() not in environ or state == "Z":
                continue
            if not workers_only or b"spawn_main" in command:
                found.append(int(entry.name))
        return found
