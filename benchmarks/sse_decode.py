"""Benchmark: decoding an OpenAI-format SSE stream, rxchronos' SSEDecoder against its peers.

Builds a ~20 MB stream of realistic ``chat.completion.chunk`` events (150-250 bytes of JSON each,
``data: [DONE]`` at the end), cuts it into random 1-4096-byte pieces (as a network delivers it),
and decodes the same pieces with:

* ``rxchronos.sse.SSEDecoder``;
* the openai SDK's decoder (``openai._streaming.SSEDecoder.iter_bytes``);
* httpx-sse's decoder (incremental UTF-8 decode, ``SSELineDecoder`` then ``SSEDecoder``, as its
  ``EventSource`` does);
* a naive ``bytes.split(b"\\n\\n")``: no real parsing, the practical upper limit.

Prints one table with MB/s, events/s and each decoder's ratio to rxchronos. Run with
``python benchmarks/sse_decode.py`` (needs the ``bench`` extra); ``--quick`` for a small smoke run.
"""

from __future__ import annotations

import argparse
import codecs
import json
import random
import string
import sys
import time
from collections.abc import Callable
from collections.abc import Iterable

from httpx_sse._decoders import SSEDecoder as HttpxDecoder
from httpx_sse._decoders import SSELineDecoder
from openai._streaming import SSEDecoder as OpenAIDecoder

from rxchronos.sse import SSEDecoder

Decoder = Callable[[list[bytes]], int]  # decodes the pieces, returns the number of events


def build_stream(total_bytes: int, rng: random.Random) -> bytes:
    """An OpenAI chat-completion SSE stream of about ``total_bytes`` bytes.

    Each event's JSON is 150-250 bytes: a ``chat.completion.chunk`` whose content delta is a few
    words long.
    """
    alphabet = string.ascii_letters + string.digits
    words = ["".join(rng.choices(string.ascii_letters, k=rng.randint(1, 9))) for _ in range(500)]
    head = {
        "id": "chatcmpl-" + "".join(rng.choices(alphabet, k=29)),
        "object": "chat.completion.chunk",
        "created": 1727346142,
        "model": "gpt-4o",
    }

    def chunk_json(content: str) -> bytes:
        delta = {"index": 0, "delta": {"content": content}, "finish_reason": None}
        return json.dumps({**head, "choices": [delta]}, separators=(",", ":")).encode()

    base = len(chunk_json(""))
    parts: list[bytes] = []
    size = 0
    while size < total_bytes:
        target = rng.randint(max(150, base + 1), 250)
        content = ""
        while len(content) < target - base:
            content += " " + rng.choice(words)
        event = b"data: " + chunk_json(content[: target - base]) + b"\n\n"
        parts.append(event)
        size += len(event)
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def cut(stream: bytes, rng: random.Random) -> list[bytes]:
    """Cut ``stream`` into random 1-4096-byte pieces."""
    pieces: list[bytes] = []
    at = 0
    while at < len(stream):
        step = rng.randint(1, 4096)
        pieces.append(stream[at : at + step])
        at += step
    return pieces


def decode_rxchronos(pieces: list[bytes]) -> int:
    decoder = SSEDecoder()
    count = 0
    for piece in pieces:
        count += len(decoder.feed(piece))
    decoder.close()
    return count


def decode_openai(pieces: list[bytes]) -> int:
    return sum(1 for _ in OpenAIDecoder().iter_bytes(iter(pieces)))


def decode_httpx_sse(pieces: list[bytes]) -> int:
    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    lines = SSELineDecoder()
    decoder = HttpxDecoder()
    count = 0
    for piece in pieces:
        for line in lines.decode(text_decoder.decode(piece)):
            if decoder.decode(line) is not None:
                count += 1
    return count


def decode_naive_split(pieces: list[bytes]) -> int:
    buffer = b""
    count = 0
    for piece in pieces:
        buffer += piece
        *events, buffer = buffer.split(b"\n\n")
        count += len(events)
    return count


PEERS: dict[str, Decoder] = {
    "rxchronos SSEDecoder": decode_rxchronos,
    "openai SDK SSEDecoder": decode_openai,
    "httpx-sse SSEDecoder": decode_httpx_sse,
    "naive bytes.split": decode_naive_split,
}


def best_times(
    names: Iterable[str], pieces: list[bytes], repeats: int
) -> dict[str, tuple[float, int]]:
    """Each decoder's best wall time over ``repeats`` rounds, and its event count.

    The rounds interleave the decoders, so a burst of load on the machine hits them all alike.
    """
    results = {name: (float("inf"), 0) for name in names}
    for name in results:  # warm up: imports, caches, the allocator
        PEERS[name](pieces[:200])
    for _ in range(repeats):
        for name in results:
            start = time.perf_counter()
            events = PEERS[name](pieces)
            seconds = time.perf_counter() - start
            results[name] = (min(results[name][0], seconds), events)
    return results


def run(megabytes: float, repeats: int, seed: int, names: Iterable[str]) -> list[list[str]]:
    rng = random.Random(seed)
    stream = build_stream(int(megabytes * 1_000_000), rng)
    pieces = cut(stream, rng)
    expected = stream.count(b"\n\n")
    results = best_times(names, pieces, repeats)
    for name, (_, events) in results.items():
        if events != expected:
            raise SystemExit(f"{name} decoded {events} events, expected {expected}")
    ours = results["rxchronos SSEDecoder"][0]
    rows = [["decoder", "MB/s", "events/s", "time vs rxchronos"]]
    for name, (seconds, events) in results.items():
        rows.append(
            [
                name,
                f"{len(stream) / seconds / 1e6:,.1f}",
                f"{events / seconds:,.0f}",
                f"{seconds / ours:.2f}x",
            ]
        )
    print(
        f"stream: {len(stream) / 1e6:.1f} MB, {expected:,} events, {len(pieces):,} pieces of "
        f"1-4096 bytes; best of {repeats}; Python {sys.version.split()[0]}"
    )
    return rows


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("| " + " | ".join(cells) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a 2 MB smoke run, one repeat")
    parser.add_argument("--megabytes", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240926)
    args = parser.parse_args(argv)
    megabytes, repeats = (2.0, 1) if args.quick else (args.megabytes, args.repeats)
    print_table(run(megabytes, repeats, args.seed, PEERS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
