"""The model operators: text, accumulate_tool_calls, collect_response, coalesce_text."""

from __future__ import annotations

import asyncio

import pytest
import reactivex
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from reactivex.testing import ReactiveTest
from reactivex.testing import TestScheduler

from rxchronos import operators as rxo
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import Message
from rxchronos.model import OpenAI
from rxchronos.model import ProviderStreamError
from rxchronos.model import StopReason
from rxchronos.model import ToolCall
from rxchronos.model import Usage

from .conftest import ProviderServer
from .conftest import Reply

REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])

on_next, on_completed, on_error = (
    ReactiveTest.on_next,
    ReactiveTest.on_completed,
    ReactiveTest.on_error,
)


def frag(index: int, arguments: str = "", id: str = "", name: str = "") -> ChatResponse:
    return ChatResponse(tool_calls=(ToolCall(index=index, id=id, name=name, arguments=arguments),))


def values(source: reactivex.Observable) -> list:
    out: list = []
    source.subscribe(out.append)
    return out


def test_text_drops_empty_content() -> None:
    deltas = reactivex.of(
        ChatResponse(content="He"), ChatResponse(usage=Usage()), ChatResponse(content="llo")
    )
    assert values(deltas.pipe(rxo.text())) == ["He", "llo"]


def test_accumulate_tool_calls_keeps_parallel_calls_apart() -> None:
    deltas = reactivex.of(
        frag(0, id="a", name="write_file"),
        frag(1, id="b", name="write_file"),
        frag(0, '{"path": "x"'),
        ChatResponse(content="ignored"),
        frag(1, '{"path": "y"}'),
        frag(0, "}"),
    )
    states = values(deltas.pipe(rxo.accumulate_tool_calls()))
    assert len(states) == 5  # one per delta with fragments
    final = states[-1]
    assert [(c.index, c.id, c.name, c.arguments) for c in final] == [
        (0, "a", "write_file", '{"path": "x"}'),
        (1, "b", "write_file", '{"path": "y"}'),
    ]
    assert states[2][0].arguments == '{"path": "x"'


def test_accumulate_state_is_per_subscription() -> None:
    piped = reactivex.of(frag(0, "{", id="a", name="f"), frag(0, "}")).pipe(
        rxo.accumulate_tool_calls()
    )
    first, second = values(piped), values(piped)
    assert first[-1][0].arguments == second[-1][0].arguments == "{}"


def test_collect_response_folds_everything() -> None:
    deltas = reactivex.of(
        ChatResponse(id="r1", reasoning="think "),
        ChatResponse(content="Hel"),
        ChatResponse(content="lo", usage=Usage(prompt_tokens=1, completion_tokens=1)),
        frag(0, id="c", name="noargs"),
        ChatResponse(
            stop_reason=StopReason.TOOL_CALL, usage=Usage(prompt_tokens=2, completion_tokens=3)
        ),
    )
    [final] = values(deltas.pipe(rxo.collect_response()))
    assert not final.delta
    assert final.id == "r1" and final.content == "Hello" and final.reasoning == "think "
    assert final.tool_calls == (ToolCall(index=0, id="c", name="noargs", arguments="{}"),)
    assert final.usage == Usage(prompt_tokens=2, completion_tokens=3)  # last wins, not summed
    assert final.stop_reason is StopReason.TOOL_CALL


def test_collect_response_passes_errors_through() -> None:
    errors: list[Exception] = []
    reactivex.concat(
        reactivex.of(ChatResponse(content="x")), reactivex.throw(KeyError("boom"))
    ).pipe(rxo.collect_response()).subscribe(on_error=errors.append)
    assert isinstance(errors[0], KeyError)


async def test_collect_response_is_awaitable() -> None:
    final = await reactivex.of(ChatResponse(content="a"), ChatResponse(content="b")).pipe(
        rxo.collect_response()
    )
    assert final.content == "ab"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.text(max_size=5)), max_size=40))
