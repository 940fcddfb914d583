"""An answer's content parts in both frontend protocols: citations, the tools the provider ran
itself and their results (no HTTP; tests/ui/test_js_clients.py has the real clients)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import reactivex
from ag_ui.core import RunAgentInput
from reactivex import operators as ops

from rxchronos import RxChronosError
from rxchronos import operators as rxo
from rxchronos.graph import EventType
from rxchronos.graph import Runner
from rxchronos.graph import StateGraph
from rxchronos.graph import StreamEvent
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import CitationPart
from rxchronos.model import Message
from rxchronos.model import ReasoningPart
from rxchronos.model import ScriptedProvider
from rxchronos.model import ScriptedReply
from rxchronos.model import ServerToolCallPart
from rxchronos.model import ServerToolResultPart
from rxchronos.model import UnknownPart
from rxchronos.ui import CITATION_EVENT
from rxchronos.ui import to_ag_ui
from rxchronos.ui import to_ui_message_stream
from rxchronos.ui._ag_ui import wire
from rxchronos.ui._ag_ui_route import ag_ui_messages
from rxchronos.ui._chat_route import ui_messages
from rxchronos.ui._translate import Say
from rxchronos.ui._translate import Translator
from tests.ui.conftest import anthropic_answer
from tests.ui.conftest import parts_model

REQUEST = ChatRequest(messages=[Message(role="user", content="Weather?")])
SEARCH = ServerToolCallPart(id="srvtoolu_1", name="web_search", input={"query": "paris weather"})
FOUND = ServerToolResultPart(
    call_id="srvtoolu_1", name="web_search", content=[{"url": "https://w.example/paris"}]
)
CITED = CitationPart(url="https://w.example/paris", title="Paris weather", cited_text="Sunny")


def said(*parts: Any) -> list[Say]:
    translator = Translator(block_ids=iter(["b1", "b2", "b3"]).__next__)
    return list(translator.delta(ChatResponse(parts=parts)))


def without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` with the generated source and tool-message ids checked and taken out."""
    out = []
    for item in items:
        item = dict(item)
        if "sourceId" in item:
            assert item.pop("sourceId").startswith("src_")
        if item.get("type") == "TOOL_CALL_RESULT":
            assert item.pop("messageId").startswith("tool_")
        if item.get("type") == "CUSTOM" and item.get("name") == CITATION_EVENT:
            item["value"] = dict(item["value"])
            assert item["value"].pop("id").startswith("src_")
        out.append(item)
    return out


async def ui_chunks(*parts: Any) -> list[dict[str, Any]]:
    source = reactivex.of(ChatResponse(parts=parts))
    chunks: list[dict[str, Any]] = await source.pipe(to_ui_message_stream(), ops.to_list())
    assert chunks[:2] == [{"type": "start"}, {"type": "start-step"}]
    assert chunks[-2:] == [{"type": "finish-step"}, {"type": "finish", "finishReason": "stop"}]
    return without_ids(chunks[2:-2])


async def ag_ui_events(*parts: Any) -> list[dict[str, Any]]:
    source = reactivex.of(ChatResponse(parts=parts))
    events = await source.pipe(to_ag_ui("t1", "r1"), ops.to_list())
    wired = [wire(e) for e in events]
    assert [e["type"] for e in wired[:2]] == ["RUN_STARTED", "STEP_STARTED"]
    assert [e["type"] for e in wired[-2:]] == ["STEP_FINISHED", "RUN_FINISHED"]
    return without_ids(wired[2:-2])


# -- the shared vocabulary ----------------------------------------------------------------------


def test_each_part_kind_says_its_own_thing() -> None:
    source, call, result = said(CITED, SEARCH, FOUND)
    assert source.kind == "source" and source.a.startswith("src_") and source.b is CITED
    assert call == Say("server_tool_call", "srvtoolu_1", "web_search", {"query": "paris weather"})
    assert result == Say(
        "server_tool_result", "srvtoolu_1", [{"url": "https://w.example/paris"}], False
    )


def test_parts_with_nothing_for_a_page_say_nothing() -> None:
    closing = ReasoningPart(signature="EqQB...", dialect="anthropic")
    unknown = UnknownPart(kind="container_upload", dialect="anthropic", raw={"type": "x"})
    assert said(closing, unknown) == []


