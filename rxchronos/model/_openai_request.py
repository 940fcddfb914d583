"""Request bodies in the OpenAI Chat Completions format (OpenAI, Azure, Mistral, compatibles).

Messages with tool calls and tool results round-trip: an assistant message's ``tool_calls`` become
``{"id", "type": "function", "function": {"name", "arguments"}}`` entries and a tool message carries
``tool_call_id``. ``ChatRequest.metadata`` is the caller's own bookkeeping and is not sent.

Example:
    >>> from rxchronos.model import ChatRequest, Message
    >>> body = chat_body(ChatRequest(messages=[Message(role="user", content="Hi")]), model="m",
    ...                  stream=True, include_usage=True)
    >>> body["messages"], body["stream_options"]
    ([{'role': 'user', 'content': 'Hi'}], {'include_usage': True})
"""

from __future__ import annotations

from typing import Any

from rxchronos.model._sampling import sampling_fields
from rxchronos.model._types import ChatRequest, Message, Role

__all__ = ["chat_body", "message_dict"]


def message_dict(message: Message) -> dict[str, Any]:
    """One message in the OpenAI wire format."""
    out: dict[str, Any] = {"role": message.role.value}
    if message.role is Role.ASSISTANT and message.tool_calls:
        out["content"] = message.content
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments or "{}"},
            }
            for call in message.tool_calls
        ]
    else:
        out["content"] = message.content or ""
    if message.name:
        out["name"] = message.name
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def chat_body(
    request: ChatRequest,
    *,
    model: str | None,
    stream: bool,
    include_usage: bool,
    max_tokens_field: str = "max_tokens",
) -> dict[str, Any]:
    """The JSON body of a Chat Completions request; ``model=None`` leaves the field out (Azure)."""
    body: dict[str, Any] = {"messages": [message_dict(m) for m in request.messages]}
    if model is not None:
        body["model"] = model
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    body.update(sampling_fields(request, max_tokens=max_tokens_field))
    if request.tools:
        body["tools"] = [tool.model_dump(mode="json") for tool in request.tools]
    if request.response_format is not None:
        body["response_format"] = request.response_format
    return body
