"""Benchmark: a whole OpenAI-format answer, end to end, through rxchronos and its peers.

A local aiohttp server, in a separate process, streams one Chat Completions answer: 20,000 content
chunks, then two tool calls of 200 argument fragments each, a usage chunk and ``data: [DONE]``.
Each contender reads it over a real socket and rebuilds the answer:

* ``OpenAI.stream_chat`` + ``collect_response()`` (rxchronos);
* the openai SDK: ``AsyncOpenAI.chat.completions.create(stream=True)`` with the usual user-side
  accumulation (content parts, tool-call arguments by index);
* the openai SDK's ``chat.completions.stream(...)`` helper (``get_final_completion()``);
* raw aiohttp + ``json.loads`` on each ``data:`` line: no abstraction at all, the practical limit.

All must rebuild identical text and tool arguments. Prints one table: chunks/s (best of a few runs)
and each contender's ratio to rxchronos. Run with ``python benchmarks/token_pipeline.py`` (needs the
``bench`` extra); ``--quick`` for a small smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from openai import AsyncOpenAI

from rxchronos import operators as rxo
from rxchronos.model import ChatRequest
from rxchronos.model import Message
from rxchronos.model import OpenAI

Result = tuple[str, list[tuple[str, str]]]  # text, [(tool name, arguments)]
REQUEST = ChatRequest(messages=[Message(role="user", content="Tell me a long story.")])
KEY = "sk-bench"


def build_answer(content_chunks: int, fragments: int) -> tuple[bytes, int, Result]:
    """The SSE body, its number of chunks, and the answer it encodes."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        body = {**head, "choices": [choice], **extra}
        return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"

    words = ["The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog. "]
    parts = [event({"role": "assistant", "content": ""})]
    text = []
    for i in range(content_chunks):
        word = words[i % len(words)]
        text.append(word)
        parts.append(event({"content": word}))
    calls = []
    for index, name in enumerate(("search_web", "write_file")):
        args = json.dumps({"query": " ".join(f"w{i}" for i in range(fragments * 2))})
        size = -(-len(args) // fragments)
        pieces = [args[p : p + size] for p in range(0, len(args), size)]
        call = {"index": index, "id": f"call_{index}", "type": "function"}
        first = {**call, "function": {"name": name, "arguments": ""}}
        parts.append(event({"tool_calls": [first]}))
        parts.extend(
            event({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in pieces
        )
        calls.append((name, args))
    parts.append(event({}, "tool_calls"))
    usage = {"prompt_tokens": 10, "completion_tokens": len(parts), "total_tokens": 10 + len(parts)}
    parts.append(b"data: " + json.dumps({**head, "choices": [], "usage": usage}).encode() + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts), len(parts) - 1, ("".join(text), calls)


def serve(body: bytes, port_queue: Any) -> None:
    """The server process: answer every POST with ``body``, written in 16 KiB pieces."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for pos in range(0, len(body), 16384):
            await resp.write(body[pos : pos + 16384])
        await resp.write_eof()
        return resp

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def run_rxchronos(base_url: str) -> Result:
    async with OpenAI(api_key=KEY, model="m", base_url=base_url) as provider:
        final = await provider.stream_chat(REQUEST).pipe(rxo.collect_response())
    return final.content, [(c.name, c.arguments) for c in final.tool_calls]


async def run_sdk_create(base_url: str) -> Result:
    client = AsyncOpenAI(api_key=KEY, base_url=base_url)
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    stream = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "Tell me a long story."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            text.append(delta.content)
        for call in delta.tool_calls or ():
            slot = calls.setdefault(call.index, {"name": "", "args": []})
            if call.function and call.function.name:
                slot["name"] = call.function.name
            if call.function and call.function.arguments:
                slot["args"].append(call.function.arguments)
    await client.close()
    return "".join(text), [(s["name"], "".join(s["args"])) for _, s in sorted(calls.items())]


async def run_sdk_stream_helper(base_url: str) -> Result:
    client = AsyncOpenAI(api_key=KEY, base_url=base_url)
    async with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "Tell me a long story."}]
    ) as stream:
        final = await stream.get_final_completion()
    await client.close()
    message = final.choices[0].message
    calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or ()]  # type: ignore[union-attr]
    return message.content or "", calls


async def run_raw(base_url: str) -> Result:
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    loads = json.loads
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/chat/completions", json={"stream": True}) as resp,
    ):
        pending = b""
        async for data in resp.content.iter_any():
            blocks = (pending + data).split(b"\n\n")
            pending = blocks.pop()
            for block in blocks:
                payload = block[6:]
                if payload == b"[DONE]":
                    continue
                chunk = loads(payload)
                choices = chunk["choices"]
                if not choices:
                    continue
                delta = choices[0]["delta"]
                content = delta.get("content")
                if content:
                    text.append(content)
                for call in delta.get("tool_calls") or ():
                    slot = calls.setdefault(call["index"], {"name": "", "args": []})
                    function = call.get("function") or {}
                    if function.get("name"):
                        slot["name"] = function["name"]
                    if function.get("arguments"):
                        slot["args"].append(function["arguments"])
    return "".join(text), [(s["name"], "".join(s["args"])) for _, s in sorted(calls.items())]


CONTENDERS: list[tuple[str, Callable[[str], Awaitable[Result]]]] = [
    ("rxchronos OpenAI.stream_chat + collect_response()", run_rxchronos),
    ("openai SDK create(stream=True) + accumulation", run_sdk_create),
    ("openai SDK chat.completions.stream helper", run_sdk_stream_helper),
    ("raw aiohttp + json.loads (limit)", run_raw),
]


async def measure(base_url: str, chunks: int, expected: Result, repeats: int) -> list[float]:
    rates = []
    for name, run in CONTENDERS:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            got = await run(base_url)
            best = min(best, time.perf_counter() - started)
            if got != expected:
                raise SystemExit(f"{name} rebuilt a different answer")
        rates.append(chunks / best)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small, fast smoke run")
    options = parser.parse_args()
    content_chunks, fragments, repeats = (2_000, 50, 1) if options.quick else (20_000, 200, 3)
    body, chunks, expected = build_answer(content_chunks, fragments)
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(body, ports), daemon=True)
    server.start()
    try:
        base_url = f"http://127.0.0.1:{ports.get(timeout=20)}/v1"
        rates = asyncio.run(measure(base_url, chunks, expected, repeats))
    finally:
        server.terminate()
        server.join()
    python = sys.version.split()[0]
    print(f"{chunks:,} chunks ({len(body) / 1e6:.1f} MB), best of {repeats}, Python {python}")
    print(f"| {'contender':<52} | {'chunks/s':>10} | {'vs rxchronos':>12} |")
    print(f"|{'-' * 54}|{'-' * 12}|{'-' * 14}|")
    for (name, _), rate in zip(CONTENDERS, rates, strict=True):
        print(f"| {name:<52} | {rate:>10,.0f} | {rate / rates[0]:>11.2f}x |")


if __name__ == "__main__":
    main()
