"""The OpenAI Responses API stream parser on inline events (pure: no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rxchronos.model import ProviderStreamError
from rxchronos.model import StopReason
from rxchronos.model import ToolCall
from rxchronos.model import Usage
from rxchronos.model._responses import ResponsesParser

from .conftest import collect
from .conftest import parse_all
from .conftest import responses_function_call


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def test_text_reasoning_calls_and_usage() -> None:
    body = sse(
        {"type": "response.created", "response": {"id": "resp_1"}},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "Think."},
        {"type": "response.output_text.delta", "output_index": 1, "delta": "Calling"},
        *responses_function_call(2, "call_a", "f", '{"x"', ": 1}"),
        {
            "type": "response.completed",
            "response": {"usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}},
        },
    )
    parser = ResponsesParser(provider="openai")
    final = collect(parse_all(parser, body, [3] * 400))
    assert parser.finished
    assert (final.id, final.reasoning, final.content) == ("resp_1", "Think.", "Calling")
    assert final.tool_calls == (ToolCall(index=0, id="call_a", name="f", arguments='{"x": 1}'),)
    assert final.stop_reason is StopReason.TOOL_CALL
    assert final.usage == Usage(prompt_tokens=5, completion_tokens=7, total_tokens=12)


def test_incomplete_and_failed() -> None:
    cut = sse(
        {"type": "response.output_text.delta", "output_index": 0, "delta": "Lo"},
        {
            "type": "response.incomplete",
            "response": {"incomplete_details": {"reason": "max_output_tokens"}},
        },
    )
    assert (
        collect(parse_all(ResponsesParser(provider="o"), cut)).stop_reason is StopReason.MAX_TOKENS
    )
    failed = sse({"type": "response.failed", "response": {"error": {"code": "server_error"}}})
    with pytest.raises(ProviderStreamError) as caught:
        parse_all(ResponsesParser(provider="o"), failed)
    assert caught.value.code == "server_error"
