"""Folding deltas: :class:`ToolCallAccumulator` and :class:`ResponseCollector`.

Both buffer string fragments in lists and join them once when asked (no quadratic ``+=``), in the
manner of pydantic-ai's parts manager. Tool-call fragments merge by ``index`` (the slot) only: id,
name and provider data are first-non-empty-wins, arguments concatenate. ``collect_response()`` and
``accumulate_tool_calls()`` use these, and so does the HTTP layer to attach the partial response to
an error.

Example:
    >>> from rxchronos.model import ChatResponse, ToolCall
    >>> collector = ResponseCollector()
    >>> collector.add(ChatResponse(content="Hel"))
    >>> collector.add(ChatResponse(content="lo", tool_calls=(ToolCall(index=0, name="f"),)))
    >>> final = collector.result()
    >>> final.content, final.tool_calls[0].arguments
    ('Hello', '{}')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rxchronos.model._types import ChatResponse, StopReason, ToolCall, Usage

__all__ = ["ResponseCollector", "ToolCallAccumulator"]


class _Slot:
    __slots__ = ("arguments", "id", "name", "parts", "provider_data")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.parts: list[str] = []
        self.arguments: str | None = ""  # the joined parts, or None when parts changed since
        self.provider_data: dict[str, Any] | None = None


class ToolCallAccumulator:
    """Merges tool-call fragments by slot; one per subscription.

    Example:
        >>> acc = ToolCallAccumulator()
        >>> acc.add([ToolCall(index=0, id="a", name="f", arguments='{"x"')])
        >>> acc.add([ToolCall(index=0, arguments=": 1}")])
        >>> acc.calls()[0].arguments
        '{"x": 1}'
    """

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}

    def __bool__(self) -> bool:
        return bool(self._slots)

    def add(self, fragments: Iterable[ToolCall]) -> None:
        """Merge ``fragments`` into their slots."""
        slots = self._slots
        for frag in fragments:
            slot = slots.get(frag.index)
            if slot is None:
                slot = slots[frag.index] = _Slot()
            if not slot.id and frag.id:
                slot.id = frag.id
            if not slot.name and frag.name:
                slot.name = frag.name
            if frag.provider_data:
                slot.provider_data = {**frag.provider_data, **(slot.provider_data or {})}
            if frag.arguments:
                slot.parts.append(frag.arguments)
                slot.arguments = None

    def calls(self, *, complete: bool = False) -> list[ToolCall]:
        """The calls merged so far, by slot; ``complete=True`` turns empty arguments into ``{}``."""
        out = []
        for index in sorted(self._slots):
            slot = self._slots[index]
            if slot.arguments is None:
                joined = "".join(slot.parts)
                slot.parts = [joined]
                slot.arguments = joined
            arguments = slot.arguments
            if complete and not arguments.strip():
                arguments = "{}"
            out.append(
                ToolCall(
                    index=index,
                    id=slot.id,
                    name=slot.name,
                    arguments=arguments,
                    provider_data=slot.provider_data,
                )
            )
        return out


class ResponseCollector:
    """Folds deltas into one final ``ChatResponse(delta=False)``; one per subscription.

    Content, reasoning and refusal concatenate; usage and stop reason are last-value-wins; the id is
    the first non-empty one; provider data merges (later keys win).
    """

    __slots__ = (
        "_content",
        "_id",
        "_provider_data",
        "_reasoning",
        "_refusal",
        "_stop_reason",
        "_tools",
        "_usage",
        "count",
    )

    def __init__(self) -> None:
        self._id = ""
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._refusal: list[str] = []
        self._usage: Usage | None = None
        self._stop_reason: StopReason | None = None
        self._tools = ToolCallAccumulator()
        self._provider_data: dict[str, Any] | None = None
        self.count = 0
        """How many deltas were added."""

    def add(self, delta: ChatResponse) -> None:
        """Fold one delta in."""
        self.count += 1
        if not self._id and delta.id:
            self._id = delta.id
        if delta.content:
            self._content.append(delta.content)
        if delta.reasoning:
            self._reasoning.append(delta.reasoning)
        if delta.refusal:
            self._refusal.append(delta.refusal)
        if delta.tool_calls:
            self._tools.add(delta.tool_calls)
        if delta.usage is not None:
            self._usage = delta.usage
        if delta.stop_reason is not None:
            self._stop_reason = delta.stop_reason
        if delta.provider_data:
            self._provider_data = {**(self._provider_data or {}), **delta.provider_data}

    def result(self) -> ChatResponse:
        """The response collected so far, with tool calls completed (empty arguments -> ``{}``)."""
        return ChatResponse(
            id=self._id,
            content="".join(self._content),
            reasoning="".join(self._reasoning),
            refusal="".join(self._refusal),
            usage=self._usage,
            tool_calls=tuple(self._tools.calls(complete=True)),
            stop_reason=self._stop_reason,
            delta=False,
            provider_data=self._provider_data,
        )

    def partial(self) -> ChatResponse | None:
        """The response so far, or ``None`` when nothing was added (for errors)."""
        return self.result() if self.count else None
