"""The sampling fields of a :class:`~rxchronos.model.ChatRequest`, under a provider's own names.

Every provider takes ``max_tokens``, ``temperature``, ``top_p`` and ``stop`` but calls them
differently (``num_predict``, ``topP``, ``stop_sequences``, ...). :func:`sampling_fields` returns
the ones the request sets, renamed, so that each request builder only names them.

Example:
    >>> from rxchronos.model import ChatRequest, Message
    >>> request = ChatRequest(messages=[Message(role="user", content="Hi")], top_p=0.5, stop=["."])
    >>> sampling_fields(request, max_tokens="max_tokens", top_p="p", stop="stop_sequences")
    {'p': 0.5, 'stop_sequences': ['.']}
"""

from __future__ import annotations

from typing import Any

from rxchronos.model._types import ChatRequest

__all__ = ["sampling_fields"]


def sampling_fields(
    request: ChatRequest,
    *,
    max_tokens: str | None,
    temperature: str = "temperature",
    top_p: str = "top_p",
    stop: str = "stop",
) -> dict[str, Any]:
    """The sampling fields ``request`` sets, each under the given name.

    Args:
        request: the request.
        max_tokens: the name for ``max_tokens``; ``None`` leaves it out (the caller sends it).
        temperature: the name for ``temperature``.
        top_p: the name for ``top_p``.
        stop: the name for ``stop`` (sent as a list).

    Returns:
        A new dict in the order above, without the fields the request leaves unset.
    """
    fields: dict[str, Any] = {}
    if max_tokens is not None and request.max_tokens is not None:
        fields[max_tokens] = request.max_tokens
    if request.temperature is not None:
        fields[temperature] = request.temperature
    if request.top_p is not None:
        fields[top_p] = request.top_p
    if request.stop:
        fields[stop] = list(request.stop)
    return fields
