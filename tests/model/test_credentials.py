"""Credentials stay at their origin: redirects to another origin are refused for every provider,
and no error keeps the key anywhere reachable (text, attributes, ``__cause__``/``__context__``
chains, an aiohttp ``request_info``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from rxchronos.model import Anthropic
from rxchronos.model import AzureOpenAI
from rxchronos.model import ChatRequest
from rxchronos.model import Cohere
from rxchronos.model import Gemini
from rxchronos.model import Groq
from rxchronos.model import HTTPProvider
from rxchronos.model import Message
from rxchronos.model import Mistral
from rxchronos.model import Ollama
from rxchronos.model import OpenAI
from rxchronos.model import OpenAICompatible
from rxchronos.model import ProviderConnectionError
from rxchronos.model import ProviderError
from rxchronos.model import ProviderHTTPError
from rxchronos.model import ProviderRedirectError
from rxchronos.model import ProviderStreamError
from rxchronos.model._openai import OpenAIChatProvider

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import collect
from .conftest import fixture_bytes
from .conftest import stream_once

KEY = "cred-SECRET-key-4f9a1c"
REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])


class CustomHeader(OpenAIChatProvider):
    """A provider that authenticates with a header of its own."""

    name = "custom"

    def auth(self) -> dict[str, str]:
        return {"x-custom-token": self.api_key}


PROVIDERS: dict[str, Callable[[str], HTTPProvider]] = {
    "openai": lambda url: OpenAI(api_key=KEY, model="m", base_url=f"{url}/v1", max_retries=0),
    "azure": lambda url: AzureOpenAI(endpoint=url, api_key=KEY, deployment="d", max_retries=0),
    "anthropic": lambda url: Anthropic(api_key=KEY, model="m", base_url=url, max_retries=0),
    "gemini": lambda url: Gemini(api_key=KEY, model="m", base_url=url, max_retries=0),
    "cohere": lambda url: Cohere(api_key=KEY, model="m", base_url=url, max_retries=0),
    "mistral": lambda url: Mistral(api_key=KEY, model="m", base_url=f"{url}/v1", max_retries=0),
    "groq": lambda url: Groq(api_key=KEY, model="m", base_url=f"{url}/v1", max_retries=0),
    "compatible": lambda url: OpenAICompatible(
        name="c", api_key=KEY, model="m", base_url=f"{url}/v1", max_retries=0
    ),
    "ollama": lambda url: Ollama(api_key=KEY, model="m", base_url=url, max_retries=0),
    "custom header": lambda url: CustomHeader(
        api_key=KEY, model="m", base_url=f"{url}/v1", max_retries=0
    ),
}


def reachable(root: object, depth: int = 6) -> list[object]:
    """Everything reachable from an error: its chain, args, attributes, containers."""
    seen: dict[int, object] = {}
    todo: list[tuple[object, int]] = [(root, 0)]
    while todo:
        obj, level = todo.pop()
        if id(obj) in seen or level > depth:
            continue
        seen[id(obj)] = obj
        children: list[object] = []
        if isinstance(obj, BaseException):
            children += [obj.__cause__, obj.__context__, *obj.args]
        if isinstance(obj, dict):
            children += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            children += list(obj)
        for name in ("request_info", "headers", "real_url", "url"):
            if hasattr(obj, name) and not isinstance(obj, str | bytes | type):
                children.append(getattr(obj, name))
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            children += list(vars(obj).values())
        todo += [(child, level + 1) for child in children if child is not None]
    return list(seen.values())


def assert_no_key(error: BaseException) -> None:
    for obj in reachable(error):
        assert KEY not in repr(obj), f"the key is reachable from the error through {obj!r:.200}"
        assert KEY not in str(obj)


@pytest.mark.parametrize("status", [307, 308, 302])
@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_a_redirect_to_another_origin_is_refused_and_sends_nothing_there(
    provider_server: ProviderServer, elsewhere: ProviderServer, name: str, status: int
) -> None:
    moved = {"Location": f"{elsewhere.url}/stolen"}
    provider_server.reply(Reply(b"", status=status, headers=moved))
    _, error = await stream_once(PROVIDERS[name](provider_server.url), REQUEST)
    assert isinstance(error, ProviderRedirectError)
    assert error.status == status and error.location == elsewhere.url
    assert not error.retryable
    assert elsewhere.seen == []  # nothing, key or not, was sent to the other origin
    assert len(provider_server.seen) == 1
    assert_no_key(error)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_chat_refuses_a_redirect_to_another_origin_too(
    provider_server: ProviderServer, elsewhere: ProviderServer, name: str
) -> None:
    provider_server.reply(Reply(b"", status=307, headers={"Location": f"{elsewhere.url}/x"}))
    async with PROVIDERS[name](provider_server.url) as provider:
        with pytest.raises(ProviderRedirectError) as caught:
            await provider.chat(REQUEST)
    assert elsewhere.seen == []
    assert_no_key(caught.value)


async def test_a_redirect_to_another_scheme_on_the_same_host_is_refused(
    provider_server: ProviderServer,
) -> None:
    https = provider_server.url.replace("http://", "https://")
    provider_server.reply(Reply(b"", status=307, headers={"Location": f"{https}/v1/x"}))
    _, error = await stream_once(PROVIDERS["openai"](provider_server.url), REQUEST)
    assert isinstance(error, ProviderRedirectError)


async def test_a_same_origin_307_is_followed_with_the_body_and_the_key(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(
        Reply(b"", status=307, headers={"Location": "/v2/chat/completions"}),
        Reply(fixture_bytes("openai/text_usage.sse")),
    )
    deltas, error = await stream_once(PROVIDERS["openai"](provider_server.url), REQUEST)
    assert error is None and collect(deltas).content
    first, second = provider_server.seen
    assert second.path == "/v2/chat/completions"
    assert second.body == first.body
    assert second.headers["Authorization"] == f"Bearer {KEY}"


async def test_a_same_origin_303_is_refused_rather_than_turned_into_a_get(
    provider_server: ProviderServer,
) -> None:
    provider_server.reply(Reply(b"", status=303, headers={"Location": "/v1/elsewhere"}))
    _, error = await stream_once(PROVIDERS["openai"](provider_server.url), REQUEST)
    assert isinstance(error, ProviderRedirectError) and "GET" in str(error)


async def test_a_redirect_loop_ends_in_a_typed_error(provider_server: ProviderServer) -> None:
    loop = Reply(b"", status=307, headers={"Location": "/v1/chat/completions"})
    provider_server.reply(*[loop] * 10)
    _, error = await stream_once(PROVIDERS["openai"](provider_server.url), REQUEST)
    assert isinstance(error, ProviderRedirectError) and "redirects" in str(error)


async def test_an_error_body_echoing_the_key_is_redacted_and_bounded(
    provider_server: ProviderServer,
) -> None:
    body = (f'{{"error": "bad key {KEY}"}}' + " " * 5000).encode()
    provider_server.reply(Reply(body, status=401))
    provider = OpenAI(
        api_key=KEY, model="m", base_url=provider_server.base_url, error_body_limit=100
    )
    _, error = await stream_once(provider, REQUEST)
    assert isinstance(error, ProviderHTTPError) and error.status == 401
    assert "***" in error.body and error.body.endswith("[cut at 100 bytes]")
    assert len(error.body) < 100 + 200
    assert f"{provider_server.base_url}/chat/completions" in str(error)  # the URL is named
    assert_no_key(error)


async def test_connection_errors_keep_no_aiohttp_exception_in_their_chain() -> None:
    async def refuse() -> int:
        runner = web.AppRunner(web.Application())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await runner.cleanup()  # nothing listens there any more
        return port

    port = await refuse()
    provider = Anthropic(api_key=KEY, model="m", base_url=f"http://127.0.0.1:{port}", max_retries=0)
    _, error = await stream_once(provider, REQUEST)
    assert isinstance(error, ProviderConnectionError)
    assert error.__cause__ is None and error.__context__ is None
    assert_no_key(error)


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, b'{"error": {"message": "nope"}}'), (500, b"")],
)
async def test_http_errors_keep_no_aiohttp_exception_in_their_chain(
    provider_server: ProviderServer, status: int, body: bytes
) -> None:
    provider_server.reply(Reply(body, status=status))
    _, error = await stream_once(PROVIDERS["gemini"](provider_server.url), REQUEST)
    assert isinstance(error, ProviderHTTPError)
    assert error.__context__ is None
    assert_no_key(error)


async def test_a_stream_error_keeps_no_key(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(f'data: {{"error": {{"message": "{KEY}"}}}}\n\n'.encode()))
    _, error = await stream_once(PROVIDERS["groq"](provider_server.url), REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert_no_key(error)


def assert_no_part_of_key(error: BaseException, shortest: int = 6) -> None:
    """Not even the start of the key: a cut made before redacting would leave one."""
    for obj in reachable(error):
        for size in range(shortest, len(KEY) + 1):
            assert KEY[:size] not in str(obj), f"{KEY[:size]!r} is in {obj!r:.300}"


@pytest.mark.parametrize("before_cut", [1, 6, 11, len(KEY) - 1])
async def test_a_key_across_the_error_body_limit_is_redacted_whole(
    provider_server: ProviderServer, before_cut: int
) -> None:
    body = "x" * (100 - before_cut) + KEY + " and more" * 50
    provider_server.reply(Reply(body.encode(), status=401))
    provider = OpenAI(
        api_key=KEY, model="m", base_url=provider_server.base_url, error_body_limit=100
    )
    _, error = await stream_once(provider, REQUEST)
    assert isinstance(error, ProviderHTTPError)
    assert error.body.startswith("x" * (100 - before_cut) + "*")  # the marker, perhaps cut
    assert error.body.endswith("... [cut at 100 bytes]") and len(error.body) <= 100 + 22
    assert_no_part_of_key(error)


@pytest.mark.parametrize("before_cut", [1, 6, 11, len(KEY) - 1])
async def test_a_key_across_the_cut_of_a_long_stream_error_is_redacted_whole(
    provider_server: ProviderServer, before_cut: int
) -> None:
    message = "y" * (2000 - before_cut) + KEY + "z" * 100
    event = json.dumps({"error": {"message": message}})
    provider_server.reply(Reply(f"data: {event}\n\n".encode()))
    _, error = await stream_once(PROVIDERS["groq"](provider_server.url), REQUEST)
    assert isinstance(error, ProviderStreamError)
    assert error.message.startswith("y" * (2000 - before_cut) + "*")
    assert_no_part_of_key(error)


async def test_a_key_across_the_cut_of_an_excerpt_of_bad_data_is_redacted(
    provider_server: ProviderServer,
) -> None:
    half = len(KEY) // 2  # the parser cuts its excerpt of the data at 200 characters
    provider_server.reply(Reply(f"data: {'w' * (200 - half)}{KEY} is not JSON\n\n".encode()))
    _, error = await stream_once(PROVIDERS["groq"](provider_server.url), REQUEST)
    assert isinstance(error, ProviderStreamError) and error.kind == "malformed"
    assert "***" in error.message
    assert_no_part_of_key(error, shortest=8)


@pytest.mark.parametrize("before_cut", [1, 6, 11, len(KEY) - 1])
async def test_a_key_across_the_excerpt_of_an_answer_that_is_not_json_is_redacted_whole(
    provider_server: ProviderServer, before_cut: int
) -> None:
    provider_server.reply(Reply(("v" * (200 - before_cut) + KEY + " no JSON").encode()))
    provider = PROVIDERS["openai"](provider_server.url)
    async with provider:
        with pytest.raises(ProviderStreamError, match="not JSON") as caught:
            await provider.chat(REQUEST)
    assert caught.value.message.startswith(f"answer is not JSON: '{'v' * (200 - before_cut)}*")
    assert_no_part_of_key(caught.value)


def test_the_chain_walker_finds_a_key_hidden_in_a_context() -> None:
    hidden = ProviderError("fine", provider="p")
    try:
        try:
            raise RuntimeError(Any, {"headers": {"x-api-key": KEY}})
        except RuntimeError:
            raise hidden from None
    except ProviderError:
        pass
    with pytest.raises(AssertionError, match="reachable"):
        assert_no_key(hidden)


def test_a_stream_error_subclass_of_its_own_is_redacted_too() -> None:
    class OwnError(ProviderStreamError):
        def __init__(self, message: str) -> None:  # sets its fields without the base __init__
            Exception.__init__(self, message)
            self.message, self.kind, self.code, self.partial = message, "malformed", "", None

    provider = PROVIDERS["openai"]("http://127.0.0.1:9")
    redacted = provider._redacted(OwnError(f"bad {KEY}"), None)
    assert redacted.message == "bad ***"
    assert_no_key(redacted)
