"""Reading one wire event's JSON object, loudly: the first step of every dialect parser.

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

from typing import Any

from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._json import loads

__all__ = ["load_object"]


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
