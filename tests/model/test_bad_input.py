"""Bad input to the public model API: each mistake is a clear, typed error naming what was wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from rxchronos import ArgumentTypeError
from rxchronos import InvalidArgumentError
from rxchronos import RxChronosError
from rxchronos.model import Anthropic
from rxchronos.model import AzureOpenAI
from rxchronos.model import AzureOpenAIResponses
from rxchronos.model import ChatRequest
from rxchronos.model import Cohere
from rxchronos.model import FallbackProvider
from rxchronos.model import FunctionDef
from rxchronos.model import Gemini
from rxchronos.model import Groq
from rxchronos.model import Message
from rxchronos.model import Ollama
from rxchronos.model import OpenAI
from rxchronos.model import OpenAICompatible
from rxchronos.model import OpenAIResponses
from rxchronos.model import ProviderConfigError
from rxchronos.model import RetryPolicy
from rxchronos.model import ScriptedProvider
from rxchronos.model import Timeouts
from rxchronos.model import ToolArgumentsError
from rxchronos.model import ToolCall
from rxchronos.model import ToolDefinition
from rxchronos.model import Usage
from rxchronos.model import provider_from_string
from rxchronos.model import register_provider
from rxchronos.model._registry import _FACTORIES

from .conftest import run_stream

HI = Message(role="user", content="Hi")
KEY = "sk-test-SECRET-0123456789"

FIELD_ERRORS: list[tuple[str, Callable[[], object], str]] = [
    ("role", lambda: Message(role="bogus", content="x"), "role"),
    ("content type", lambda: Message(role="user", content=5), "content"),
    ("no messages", lambda: ChatRequest(messages=[]), "messages"),
    ("messages type", lambda: ChatRequest(messages="hi"), "messages"),
    ("negative max_tokens", lambda: ChatRequest(messages=[HI], max_tokens=-1), "max_tokens"),
    ("zero max_tokens", lambda: ChatRequest(messages=[HI], max_tokens=0), "max_tokens"),
    ("temperature too high", lambda: ChatRequest(messages=[HI], temperature=5), "temperature"),
    ("negative temperature", lambda: ChatRequest(messages=[HI], temperature=-1), "temperature"),
    (
        "nan temperature",
        lambda: ChatRequest(messages=[HI], temperature=float("nan")),
        "temperature",
    ),
    ("temperature type", lambda: ChatRequest(messages=[HI], temperature="hot"), "temperature"),
    ("top_p above 1", lambda: ChatRequest(messages=[HI], top_p=2), "top_p"),
    ("stop type", lambda: ChatRequest(messages=[HI], stop=5), "stop"),
    ("unknown field", lambda: ChatRequest(messages=[HI], temprature=0.2), "temprature"),
    ("negative tool index", lambda: ToolCall(index=-1), "index"),
    ("arguments as an object", lambda: ToolCall(arguments={"a": 1}), "arguments"),
    ("empty function name", lambda: FunctionDef(name=""), "name"),
    ("function type", lambda: ToolDefinition(function="f"), "function"),
    ("negative usage", lambda: Usage(prompt_tokens=-1), "prompt_tokens"),
]


@pytest.mark.parametrize(
    ("case", "build", "field"), FIELD_ERRORS, ids=[c for c, _, _ in FIELD_ERRORS]
)
def test_model_fields_are_validated_and_named(
    case: str, build: Callable[[], object], field: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        build()
    assert field in str(caught.value)


def _factory(model: str, env: Any, options: Any) -> ScriptedProvider:
    return ScriptedProvider(model=model)


ARGUMENT_ERRORS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("key type", lambda: OpenAI(api_key=5, model="m"), ValueError, "api_key"),
    ("missing key", lambda: Groq(api_key="", model="m"), ValueError, "Groq needs a non-empty"),
    ("model type", lambda: OpenAI(api_key=KEY, model=5), ValueError, "model"),
    ("base_url", lambda: Gemini(api_key=KEY, model="m", base_url="ftp://x"), ValueError, "http"),
    (
        "unknown option",
        lambda: OpenAI(api_key=KEY, model="m", temprature=1),
        ProviderConfigError,
        "temprature",
    ),
    (
        "timeout type",
        lambda: OpenAI(api_key=KEY, model="m", timeout="5"),
        ProviderConfigError,
        "Timeouts",
    ),
    (
        "timeout negative",
        lambda: OpenAI(api_key=KEY, model="m", timeout=-1),
        ValueError,
        "Timeouts",
    ),
    (
        "retry type",
        lambda: OpenAI(api_key=KEY, model="m", retry=3),
        ProviderConfigError,
        "RetryPolicy",
    ),
    (
        "retries type",
        lambda: OpenAI(api_key=KEY, model="m", max_retries="3"),
        ProviderConfigError,
        "int",
    ),
    ("negative retries", lambda: OpenAI(api_key=KEY, model="m", max_retries=-1), ValueError, "neg"),
    (
        "session type",
        lambda: OpenAI(api_key=KEY, model="m", session="s"),
        ProviderConfigError,
        "Session",
    ),
    (
        "azure deployment",
        lambda: AzureOpenAI(endpoint="https://r", api_key=KEY, deployment=""),
        ValueError,
        "deployment",
    ),
    (
        "azure endpoint",
        lambda: AzureOpenAI(endpoint=None, api_key=KEY, deployment="d"),
        ValueError,
        "endpoint",
    ),
    (
        "azure api_version",
        lambda: AzureOpenAI(endpoint="https://r", api_key=KEY, deployment="d", api_version=5),
        ValueError,
        "api_version",
    ),
    (
        "azure responses endpoint",
        lambda: AzureOpenAIResponses(endpoint=None, api_key=KEY, deployment="d"),
        ValueError,
        "endpoint",
    ),
    (
        "azure responses api_version",
        lambda: AzureOpenAIResponses(
            endpoint="https://r", api_key=KEY, deployment="d", api_version=""
        ),
        ValueError,
        "api_version",
    ),
    (
        "compatible name",
        lambda: OpenAICompatible(name="", base_url="http://h", model="m"),
        ValueError,
        "name",
    ),
    ("compatible url", lambda: OpenAICompatible(name="n", model="m"), ValueError, "base_url"),
    ("optional key type", lambda: Ollama(model="m", api_key=5), ProviderConfigError, "api_key"),
    ("timeouts type", lambda: Timeouts(connect="10"), TypeError, "Timeouts.connect"),
    ("timeouts nan", lambda: Timeouts(idle=float("nan")), ValueError, "Timeouts.idle"),
    ("retry count type", lambda: RetryPolicy(max_retries=1.5), TypeError, "max_retries"),
    ("retry delay type", lambda: RetryPolicy(base_delay="1"), TypeError, "base_delay"),
    ("scripted replies", lambda: ScriptedProvider(5), TypeError, "list of replies"),
    ("scripted reply", lambda: ScriptedProvider([5]), TypeError, "scripted reply"),
    ("no fallback", lambda: FallbackProvider(), ValueError, "at least one"),
    ("fallback type", lambda: FallbackProvider(5), TypeError, "Provider"),
    ("spec type", lambda: provider_from_string(5), TypeError, "openai:gpt-4o"),
    (
        "unknown provider",
        lambda: provider_from_string("nope:x", env={}),
        ProviderConfigError,
        "nope",
    ),
    ("no model", lambda: provider_from_string("openai", env={}), ProviderConfigError, "model"),
    ("no key", lambda: provider_from_string("openai:m", env={}), ProviderConfigError, "OPENAI"),
    ("request type", lambda: ScriptedProvider().stream_chat("hi"), TypeError, "ChatRequest"),
    ("scripted delay type", lambda: ScriptedProvider(delay="1"), ArgumentTypeError, "delay="),
    ("scripted delay none", lambda: ScriptedProvider(delay=None), ArgumentTypeError, "delay="),
    (
        "scripted delay nan",
        lambda: ScriptedProvider(delay=float("nan")),
        InvalidArgumentError,
        "delay=",
    ),
    (
        "scripted fragment type",
        lambda: ScriptedProvider(fragment_size="8"),
        ArgumentTypeError,
        "fragment_size=",
    ),
    ("scripted model type", lambda: ScriptedProvider(model=5), ArgumentTypeError, "model="),
    ("scripted name type", lambda: ScriptedProvider(name=None), ArgumentTypeError, "name="),
    ("scripted mapping", lambda: ScriptedProvider({"a": "b"}), ArgumentTypeError, "list of"),
    ("scripted bytes", lambda: ScriptedProvider(b"hi"), ArgumentTypeError, "list of"),
    ("scripted 2nd reply", lambda: ScriptedProvider(["a", 5]), ArgumentTypeError, "reply 2"),
    (
        "fallback callback type",
        lambda: FallbackProvider(ScriptedProvider(), on_fallback=5),
        ArgumentTypeError,
        "on_fallback=",
    ),
    (
        "fallback 2nd provider",
        lambda: FallbackProvider(ScriptedProvider(), "openai:gpt-4o"),
        ArgumentTypeError,
        "provider 2",
    ),
    (
        "fallback request type",
        lambda: FallbackProvider(ScriptedProvider()).stream_chat("hi"),
        ArgumentTypeError,
        "ChatRequest",
    ),
    ("env type", lambda: provider_from_string("groq:m", env=["x"]), ArgumentTypeError, "env="),
    (
        "env value type",
        lambda: provider_from_string("groq:m", env={"GROQ_API_KEY": 5}),
        ArgumentTypeError,
        "'GROQ_API_KEY' is int",
    ),
    (
        "scripted option",
        lambda: provider_from_string("scripted", bogus=1),
        ProviderConfigError,
        "bogus",
    ),
    ("prefix type", lambda: register_provider(5, _factory), ArgumentTypeError, "prefix"),
    ("factory type", lambda: register_provider("p", 5), ArgumentTypeError, "factory"),
]


@pytest.mark.parametrize(
    ("case", "build", "error", "says"), ARGUMENT_ERRORS, ids=[c[0] for c in ARGUMENT_ERRORS]
)
def test_constructor_misuse_is_a_clear_error(
    case: str, build: Callable[[], object], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says) as caught:
        build()
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("http://", "not an absolute http"),
        ("https:///v1", "not an absolute http"),
        ("ftp://files.example.com", "not an absolute http"),
        ("api.openai.com/v1", "not an absolute http"),
        ("http://exa mple.com", "space or a control character"),
        ("http://h.example\r\nX-Injected: 1", "space or a control character"),
        ("http://h.example:99999", "cannot be read"),
        ("https://h.example/v1?key=abc", "query or a fragment"),
        ("https://h.example/v1#part", "query or a fragment"),
        ("https://user:pw-1234@h.example/v1", "credentials"),
    ],
)
def test_a_base_url_that_is_no_absolute_http_url_is_refused(base_url: str, says: str) -> None:
    for build in (OpenAI, Anthropic, Gemini, Cohere):
        with pytest.raises(InvalidArgumentError, match=says) as caught:
            build(api_key=KEY, model="m", base_url=base_url)
        assert isinstance(caught.value, ProviderConfigError)
        assert "pw-1234" not in str(caught.value) and "key=abc" not in str(caught.value)
    with pytest.raises(InvalidArgumentError, match=says):
        Ollama(model="m", base_url=base_url)


@pytest.mark.parametrize("bad", ["\r\nX-Injected: 1", "\n", "\r", "\x00", "\x7f"])
def test_an_api_key_holding_a_control_character_is_refused_without_showing_it(bad: str) -> None:
    key = f"{KEY[:6]}{bad}{KEY[6:]}"  # inside: the registry strips what surrounds a key
    builds: list[Callable[[], object]] = [
        lambda: OpenAI(api_key=key, model="m"),
        lambda: Anthropic(api_key=key, model="m"),
        lambda: Gemini(api_key=key, model="m"),
        lambda: Cohere(api_key=key, model="m"),
        lambda: Ollama(api_key=key, model="m"),  # an optional key too
        lambda: AzureOpenAI(endpoint="https://r.example", api_key=key, deployment="d"),
        lambda: provider_from_string("groq:m", env={"GROQ_API_KEY": key}),
    ]
    for build in builds:
        with pytest.raises(InvalidArgumentError, match="control character") as caught:
            build()
        assert KEY[:6] not in str(caught.value) and KEY[6:] not in str(caught.value)


def test_a_registered_factory_that_returns_no_provider_is_a_typed_error() -> None:
    register_provider("not-a-provider", lambda model, env, options: 5)  # type: ignore[arg-type,return-value]
    try:
        with pytest.raises(ArgumentTypeError, match="'not-a-provider' returned int"):
            provider_from_string("not-a-provider:m", env={})
    finally:
        _FACTORIES.pop("not-a-provider")


def test_tool_arguments_that_are_not_a_json_object() -> None:
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"  # past the parser's recursion limit
    for raw, says in (
        ("{bad", "not valid JSON"),
        ("[1]", "not an object"),
        (deep, "nested too deeply"),
    ):
        call = ToolCall(index=0, id="c1", name="f", arguments=raw)
        with pytest.raises(ToolArgumentsError, match=says) as caught:
            call.parse_arguments()
        assert (caught.value.arguments, caught.value.name, caught.value.call_id) == (raw, "f", "c1")


@pytest.mark.parametrize(
    "source",
    [
        ScriptedProvider(["x"], delay=0.01),
        OpenAI(api_key=KEY, model="m"),
    ],
    ids=["scripted with a delay", "http"],
)
async def test_subscribing_off_the_loop_thread_is_a_typed_error(source: Any) -> None:
    request = ChatRequest(messages=[HI])

    def subscribe() -> None:
        source.stream_chat(request).subscribe()

    with pytest.raises(RxChronosError, match=r"stream_chat\(\).*event loop's thread") as caught:
        await asyncio.to_thread(subscribe)
    assert isinstance(caught.value, RuntimeError)


async def test_a_subscriber_raising_with_a_scripted_delay_stops_and_gets_its_error() -> None:
    failed: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    def explode(delta: Any) -> None:
        seen.append(delta.content)
        raise ZeroDivisionError("subscriber bug")

    ScriptedProvider(["a b c"], delay=0.001).stream_chat(ChatRequest(messages=[HI])).subscribe(
        explode, failed.set_result, lambda: failed.set_exception(AssertionError("completed"))
    )
    error = await asyncio.wait_for(failed, 10)
    assert isinstance(error, ZeroDivisionError)
    await asyncio.sleep(0.02)
    assert seen == ["a "]  # the stream stopped at the subscriber's failure


async def test_a_scripted_error_still_reaches_on_error_with_a_delay() -> None:
    from rxchronos.model import ScriptedReply

    boom = RxChronosError("scripted failure")
    provider = ScriptedProvider([ScriptedReply(text="a b", error=boom, error_after=1)], delay=0.001)
    deltas, error = await run_stream(provider.stream_chat(ChatRequest(messages=[HI])))
    assert error is boom and [d.content for d in deltas] == ["a "]


def test_a_number_of_seconds_sets_every_timeout() -> None:
    provider = OpenAI(api_key=KEY, model="m", timeout=7.5)
    assert provider.timeouts == Timeouts(connect=7.5, first_token=7.5, idle=7.5)
    assert OpenAI(api_key=KEY, model="m").timeouts == Timeouts()
    custom = Timeouts(idle=3)
    assert OpenAI(api_key=KEY, model="m", timeout=custom).timeouts is custom


# Every request-builder family, with a server that must never be reached (nothing listens).
UNREACHABLE = "http://127.0.0.1:9"
FAMILIES: list[tuple[str, Callable[[], Any]]] = [
    ("chat completions", lambda: OpenAI(api_key=KEY, model="m", base_url=f"{UNREACHABLE}/v1")),
    ("responses", lambda: OpenAIResponses(api_key=KEY, model="m", base_url=f"{UNREACHABLE}/v1")),
    ("anthropic", lambda: Anthropic(api_key=KEY, model="m", base_url=UNREACHABLE)),
    ("gemini", lambda: Gemini(api_key=KEY, model="m", base_url=UNREACHABLE)),
    ("cohere", lambda: Cohere(api_key=KEY, model="m", base_url=UNREACHABLE)),
    ("ollama", lambda: Ollama(model="m", base_url=UNREACHABLE)),
]


@pytest.mark.parametrize(("family", "make"), FAMILIES, ids=[f for f, _ in FAMILIES])
async def test_a_tool_message_without_its_call_reaches_the_caller_typed(
    family: str, make: Callable[[], Any]
) -> None:
    """A tool message without tool_call_id (and without a name to match it by) is the builder's
    InvalidArgumentError, given to the subscriber as it is, before anything is sent; Ollama,
    whose tool messages need neither, sends it."""
    request = ChatRequest(messages=[HI, Message(role="tool", content="21 degrees")])
    async with make() as provider:
        if family == "ollama":
            body = provider.build_request(request, stream=True).body
            assert body["messages"][1] == {"role": "tool", "content": "21 degrees"}
            return
        with pytest.raises(InvalidArgumentError, match="tool_call_id") as built:
            provider.build_request(request, stream=True)
        _, error = await run_stream(provider.stream_chat(request))
    assert type(error) is InvalidArgumentError and str(error) == str(built.value)
    assert isinstance(error, RxChronosError) and isinstance(error, ValueError)
