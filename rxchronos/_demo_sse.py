"""The offline end-to-end demo behind ``rxchronos demo``: SSE over a real socket into Rx.

A local aiohttp server streams a short Server-Sent Events stream, deliberately cut at awkward
places (mid-line, mid-character, CRLF line ends). An aiohttp client reads the raw bytes with
``resp.content.iter_any()``, :class:`~rxchronos.sse.SSEDecoder` turns them into events, and
:func:`~rxchronos.aio.from_async_iterable` carries them into an Observable pipeline, whose output
is printed as it arrives (through :func:`~rxchronos.aio.to_async_iterator`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TextIO

from aiohttp import ClientSession, web
from reactivex import operators as ops

from rxchronos.aio import from_async_iterable, to_async_iterator
from rxchronos.sse import ServerSentEvent, SSEDecoder, encode_comment, encode_event

__all__ = ["DEMO_TOKENS", "run_sse_demo"]

DEMO_TOKENS = ("Every", " stream", " is", " an", " Observable", ":", " reactive", " LLM", " 🚀")


async def _events_handler(request: web.Request) -> web.StreamResponse:
    """Stream the demo tokens as SSE, each event written in two pieces cut mid-event."""
    delay: float = request.app[_DELAY]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    await response.write(encode_comment("rxchronos demo stream"))
    frames = [
        encode_event(json.dumps({"delta": token}, ensure_ascii=False), event="token", id=str(n))
        for n, token in enumerate(DEMO_TOKENS, start=1)
    ]
    frames.append(encode_event("[DONE]", event="done"))
    for frame in frames:
        wire = frame.replace(b"\n", b"\r\n")  # CRLF line ends, as some providers send them
        cut = len(wire) // 2 + 1
        for piece in (wire[:cut], wire[cut:]):
            await response.write(piece)
            await asyncio.sleep(delay)
    return response


_DELAY = web.AppKey("delay", float)


async def _serve(host: str, port: int, delay: float) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app[_DELAY] = delay
    app.router.add_get("/events", _events_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, f"http://{bound_host}:{bound_port}/events"


def _read_events(url: str) -> AsyncIterator[ServerSentEvent]:
    async def events() -> AsyncIterator[ServerSentEvent]:
        decoder = SSEDecoder()
        async with ClientSession() as session, session.get(url) as response:
            response.raise_for_status()
            async for chunk in response.content.iter_any():
                for event in decoder.feed(chunk):
                    yield event
        decoder.close()

    return events()


def _not_done(event: ServerSentEvent) -> bool:
    return event.event != "done"


def _id_and_delta(event: ServerSentEvent) -> tuple[str, str]:
    return event.id, str(event.json()["delta"])


async def run_sse_demo(
    *, host: str = "127.0.0.1", port: int = 0, delay: float = 0.02, out: TextIO
) -> int:
    """Serve the demo stream, read it back through the Rx pipeline, print it; return 0.

    Args:
        host: the address to serve on.
        port: the port to serve on; 0 picks a free one.
        delay: seconds between the pieces the server writes.
        out: where to print.
    """
    runner, url = await _serve(host, port, delay)
    try:
        print(f"serving a Server-Sent Events stream on {url}", file=out, flush=True)
        tokens = from_async_iterable(lambda: _read_events(url)).pipe(
            ops.take_while(_not_done),
            ops.map(_id_and_delta),
        )
        text: list[str] = []
        async for event_id, delta in to_async_iterator(tokens):
            text.append(delta)
            print(f"  event {event_id:>2}  token {delta!r}", file=out, flush=True)
        print(f"received {len(text)} tokens: {''.join(text)!r}", file=out, flush=True)
    finally:
        await runner.cleanup()
    return 0
