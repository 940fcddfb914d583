"""Fuzzing ``sse_client``: mutated, rechunked streams from a real server end in events, a
completion or an rxchronos error, never another exception and never a hang.

``make test`` runs a bounded number of examples; set ``RXCHRONOS_FUZZ_EXAMPLES`` for a longer run.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import reactivex
from aiohttp import web
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from reactivex import operators as ops

from rxchronos import RxChronosError
from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream import sse_client

EXAMPLES = int(os.environ.get("RXCHRONOS_FUZZ_EXAMPLES", "40"))


def _seed_stream() -> bytes:
    """A real broker stream: what a broker route writes for a few events."""
    broker = Broker()
    frames = [b"retry: 10\n: connected\n"]
    for n, data in enumerate(["tok", {"node": "a", "n": 1}, "é\u2028 \\n", None]):
        frames.append(broker.publish(Event(type=f"t{n}", data=data)).to_sse())
    frames.append(broker.publish(Event(type="named", data=[1, 2])).to_sse(named=True))
    return b"".join(frames)


SEED = _seed_stream()
NASTY = st.sampled_from([b"\r", b"\n", b"\r\n", b"\0", b"\xff", b":", b"data:", b"id:", b"retry:"])


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(SEED)
    for _ in range(draw(st.integers(0, 8))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat"]))
        if kind == "flip" and data:
            data[where] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[where:where] = draw(st.one_of(NASTY, st.binary(max_size=12)))
        elif kind == "delete":
            del data[where : where + draw(st.integers(1, 20))]
        elif kind == "truncate":
            del data[where:]
        else:
            data[where:where] = data[where : where + draw(st.integers(1, 40))]
    return bytes(data)


async def _read_through(body: bytes, cuts: list[int]) -> list[Any] | BaseException:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        pos = 0
        for size in [*cuts, len(body)]:
            if pos >= len(body):
                break
            await response.write(body[pos : pos + size])
            pos += size
            await asyncio.sleep(0)
        return response

    app = web.Application()
    app.router.add_get("/events", handler)
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        events = sse_client(f"http://127.0.0.1:{port}/events", reconnect=False)
        done = events.pipe(ops.to_list(), ops.catch(lambda exc, _: reactivex.of(exc)))
        outcome: list[Any] | BaseException = await asyncio.wait_for(done, 30)
        return outcome
    finally:
        await runner.cleanup()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(body=_mutated(), cuts=st.lists(st.integers(1, 64), max_size=30))
def test_mutated_streams_end_in_events_or_an_rxchronos_error(body: bytes, cuts: list[int]) -> None:
    outcome = asyncio.run(_read_through(body, cuts))
    assert isinstance(outcome, list | RxChronosError), repr(outcome)


def test_the_seed_stream_reads_whole_when_cut_small() -> None:
    outcome = asyncio.run(_read_through(SEED, [7] * 40))
    assert isinstance(outcome, list)
    assert [e.json()["type"] for e in outcome] == ["t0", "t1", "t2", "t3", "named"]
