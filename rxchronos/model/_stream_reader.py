"""The hot loop of every HTTP stream: bytes -> wire events -> dialect parser -> deltas.

:func:`read_stream` posts the request, decodes ``resp.content.iter_any()`` with one incremental
decoder (SSE, or NDJSON lines presented as events), feeds the parser, adds each delta to the
subscription's collector and emits it, and enforces the first-token and idle limits with one
rescheduled ``asyncio.Timeout`` (rescheduled once per network read that produced deltas, so
comments and pings are not progress). A normal end reads to EOF and releases the response (the
connection is pooled); every other exit closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

import aiohttp

from rxchronos.model._collect import ResponseCollector
from rxchronos.model._dialect import StreamParser
from rxchronos.model._errors import IncompleteStreamError, ProviderTimeoutError
from rxchronos.model._retry import Timeouts
from rxchronos.model._types import ChatResponse
from rxchronos.sse import NDJSONSplitter, ServerSentEvent, SSEDecoder

__all__ = ["Framing", "read_stream"]

Framing = Literal["sse", "ndjson"]


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace")


class _NDJSONEvents:
    """NDJSON lines as ``message`` events, so both framings share one loop."""

    __slots__ = ("_splitter",)

    def __init__(self) -> None:
        self._splitter = NDJSONSplitter()

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        return [
            ServerSentEvent(line.decode("utf-8", "replace")) for line in self._splitter.feed(data)
        ]

    def close(self) -> list[ServerSentEvent]:
        return [ServerSentEvent(line.decode("utf-8", "replace")) for line in self._splitter.close()]


async def read_stream(
    post: Callable[[], Awaitable[aiohttp.ClientResponse]],
    *,
    parser: StreamParser,
    framing: Framing,
    timeouts: Timeouts,
    emit: Callable[[ChatResponse], None],
    collector: ResponseCollector,
    provider: str,
) -> None:
    """Run one streaming request to its end (see the module docstring).

    Every delta is added to ``collector`` before it is emitted, so the collector always holds what
    the subscriber got (the partial response of an error).

    Raises:
        ProviderTimeoutError: first-token or idle limit passed.
        IncompleteStreamError: EOF (or a broken connection) before the terminal marker.
        ProviderStreamError: from the parser (without the partial response; the caller adds it).
    """
    loop = asyncio.get_running_loop()
    first, idle = timeouts.first_token, timeouts.idle
    phase: Literal["first_token", "idle"] = "first_token"
    decoder = SSEDecoder() if framing == "sse" else _NDJSONEvents()
    add = collector.add
    timer = asyncio.timeout_at(loop.time() + first if first else None)
    resp: aiohttp.ClientResponse | None = None
    try:
        async with timer:
            resp = await post()
            async for data in resp.content.iter_any():
                if parser.finished:
                    continue  # drain to EOF so the connection goes back to the pool
                progressed = False
                for event in decoder.feed(data):
                    deltas = parser.feed(event.event, event.data)
                    if deltas:
                        progressed = True
                        for delta in deltas:
                            add(delta)
                            emit(delta)
                    if parser.finished:
                        break
                if progressed:
                    phase = "idle"
                    timer.reschedule(loop.time() + idle if idle else None)
            if not parser.finished:
                for event in decoder.close():
                    for delta in parser.feed(event.event, event.data):
                        add(delta)
                        emit(delta)
                for delta in parser.end():
                    add(delta)
                    emit(delta)
            if not parser.finished:
                raise IncompleteStreamError(
                    f"{provider}: the stream ended before its end marker "
                    f"({collector.count} deltas received)",
                    provider=provider,
                    partial=collector.partial(),
                )
    except TimeoutError:
        if resp is not None:
            resp.close()
        if not timer.expired():
            raise
        seconds = (first if phase == "first_token" else idle) or 0.0
        raise ProviderTimeoutError(
            provider=provider, kind=phase, seconds=seconds, partial=collector.partial()
        ) from None
    except aiohttp.ClientError as exc:
        if resp is not None:
            resp.close()
        raise IncompleteStreamError(
            f"{provider}: the connection broke mid-stream ({type(exc).__name__}) after "
            f"{collector.count} deltas",
            provider=provider,
            partial=collector.partial(),
        ) from None
    except BaseException:
        if resp is not None:
            resp.close()
        raise
    if resp is not None:
        resp.release()
