"""A provider for a made-up dialect, built from public names only (``rxchronos.model``), gets what
every built-in provider gets: retries, time limits, cancellation, ``collect_response()``, typed
malformed-data errors and the partial response."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rxchronos import operators as rxo
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import HTTPProvider
from rxchronos.model import HTTPRequest
from rxchronos.model import IncompleteStreamError
from rxchronos.model import Message
from rxchronos.model import ProviderStreamError
from rxchronos.model import ProviderTimeoutError
from rxchronos.model import RetryPolicy
from rxchronos.model import StopReason
from rxchronos.model import StreamParser
from rxchronos.model import Timeouts
from rxchronos.model import ToolCall
from rxchronos.model import Usage
from rxchronos.model import as_count
from rxchronos.model import as_object
from rxchronos.model import as_text

from .conftest import ProviderServer
from .conftest import Reply
from .conftest import run_stream

REQUEST = ChatRequest(messages=[Message(role="user", content="Hi")])


class TickerParser(StreamParser):
    """``event: token`` ``{"t"}``, ``event: call`` ``{"id", "name", "args"}``, ``event: end``
    ``{"in", "out"}``; ``event: oops`` ``{"why"}`` is an in-band error."""

    def parse(self, event: str, data: str) -> list[ChatResponse]:
        payload = self.load_object(data, event)
        if event == "token":
            return self.deltas({"content": as_text(payload.get("t"), "t")})
        if event == "call":
            call = ToolCall(
                index=self.tool_slots.slot(None, as_text(payload.get("id"), "id")),
                id=as_text(payload.get("id"), "id"),
                name=as_text(payload.get("name"), "name"),
                arguments=json.dumps(as_object(payload.get("args"), "args")),
            )
            return self.deltas({"tool_calls": (call,)})
        if event == "end":
            self.finished = True
            usage = Usage(
                prompt_tokens=as_count(payload.get("in"), "in"),
                completion_tokens=as_count(payload.get("out"), "out"),
            )
            stop = StopReason.TOOL_CALL if len(self.tool_slots) else StopReason.END
            return self.deltas({"usage": usage, "stop_reason": stop})
        if event == "oops":
            raise self.provider_error("oops", as_text(payload.get("why"), "why"))
        return []


class Ticker(HTTPProvider):
    name = "ticker"
    default_base_url = "http://127.0.0.1:1"

    def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
        body = {"prompt": [m.content for m in request.messages], "stream": stream}
        return HTTPRequest(f"{self.base_url}/tick", {"x-ticker-key": self.api_key}, body)

    def new_parser(self) -> StreamParser:
        return TickerParser(provider=self.name)

    def parse_answer(self, payload: Any) -> ChatResponse:
        text = as_text(as_object(payload, "answer").get("text"), "text")
        return ChatResponse(content=text, delta=False)


def events(*pairs: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in pairs)


ANSWER = events(
    ("token", {"t": "Hel"}),
    ("ping", {}),
    ("token", {"t": "lo"}),
    ("call", {"id": "c1", "name": "now", "args": {"tz": "UTC"}}),
    ("end", {"in": 3, "out": 4}),
)


def ticker(server: ProviderServer, **options: Any) -> Ticker:
    return Ticker(api_key="tk-secret-1234", model="t1", base_url=server.url, **options)


async def test_collect_response_after_a_retry(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(b"busy", status=503), Reply(ANSWER, pieces=7))
    async with ticker(provider_server, retry=RetryPolicy(max_retries=1, base_delay=0)) as p:
        final = await p.stream_chat(REQUEST).pipe(rxo.collect_response())
    assert final.content == "Hello"
    assert [(c.name, c.parse_arguments()) for c in final.tool_calls] == [("now", {"tz": "UTC"})]
    assert final.stop_reason is StopReason.TOOL_CALL and final.usage is not None
    assert final.usage.total == 7
    assert len(provider_server.seen) == 2
    assert provider_server.seen[1].headers["x-ticker-key"] == "tk-secret-1234"
    assert provider_server.seen[1].headers["Accept"] == "text/event-stream"
    assert provider_server.seen[1].body == {"prompt": ["Hi"], "stream": True}


async def test_the_idle_limit_and_the_partial_response(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(events(("token", {"t": "Hel"})), hang=True))
    async with ticker(provider_server, timeout=Timeouts(idle=0.2)) as p:
        _, error = await run_stream(p.stream_chat(REQUEST))
    assert isinstance(error, ProviderTimeoutError) and error.kind == "idle"
    assert error.partial is not None and error.partial.content == "Hel"


async def test_disposing_closes_the_connection(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(events(("token", {"t": "a"})), hang=True))
    async with ticker(provider_server) as p:
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        subscription = p.stream_chat(REQUEST).subscribe(
            lambda _: first.done() or first.set_result(None)
        )
        await asyncio.wait_for(first, 10)
        subscription.dispose()
        await asyncio.wait_for(provider_server.disconnected.wait(), 10)


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (events(("token", {"t": 5})), "t is not a string"),
        (events(("end", {"in": "many"})), "not a token count"),
        (b"event: token\ndata: [1]\n\n", "not a JSON object"),
    ],
)
async def test_data_of_the_wrong_shape_is_malformed(
    provider_server: ProviderServer, body: bytes, what: str
) -> None:
    provider_server.reply(Reply(body))
    async with ticker(provider_server) as p:
        _, error = await run_stream(p.stream_chat(REQUEST))
    assert isinstance(error, ProviderStreamError)
    assert error.kind == "malformed" and what in error.message and error.provider == "ticker"


async def test_in_band_error_and_end_of_stream(provider_server: ProviderServer) -> None:
    provider_server.reply(
        Reply(events(("token", {"t": "a"}), ("oops", {"why": "overheated"}))),
        Reply(events(("token", {"t": "a"}))),
    )
    async with ticker(provider_server) as p:
        _, error = await run_stream(p.stream_chat(REQUEST))
        assert isinstance(error, ProviderStreamError)
        assert (error.kind, error.code, error.message) == ("provider_error", "oops", "overheated")
        assert error.partial is not None and error.partial.content == "a"
        _, cut = await run_stream(p.stream_chat(REQUEST))
        assert isinstance(cut, IncompleteStreamError)


async def test_chat_uses_parse_answer(provider_server: ProviderServer) -> None:
    provider_server.reply(Reply(b'{"text": "whole"}', headers={"Content-Type": "application/json"}))
    async with ticker(provider_server) as p:
        assert (await p.chat(REQUEST)).content == "whole"
    assert provider_server.seen[0].body["stream"] is False


def test_a_provider_without_its_hooks_cannot_be_built() -> None:
    class Half(HTTPProvider):
        name = "half"

        def build_request(self, request: ChatRequest, *, stream: bool) -> HTTPRequest:
            raise AssertionError

    with pytest.raises(TypeError, match="abstract"):
        Half(api_key="k", model="m", base_url="http://x")  # type: ignore[abstract]
