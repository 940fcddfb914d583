"""The clients of ``sse_fanout.py``: many SSE connections in one process, counting and timing.

``python benchmarks/_fanout_client.py URL CLIENTS PHASE1 PHASE2 TIMEOUT`` opens CLIENTS streams to
URL with aiohttp and reads them. It prints ``{"phase1": t}`` once every stream has received the
first PHASE1 events (``t``: ``time.monotonic()`` when the last one arrived), then, once every
stream has PHASE1 + PHASE2 events, one line with the publish-to-receive latencies (seconds) of the
PHASE2 events of every stream. After TIMEOUT seconds it reports what it has and exits.

Reading is kept cheap so that the server, not the client, is measured: a chunk's complete frames
are counted with ``bytes.count``; only PHASE2 events are parsed, for their ``"t"`` timestamp.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp

TIMESTAMP = re.compile(rb'"t":([0-9.]+)\}')


class Tally:
    """What all streams of this process received."""

    def __init__(self, clients: int, phase1: int, total: int) -> None:
        self.clients = clients
        self.phase1 = phase1
        self.total = total
        self.in_phase2 = 0
        self.finished = 0
        self.phase1_last = 0.0
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.all_finished = asyncio.Event()

    def reached_phase1(self, now: float) -> None:
        self.in_phase2 += 1
        self.phase1_last = max(self.phase1_last, now)
        if self.in_phase2 == self.clients:
            report({"phase1": self.phase1_last})

    def finish(self) -> None:
        self.finished += 1
        if self.finished == self.clients:
            self.all_finished.set()


def report(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def read_stream(session: aiohttp.ClientSession, url: str, tally: Tally) -> None:
    count = 0
    tail = b""
    phase1, total = tally.phase1, tally.total
    try:
        async with session.get(url) as response:
            if response.status != 200:
                tally.errors.append(f"HTTP {response.status}")
                return
            async for chunk in response.content.iter_any():
                now = time.monotonic()
                data = tail + chunk if tail else chunk
                end = data.rfind(b"\n\n")
                if end < 0:
                    tail = data
                    continue
                complete, tail = data[:end], data[end + 2 :]
                received = complete.count(b'"t":')
                if count + received > phase1:
                    stamps = TIMESTAMP.findall(complete)[max(0, phase1 - count) :]
                    tally.latencies.extend(now - float(stamp) for stamp in stamps)
                if count < phase1 <= count + received:
                    tally.reached_phase1(now)
                count += received
                if count >= total:
                    return
            tally.errors.append(f"the stream ended after {count} events")
    except (aiohttp.ClientError, OSError) as exc:
        tally.errors.append(f"{type(exc).__name__} after {count} events")
    finally:
        tally.finish()


async def run_streams(
    streams: list[Coroutine[Any, Any, None]], tally: Tally, timeout: float
) -> None:
    """Run the stream readers until all have finished, or ``timeout`` (then cancel the rest)."""
    tasks = [asyncio.create_task(stream) for stream in streams]
    try:
        await asyncio.wait_for(tally.all_finished.wait(), timeout)
    except TimeoutError:
        tally.errors.append(f"timed out after {timeout} s")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def main(url: str, clients: int, phase1: int, phase2: int, timeout: float) -> None:
    tally = Tally(clients, phase1, phase1 + phase2)
    connector = aiohttp.TCPConnector(limit=0)
    no_timeout = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=no_timeout) as session:
        await run_streams(
            [read_stream(session, url, tally) for _ in range(clients)], tally, timeout
        )
    report(
        {
            "latencies": [round(x, 6) for x in tally.latencies],
            "errors": tally.errors[:5],
            "failed": len(tally.errors),
        }
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], int(args[1]), int(args[2]), int(args[3]), float(args[4])))
