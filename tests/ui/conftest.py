"""Fixtures for the frontend protocol tests: a live app on 127.0.0.1 and the node clients."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from rxchronos.demo import build_agent
from rxchronos.demo import demo_provider
from rxchronos.graph import CheckpointStore
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import ScriptedProvider
from rxchronos.model import ScriptedReply
from rxchronos.model import ToolCall
from rxchronos.sse import ServerSentEvent
from rxchronos.sse import SSEDecoder
from tests.conftest import skip_or_fail

JS_DIR = Path(__file__).parent.parent / "js"

USER = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Umbrella?"}]}


def chat(chat_id: str, *messages: dict[str, Any]) -> dict[str, Any]:
    return {"id": chat_id, "messages": list(messages or (USER,)), "trigger": "submit-message"}


def agent_run(thread_id: str, run_id: str, question: str = "Hi") -> dict[str, Any]:
    """An AG-UI ``RunAgentInput`` with one user message."""
    messages = [{"id": "u", "role": "user", "content": question}]
    return {"threadId": thread_id, "runId": run_id, "messages": messages}


async def read_events(
    response: aiohttp.ClientResponse, until: str | None = None, *, nth: int = 1
) -> list[ServerSentEvent]:
    """The events of ``response``; with ``until``, up to the ``nth`` whose data contains it."""
    decoder, events, found = SSEDecoder(), [], 0
    async for chunk in response.content.iter_any():
        for event in decoder.feed(chunk):
            events.append(event)
            if until is not None and until in event.data:
                found += 1
                if found == nth:
                    return events
    return events


def scripted_model(delay: float = 0.0) -> ScriptedProvider:
    """A model that reasons, answers and calls a tool, the same way every time."""

    def reply(request: ChatRequest) -> ScriptedReply:
        return ScriptedReply(
            reasoning="The user wants the weather.",
            text="Let me look that up for you right now.",
            tool_calls=[ToolCall(name="get_forecast", arguments='{"city": "Paris"}')],
        )

    return ScriptedProvider(reply, delay=delay, fragment_size=5)


def anthropic_answer() -> ChatResponse:
    """The collected answer of a real Anthropic stream with content parts (reasoning with its
    signature, web search, a citation, an MCP call, a failed code execution, an unknown block)."""
    from rxchronos.model._anthropic import AnthropicParser
    from tests.model.conftest import collect
    from tests.model.conftest import fixture_bytes
    from tests.model.conftest import parse_all

    data = fixture_bytes("anthropic/server_tools_citations.sse")
    return collect(parse_all(AnthropicParser(provider="anthropic"), data))


def parts_model() -> ScriptedProvider:
    """A model that streams `anthropic_answer`'s parts, each non-text part whole, in order."""
    parts = anthropic_answer().parts
    return ScriptedProvider(lambda request: ScriptedReply(parts=parts))


def demo_runner(delay: float = 0.0, store: CheckpointStore | None = None) -> Runner:
    """The demo agent (plan, model, tool, approve, answer) on ``store`` (a memory store unless
    given)."""
    return Runner(build_agent(demo_provider(delay=delay)), store or MemoryStore())


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Any]]:
    """Start an app on 127.0.0.1; returns its base URL."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with tests/js/node_modules installed (``npm ci`` in tests/js)."""
    found = shutil.which("node")
    if found is None:
        skip_or_fail("node (Node.js 20+) is not installed", require_env="RXCHRONOS_REQUIRE_NODE")
    if (
        not (JS_DIR / "node_modules" / "ai").is_dir()
        or not (JS_DIR / "node_modules" / "@ag-ui" / "client").is_dir()
    ):
        skip_or_fail(
            "the JavaScript clients are not installed: run `npm ci` in tests/js",
            require_env="RXCHRONOS_REQUIRE_NODE",
        )
    assert found is not None
    return found


async def run_node(node: str, script: str, *args: str) -> Any:
    """Run ``tests/js/<script>`` with ``args``; its stdout is one JSON document."""
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS_DIR / script),
        *args,
        cwd=JS_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, f"{script} failed:\n{err.decode()[-4000:]}"
    return json.loads(out)
