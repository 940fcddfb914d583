"""The clients of ``distributed_fanout.py``: SSE streams that check every event arrives, in order.

``python benchmarks/_distributed_client.py URL CLIENTS PHASE1 PHASE2 TIMEOUT [HOP_URL HOP_AT]``
opens CLIENTS streams to URL and prints ``{"connected": CLIENTS}`` once every stream has its
``: connected`` preamble (the server has attached it); then, like ``_fanout_client.py``,
``{"phase1": t}`` once every stream has PHASE1 events, then the publish-to-receive latencies of
the PHASE2 events. It also checks
that each stream's events are 1, 2, 3, ... with none missing, repeated or out of order. With
HOP_URL, each stream closes its connection after HOP_AT events and reconnects to HOP_URL with
the last id it saw as ``Last-Event-ID`` (the resume check). The last line reports ``gaps``
(streams whose sequence broke), ``received`` and ``failed``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time

import aiohttp
from _fanout_client import Tally
from _fanout_client import report
from _fanout_client import run_streams

EVENT = re.compile(rb'"seq":([0-9]+),"t":([0-9.]+)\}')
EVENT_ID = re.compile(rb"(?:^|\n)id: ?([^\n]*)")


class Stream:
    """One client's view: the next sequence number it expects, the last id, what broke."""

    def __init__(self) -> None:
        self.ready = False
        self.expected = 1
        self.last_id = ""
        self.broken = ""


async def read_stream(
    session: aiohttp.ClientSession,
    url: str,
    tally: Tally,
    stream: Stream,
    hop: tuple[str, int] | None,
    ready: list[Stream],
) -> None:
    phase1, total = tally.phase1, tally.total
    try:
        while True:
            headers = {"Last-Event-ID": stream.last_id} if stream.last_id else {}
            hop_at = hop[1] if hop is not None and url != hop[0] else None
            async with session.get(url, headers=headers) as response:
                if response.status != 200:
                    tally.errors.append(f"HTTP {response.status}")
                    return
                tail = b""
                async for chunk in response.content.iter_any():
                    now = time.monotonic()
                    data = tail + chunk if tail else chunk
                    if not stream.ready and b": connected" in data:
                        stream.ready = True  # attached: from here on it gets every event
                        ready.append(stream)
                        if len(ready) == tally.clients:
                            report({"connected": len(ready)})
                    end = data.rfind(b"\n\n")
                    if end < 0:
                        tail = data
                        continue
                    complete, tail = data[:end], data[end + 2 :]
                    ids = EVENT_ID.findall(complete)
                    if ids:
                        stream.last_id = ids[-1].decode()
                    for raw_seq, stamp in EVENT.findall(complete):
                        seq = int(raw_seq)
                        if seq != stream.expected and not stream.broken:
                            stream.broken = f"expected {stream.expected}, got {seq}"
                        if seq > phase1:
                            tally.latencies.append(now - float(stamp))
                        if stream.expected <= phase1 <= seq:
                            tally.reached_phase1(now)
                        stream.expected = seq + 1
                    if stream.expected - 1 >= total:
                        return
                    if hop_at is not None and stream.expected - 1 >= hop_at:
                        break
                else:
                    tally.errors.append(f"the stream ended after {stream.expected - 1} events")
                    return
            assert hop is not None
            url = hop[0]  # reconnect to the other worker, resuming after the last id
    except (aiohttp.ClientError, OSError) as exc:
        tally.errors.append(f"{type(exc).__name__} after {stream.expected - 1} events")
    finally:
        tally.finish()


async def main(argv: list[str]) -> None:
    url, clients, phase1, phase2, timeout = (
        argv[0],
        int(argv[1]),
        int(argv[2]),
        int(argv[3]),
        float(argv[4]),
    )
    hop = (argv[5], int(argv[6])) if len(argv) > 6 else None
    tally = Tally(clients, phase1, phase1 + phase2)
    streams = [Stream() for _ in range(clients)]
    ready: list[Stream] = []
    connector = aiohttp.TCPConnector(limit=0)
    no_timeout = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=no_timeout) as session:
        readers = [read_stream(session, url, tally, stream, hop, ready) for stream in streams]
        await run_streams(readers, tally, timeout)
    broken = [s.broken for s in streams if s.broken]
    report(
        {
            "latencies": [round(x, 6) for x in tally.latencies],
            "errors": tally.errors[:5] + broken[:3],
            "failed": len(tally.errors),
            "gaps": len(broken),
            "received": sum(s.expected - 1 for s in streams),
        }
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
