"""The extension point for a provider's wire dialect: a pure stream parser.

A :class:`StreamParser` turns one wire event into a list of ``ChatResponse`` deltas. It does no I/O,
so it is unit-testable without a server and the HTTP hot path stays small. The HTTP layer
(:mod:`rxchronos.model._http`) feeds it:

- for SSE providers, every dispatched event as ``feed(event.event, event.data)`` (comments never
  reach the parser; named events like Anthropic's ``message_start`` or ``ping`` do);
- for NDJSON providers (Ollama), every line as ``feed("message", line)``.

A parser must:

- return ``[]`` for events that carry nothing for the user (pings, role-only chunks, filter
  annotations): an empty return means "no progress" for the idle timeout;
- raise :class:`~rxchronos.model.ProviderStreamError` for an in-band error, and for malformed data
  (never skip it silently). When the failing event also carries data (OpenRouter sends ``usage``
  next to its ``error`` object; Cohere's ``message-end`` has an error next to the usage), put that
  data on the error as its ``partial`` delta (``self._fail(kind, message, carried=values)``): the
  HTTP layer folds it into the partial response it attaches, so nothing the provider sent is lost;
- set ``finished`` once the provider's terminal marker was seen (``[DONE]``, ``message_stop``, a
  Gemini ``finishReason``, Ollama ``done: true``); EOF before that is an
  :class:`~rxchronos.model.IncompleteStreamError`. ``finished`` may also be set at EOF by
  :meth:`StreamParser.end` for dialects whose end is EOF after a final chunk (Gemini);
- give tool-call fragments their *slot* as ``index`` (use :class:`ToolSlots`).

:class:`ParserBase` gives a parser ``finished``, a no-op ``end()``, ``_fail()`` and a ``_load()``
that turns invalid JSON into a ``ProviderStreamError``; build deltas with
:func:`~rxchronos.model._types.fast_delta` on the hot path.

Example:
    >>> from rxchronos.model._openai_dialect import OpenAIChatParser
    >>> parser = OpenAIChatParser(provider="openai")
    >>> chunk = '{"id": "c1", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}'
    >>> parser.feed("message", chunk)[0].content
    'Hi'
    >>> parser.feed("message", "[DONE]"), parser.finished
    ([], True)
"""

from __future__ import annotations

from typing import Any, Protocol

from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._json import loads
from rxchronos.model._types import ChatResponse, fast_delta

__all__ = ["ParserBase", "StreamParser", "ToolSlots"]


class StreamParser(Protocol):
    """A provider dialect's pure parser: wire events in, deltas out (see the module docstring)."""

    @property
    def finished(self) -> bool:
        """Whether the provider's terminal marker was seen."""
        ...

    def feed(self, event: str, data: str) -> list[ChatResponse]:
        """Parse one wire event (SSE event type and data, or ``"message"`` and an NDJSON line)."""
        ...

    def end(self) -> list[ChatResponse]:
        """Called once at EOF; returns last deltas, if any. May set ``finished``."""
        ...


class ParserBase:
    """Optional base of a dialect parser: ``finished``, a no-op ``end()``, typed failures, JSON,
    the tool-call slots (``_slots``) and the response id (``_id``) with :meth:`_out` to stamp it.

    Subclasses implement ``feed`` (and add their own ``__slots__``).
    """

    __slots__ = ("_id", "_provider", "_slots", "finished")

    def __init__(self, *, provider: str) -> None:
        self._provider = provider
        self._slots = ToolSlots()
        self._id = ""
        self.finished = False

    def _out(self, values: dict[str, Any]) -> list[ChatResponse]:
        """``values`` as the one delta of an event, with the response id; none when empty."""
        if not values:
            return []
        values["id"] = self._id
        return [fast_delta(values)]

    def end(self) -> list[ChatResponse]:
        """Nothing to flush by default (the terminal marker is an event)."""
        return []

    def _fail(
        self, kind: str, message: str, *, carried: dict[str, Any] | None = None
    ) -> ProviderStreamError:
        """An in-band error; ``carried`` is the failing event's own data, as ``fast_delta`` values.

        The data becomes the error's ``partial`` (one delta); the HTTP layer folds it into the
        response collected so far.
        """
        partial = fast_delta(carried) if carried else None
        return ProviderStreamError(message, provider=self._provider, type=kind, partial=partial)

    def _load(self, event: str, data: str) -> Any:
        """``data`` parsed as JSON, or a ``ProviderStreamError`` (never a silent skip)."""
        try:
            return loads(data)
        except ValueError:
            if event == "error":
                raise self._fail("error", data[:2000]) from None
            raise self._fail("malformed_chunk", f"not JSON: {data[:200]!r}") from None


class ToolSlots:
    """Maps a provider's way of keying tool calls to slots 0, 1, ... in order of first appearance.

    - a fragment with a wire ``key`` (OpenAI ``index``, Anthropic block index) goes to that key's
      slot, unless it brings an id different from the one already in that slot: a new id at a used
      key is a new call (Ollama's ``/v1`` gives every parallel call ``index: 0``);
    - a fragment with no key but an id goes to that id's slot (Mistral);
    - a fragment with neither continues the latest slot (or opens the first one).

    Example:
        >>> slots = ToolSlots()
        >>> [slots.slot(0, "a"), slots.slot(0, None), slots.slot(0, "b"), slots.slot(None, "c")]
        [0, 0, 1, 2]
    """

    __slots__ = ("_by_id", "_by_key", "_ids", "_latest")

    def __init__(self) -> None:
        self._by_key: dict[object, int] = {}
        self._by_id: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._latest = -1

    def __len__(self) -> int:
        return len(self._ids)

    def _open(self, call_id: str | None) -> int:
        slot = len(self._ids)
        self._ids.append(call_id)
        if call_id:
            self._by_id[call_id] = slot
        self._latest = slot
        return slot

    def slot(self, key: object | None, call_id: str | None) -> int:
        """The slot of a fragment with wire key ``key`` and id ``call_id`` (either may be None)."""
        if key is None:
            if call_id:
                found = self._by_id.get(call_id)
                if found is None:
                    return self._open(call_id)
                self._latest = found
                return found
            return self._latest if self._latest >= 0 else self._open(None)
        found = self._by_key.get(key)
        if found is not None:
            known = self._ids[found]
            if not call_id or known == call_id:
                self._latest = found
                return found
            if not known:
                self._ids[found] = call_id
                self._by_id[call_id] = found
                self._latest = found
                return found
        slot = self._open(call_id)
        self._by_key[key] = slot
        return slot
