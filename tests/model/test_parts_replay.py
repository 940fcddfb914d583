"""Content parts of real stream shapes, replayed by a real local server in seeded random chunkings:
Anthropic server tools, MCP, citations and thinking; Responses built-in tools, reasoning items and
annotations; Gemini code execution and grounding; Perplexity sources; Chat Completions search
annotations. Each answer's parts are checked, and sent back on the next turn where the provider
requires it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from rxchronos import operators as rxo
from rxchronos.model import Anthropic
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import CitationPart
from rxchronos.model import Cohere
from rxchronos.model import Gemini
from rxchronos.model import Message
from rxchronos.model import OpenAI
from rxchronos.model import OpenAIResponses
from rxchronos.model import Perplexity
from rxchronos.model import Provider
from rxchronos.model import ReasoningPart
from rxchronos.model import ServerToolCallPart
from rxchronos.model import ServerToolResultPart
from rxchronos.model import StopReason
from rxchronos.model import TextPart
from rxchronos.model import UnknownPart

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import seeded_sizes
from .conftest import stream_once

KEY = "sk-parts-SECRET"
SEEDS = (0, 1, 2, 3, 4, 5, 6, 7)
REQUEST = ChatRequest(messages=[Message(role="user", content="Weather in Paris today?")])
Make = Callable[[ProviderServer], Provider]


def anthropic(server: ProviderServer) -> Provider:
    return Anthropic(api_key=KEY, model="claude-sonnet-4-5", base_url=server.url, max_retries=0)


def responses(server: ProviderServer) -> Provider:
    return OpenAIResponses(api_key=KEY, model="gpt-5", base_url=server.base_url, max_retries=0)


def gemini(server: ProviderServer) -> Provider:
    return Gemini(api_key=KEY, model="gemini-2.5-flash", base_url=server.url, max_retries=0)


def perplexity(server: ProviderServer) -> Provider:
    return Perplexity(api_key=KEY, model="sonar", base_url=server.base_url, max_retries=0)


def cohere(server: ProviderServer) -> Provider:
    return Cohere(api_key=KEY, model="command-a-03-2025", base_url=server.url, max_retries=0)


def openai(server: ProviderServer) -> Provider:
    return OpenAI(api_key=KEY, model="gpt-4o-search-preview", base_url=server.base_url)


async def replay(
    server: ProviderServer, make: Make, name: str, seed: int | None
) -> tuple[list[ChatResponse], ChatResponse]:
    """The deltas and the collected answer of fixture ``name``, written in seeded random pieces
    (``seed=None``: one write)."""
    body = fixture_bytes(name)
    sizes = seeded_sizes(len(body), seed) if seed is not None else ()
    server.reply(Reply(body, sizes=sizes))
    deltas, error = await stream_once(make(server), REQUEST)
    assert error is None, error
    return deltas, collect(deltas)


CASES = [
    ("anthropic/server_tools_citations.sse", anthropic),
    ("responses/builtin_tools_annotations.sse", responses),
    ("gemini/code_execution_grounding.sse", gemini),
    ("compatible/perplexity_search_results.sse", perplexity),
    ("openai/search_annotations.sse", openai),
    ("cohere/citations.sse", cohere),
]


@pytest.mark.parametrize(("name", "make"), CASES, ids=[name for name, _ in CASES])
async def test_every_chunking_gives_the_same_deltas(
    provider_server: ProviderServer, name: str, make: Make
) -> None:
    whole, final = await replay(provider_server, make, name, None)
    assert final.parts  # every fixture has parts
    for seed in SEEDS:
        cut, _ = await replay(provider_server, make, name, seed)
        assert _same_ids(cut) == _same_ids(whole), f"seed {seed}"


def _same_ids(deltas: list[ChatResponse]) -> str:
    """The deltas as JSON, with the ids Gemini's parser makes up per stream made equal."""
    dumped = json.dumps([d.model_dump(mode="json") for d in deltas])
    return re.sub(r"(call|code)_[0-9a-f]{12}_", r"\1_", dumped)


