"""Read-only state values: how a state snapshot stays immutable without a deep copy per event.

The runner never mutates a state mapping: after each node it builds a new mapping (copy-on-write,
one shallow copy per node) and freezes only the values the node returned. Frozen values are
``dict`` and ``list`` subclasses whose mutating methods raise ``TypeError``, so they compare equal
to plain dicts and lists, serialise to JSON as they are, and can be shared by every event, every
checkpoint and every later node at no cost. ``dict(state)`` or ``list(value)`` gives a mutable copy.

Values of other types (your own classes, pydantic models) are shared by reference: make them
immutable (``frozen=True``) if nodes might change them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, SupportsIndex

__all__ = ["ATOMIC", "FrozenDict", "FrozenList", "freeze", "freeze_mapping"]

_READ_ONLY = (
    "graph state is read-only: return the keys you change from the node instead "
    "(e.g. return {'items': [*state['items'], new]}); dict(state) gives a mutable copy"
)


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(_READ_ONLY)


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses mutation; equal to, and JSON-serialisable as, a plain dict."""

    __slots__ = ()

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        _refuse()

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


class FrozenList(list[Any]):
    """A ``list`` that refuses mutation; equal to, and JSON-serialisable as, a plain list."""

    __slots__ = ()

    __setitem__ = __delitem__ = _refuse
    append = extend = insert = remove = clear = sort = reverse = _refuse

    def pop(self, index: SupportsIndex = -1) -> NoReturn:
        _refuse()

    def __iadd__(self, other: Iterable[Any]) -> NoReturn:  # type: ignore[misc]
        _refuse()

    def __imul__(self, other: SupportsIndex) -> NoReturn:
        _refuse()

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __repr__(self) -> str:
        return list.__repr__(self)


ATOMIC = frozenset({str, int, float, bool, type(None), bytes, FrozenDict, FrozenList, frozenset})
"""Types :func:`freeze` returns as they are (immutable, or frozen already)."""


def freeze(value: Any) -> Any:
    """Return ``value`` with every dict, list, tuple and set inside it made read-only.

    Already-frozen values and atoms come back as they are, so passing state values through a node
    unchanged costs nothing.

    Example:
        >>> v = freeze({"a": [1, {"b": 2}]})
        >>> v == {"a": [1, {"b": 2}]}
        True
        >>> v["a"].append(3)
        Traceback (most recent call last):
        TypeError: graph state is read-only: ...
    """
    kind = type(value)
    if kind in ATOMIC:
        return value
    if isinstance(value, Mapping):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList([freeze(v) for v in value])
    if isinstance(value, set):
        return frozenset(value)
    return value


def freeze_mapping(values: Mapping[str, Any]) -> FrozenDict:
    """Freeze the values of a top-level mapping (a node's update, an initial state)."""
    if type(values) is FrozenDict:
        return values
    return FrozenDict({k: v if type(v) in ATOMIC else freeze(v) for k, v in values.items()})
