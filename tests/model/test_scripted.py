"""ScriptedProvider, FallbackProvider, provider_from_string and the graph tap."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rxchronos import ArgumentTypeError
from rxchronos import RxChronosError
from rxchronos import operators as rxo
from rxchronos._tap import reset_tap
from rxchronos._tap import set_tap
from rxchronos.model import AzureOpenAI
from rxchronos.model import ChatRequest
from rxchronos.model import FallbackProvider
from rxchronos.model import Groq
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import OpenAI
from rxchronos.model import Provider
from rxchronos.model import ProviderConfigError
from rxchronos.model import ProviderConnectionError
from rxchronos.model import ScriptedProvider
from rxchronos.model import ScriptedReply
from rxchronos.model import StopReason
from rxchronos.model import ToolArgumentsError
from rxchronos.model import ToolCall
from rxchronos.model import provider_from_string

from .conftest import run_stream

REQUEST = ChatRequest(messages=[Message(role="user", content="What is the weather?")])


async def test_scripted_streams_reasoning_text_and_fragmented_tool_calls() -> None:
    reply = ScriptedReply(
        reasoning="Let me check.",
        text="Checking now.",
        tool_calls=[ToolCall(name="get_weather", arguments='{"city": "Paris", "unit": "C"}')],
    )
    provider = ScriptedProvider([reply], fragment_size=5)
    deltas, error = await run_stream(provider.stream_chat(REQUEST))
    assert error is None
    assert [d.reasoning for d in deltas if d.reasoning] == ["Let ", "me ", "check."]
    assert [d.content for d in deltas if d.content] == ["Checking ", "now."]
    fragments = [d.tool_calls[0] for d in deltas if d.tool_calls]
    assert fragments[0].name == "get_weather" and fragments[0].id
    assert all(len(f.arguments) <= 5 for f in fragments)
    final = await provider.stream_chat(REQUEST).pipe(rxo.collect_response())  # echo now
    assert final.content == "What is the weather?"
    assert deltas[-1].stop_reason is StopReason.TOOL_CALL
    assert deltas[-1].usage is not None and deltas[-1].usage.prompt_tokens == 4


def test_scripted_is_deterministic() -> None:
    def run() -> list[Any]:
        out: list[Any] = []
        provider = ScriptedProvider(["one two", ScriptedReply(tool_calls=[ToolCall(name="f")])])
        provider.stream_chat(REQUEST).subscribe(out.append)
        provider.stream_chat(REQUEST).subscribe(out.append)
        return out

    assert run() == run()


async def test_scripted_errors_after_some_deltas() -> None:
    boom = ProviderConnectionError("down", provider="scripted")
    provider = ScriptedProvider([ScriptedReply(text="a b c d", error=boom, error_after=2)])
    deltas, error = await run_stream(provider.stream_chat(REQUEST))
    assert error is boom
    assert [d.content for d in deltas] == ["a ", "b "]
    with pytest.raises(ProviderConnectionError):
        await ScriptedProvider([ScriptedReply(error=boom)]).chat(REQUEST)


async def test_scripted_delay_is_async_and_disposal_stops_it() -> None:
    provider = ScriptedProvider(["one two three four"], delay=0.01)
    seen: list[str] = []
    first = asyncio.get_running_loop().create_future()

    def on_next(delta: Any) -> None:
        seen.append(delta.content)
        if not first.done():
            first.set_result(None)

    subscription = provider.stream_chat(REQUEST).subscribe(on_next)
    assert seen == []  # nothing synchronously
    await first
    subscription.dispose()
    await asyncio.sleep(0.05)
    assert seen == ["one "]


async def test_scripted_reply_function_and_requests_log() -> None:
    provider = ScriptedProvider(lambda request: f"{len(request.messages)} message(s)")
    assert (await provider.chat(REQUEST)).content == "1 message(s)"
    assert provider.requests == [REQUEST]
    assert isinstance(provider, Provider)


def test_tool_arguments_error_keeps_the_raw_text() -> None:
    call = ToolCall(id="c1", name="f", arguments='{"a": ')
    with pytest.raises(ToolArgumentsError) as caught:
        call.parse_arguments()
    assert caught.value.arguments == '{"a": ' and caught.value.name == "f"
    assert isinstance(caught.value, RxChronosError)
    with pytest.raises(ToolArgumentsError):
        ToolCall(arguments="[1]").parse_arguments()
    assert ToolCall().parse_arguments() == {}


async def test_fallback_before_the_first_delta() -> None:
    failures: list[tuple[str, Exception]] = []
    down = ProviderConnectionError("down", provider="a")
    provider = FallbackProvider(
        ScriptedProvider([ScriptedReply(error=down)], name="a"),
        ScriptedProvider(["from b"], name="b", delay=0.001),
        on_fallback=lambda p, exc: failures.append((p.name, exc)),
    )
    final = await provider.stream_chat(REQUEST).pipe(rxo.collect_response())
    assert final.content == "from b"
    assert failures == [("a", down)]


async def test_no_fallback_after_the_first_delta() -> None:
    broken = IncompleteStreamError("cut", provider="a", partial=None)
    provider = FallbackProvider(
        ScriptedProvider([ScriptedReply(text="partial answer", error=broken, error_after=1)]),
        ScriptedProvider(["never"]),
    )
    deltas, error = await run_stream(provider.stream_chat(REQUEST))
    assert error is broken
    assert [d.content for d in deltas] == ["partial "]


async def test_fallback_propagates_the_last_error_and_non_provider_errors() -> None:
    last = ProviderConnectionError("b down", provider="b")
    both_down = FallbackProvider(
        ScriptedProvider([ScriptedReply(error=ProviderConnectionError("a down", provider="a"))]),
        ScriptedProvider([ScriptedReply(error=last)]),
    )
    _, error = await run_stream(both_down.stream_chat(REQUEST))
    assert error is last
    bug = FallbackProvider(
        ScriptedProvider([ScriptedReply(error=KeyError("bug"))]), ScriptedProvider(["x"])
    )
    _, error = await run_stream(bug.stream_chat(REQUEST))
    assert isinstance(error, KeyError)
    with pytest.raises(ProviderConnectionError):
        await FallbackProvider(
            ScriptedProvider([ScriptedReply(error=last)]),
            ScriptedProvider([ScriptedReply(error=last)]),
        ).chat(REQUEST)
    with pytest.raises(ValueError):
        FallbackProvider()


def test_provider_from_string() -> None:
    env = {
        "OPENAI_API_KEY": "sk-1",
        "GROQ_API_KEY": "gsk-1",
        "AZURE_OPENAI_API_KEY": "az-1",
        "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com",
    }
    openai = provider_from_string("openai:gpt-4o", env=env)
    assert isinstance(openai, OpenAI) and openai.model == "gpt-4o"
    groq = provider_from_string("groq:llama-3.3-70b-versatile", env=env)
    assert isinstance(groq, Groq) and groq.name == "groq"
    azure = provider_from_string("azure:my-deployment", env=env)
    assert isinstance(azure, AzureOpenAI) and azure.deployment == "my-deployment"
    assert isinstance(provider_from_string("scripted", env={}), ScriptedProvider)
    assert provider_from_string("openrouter:a/b:free", env={"OPENROUTER_API_KEY": "k"}).model == (
        "a/b:free"
    )


def test_provider_from_string_errors_are_clear() -> None:
    with pytest.raises(ProviderConfigError, match="unknown provider 'nope'"):
        provider_from_string("nope:x", env={})
    with pytest.raises(ProviderConfigError, match="OPENAI_API_KEY"):
        provider_from_string("openai:gpt-4o", env={})
    with pytest.raises(ProviderConfigError, match="no model"):
        provider_from_string("openai", env={"OPENAI_API_KEY": "sk"})
    with pytest.raises(ValueError):  # ProviderConfigError is also a ValueError
        provider_from_string("azure:d", env={"AZURE_OPENAI_API_KEY": "k"})


async def test_the_tap_sees_call_chunks_and_response() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    token = set_tap(lambda kind, data: events.append((kind, dict(data))))
    try:
        chunks = ScriptedProvider(["Hi there"], model="m1").stream_chat(REQUEST)
        await chunks.pipe(rxo.collect_response())
    finally:
        reset_tap(token)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "model_call" and kinds[-1] == "model_response"
    assert events[0][1] == {"provider": "scripted", "model": "m1"}
    assert [d.get("content") for k, d in events if k == "model_chunk"][:2] == ["Hi ", "there"]
    assert events[-1][1]["content"] == "Hi there"
    events.clear()
    await ScriptedProvider(["x"]).stream_chat(REQUEST).pipe(rxo.collect_response())
    assert events == []  # no tap outside a run


async def test_a_replies_function_returning_no_reply_is_a_typed_error() -> None:
    provider = ScriptedProvider(lambda request: 5)  # type: ignore[arg-type,return-value]
    with pytest.raises(ArgumentTypeError, match=r"replies function .* got int"):
        await provider.chat(REQUEST)
    deltas, error = await run_stream(provider.stream_chat(REQUEST))
    assert deltas == [] and isinstance(error, ArgumentTypeError)
