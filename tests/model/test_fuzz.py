"""Property-based fuzzing of every dialect: the fixtures, mutated (values of the wrong type, lists
for objects, deep nesting, truncation, dropped keys), give only rxchronos errors and never hang.

``make test`` runs a bounded number of examples per property (seconds); set
``RXCHRONOS_FUZZ_EXAMPLES`` (e.g. ``5000``) for a longer run.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from rxchronos import RxChronosError
from rxchronos.model import Anthropic
from rxchronos.model import ChatRequest
from rxchronos.model import Cohere
from rxchronos.model import Gemini
from rxchronos.model import HTTPProvider
from rxchronos.model import Message
from rxchronos.model import Ollama
from rxchronos.model import OpenAI
from rxchronos.model import ProviderError
from rxchronos.model import ProviderStreamError
from rxchronos.model import StreamParser
from rxchronos.model._anthropic import AnthropicParser
from rxchronos.model._cohere import CohereParser
from rxchronos.model._gemini import GeminiParser
from rxchronos.model._ollama import OllamaParser
from rxchronos.model._openai import OpenAIChatParser
from rxchronos.model._responses import ResponsesParser
from rxchronos.sse import SSEDecoder

from .conftest import FIXTURES
from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import stream_once

EXAMPLES = int(os.environ.get("RXCHRONOS_FUZZ_EXAMPLES", "60"))
DEEP = 50_000  # deeper than any recursive parser (or json) can go


def sse_events(data: bytes) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    return [(e.event, e.data) for e in [*decoder.feed(data), *decoder.close()]]


def ndjson_events(data: bytes) -> list[tuple[str, str]]:
    return [("message", line) for line in data.decode().splitlines() if line.strip()]


RESPONSES = b"".join(
    f"event: {kind}\ndata: {json.dumps({'type': kind, **body})}\n\n".encode()
    for kind, body in [
        ("response.created", {"response": {"id": "r1"}}),
        ("response.output_text.delta", {"output_index": 0, "delta": "Hi"}),
        (
            "response.output_item.added",
            {"output_index": 1, "item": {"type": "function_call", "call_id": "c", "name": "f"}},
        ),
        ("response.function_call_arguments.delta", {"output_index": 1, "delta": '{"a": 1}'}),
        ("response.reasoning_summary_text.delta", {"delta": "think"}),
        ("response.completed", {"response": {"usage": {"input_tokens": 1, "output_tokens": 2}}}),
    ]
)


def fixtures(folder: str, suffix: str = ".sse") -> list[list[tuple[str, str]]]:
    split = ndjson_events if suffix == ".ndjson" else sse_events
    return [split(p.read_bytes()) for p in sorted((FIXTURES / folder).glob(f"*{suffix}"))]


DIALECTS: dict[str, tuple[Callable[[], StreamParser], list[list[tuple[str, str]]]]] = {
    "openai": (
        lambda: OpenAIChatParser(provider="openai"),
        fixtures("openai") + fixtures("compatible") + fixtures("mistral") + fixtures("azure"),
    ),
    "anthropic": (lambda: AnthropicParser(provider="anthropic"), fixtures("anthropic")),
    "gemini": (lambda: GeminiParser(provider="gemini"), fixtures("gemini")),
    "ollama": (lambda: OllamaParser(provider="ollama"), fixtures("ollama", ".ndjson")),
    "cohere": (lambda: CohereParser(provider="cohere"), fixtures("cohere")),
    "responses": (
        lambda: ResponsesParser(provider="openai"),
        [sse_events(RESPONSES), *fixtures("responses")],
    ),
}

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
WRONG = JSON_VALUES | st.sampled_from(["__DEEP_LIST__", "__DEEP_OBJECT__"])


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any, *, drop: bool = False) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        if drop and not rest:
            out.pop(head, None)
        else:
            out[head] = replaced(value[head], rest, new, drop=drop)
        return out
    out_list = list(value)
    out_list[head] = replaced(value[head], rest, new, drop=drop)
    return out_list


def dumped(value: Any) -> str:
    text = json.dumps(value)
    text = text.replace('"__DEEP_LIST__"', "[" * DEEP + "]" * DEEP)
    return text.replace('"__DEEP_OBJECT__"', '{"a":' * DEEP + "1" + "}" * DEEP)


@st.composite
def mutated(draw: st.DrawFn, dialect: str) -> tuple[str, list[tuple[str, str]]]:
    """One fixture of ``dialect`` with one to three of its events mutated."""
    streams = DIALECTS[dialect][1]
    events = list(draw(st.sampled_from(streams)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(events) - 1))
        event, data = events[at]
        how = draw(st.sampled_from(["replace", "replace", "replace", "drop", "truncate", "deep"]))
        if how == "truncate":
            data = data[: draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))]
        elif how == "deep":
            data = draw(st.sampled_from(["[" * DEEP, "[" * DEEP + "]" * DEEP, '{"a":' * DEEP]))
        else:
            try:
                value = json.loads(data)
            except (ValueError, RecursionError):  # an earlier mutation of this event
                value = data
            where = draw(st.sampled_from(list(paths(value))))
            if how == "drop" and where:
                data = dumped(replaced(value, where, None, drop=True))
            else:
                data = dumped(replaced(value, where, draw(WRONG)))
        events[at] = (event, data)
    return dialect, events


def parse_mutated(dialect: str, events: list[tuple[str, str]]) -> None:
    """Feed ``events`` to a fresh parser; only ``ProviderStreamError`` may come out, and what did
    come out collects into a response without error."""
    parser = DIALECTS[dialect][0]()
    deltas = []
    try:
        for event, data in events:
            deltas.extend(parser.feed(event, data))
            if parser.finished:
                break
        deltas.extend(parser.end())
    except ProviderStreamError as exc:
        assert exc.provider == parser.provider
        assert exc.kind in ("malformed", "provider_error")
        assert exc.message
    collect(deltas)  # every delta has fields of the right types


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_mutated_streams_give_only_rxchronos_errors(dialect: str) -> None:
    @FUZZ
    @given(case=mutated(dialect))
    def check(case: tuple[str, list[tuple[str, str]]]) -> None:
        parse_mutated(*case)

    check()


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize(
    "data", ["[]", '"text"', "5", "null", "[" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP, "{"]
)
def test_payloads_of_the_wrong_shape_are_malformed(dialect: str, data: str) -> None:
    parser = DIALECTS[dialect][0]()
    with pytest.raises(ProviderStreamError) as caught:
        parser.feed("message", data)
    assert caught.value.kind == "malformed"
    assert caught.value.provider == parser.provider


def test_the_fuzzer_does_reach_the_parsers_type_checks() -> None:
    # a known mutation of a real fixture: content as a number
    events = [
        ("message", '{"choices":[{"index":0,"delta":{"refusal":5}}]}'),
        ("message", "[DONE]"),
    ]
    with pytest.raises(ProviderStreamError) as caught:
        OpenAIChatParser(provider="openai").feed(*events[0])
    assert "refusal" in caught.value.message


PROVIDERS: dict[str, tuple[Callable[[str], HTTPProvider], str]] = {
    "openai": (lambda url: OpenAI(api_key="k-fuzz", model="m", base_url=f"{url}/v1"), "sse"),
    "anthropic": (lambda url: Anthropic(api_key="k-fuzz", model="m", base_url=url), "sse"),
    "gemini": (lambda url: Gemini(api_key="k-fuzz", model="m", base_url=url), "sse"),
    "ollama": (lambda url: Ollama(model="m", base_url=url), "ndjson"),
    "cohere": (lambda url: Cohere(api_key="k-fuzz", model="m", base_url=url), "sse"),
}


def wire(events: list[tuple[str, str]], framing: str) -> bytes:
    if framing == "ndjson":
        return "".join(f"{data}\n" for _, data in events).encode()
    out = []
    for event, data in events:
        head = f"event: {event}\n" if event != "message" else ""
        out.append(head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n")
    return "".join(out).encode()


@pytest.mark.parametrize("dialect", sorted(PROVIDERS))
def test_mutated_streams_over_a_real_server_end_typed_and_never_hang(dialect: str) -> None:
    make, framing = PROVIDERS[dialect]

    @settings(
        max_examples=max(EXAMPLES // 6, 5),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=mutated(dialect), pieces=st.integers(min_value=1, max_value=400))
    def check(case: tuple[str, list[tuple[str, str]]], pieces: int) -> None:
        async def run() -> None:
            server = ProviderServer()
            await server.start()
            try:
                server.reply(Reply(wire(case[1], framing), pieces=pieces))
                provider = make(server.url)
                request = ChatRequest(messages=[Message(role="user", content="Hi")])
                _, error = await asyncio.wait_for(stream_once(provider, request), 30)
                assert error is None or isinstance(error, ProviderError | RxChronosError), error
            finally:
                await server.stop()

        asyncio.run(run())

    check()


def test_fixture_folders_are_found() -> None:
    for dialect, (_, streams) in DIALECTS.items():
        assert streams and all(streams), dialect
    assert Path(FIXTURES).is_dir()


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("data", ["", '{"error": {"message": ""}}', '{"error": ""}', "{}"])
def test_an_error_event_without_a_message_still_says_what_failed(dialect: str, data: str) -> None:
    parser = DIALECTS[dialect][0]()
    try:
        parser.feed("error", data)
    except ProviderStreamError as exc:
        assert exc.message