async def test_anthropic_server_tools_mcp_citations_and_thinking(
    provider_server: ProviderServer,
) -> None:
    deltas, final = await replay(
        provider_server, anthropic, "anthropic/server_tools_citations.sse", 3
    )
    assert final.id == "msg_01ServerTools"
    assert final.stop_reason is StopReason.END and final.tool_calls == ()  # nothing to run here
    assert final.content == "Here is today's weather. Paris is sunny at 24 °C 🌞 Enjoy the picnic."
    assert final.reasoning == "The user wants today's weather; I should search."
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.cached_prompt_tokens) == (3129, 1024)
    assert [p.type for p in final.parts] == [
        "reasoning",
        "server_tool_call",
        "server_tool_result",
        "text",
        "citation",
        "server_tool_call",
        "server_tool_result",
        "server_tool_call",
        "server_tool_result",
        "unknown",
        "reasoning",
        "text",
    ]
    thinking, search, found, text, cite, mcp, listed, code, failed, future, redacted, _ = (
        final.parts
    )
    assert thinking == ReasoningPart(
        text="The user wants today's weather; I should search.",
        signature="EuYBCkQYAiJAfQ2pSignedThinking==",
        dialect="anthropic",
    )
    assert isinstance(search, ServerToolCallPart)
    assert (search.id, search.name, search.input) == (
        "srvtoolu_01WebSearch",
        "web_search",
        {"query": "weather paris today"},
    )
    assert isinstance(found, ServerToolResultPart)
    assert (found.call_id, found.name, found.is_error) == (
        "srvtoolu_01WebSearch",
        "web_search",
        False,
    )
    assert [r["url"] for r in found.content] == [
        "https://weather.example/paris",
        "https://forecast.example/fr/paris",
    ]
    assert text == TextPart(text="Here is today's weather. Paris is sunny at 24 °C 🌞")
    assert isinstance(cite, CitationPart)
    assert (cite.url, cite.title, cite.cited_text) == (
        "https://weather.example/paris",
        "Paris weather - Météo",
        "Sunny, 24 °C, light wind from the west.",
    )
    assert isinstance(mcp, ServerToolCallPart) and isinstance(listed, ServerToolResultPart)
    assert (mcp.name, mcp.server, mcp.input) == ("list_events", "calendar", {"day": "today"})
    assert (listed.call_id, listed.name) == ("mcptoolu_01Cal", "list_events")
    assert listed.content == [{"type": "text", "text": "Picnic at 13:00"}]
    assert isinstance(code, ServerToolCallPart) and isinstance(failed, ServerToolResultPart)
    assert (failed.name, failed.is_error) == ("code_execution", True)
    assert isinstance(future, UnknownPart) and future.kind == "container_upload"
    assert isinstance(redacted, ReasoningPart) and redacted.redacted
    # the operators see the same parts as they stream
    assert [c.name for c in _select(deltas, rxo.server_tool_calls())] == [
        "web_search",
        "list_events",
        "code_execution",
    ]
    assert [c.url for c in _select(deltas, rxo.citations())] == ["https://weather.example/paris"]

    # the next turn sends the assistant blocks back unchanged, in order
    provider_server.reply(Reply(fixture_bytes("anthropic/text_ping_padding.sse")))
    follow = ChatRequest(
        messages=[*REQUEST.messages, final.to_message(), Message(role="user", content="Thanks")]
    )
    _, error = await stream_once(anthropic(provider_server), follow)
    assert error is None
    sent = provider_server.seen[-1].body["messages"][1]["content"]
    assert [b["type"] for b in sent] == [
        "thinking",
        "server_tool_use",
        "web_search_tool_result",
        "text",
        "mcp_tool_use",
        "mcp_tool_result",
        "server_tool_use",
        "code_execution_tool_result",
        "container_upload",
        "redacted_thinking",
        "text",
    ]
    assert sent[0] == {
        "type": "thinking",
        "thinking": "The user wants today's weather; I should search.",
        "signature": "EuYBCkQYAiJAfQ2pSignedThinking==",
    }
    assert sent[1]["input"] == {"query": "weather paris today"}
    assert sent[9] == {
        "type": "redacted_thinking",
        "data": "EmwKAhgBEgy3va3pzix/RedactedThinking==",
    }


