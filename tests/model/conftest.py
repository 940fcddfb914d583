"""Fixtures for the model tests: recorded-shape wire fixtures and a real local provider server.

``provider_server`` is an aiohttp server on 127.0.0.1 that answers each POST with the next queued
:class:`Reply` (body bytes written in the given pieces, a status, headers, optionally hanging open
until the client leaves) and records what it saw: request paths, headers, JSON bodies, the peer of
each connection, and client disconnects.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import ToolCall
from rxchronos.model._dialect import StreamParser
from rxchronos.model._operators import ResponseCollector
from rxchronos.sse import SSEDecoder

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    """The bytes of ``tests/model/fixtures/<name>``."""
    return (FIXTURES / name).read_bytes()


def parse_all(parser: StreamParser, data: bytes, pieces: Sequence[int] = ()) -> list[ChatResponse]:
    """Feed ``data`` (cut after the given piece sizes) through an SSE decoder into ``parser``."""
    decoder = SSEDecoder()
    deltas: list[ChatResponse] = []
    cuts = [*pieces]
    pos = 0
    while pos < len(data):
        size = cuts.pop(0) if cuts else len(data)
        for event in decoder.feed(data[pos : pos + size]):
            deltas.extend(parser.feed(event.event, event.data))
        pos += size
    deltas.extend(parser.end())
    return deltas


def rechunking_test(
    names: Sequence[str],
    parse: Callable[..., tuple[list[ChatResponse], Any]],
    *,
    largest: int = 97,
    cuts: int = 60,
    examples: int = 40,
) -> Callable[..., None]:
    """A hypothesis test: each fixture in ``names``, cut at random sizes (up to ``cuts`` pieces
    of at most ``largest`` bytes), parses to the same deltas as whole.

    ``parse(name, pieces=())`` returns ``(deltas, parser)``. Assign the result to a module-level
    ``test_...`` name.
    """

    @settings(max_examples=examples, deadline=None)
    @given(
        name=st.sampled_from(list(names)),
        pieces=st.lists(st.integers(min_value=1, max_value=largest), max_size=cuts),
    )
    def test(name: str, pieces: list[int]) -> None:
        whole, parser = parse(name)
        cut, cut_parser = parse(name, pieces)
        assert cut == whole
        assert cut_parser.finished == parser.finished

    return test


def seeded_sizes(total: int, seed: int, *, largest: int = 64) -> list[int]:
    """Random piece sizes (1..``largest`` bytes) adding up to ``total``, the same for a seed."""
    rng = random.Random(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(rng.randint(1, largest))
    return sizes


def assert_calls_a_b_c(calls: Sequence[ToolCall], *, call_id: str) -> None:
    """``calls`` are three separate calls ``a({"x": 1})``, ``b({"y": 2})``, ``c({})``, each
    with the id ``call_id``."""
    assert [(c.index, c.name, c.parse_arguments()) for c in calls] == [
        (0, "a", {"x": 1}),
        (1, "b", {"y": 2}),
        (2, "c", {}),
    ]
    assert {c.id for c in calls} == {call_id}


def collect(deltas: Sequence[ChatResponse]) -> ChatResponse:
    """The final response of ``deltas``."""
    return ResponseCollector.of(deltas)


def responses_function_call(
    index: int, call_id: str, name: str, *pieces: str
) -> list[dict[str, Any]]:
    """The Responses API events of a function call at output ``index``: its item added with
    empty arguments, then one arguments delta for each of ``pieces``."""
    item = {"type": "function_call", "call_id": call_id, "name": name, "arguments": ""}
    return [
        {"type": "response.output_item.added", "output_index": index, "item": item},
        *(
            {"type": "response.function_call_arguments.delta", "output_index": index, "delta": p}
            for p in pieces
        ),
    ]


def responses_usage(
    *, input_tokens: int, output_tokens: int, total_tokens: int, cached: int, reasoning: int
) -> dict[str, Any]:
    """A Responses API ``usage`` object with its details: ``cached`` input tokens and
    ``reasoning`` output tokens."""
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": total_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens_details": {"reasoning_tokens": reasoning},
    }


@dataclass
class Reply:
    """One scripted answer of the provider server."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    pieces: int | None = None  # write the body in pieces of this size (None: one write)
    sizes: Sequence[int] = ()  # or in pieces of these sizes, in turn (see seeded_sizes)
    hang: bool = False  # after the body, keep the response open until the client leaves
    delay_before: float = 0.0  # seconds before sending the headers


@dataclass
class Seen:
    """One request the server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    peer: Any


class ProviderServer:
    """A real aiohttp server answering provider requests from a queue of :class:`Reply`."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        self.disconnected = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.seen.append(
            Seen(
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=json.loads(raw) if raw else None,
                peer=request.transport.get_extra_info("peername") if request.transport else None,
            )
        )
        if not self.replies:
            return web.json_response({"error": {"message": "no reply queued"}}, status=599)
        reply = self.replies.pop(0)
        if reply.delay_before:
            await asyncio.sleep(reply.delay_before)
        resp = web.StreamResponse(status=reply.status, headers=reply.headers)
        if "Content-Type" not in reply.headers:
            resp.content_type = "text/event-stream" if reply.status < 300 else "application/json"
        await resp.prepare(request)
        step = reply.pieces or max(len(reply.body), 1)
        sizes = itertools.cycle(reply.sizes or [step])
        try:
            pos = 0
            while pos < len(reply.body):
                size = next(sizes)
                await resp.write(reply.body[pos : pos + size])
                pos += size
            if reply.hang:
                while request.transport is not None and not request.transport.is_closing():
                    await asyncio.sleep(0.005)
                self.disconnected.set()
                return resp
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnected.set()
            raise
        return resp

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def _serving() -> AsyncIterator[ProviderServer]:
    server = ProviderServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


provider_server = pytest.fixture(_serving, name="provider_server")
elsewhere = pytest.fixture(_serving, name="elsewhere")
"""A second provider server: another origin (another port)."""


async def run_stream(source: Any) -> tuple[list[Any], BaseException | None]:
    """Subscribe to ``source`` and wait for its end: (items, error or None)."""
    items: list[Any] = []
    done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    source.subscribe(
        items.append,
        lambda exc: done.done() or done.set_result(exc),
        lambda: done.done() or done.set_result(None),
    )
    return items, await done


async def stream_once(
    provider: Any, request: ChatRequest
) -> tuple[list[ChatResponse], BaseException | None]:
    """Stream ``request`` from ``provider`` to its end, then close the provider: (deltas, error)."""
    async with provider:
        return await run_stream(provider.stream_chat(request))