def test_accumulation_equals_concatenation_per_slot(fragments: list[tuple[int, str]]) -> None:
    deltas = [frag(i, text) for i, text in fragments]
    states = values(reactivex.from_iterable(deltas).pipe(rxo.accumulate_tool_calls()))
    expected: dict[int, str] = {}
    for i, text in fragments:
        expected[i] = expected.get(i, "") + text
    got = {c.index: c.arguments for c in states[-1]} if states else {}
    assert got == expected


def test_coalesce_text_batches_in_virtual_time() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(
        on_next(210, ChatResponse(content="a")),
        on_next(220, "b"),
        on_next(300, ChatResponse(content="")),
        on_next(400, "c"),
        on_next(405, ChatResponse(content="d")),
        on_completed(420),
    )
    result = scheduler.start(lambda: source.pipe(rxo.coalesce_text(50, scheduler=scheduler)))
    assert result.messages == [on_next(260, "ab"), on_next(420, "cd"), on_completed(420)]


def test_coalesce_text_flushes_before_an_error() -> None:
    scheduler = TestScheduler()
    boom = ValueError("boom")
    source = scheduler.create_hot_observable(on_next(210, "x"), on_error(230, boom))
    result = scheduler.start(lambda: source.pipe(rxo.coalesce_text(50, scheduler=scheduler)))
    assert result.messages == [on_next(230, "x"), on_error(230, boom)]


def test_coalesce_text_disposal_cancels_the_timer() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(on_next(210, "x"))
    result = scheduler.start(
        lambda: source.pipe(rxo.coalesce_text(50, scheduler=scheduler)), disposed=230
    )
    assert result.messages == []


def test_coalesce_text_rejects_a_bad_window() -> None:
    with pytest.raises(ValueError, match="positive"):
        rxo.coalesce_text(0)


async def test_collect_response_never_hangs_on_a_bad_refusal_over_the_wire(
    provider_server: ProviderServer,
) -> None:
    body = b'data: {"choices":[{"delta":{"refusal":5}}]}\n\ndata: [DONE]\n\n'
    provider_server.reply(Reply(body))
    async with OpenAI(api_key="sk-op-test", model="m", base_url=provider_server.base_url) as p:
        with pytest.raises(ProviderStreamError) as caught:
            await asyncio.wait_for(p.stream_chat(REQUEST).pipe(rxo.collect_response()), 10)
    assert caught.value.kind == "malformed" and "refusal" in caught.value.message


async def test_a_collector_failing_while_completing_is_an_on_error() -> None:
    unchecked = ChatResponse.model_construct(refusal=5)  # a delta no validation has seen
    with pytest.raises(TypeError):
        await asyncio.wait_for(reactivex.of(unchecked).pipe(rxo.collect_response()), 10)


async def test_an_accumulator_failing_is_an_on_error() -> None:
    unchecked = ChatResponse.model_construct(tool_calls=(ToolCall.model_construct(index=[1]),))
    with pytest.raises(TypeError):
        await asyncio.wait_for(reactivex.of(unchecked).pipe(rxo.accumulate_tool_calls()), 10)


def test_accumulating_operators_keep_state_per_subscription() -> None:
    deltas = reactivex.of(
        ChatResponse(content="a", tool_calls=(ToolCall(index=0, name="f", arguments="{"),)),
        ChatResponse(tool_calls=(ToolCall(index=0, arguments="}"),)),
    )
    collected = deltas.pipe(rxo.collect_response())
    calls = deltas.pipe(rxo.accumulate_tool_calls())
    for _ in range(2):  # a second subscription starts from nothing
        finals: list[ChatResponse] = []
        collected.subscribe(finals.append)
        assert [f.content for f in finals] == ["a"]
        seen: list[list[ToolCall]] = []
        calls.subscribe(seen.append)
        assert [c.arguments for c in seen[-1]] == ["{}"]