async def test_responses_built_in_tools_reasoning_items_and_annotations(
    provider_server: ProviderServer,
) -> None:
    name = "responses/builtin_tools_annotations.sse"
    _, final = await replay(provider_server, responses, name, 5)
    assert final.content == "Sunny, 24 °C (75.2 °F); picnic at 13:00."
    assert final.reasoning == "**Searching** the web and the files."
    assert [(c.id, c.name) for c in final.tool_calls] == [("call_Remind", "set_reminder")]
    assert final.stop_reason is StopReason.TOOL_CALL
    assert [p.type for p in final.parts] == [
        "reasoning",
        "server_tool_call",  # web search, its sources as the result
        "server_tool_result",
        "server_tool_call",  # file search and its results
        "server_tool_result",
        "server_tool_call",  # code interpreter and its outputs
        "server_tool_result",
        "server_tool_call",  # MCP call and its output
        "server_tool_result",
        "text",
        "citation",
        "citation",
        "unknown",
    ]
    reasoning = final.parts[0]
    assert isinstance(reasoning, ReasoningPart)
    assert (reasoning.id, reasoning.signature, reasoning.text) == (
        "rs_68a1",
        "gAAAAABoEncryptedReasoning==",
        "**Searching** the web and the files.",
    )
    calls = [p for p in final.parts if isinstance(p, ServerToolCallPart)]
    assert [(c.name, c.input) for c in calls] == [
        ("web_search", {"type": "search", "query": "paris weather today"}),  # sources: result
        ("file_search", {"queries": ["picnic plans"]}),
        ("code_interpreter", {"code": "print(24 * 9 / 5 + 32)", "container_id": "cntr_68a4"}),
        ("list_events", {"day": "today"}),
    ]
    assert calls[3].server == "calendar"
    results = [p for p in final.parts if isinstance(p, ServerToolResultPart)]
    assert [r.content for r in results] == [
        [{"type": "url", "url": "https://weather.example/paris"}],
        [
            {
                "file_id": "file-Picnic1",
                "filename": "plans.md",
                "score": 0.92,
                "text": "Picnic on Saturday",
            }
        ],
        [{"type": "logs", "logs": "75.2\n"}],
        "Picnic at 13:00",
    ]
    url, file = (p for p in final.parts if isinstance(p, CitationPart))
    assert (url.url, url.title, url.start, url.end) == (
        "https://weather.example/paris",
        "Paris weather",
        0,
        22,
    )
    assert (file.document, file.start, file.end) == ("plans.md", 40, None)
    future = final.parts[-1]
    assert isinstance(future, UnknownPart) and future.kind == "shell_sandbox_call"

    # the next turn sends the reasoning and tool items back, in order, before the call's output
    provider_server.reply(Reply(fixture_bytes(name)))
    follow = ChatRequest(
        messages=[
            *REQUEST.messages,
            final.to_message(),
            Message(role="tool", tool_call_id="call_Remind", content="set"),
        ]
    )
    _, error = await stream_once(responses(provider_server), follow)
    assert error is None
    items = provider_server.seen[-1].body["input"]
    assert [i.get("type", i.get("role")) for i in items] == [
        "user",
        "reasoning",
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "mcp_call",
        "assistant",
        "shell_sandbox_call",
        "function_call",
        "function_call_output",
    ]
    assert items[1]["id"] == "rs_68a1"
    assert items[1]["encrypted_content"] == "gAAAAABoEncryptedReasoning=="


