"""Content parts: how deltas fold into ordered parts, the operators that select them, and parts
surviving a dump (the way graph state and checkpoints keep messages)."""

from __future__ import annotations

import pytest
import reactivex
from reactivex import operators as ops

from rxchronos import ArgumentTypeError
from rxchronos import operators as rxo
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import CitationPart
from rxchronos.model import ContentPart
from rxchronos.model import Message
from rxchronos.model import ReasoningPart
from rxchronos.model import ScriptedProvider
from rxchronos.model import ScriptedReply
from rxchronos.model import ServerToolCallPart
from rxchronos.model import ServerToolResultPart
from rxchronos.model import TextPart
from rxchronos.model import ToolCall
from rxchronos.model import UnknownPart
from rxchronos.model._operators import ResponseCollector

CALL = ServerToolCallPart(id="srvtoolu_1", name="web_search", input={"q": "rx"}, dialect="a")
RESULT = ServerToolResultPart(call_id="srvtoolu_1", name="web_search", content=[], dialect="a")
CITE = CitationPart(url="https://a.example", title="A", cited_text="sunny", dialect="a")
SIGNED = ReasoningPart(signature="sig-1", dialect="a")

DELTAS = [
    ChatResponse(id="r1", reasoning="Let me "),
    ChatResponse(reasoning="search."),
    ChatResponse(parts=[SIGNED]),
    ChatResponse(parts=[CALL]),
    ChatResponse(parts=[RESULT]),
    ChatResponse(content="It is "),
    ChatResponse(parts=[CITE]),
    ChatResponse(content="sunny."),
    ChatResponse(reasoning="Now a tool."),
    ChatResponse(tool_calls=[ToolCall(index=0, id="c1", name="save", arguments="{}")]),
    ChatResponse(parts=[ReasoningPart(signature="redacted==", redacted=True, dialect="a")]),
    ChatResponse(parts=[UnknownPart(kind="future_block", dialect="a", raw={"type": "x"})]),
    ChatResponse(content="Done."),
]


def test_deltas_fold_into_ordered_parts() -> None:
    final = ResponseCollector.of(DELTAS)
    assert final.content == "It is sunny.Done."
    assert final.reasoning == "Let me search.Now a tool."
    assert [c.name for c in final.tool_calls] == ["save"]  # client calls are never parts
    assert final.parts == (
        ReasoningPart(text="Let me search.", signature="sig-1", dialect="a"),  # closed by it
        CALL,
        RESULT,
        TextPart(text="It is sunny."),  # a citation does not cut the text it cites
        CITE,
        ReasoningPart(text="Now a tool."),  # no closing fragment: text only
        ReasoningPart(signature="redacted==", redacted=True, dialect="a"),
        UnknownPart(kind="future_block", dialect="a", raw={"type": "x"}),
        TextPart(text="Done."),
    )


def test_a_reasoning_fragment_with_no_reasoning_before_it_stands_alone() -> None:
    final = ResponseCollector.of([ChatResponse(parts=[SIGNED]), ChatResponse(content="Hi")])
    assert final.parts == (SIGNED, TextPart(text="Hi"))
    # a fragment after text does not attach to the text
    final = ResponseCollector.of([ChatResponse(content="Hi"), ChatResponse(parts=[SIGNED])])
    assert final.parts == (TextPart(text="Hi"), SIGNED)


def test_a_plain_answer_is_one_text_part_and_an_empty_one_has_none() -> None:
    final = ResponseCollector.of([ChatResponse(content="He"), ChatResponse(content="llo")])
    assert final.parts == (TextPart(text="Hello"),)
    assert ResponseCollector.of([ChatResponse(id="x")]).parts == ()


def test_parts_count_as_output_for_retries() -> None:
    collector = ResponseCollector()
    collector.add(ChatResponse(id="r"))
    assert not collector.has_output
    collector.add(ChatResponse(parts=[CALL]))
    assert collector.has_output


def select(operator: object) -> list[object]:
    seen: list[object] = []
    reactivex.from_iterable(DELTAS).pipe(operator).subscribe(seen.append)  # type: ignore[call-overload]
    return seen


