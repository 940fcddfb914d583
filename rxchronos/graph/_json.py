"""Finding what in a value JSON cannot hold: for checkpointed state and ``emit()`` data.

``json.dumps`` fails on an object it does not know without saying where it is, and it silently
turns non-string dict keys into strings (``{1: "a"}`` comes back as ``{"1": "a"}``). The checks
here say exactly where: ``state['config']['items'][2]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["JsonProblem", "dumps_checked", "find_problem", "format_path"]

Path = tuple[str | int, ...]
JsonProblem = tuple[Path, str]
"""Where (keys and indexes from the top) and what is wrong."""

_SCALARS = (str, int, float, bool, type(None))
_PLAIN = frozenset(_SCALARS)


def dumps_checked(value: Mapping[str, Any]) -> tuple[str, JsonProblem | None]:
    """``(json_text, None)`` when ``value`` survives a JSON round trip, else ``("", problem)``.

    A flat mapping of plain values needs only the dump; otherwise the text is loaded back and
    compared (in C), and only a value that fails that is walked in Python to find the culprit.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return "", find_problem(value) or ((), "it cannot be encoded as JSON")
    for key, item in value.items():
        if type(key) is not str or type(item) not in _PLAIN:
            break
    else:
        return text, None  # flat and plain: nothing JSON could have changed
    if json.loads(text) == value:
        return text, None
    problem = find_problem(value)  # None: only NaN (unequal to itself) made the compare fail
    return ("", problem) if problem is not None else (text, None)


def find_problem(value: Any, path: Path = ()) -> JsonProblem | None:
    """The first place in ``value`` that does not survive JSON as it is, or ``None``."""
    return _walk(value, path, set())


def _walk(item: Any, where: Path, ancestors: set[int]) -> JsonProblem | None:
    if isinstance(item, _SCALARS):
        return None
    if id(item) in ancestors:
        return where, "it contains itself (a reference cycle)"
    if isinstance(item, Mapping):
        for key in item:
            if not isinstance(key, str):
                return where, f"its key {key!r} is a {type(key).__name__}: {_key_fate(key)}"
        children: Any = item.items()
    elif isinstance(item, Sequence) and not isinstance(item, bytes | bytearray):
        children = enumerate(item)
    else:
        return where, f"{type(item).__name__} is not JSON-serialisable"
    ancestors.add(id(item))
    try:
        for key, child in children:
            problem = _walk(child, (*where, key), ancestors)
            if problem is not None:
                return problem
    finally:
        ancestors.discard(id(item))
    return None


def _key_fate(key: object) -> str:
    try:
        text = json.dumps({key: None})
    except (TypeError, ValueError):
        return "JSON object keys are strings"
    return f"JSON object keys are strings (it would come back as {next(iter(json.loads(text)))!r})"


def format_path(root: str, path: Path) -> str:
    """``state['config']['items'][2]`` for ``("config", "items", 2)``."""
    return root + "".join(f"[{part!r}]" for part in path)
