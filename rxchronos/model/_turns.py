"""Conversation turns for APIs that keep the system prompt apart and want merged turns.

Anthropic and Gemini both take the system prompt outside the conversation and require the parts
of one speaker to travel in one turn (the results of parallel tool calls in one user turn, say).
:func:`build_turns` does that split and merge; each dialect only converts one message into its
``(role, parts)``. :func:`tool_names` maps tool-call ids to tool names, for dialects that answer a
call by the tool's name.

Example:
    >>> from rxchronos.model import Message
    >>> system, turns = build_turns(
    ...     [Message(role="system", content="Be brief."), Message(role="user", content="Hi"),
    ...      Message(role="user", content="There?")],
    ...     lambda m: ("user", [m.content]), parts_key="parts")
    >>> system, turns
    ('Be brief.', [{'role': 'user', 'parts': ['Hi', 'There?']}])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rxchronos.model._types import Message, Role

__all__ = ["build_turns", "tool_names"]


def build_turns(
    messages: Iterable[Message],
    convert: Callable[[Message], tuple[str, list[Any]]],
    *,
    parts_key: str,
) -> tuple[str, list[dict[str, Any]]]:
    """The system text (system messages joined by blank lines) and the merged non-system turns.

    ``convert(message) -> (role, parts)``; a message with no parts is left out, and consecutive
    messages with the same role share one turn ``{"role": role, parts_key: [...]}``.
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role is Role.SYSTEM:
            if message.content:
                system.append(message.content)
            continue
        role, parts = convert(message)
        if not parts:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1][parts_key].extend(parts)
        else:
            turns.append({"role": role, parts_key: parts})
    return "\n\n".join(system), turns


def tool_names(messages: Iterable[Message]) -> dict[str, str]:
    """Tool-call id -> tool name, from the assistant messages' tool calls."""
    return {
        call.id: call.name
        for message in messages
        if message.role is Role.ASSISTANT
        for call in message.tool_calls
        if call.id
    }