def test_a_server_call_closes_the_open_text_and_a_citation_does_not() -> None:
    translator = Translator(block_ids=iter(["b1", "b2"]).__next__)
    first = list(translator.delta(ChatResponse(content="Sunny", parts=(CITED,))))
    assert [s.kind for s in first] == ["text_start", "text_delta", "source"]
    then = list(translator.delta(ChatResponse(parts=(SEARCH,))))
    assert [s.kind for s in then] == ["text_end", "server_tool_call"]


def test_a_result_whose_call_was_never_said_gets_its_call_first() -> None:
    call, result = said(FOUND)
    assert call == Say("server_tool_call", "srvtoolu_1", "web_search", {})
    assert result.kind == "server_tool_result" and result.a == "srvtoolu_1"


def test_a_call_without_id_gets_one_and_its_result_answers_it() -> None:
    call, result = said(
        ServerToolCallPart(name="code_execution", input={"code": "1"}),
        ServerToolResultPart(name="code_execution", content={"output": "1"}),
    )
    assert call.a.startswith("srvtool_") and result.a == call.a


def test_the_json_form_of_a_delta_says_what_the_delta_says() -> None:
    delta = ChatResponse(content="Hi", parts=(CITED, SEARCH, FOUND, UnknownPart(kind="x")))
    data = delta.model_dump(mode="json", exclude_defaults=True)
    ids = iter(["b1", "b2"]).__next__
    from_model = list(Translator(block_ids=ids).delta(delta))
    ids = iter(["b1", "b2"]).__next__
    from_json = list(Translator(block_ids=ids).delta(data))
    assert [s.kind for s in from_json] == [s.kind for s in from_model]
    assert from_json[2].b == CITED and from_json[3:] == from_model[3:]


async def test_a_model_chunk_event_with_a_malformed_part_fails_the_stream_saying_so() -> None:
    bad = {"parts": [{"type": "citation", "start": "the third word"}]}
    event = StreamEvent(
        type=EventType.MODEL_CHUNK, run_id="r", session_id="s", seq=1, data=bad, timestamp=0.0
    )
    seen: list[Any] = []
    with pytest.raises(
        RxChronosError, match=r"'citation' part that is not a content part: citation\.start: "
    ):
        await reactivex.of(event).pipe(to_ui_message_stream(), ops.do_action(seen.append))
    assert seen[-1]["type"] == "error" and "start" in seen[-1]["errorText"]


# -- the AI SDK's UI message stream -------------------------------------------------------------


async def test_ui_chunks_of_a_citation_and_a_provider_executed_tool() -> None:
    assert await ui_chunks(SEARCH, FOUND, CITED) == [
        {
            "type": "tool-input-start",
            "toolCallId": "srvtoolu_1",
            "toolName": "web_search",
            "providerExecuted": True,
        },
        {
            "type": "tool-input-available",
            "toolCallId": "srvtoolu_1",
            "toolName": "web_search",
            "input": {"query": "paris weather"},
            "providerExecuted": True,
        },
        {
            "type": "tool-output-available",
            "toolCallId": "srvtoolu_1",
            "output": [{"url": "https://w.example/paris"}],
            "providerExecuted": True,
        },
        {"type": "source-url", "url": "https://w.example/paris", "title": "Paris weather"},
    ]


async def test_ui_chunk_of_a_failed_provider_tool_is_tool_output_error() -> None:
    failed = ServerToolResultPart(
        call_id="srvtoolu_2",
        name="code_execution",
        content={"type": "code_execution_tool_result_error", "error_code": "unavailable"},
        is_error=True,
    )
    chunks = await ui_chunks(ServerToolCallPart(id="srvtoolu_2", name="code_execution"), failed)
    assert chunks[-1] == {
        "type": "tool-output-error",
        "toolCallId": "srvtoolu_2",
        "errorText": '{"type": "code_execution_tool_result_error", "error_code": "unavailable"}',
        "providerExecuted": True,
    }


