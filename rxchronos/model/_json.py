"""A lean ``json.loads`` for the hot path of the dialect parsers.

``loads`` calls the C scanner that ``json.loads`` ends up in, without the per-call wrapper work,
and still rejects anything ``json.loads`` rejects (except that trailing whitespace, which Anthropic
pads its events with, is fine either way).

Example:
    >>> loads('{"a": [1, 2]}  ')
    {'a': [1, 2]}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any

__all__ = ["loads"]

_scan: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the C scanner takes a decoder


def loads(data: str) -> Any:
    """Parse one JSON document; ``ValueError`` (``json.JSONDecodeError``) when it is not one."""
    try:
        value, end = _scan(data, 0)
    except StopIteration:
        return json.loads(data)  # leading whitespace or invalid: let json say which
    if end != len(data) and data[end:].strip():
        return json.loads(data)  # extra data: raises with json's message
    return value