def test_operators_select_each_kind() -> None:
    assert select(rxo.reasoning()) == ["Let me ", "search.", "Now a tool."]
    assert select(rxo.server_tool_calls()) == [CALL]
    assert select(rxo.server_tool_results()) == [RESULT]
    assert select(rxo.citations()) == [CITE]
    assert [p.type for p in select(rxo.content_parts())] == [  # type: ignore[attr-defined]
        "reasoning",
        "server_tool_call",
        "server_tool_result",
        "citation",
        "reasoning",
        "unknown",
    ]


async def test_collect_response_assembles_the_parts() -> None:
    final = await reactivex.from_iterable(DELTAS).pipe(rxo.collect_response())
    assert final.parts == ResponseCollector.of(DELTAS).parts


def test_parts_survive_a_dump_without_defaults() -> None:
    message = ResponseCollector.of(DELTAS).to_message()
    assert message.parts == ResponseCollector.of(DELTAS).parts
    dumped = message.model_dump(mode="json", exclude_defaults=True)
    assert all("type" in part for part in dumped["parts"])
    assert Message.model_validate(dumped) == message
    assert Message.model_validate_json(message.model_dump_json()) == message


def test_parts_validate_from_plain_data() -> None:
    parts: list[ContentPart] = list(
        Message.model_validate(
            {
                "role": "assistant",
                "parts": [
                    {"type": "text", "text": "Hi"},
                    {"type": "citation", "url": "https://a.example", "start": 0, "end": 2},
                ],
            }
        ).parts
    )
    assert parts == [TextPart(text="Hi"), CitationPart(url="https://a.example", start=0, end=2)]


async def test_scripted_replies_stream_parts_in_order() -> None:
    signed = ReasoningPart(text="Search it.", signature="sig", dialect="anthropic")
    provider = ScriptedProvider(
        [ScriptedReply(parts=[signed, CALL, RESULT, TextPart(text="It is sunny."), CITE])]
    )
    request = ChatRequest(messages=[Message(role="user", content="Weather?")])
    deltas = await provider.stream_chat(request).pipe(ops.to_list())
    assert all(not d.parts or len(d.parts) == 1 for d in deltas)
    final = ResponseCollector.of(deltas)
    assert final.parts == (signed, CALL, RESULT, TextPart(text="It is sunny."), CITE)
    assert (final.content, final.reasoning) == ("It is sunny.", "Search it.")


def test_scripted_reply_parts_must_be_parts() -> None:
    with pytest.raises(ArgumentTypeError, match="content parts"):
        ScriptedReply(parts=[{"type": "text", "text": "Hi"}])  # type: ignore[list-item]


def test_a_reasoning_part_made_by_hand_goes_back_as_a_reasoning_item() -> None:
    from rxchronos.model._responses import responses_body

    part = ReasoningPart(text="Plan.", signature="enc==", id="rs_9", dialect="openai-responses")
    other = ReasoningPart(text="Elsewhere.", signature="sig", dialect="anthropic")
    request = ChatRequest(
        messages=[
            Message(role="user", content="Hi"),
            Message(role="assistant", content="Hello", parts=[other, part, TextPart(text="Hello")]),
        ]
    )
    assert responses_body(request, model="gpt-5", stream=True)["input"][1:] == [
        {
            "type": "reasoning",
            "id": "rs_9",
            "summary": [{"type": "summary_text", "text": "Plan."}],
            "encrypted_content": "enc==",
        },
        {"role": "assistant", "content": "Hello"},
    ]


def test_parts_of_another_dialect_are_not_sent() -> None:
    from rxchronos.model._anthropic import messages_body
    from rxchronos.model._gemini import contents_body

    foreign = (
        ReasoningPart(text="Plan.", signature="enc==", id="rs_9", dialect="openai-responses"),
        ServerToolCallPart(id="ws_1", name="web_search", dialect="openai-responses", raw={"x": 1}),
        TextPart(text="Hello"),
        ServerToolCallPart(
            id="c", name="code_execution", dialect="gemini", raw={"executableCode": {}}
        ),
        UnknownPart(kind="item", dialect="openai-responses", raw={"type": "item"}),
    )
    request = ChatRequest(
        messages=[
            Message(role="user", content="Hi"),
            Message(role="assistant", content="Hello", parts=foreign),
        ]
    )
    assert messages_body(request, model="m", stream=True)["messages"][1]["content"] == [
        {"type": "text", "text": "Hello"}
    ]
    assert contents_body(request)["contents"][1]["parts"] == [
        {"text": "Hello"},
        {"executableCode": {}},
    ]