async def test_ui_chunks_of_url_and_document_citations() -> None:
    untitled = CitationPart(url="https://a.example")
    anthropic_text = CitationPart(
        cited_text="The grass is green.",
        document="My Document",
        start=0,
        end=20,
        raw={"type": "char_location", "document_index": 0, "document_title": "My Document"},
    )
    anthropic_pdf = CitationPart(
        document="Report", raw={"type": "page_location", "start_page_number": 2}
    )
    openai_file = CitationPart(
        document="notes.md",
        raw={"type": "file_citation", "file_id": "file-1", "filename": "notes.md"},
    )
    nameless = CitationPart(cited_text="somewhere")
    assert await ui_chunks(untitled, anthropic_text, anthropic_pdf, openai_file, nameless) == [
        {"type": "source-url", "url": "https://a.example"},
        {"type": "source-document", "mediaType": "text/plain", "title": "My Document"},
        {"type": "source-document", "mediaType": "application/pdf", "title": "Report"},
        {
            "type": "source-document",
            "mediaType": "text/plain",
            "title": "notes.md",
            "filename": "notes.md",
        },
        {"type": "source-document", "mediaType": "text/plain", "title": "cited document"},
    ]


def test_a_returning_conversation_leaves_the_provider_executed_tools_out() -> None:
    assistant = {
        "id": "a1",
        "role": "assistant",
        "parts": [
            {
                "type": "tool-web_search",
                "toolCallId": "srvtoolu_1",
                "state": "output-available",
                "input": {"query": "q"},
                "output": [],
                "providerExecuted": True,
            },
            {"type": "source-url", "sourceId": "s1", "url": "https://a.example"},
            {"type": "text", "text": "Sunny."},
            {
                "type": "tool-get_forecast",
                "toolCallId": "call_1",
                "state": "output-available",
                "input": {"city": "Paris"},
                "output": {"rain": 0},
            },
        ],
    }
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Weather?"}]}
    _, answer, result = ui_messages([user, assistant])
    assert answer.content == "Sunny."
    assert [c.name for c in answer.tool_calls] == ["get_forecast"]
    assert result.tool_call_id == "call_1"


# -- AG-UI --------------------------------------------------------------------------------------


async def test_ag_ui_events_of_a_citation_and_a_provider_executed_tool() -> None:
    assert await ag_ui_events(SEARCH, FOUND, CITED) == [
        {
            "type": "TOOL_CALL_START",
            "metadata": {"providerExecuted": True},
            "toolCallId": "srvtoolu_1",
            "toolCallName": "web_search",
        },
        {
            "type": "TOOL_CALL_ARGS",
            "toolCallId": "srvtoolu_1",
            "delta": '{"query": "paris weather"}',
        },
        {"type": "TOOL_CALL_END", "toolCallId": "srvtoolu_1"},
        {
            "type": "TOOL_CALL_RESULT",
            "metadata": {"providerExecuted": True},
            "toolCallId": "srvtoolu_1",
            "content": '[{"url": "https://w.example/paris"}]',
            "role": "tool",
        },
        {
            "type": "CUSTOM",
            "name": "citation",
            "value": {
                "url": "https://w.example/paris",
                "title": "Paris weather",
                "citedText": "Sunny",
                "document": "",
                "start": None,
                "end": None,
            },
        },
    ]


async def test_ag_ui_result_of_a_failed_provider_tool_says_it_failed() -> None:
    failed = ServerToolResultPart(call_id="srvtoolu_1", content="unavailable", is_error=True)
    *_, result = await ag_ui_events(SEARCH, failed)
    assert result["metadata"] == {"providerExecuted": True, "isError": True}
    assert result["content"] == "unavailable"