async def test_gemini_code_execution_and_grounding(provider_server: ProviderServer) -> None:
    name = "gemini/code_execution_grounding.sse"
    _, final = await replay(provider_server, gemini, name, 2)
    assert final.content == "Converting: Paris is sunny today, 75.2 °F."
    assert final.reasoning == "Let me compute that."
    assert final.stop_reason is StopReason.END and final.tool_calls == ()
    assert [p.type for p in final.parts] == [
        "reasoning",
        "text",
        "server_tool_call",
        "server_tool_result",
        "text",
        "server_tool_call",  # the Google Search the answer is grounded on
        "server_tool_result",
        "citation",  # a support backed by two sources
        "citation",
        "citation",  # a source no support names
        "citation",  # citation metadata (once, although repeated)
    ]
    code, result = final.parts[2], final.parts[3]
    assert isinstance(code, ServerToolCallPart) and isinstance(result, ServerToolResultPart)
    assert (code.name, code.input) == (
        "code_execution",
        {"language": "PYTHON", "code": "print(24 * 9 / 5 + 32)\n"},
    )
    assert result.call_id == code.id and code.id
    assert (result.content, result.is_error) == (
        {"outcome": "OUTCOME_OK", "output": "75.2\n"},
        False,
    )
    search = final.parts[5]
    assert isinstance(search, ServerToolCallPart)
    assert (search.name, search.input) == ("google_search", {"queries": ["paris weather today"]})
    grounding = final.parts[6]
    assert isinstance(grounding, ServerToolResultPart)
    assert grounding.content["searchEntryPoint"]["renderedContent"].startswith("<div")
    cites = [p for p in final.parts if isinstance(p, CitationPart)]
    assert [(c.title, c.cited_text, c.start, c.end) for c in cites] == [
        ("weather.example", "Paris is sunny today", 0, 20),
        ("forecast.example", "Paris is sunny today", 0, 20),
        ("unused.example", "", None, None),
        ("", "", 0, 20),
    ]
    assert cites[3].url == "https://weather.example/paris"

    # the model turn sends the code execution parts back between its texts
    provider_server.reply(Reply(fixture_bytes("gemini/text_usage_crlf.sse")))
    follow = ChatRequest(messages=[*REQUEST.messages, final.to_message()])
    _, error = await stream_once(gemini(provider_server), follow)
    assert error is None
    sent = provider_server.seen[-1].body["contents"][1]
    assert sent["role"] == "model"
    assert sent["parts"] == [
        {"text": "Converting: "},
        {"executableCode": {"language": "PYTHON", "code": "print(24 * 9 / 5 + 32)\n"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "75.2\n"}},
        {"text": "Paris is sunny today, 75.2 °F."},
    ]


async def test_perplexity_sources_are_reported_once(provider_server: ProviderServer) -> None:
    name = "compatible/perplexity_search_results.sse"
    _, final = await replay(provider_server, perplexity, name, 1)
    assert final.content == "Paris is sunny at 24 °C [1] with light wind [2]."
    assert final.stop_reason is StopReason.END
    assert [(p.url, p.title) for p in final.parts if isinstance(p, CitationPart)] == [
        ("https://weather.example/paris", "Paris weather"),
        ("https://forecast.example/fr/paris", "Paris forecast"),
    ]
    assert final.parts[0] == TextPart(text=final.content)


async def test_chat_completions_search_annotations(provider_server: ProviderServer) -> None:
    _, final = await replay(provider_server, openai, "openai/search_annotations.sse", 4)
    cite = final.parts[1]
    assert isinstance(cite, CitationPart)
    assert (cite.url, cite.title, cite.start, cite.end, cite.dialect) == (
        "https://weather.example/paris",
        "Paris weather",
        21,
        71,
        "openai",
    )


async def test_cohere_citations(provider_server: ProviderServer) -> None:
    _, final = await replay(provider_server, cohere, "cohere/citations.sse", 6)
    assert final.content == "It is sunny at 24 °C; picnic at 13:00."
    assert final.parts[0] == TextPart(text=final.content)
    cites = final.parts[1:]
    assert [(c.document, c.url, c.cited_text, c.start, c.end) for c in cites] == [  # type: ignore[union-attr]
        ("Paris forecast", "https://forecast.example/fr/paris", "sunny at 24 °C", 6, 22),
        ("Picnic plans", "", "picnic at 13:00", 24, 40),
    ]


