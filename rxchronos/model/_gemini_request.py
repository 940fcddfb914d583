"""Request bodies in the Gemini ``generateContent`` format.

- system messages become ``systemInstruction``; user turns have role ``user``, assistant turns role
  ``model``; consecutive turns of the same role are merged (parallel function responses travel
  together);
- an assistant message's tool calls become ``functionCall`` parts (``args`` is the parsed arguments
  object) with their ``thoughtSignature`` sent back unchanged;
- a tool message becomes a ``functionResponse`` part named after the call it answers (looked up by
  ``tool_call_id`` among the earlier assistant tool calls, or ``Message.name``); a JSON-object
  content is the ``response``, anything else is wrapped as ``{"result": ...}``;
- tools become ``functionDeclarations``; ``max_tokens``, ``temperature``, ``top_p``, ``stop`` and an
  OpenAI-style ``response_format`` go to ``generationConfig``.

Example:
    >>> from rxchronos.model import ChatRequest, Message
    >>> body = contents_body(ChatRequest(messages=[Message(role="system", content="Be brief."),
    ...                                            Message(role="user", content="Hi")]))
    >>> body["systemInstruction"], body["contents"]
    ({'parts': [{'text': 'Be brief.'}]}, [{'role': 'user', 'parts': [{'text': 'Hi'}]}])
"""

from __future__ import annotations

import json
from typing import Any

from rxchronos.model._gemini_dialect import SIGNATURE_KEY, TEXT_SIGNATURE_KEY
from rxchronos.model._sampling import sampling_fields
from rxchronos.model._turns import build_turns, tool_names
from rxchronos.model._types import ChatRequest, Message, Role, ToolDefinition

__all__ = ["contents_body", "tool_result_name"]


def tool_result_name(message: Message, names: dict[str, str]) -> str:
    """The name of the tool a ``Role.TOOL`` message answers.

    Raises:
        ValueError: neither ``Message.name`` nor a known ``tool_call_id`` names it.
    """
    name = message.name or names.get(message.tool_call_id or "")
    if not name:
        raise ValueError(
            f"cannot tell which tool the tool message with tool_call_id={message.tool_call_id!r} "
            "answers: include the assistant message with that tool call, or set Message.name"
        )
    return name


def _response_object(content: str | None) -> dict[str, Any]:
    try:
        value = json.loads(content or "")
    except ValueError:
        return {"result": content or ""}
    return value if isinstance(value, dict) else {"result": value}


def _model_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    signature = (message.provider_data or {}).get(TEXT_SIGNATURE_KEY)
    if message.content:
        text: dict[str, Any] = {"text": message.content}
        if signature and not message.tool_calls:
            text["thoughtSignature"] = signature
        parts.append(text)
    for call in message.tool_calls:
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.parse_arguments()}}
        call_signature = (call.provider_data or {}).get(SIGNATURE_KEY)
        if call_signature:
            part["thoughtSignature"] = call_signature
        parts.append(part)
    return parts


def _declaration(tool: ToolDefinition) -> dict[str, Any]:
    function = tool.function
    out: dict[str, Any] = {"name": function.name, "description": function.description}
    if function.parameters.get("properties"):  # Gemini rejects an object schema with no properties
        out["parameters"] = function.parameters
    return out


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config = sampling_fields(
        request, max_tokens="maxOutputTokens", top_p="topP", stop="stopSequences"
    )
    fmt = request.response_format
    if fmt and fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema:
            config["responseJsonSchema"] = schema
    return config


def contents_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a ``generateContent`` request (see the module docstring).

    Raises:
        ToolArgumentsError: an assistant tool call's arguments are not a JSON object.
        ValueError: a tool message whose tool cannot be named.
    """
    names = tool_names(request.messages)

    def convert(message: Message) -> tuple[str, list[dict[str, Any]]]:
        if message.role is Role.ASSISTANT:
            return "model", _model_parts(message)
        if message.role is Role.TOOL:
            response = {
                "name": tool_result_name(message, names),
                "response": _response_object(message.content),
            }
            return "user", [{"functionResponse": response}]
        return "user", [{"text": message.content or ""}]

    system, contents = build_turns(request.messages, convert, parts_key="parts")
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    return body