def test_a_returning_ag_ui_conversation_leaves_the_provider_executed_tools_out() -> None:
    executed = {"providerExecuted": True}
    run_input = RunAgentInput.model_validate(
        {
            "threadId": "t",
            "runId": "r2",
            "state": {},
            "tools": [],
            "context": [],
            "forwardedProps": {},
            "messages": [
                {"id": "u", "role": "user", "content": "Weather?"},
                {
                    "id": "a",
                    "role": "assistant",
                    "content": "Sunny.",
                    "toolCalls": [
                        {
                            "id": "srvtoolu_1",
                            "type": "function",
                            "function": {"name": "web_search", "arguments": "{}"},
                            "metadata": executed,
                        },
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_forecast", "arguments": "{}"},
                        },
                    ],
                },
                {
                    "id": "m1",
                    "role": "tool",
                    "toolCallId": "srvtoolu_1",
                    "content": "[]",
                    "metadata": executed,
                },
                {"id": "m2", "role": "tool", "toolCallId": "call_1", "content": "{}"},
            ],
        }
    )
    _, answer, result = ag_ui_messages(run_input)
    assert [c.id for c in answer.tool_calls] == ["call_1"]
    assert result.tool_call_id == "call_1"


# -- a real provider's parts, on a model stream and through a graph -----------------------------


def expected_ui(kinds: list[str]) -> None:
    """The part chunks of `anthropic_answer` in order, amid its text and reasoning blocks."""
    parts = [k for k in kinds if k.startswith(("tool-", "source-"))]
    assert parts == [
        "tool-input-start",  # web_search
        "tool-input-available",
        "tool-output-available",
        "source-url",
        "tool-input-start",  # list_events on an MCP server
        "tool-input-available",
        "tool-output-available",
        "tool-input-start",  # code_execution, which failed
        "tool-input-available",
        "tool-output-error",
    ]


async def test_a_real_answer_on_a_model_stream() -> None:
    chunks = await parts_model().stream_chat(REQUEST).pipe(to_ui_message_stream(), ops.to_list())
    expected_ui([c["type"] for c in chunks])
    (source,) = [c for c in chunks if c["type"] == "source-url"]
    assert source["url"] == "https://weather.example/paris"
    assert source["title"] == "Paris weather - Météo"
    names = [c["toolName"] for c in chunks if c["type"] == "tool-input-available"]
    assert names == ["web_search", "list_events", "code_execution"]
    text = "".join(c["delta"] for c in chunks if c["type"] == "text-delta")
    assert text == anthropic_answer().content


def answering_graph(provider: ScriptedProvider) -> Runner:
    async def answer(state: Any) -> dict[str, Any]:
        reply: ChatResponse = await provider.stream_chat(REQUEST).pipe(rxo.collect_response())
        return {"answer": reply.content}

    g = StateGraph("g").add_node("answer", answer)
    return Runner(g.set_entry_point("answer").set_finish_point("answer").compile())


async def test_a_real_answer_through_a_graph_node_reaches_both_protocols() -> None:
    chunks = (
        await answering_graph(parts_model())
        .stream("s1", {})
        .pipe(to_ui_message_stream(state=False), ops.to_list())
    )
    expected_ui([c["type"] for c in chunks])
    events = [
        wire(e)
        for e in await answering_graph(parts_model())
        .stream("s2", {})
        .pipe(to_ag_ui("t", "r"), ops.to_list())
    ]
    (citation,) = [e["value"] for e in events if e["type"] == "CUSTOM"]
    assert citation["url"] == "https://weather.example/paris"
    assert citation["citedText"] == "Sunny, 24 °C, light wind from the west."
    results = {e["toolCallId"]: e for e in events if e["type"] == "TOOL_CALL_RESULT"}
    started = [e["toolCallId"] for e in events if e["type"] == "TOOL_CALL_START"]
    assert started == list(results) == ["srvtoolu_01WebSearch", "mcptoolu_01Cal", "srvtoolu_01Code"]
    assert json.loads(results["mcptoolu_01Cal"]["content"]) == [
        {"type": "text", "text": "Picnic at 13:00"}
    ]
    assert results["srvtoolu_01Code"]["metadata"] == {"providerExecuted": True, "isError": True}


async def test_deltas_without_parts_say_what_they_said_before() -> None:
    provider = ScriptedProvider([ScriptedReply(text="Hello there", reasoning="Think.")])
    chunks = await provider.stream_chat(REQUEST).pipe(to_ui_message_stream(), ops.to_list())
    assert [c["type"] for c in chunks] == [
        "start",
        "start-step",
        "reasoning-start",
        "reasoning-delta",
        "reasoning-end",
        "text-start",
        "text-delta",
        "text-delta",
        "text-end",
        "finish-step",
        "finish",
    ]