async def test_whole_answers_have_the_same_parts(provider_server: ProviderServer) -> None:
    """Non-streaming answers go through the same part builders as the streams."""
    anthropic_answer = {
        "id": "msg_whole",
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": "Search.", "signature": "sig=="},
            {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "web_search",
                "input": {"query": "q"},
            },
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {
                "type": "text",
                "text": "Sunny.",
                "citations": [
                    {
                        "type": "web_search_result_location",
                        "url": "https://a.example",
                        "title": "A",
                        "cited_text": "sun",
                    }
                ],
            },
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 5, "output_tokens": 6},
    }
    gemini_answer = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "Computing. "},
                        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                        {"codeExecutionResult": {"outcome": "OUTCOME_FAILED", "output": "boom"}},
                        {"text": "It failed."},
                    ]
                },
                "finishReason": "STOP",
            }
        ]
    }
    perplexity_answer = {
        "id": "pplx-whole",
        "citations": ["https://a.example"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Sunny [1]."},
                "finish_reason": "stop",
            }
        ],
    }
    responses_answer = {
        "id": "resp_whole",
        "status": "completed",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Go."}],
            },
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"query": "q"},
            },
            {
                "type": "message",
                "content": [
                    {
                        "type": "output_text",
                        "text": "Sunny.",
                        "annotations": [
                            {
                                "type": "url_citation",
                                "url": "https://a.example",
                                "start_index": 0,
                                "end_index": 6,
                            }
                        ],
                    }
                ],
            },
        ],
    }
    json_headers = {"Content-Type": "application/json"}
    for answer in (anthropic_answer, gemini_answer, perplexity_answer, responses_answer):
        provider_server.reply(Reply(json.dumps(answer).encode(), headers=json_headers))
    async with anthropic(provider_server) as provider:
        claude = await provider.chat(REQUEST)
    async with gemini(provider_server) as provider:
        gem = await provider.chat(REQUEST)
    async with perplexity(provider_server) as provider:
        pplx = await provider.chat(REQUEST)
    async with responses(provider_server) as provider:
        resp = await provider.chat(REQUEST)
    assert [p.type for p in claude.parts] == [
        "reasoning",
        "server_tool_call",
        "server_tool_result",
        "text",
        "citation",
    ]
    assert claude.parts[0] == ReasoningPart(text="Search.", signature="sig==", dialect="anthropic")
    assert [p.type for p in gem.parts] == ["text", "server_tool_call", "server_tool_result", "text"]
    assert isinstance(gem.parts[2], ServerToolResultPart) and gem.parts[2].is_error
    assert [p.type for p in pplx.parts] == ["text", "citation"]
    assert [p.type for p in resp.parts] == ["reasoning", "server_tool_call", "text", "citation"]
    assert resp.parts[0] == ReasoningPart(
        text="Go.",
        id="rs_1",
        dialect="openai-responses",
        raw=responses_answer["output"][0],  # type: ignore[index]
    )


def _select(deltas: list[ChatResponse], operator: Any) -> list[Any]:
    import reactivex

    seen: list[Any] = []
    reactivex.from_iterable(deltas).pipe(operator).subscribe(seen.append)
    return seen


async def test_a_paused_anthropic_turn_goes_back_as_it_is(provider_server: ProviderServer) -> None:
    body = fixture_bytes("anthropic/server_tools_citations.sse").replace(b"end_turn", b"pause_turn")
    provider_server.reply(Reply(body), Reply(fixture_bytes("anthropic/text_ping_padding.sse")))
    async with anthropic(provider_server) as provider:
        paused = await provider.stream_chat(REQUEST).pipe(rxo.collect_response())
        assert paused.stop_reason is StopReason.PAUSED and paused.tool_calls == ()
        follow = ChatRequest(messages=[*REQUEST.messages, paused.to_message()])
        going_on = await provider.stream_chat(follow).pipe(rxo.collect_response())
    assert going_on.stop_reason is StopReason.END
    turns = provider_server.seen[-1].body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert [b["type"] for b in turns[1]["content"]][:3] == [
        "thinking",
        "server_tool_use",
        "web_search_tool_result",
    ]
