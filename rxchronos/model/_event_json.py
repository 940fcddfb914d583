"""JSON objects off the wire, read loudly: one stream event, or a whole non-streaming answer.

:func:`load_object` is the first step of the dialect parsers; :func:`whole_answer` reads a
non-streaming answer whose shape is the same as one stream event's (Gemini, Ollama) by feeding it
through the stream parser and collecting the deltas.

Example:
    >>> load_object('{"type": "ping"}  ', provider="anthropic")
    {'type': 'ping'}
    >>> try:
    ...     load_object("[1]", provider="gemini")
    ... except ProviderStreamError as exc:
    ...     print(exc)
    gemini stream error (malformed_event): not a JSON object: '[1]'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rxchronos.model._collect import ResponseCollector
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._json import loads
from rxchronos.model._types import ChatResponse

__all__ = ["load_object", "whole_answer"]


def load_object(data: str, *, provider: str, event: str = "message") -> dict[str, Any]:
    """``data`` parsed as a JSON object.

    Raises:
        ProviderStreamError: ``data`` is not a JSON object (type ``malformed_event``), or is not
            JSON at all in an ``error`` event (type ``error``, the text as the message).
    """
    try:
        payload = loads(data)
    except ValueError:
        if event == "error":
            raise ProviderStreamError(data, provider=provider, type="error") from None
        raise ProviderStreamError(
            f"not JSON: {data[:200]!r}", provider=provider, type="malformed_event"
        ) from None
    if type(payload) is not dict:
        raise ProviderStreamError(
            f"not a JSON object: {data[:200]!r}", provider=provider, type="malformed_event"
        )
    return payload


def whole_answer(
    payload: Any,
    feed_object: Callable[[dict[str, Any]], list[ChatResponse]],
    end: Callable[[], list[ChatResponse]],
    *,
    provider: str,
) -> ChatResponse:
    """A ``ChatResponse(delta=False)`` from ``payload`` fed to a fresh parser's methods.

    Raises:
        ProviderStreamError: ``payload`` is not a JSON object, or the parser rejects it.
    """
    if not isinstance(payload, dict):
        raise ProviderStreamError(
            "answer is not a JSON object", provider=provider, type="malformed"
        )
    collector = ResponseCollector()
    for delta in [*feed_object(payload), *end()]:
        collector.add(delta)
    return collector.result()
