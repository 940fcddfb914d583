"""Conformance: real recorded provider streams replayed through the matching provider.

The recordings live outside this repository (``<repo>/../shared/fixtures/recorded``, or the folder
named by ``RXCHRONOS_SHARED_FIXTURES``); without them every test here is skipped. Each file is
served byte for byte by a real local server (whole and in 5-byte pieces) to the provider that speaks
its dialect, and the collected text, tool calls, usage, stop reason or in-band error are checked.
``*.jsonl`` files hold one SSE data payload per line and are turned back into SSE (with
``event:`` lines for Anthropic and a final ``[DONE]`` for Chat Completions). The OpenAI Responses
API recordings go through OpenAIResponses, and through its dialect parser on its own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest

from rxchronos.model import Anthropic
from rxchronos.model import AzureOpenAI
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import Cohere
from rxchronos.model import DeepSeek
from rxchronos.model import Gemini
from rxchronos.model import Groq
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import Mistral
from rxchronos.model import Ollama
from rxchronos.model import OpenAI
from rxchronos.model import OpenAIResponses
from rxchronos.model import OpenRouter
from rxchronos.model import ProviderStreamError
from rxchronos.model import StopReason
from rxchronos.model._responses import ResponsesParser
from tests.conftest import skip_or_fail

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import parse_all
from .conftest import stream_once

KEY = "conformance-SECRET-key-0123"
REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])


def _folder() -> Path:
    named = os.environ.get("RXCHRONOS_SHARED_FIXTURES")
    if named:
        return Path(named)
    return Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "recorded"


FOLDER = _folder()


@pytest.fixture(autouse=True)
def _recordings_present() -> None:
    """Skip without the recordings; CI sets RXCHRONOS_REQUIRE_SHARED_FIXTURES=1 to fail instead."""
    if not FOLDER.is_dir():
        skip_or_fail(
            f"no recorded provider streams at {FOLDER} (set RXCHRONOS_SHARED_FIXTURES to a folder)",
            require_env="RXCHRONOS_REQUIRE_SHARED_FIXTURES",
        )


@dataclass(frozen=True)
class Expect:
    """What a recording must collect to."""

    content: str = ""  # a prefix of the content ("" = no content)
    content_len: int = 0
    reasoning_start: str = ""
    refusal: str = ""
    tools: tuple[tuple[str, dict[str, Any] | None], ...] = ()  # (name, arguments or None if cut)
    usage: tuple[int, int, int] | None = None
    stop: StopReason | None = None
    error: str | None = None  # the ProviderStreamError type, for in-band errors
    unterminated: bool = False  # the recording lost its final blank line (see the test)
    extra: dict[str, Any] = field(default_factory=dict)


END, TOOL, MAX = StopReason.END, StopReason.TOOL_CALL, StopReason.MAX_TOKENS
CASES: dict[str, Expect] = {
    "openai/chat_text_usage.sse": Expect(
        "I'm unable to provide real-time weather updates.", 159, usage=(14, 30, 44), stop=END
    ),
    "openai/chat_parallel_tool_calls.sse": Expect(
        tools=(
            ("GetWeatherArgs", {"city": "Edinburgh", "country": "GB", "units": "c"}),
            ("get_stock_price", {"ticker": "AAPL", "exchange": "NASDAQ"}),
        ),
        usage=(149, 60, 209),
        stop=TOOL,
    ),
    "openai/chat_refusal.sse": Expect(
        refusal="I'm sorry, I can't assist with that request.", usage=(79, 11, 90), stop=END
    ),
    "azure/chat_prompt_filter_and_usage.jsonl": Expect(
        "Capital of Denmark.", 19, usage=(15, 78, 93), stop=END
    ),
    "openai_compatible/groq_tool_call_whole.jsonl": Expect(
        tools=(("weather", {}),), usage=(210, 15, 225), stop=TOOL
    ),
    "openai_compatible/groq_error_event_midstream.sse": Expect(
        reasoning_start="We need to call the tool", error="invalid_request_error"
    ),
    "openai_compatible/openrouter_comments_and_error_chunk.sse": Expect(
        reasoning_start="We need to respond to a greeting",
        usage=(43, 10, 53),  # sent in the error chunk itself
        stop=MAX,
        error="400",
    ),
    "openai_compatible/deepseek_reasoning_tool_call.jsonl": Expect(
        reasoning_start="The user is asking for the weather",
        tools=(("weather", {"location": "San Francisco"}),),
        usage=(339, 83, 422),
        stop=TOOL,
    ),
    "mistral/tool_call_no_index.jsonl": Expect(
        tools=(("weather", {"location": "San Francisco"}),), usage=(124, 22, 146), stop=TOOL
    ),
    "mistral/reasoning_content_list.jsonl": Expect(
        "2 + 2 = 4", 9, reasoning_start="The user is asking for 2+2", usage=(10, 46, 56), stop=END
    ),
    "openai_responses/function_call.sse": Expect(
        tools=(("get_capital", {"country": "France"}),), usage=(255, 16, 271), stop=TOOL
    ),
    "openai_responses/error_insufficient_quota.jsonl": Expect(error="insufficient_quota"),
    "anthropic/text_basic.sse": Expect(
        "Hello there!", 12, usage=(11, 6, 17), stop=END, unterminated=True
    ),
    "anthropic/tool_use_input_json_delta.sse": Expect(
        "I'll check the current weather in Paris for you.",
        48,
        tools=(("get_weather", {"location": "Paris"}),),
        usage=(377, 65, 442),
        stop=TOOL,
        unterminated=True,
    ),
    "anthropic/tool_use_truncated_max_tokens.sse": Expect(
        "I'll create a comprehensive tax guide",
        135,
        tools=(("make_file", None),),
        usage=(450, 124, 574),
        stop=MAX,
        unterminated=True,
    ),
    "anthropic/parallel_tool_use.sse": Expect(
        "I'll retrieve the secrets for both passwords you provided.",
        58,
        tools=(
            ("secret_retrieval_tool", {"password": "mellon"}),
            ("secret_retrieval_tool", {"password": "radiance"}),
        ),
        usage=(416, 109, 525),
        stop=TOOL,
    ),
    "anthropic/thinking_signature.sse": Expect(
        "Here are the basic steps for safely crossing the street:",
        1021,
        reasoning_start="This is a straightforward question",
        usage=(43, 282, 325),
        stop=END,
    ),
    "anthropic/tool_no_args_pings.jsonl": Expect(
        "I'll update the issue list for you.",
        35,
        tools=(("updateIssueList", {}),),
        usage=(565, 48, 613),
        stop=TOOL,
    ),
    "gemini/text_usage_changes_crlf.sse": Expect(
        "The temperature in Paris is 30°C.\n", 34, usage=(79, 12, 91), stop=END
    ),
    "gemini/parallel_function_calls_crlf.sse": Expect(
        tools=(
            ("secret_retrieval_tool", {"password": "mellon"}),
            ("secret_retrieval_tool", {"password": "radiance"}),
        ),
        usage=(70, 101, 171),
        stop=TOOL,
    ),
    "gemini/function_call_thought_signature_crlf.sse": Expect(
        tools=(("get_country", {}),), usage=(29, 212, 241), stop=TOOL
    ),
    "gemini/vertex_partial_args_will_continue.jsonl": Expect(
        reasoning_start="**Processing User Requests**",
        tools=(
            ("read_theme", {}),
            ("read_screen", {"id": "A"}),
            ("read_screen", {"id": "B"}),
            ("read_screen", {"id": "C"}),
        ),
        usage=(249, 241, 490),
        stop=TOOL,
    ),
    "cohere/v2_two_tool_calls.jsonl": Expect(
        reasoning_start="I will use the weather tool",
        tools=(
            ("weather", {"location": "San Francisco"}),
            ("cityAttractions", {"city": "San Francisco"}),
        ),
        usage=(1549, 95, 1644),
        stop=TOOL,
    ),
    "ollama/api_chat_stream_tools_DOCSAMPLE.ndjson": Expect(
        tools=(("get_weather", {"city": "Tokyo"}),), usage=(169, 15, 184), stop=TOOL
    ),
    "ollama/api_generate_error_midstream_DOCSAMPLE.ndjson": Expect(" Yes.Ican", 9, error="error"),
}

CHAT_COMPLETIONS = {"openai", "azure", "mistral", "openai_compatible"}


def wire(name: str) -> bytes:
    """The recording as the bytes a server sends (see the module docstring)."""
    path = FOLDER / name
    data = path.read_bytes()
    if path.suffix != ".jsonl":
        return data
    folder = path.parent.name
    out = bytearray()
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        if folder == "anthropic":
            out += f"event: {json.loads(line)['type']}\n".encode()
        out += f"data: {line}\n\n".encode()
    if folder in CHAT_COMPLETIONS:
        out += b"data: [DONE]\n\n"
    return bytes(out)


def terminated(data: bytes) -> bytes:
    """``data`` with its last event ended by a blank line (the recorder trimmed it)."""
    return data if data.endswith((b"\n\n", b"\r\n\r\n")) else data + b"\n\n"


def make(name: str, url: str) -> Any:
    folder, file = name.split("/")
    if folder == "openai":
        return OpenAI(api_key=KEY, model="gpt-4o", base_url=f"{url}/v1")
    if folder == "openai_responses":
        return OpenAIResponses(api_key=KEY, model="gpt-4o", base_url=f"{url}/v1")
    if folder == "azure":
        return AzureOpenAI(endpoint=url, api_key=KEY, deployment="model-router")
    if folder == "mistral":
        return Mistral(api_key=KEY, model="mistral-small-latest", base_url=f"{url}/v1")
    if folder == "openai_compatible":
        preset = {"groq": Groq, "openrouter": OpenRouter, "deepseek": DeepSeek}[file.split("_")[0]]
        return preset(api_key=KEY, model="m", base_url=f"{url}/v1")
    if folder == "anthropic":
        return Anthropic(api_key=KEY, model="claude-sonnet-4-5", base_url=url)
    if folder == "gemini":
        return Gemini(api_key=KEY, model="gemini-2.5-flash", base_url=url)
    if folder == "cohere":
        return Cohere(api_key=KEY, model="command-a-03-2025", base_url=url)
    assert folder == "ollama", name
    return Ollama(base_url=url, model="llama3.2")


def check(final: ChatResponse, expect: Expect) -> None:
    assert final.content.startswith(expect.content)
    assert len(final.content) == expect.content_len
    assert final.reasoning.startswith(expect.reasoning_start)
    assert bool(final.reasoning) == bool(expect.reasoning_start)
    assert final.refusal == expect.refusal
    assert [c.name for c in final.tool_calls] == [name for name, _ in expect.tools]
    assert [c.index for c in final.tool_calls] == list(range(len(expect.tools)))
    ids = [c.id for c in final.tool_calls]
    assert all(ids) and len(set(ids)) == len(ids)  # every call has its own id
    for call, (_, arguments) in zip(final.tool_calls, expect.tools, strict=True):
        if arguments is not None:
            assert call.parse_arguments() == arguments
    if expect.usage is None:
        assert final.usage is None
    else:
        assert final.usage is not None
        usage = final.usage
        assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == expect.usage
    assert final.stop_reason == expect.stop


def test_every_recording_has_a_case() -> None:
    found = {
        path.relative_to(FOLDER).as_posix()
        for path in FOLDER.rglob("*")
        if path.is_file() and path.name != "INDEX.md"
    }
    assert found == set(CASES)


@pytest.mark.parametrize("pieces", [None, 5])
@pytest.mark.parametrize("name", sorted(CASES))
async def test_recording_replays_through_its_provider(
    provider_server: ProviderServer, name: str, pieces: int | None
) -> None:
    expect = CASES[name]
    headers = {"Content-Type": "application/x-ndjson"} if name.endswith(".ndjson") else {}
    provider_server.reply(Reply(terminated(wire(name)), pieces=pieces, headers=headers))
    deltas, error = await stream_once(make(name, provider_server.url), REQUEST)
    if expect.error is None:
        assert error is None
        check(collect(deltas), expect)
        return
    assert isinstance(error, ProviderStreamError)
    assert error.code == expect.error
    assert KEY not in str(error)
    if error.partial is None:  # the error came before anything the response carries
        assert expect == Expect(error=expect.error)
        return
    check(error.partial, expect)


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n].unterminated))
async def test_a_recording_cut_before_its_last_blank_line_is_incomplete(
    provider_server: ProviderServer, name: str
) -> None:
    # These recordings end in "data: {message_stop}" with no blank line: by the SSE rules that
    # last event is never dispatched, so without the fix-up above the stream is incomplete.
    provider_server.reply(Reply(wire(name)))
    _, error = await stream_once(make(name, provider_server.url), REQUEST)
    assert isinstance(error, IncompleteStreamError)
    assert error.partial is not None
    check(error.partial, CASES[name])


@pytest.mark.parametrize("name", sorted(n for n in CASES if n.startswith("openai_responses")))
@pytest.mark.parametrize("pieces", [(), (5,) * 2000])
def test_responses_api_recording_through_its_parser(name: str, pieces: tuple[int, ...]) -> None:
    expect = CASES[name]
    parser = ResponsesParser(provider="openai")
    if expect.error is not None:
        with pytest.raises(ProviderStreamError) as caught:
            parse_all(parser, wire(name), pieces)
        assert caught.value.code == expect.error
        return
    deltas = parse_all(parser, wire(name), pieces)
    assert parser.finished
    check(collect(deltas), expect)
