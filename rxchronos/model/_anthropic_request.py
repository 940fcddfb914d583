"""Request bodies in the Anthropic Messages format.

- system messages go to the top-level ``system`` text (joined with blank lines);
- an assistant message becomes content blocks: its signed thinking blocks first (from
  ``provider_data["anthropic_thinking"]``, unchanged), then its text, then one ``tool_use`` block
  per tool call (``input`` is the parsed arguments object);
- a tool message becomes a ``tool_result`` block in a user turn; consecutive turns of the same role
  are merged, so the results of parallel calls travel together as Anthropic requires;
- tools become ``{"name", "description", "input_schema"}``; ``max_tokens`` is required by the API
  and defaults to :data:`DEFAULT_MAX_TOKENS`; ``stop`` becomes ``stop_sequences``.

``ChatRequest.response_format`` has no Messages-API equivalent and is not sent;
``ChatRequest.metadata`` is the caller's own bookkeeping and is not sent either.

Example:
    >>> from rxchronos.model import ChatRequest, Message
    >>> body = messages_body(
    ...     ChatRequest(messages=[Message(role="system", content="Be brief."),
    ...                           Message(role="user", content="Hi")]),
    ...     model="claude-sonnet-4-5", stream=True)
    >>> body["system"], body["messages"], body["max_tokens"]
    ('Be brief.', [{'role': 'user', 'content': [{'type': 'text', 'text': 'Hi'}]}], 4096)
"""

from __future__ import annotations

from typing import Any

from rxchronos.model._anthropic_dialect import THINKING_KEY
from rxchronos.model._sampling import sampling_fields
from rxchronos.model._turns import build_turns
from rxchronos.model._types import ChatRequest, Message, Role

__all__ = ["DEFAULT_MAX_TOKENS", "messages_body"]

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` sent when the request does not set one (the Messages API requires it)."""


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    thinking = (message.provider_data or {}).get(THINKING_KEY)
    if isinstance(thinking, list):
        blocks.extend(block for block in thinking if isinstance(block, dict))
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks.extend(
        {
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": call.parse_arguments(),
        }
        for call in message.tool_calls
    )
    return blocks


def _turn(message: Message) -> tuple[str, list[dict[str, Any]]]:
    if message.role is Role.ASSISTANT:
        return "assistant", _assistant_blocks(message)
    if message.role is Role.TOOL:
        if not message.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        result = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
            "content": message.content or "",
        }
        return "user", [result]
    return "user", [{"type": "text", "text": message.content or ""}]


def messages_body(request: ChatRequest, *, model: str, stream: bool) -> dict[str, Any]:
    """The JSON body of a Messages request (see the module docstring).

    Raises:
        ToolArgumentsError: an assistant tool call's arguments are not a JSON object.
        ValueError: a tool message without ``tool_call_id``.
    """
    system, turns = build_turns(request.messages, _turn, parts_key="content")
    body: dict[str, Any] = {
        "model": model,
        "messages": turns,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = system
    if stream:
        body["stream"] = True
    body.update(sampling_fields(request, max_tokens=None, stop="stop_sequences"))
    if request.tools:
        body["tools"] = [
            {
                "name": tool.function.name,
                "description": tool.function.description,
                "input_schema": tool.function.parameters,
            }
            for tool in request.tools
        ]
    return body
