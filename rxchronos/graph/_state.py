"""A run's state: read-only values, how a node's update is merged, and what JSON can hold.

**Read-only without a deep copy per event.** The runner never mutates a state mapping: after each
node it builds a new mapping (copy-on-write, one shallow copy per node) and freezes only the values
the node returned. Frozen values are ``dict`` and ``list`` subclasses whose mutating methods raise
[ReadOnlyStateError][rxchronos.graph.ReadOnlyStateError] (a ``TypeError``), so they compare equal
to plain dicts and lists, serialise to JSON as they are, and can be shared by every event, every
checkpoint and every later node at no cost. ``dict(state)`` or ``list(value)`` gives a mutable
copy. Values of other types (your own classes, pydantic models) are
shared by reference: make them immutable (``frozen=True``) if nodes might change them.

**What JSON can hold.** ``json.dumps`` fails on an object it does not know without saying where it
is, and it silently turns non-string dict keys into strings (``{1: "a"}`` comes back as
``{"1": "a"}``). ``dumps_checked`` says exactly where: ``state['config']['items'][2]``. It
serves checkpoint stores and ``emit()`` data.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import NoReturn

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.graph._errors import ReadOnlyStateError
from rxchronos.graph._errors import StateSerializationError

__all__ = [
    "ATOMIC",
    "EMPTY_STATE",
    "FrozenDict",
    "FrozenList",
    "JsonProblem",
    "KeyConflict",
    "ReducerFailed",
    "add_messages",
    "append",
    "apply_writes",
    "decode_branches",
    "dumps_checked",
    "encode_branches",
    "encode_state",
    "find_problem",
    "format_path",
    "freeze",
    "freeze_mapping",
    "merge_update",
    "node_update",
    "with_update",
]


def _refusal(operation: str, verb: str | None = None, kind: str = "key") -> Callable[..., NoReturn]:
    """A mutating method of a read-only value: raises `ReadOnlyStateError`, naming the key (or
    index) when the method takes one (``verb`` says what it was going to do with it)."""

    def refuse(_self: Any, *args: Any, **_kwargs: Any) -> NoReturn:
        if verb is not None and args:
            raise ReadOnlyStateError(verb, args[0], kind=kind)
        raise ReadOnlyStateError(operation)

    refuse.__name__ = operation
    return refuse


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses mutation (with
    [ReadOnlyStateError][rxchronos.graph.ReadOnlyStateError]); equal to, and JSON-serialisable
    as, a plain dict."""

    __slots__ = ()

    __setitem__ = _refusal("__setitem__", "set")
    __delitem__ = _refusal("__delitem__", "delete")
    pop = _refusal("pop", "pop")
    setdefault = _refusal("setdefault", "set")
    clear = _refusal("clear")
    popitem = _refusal("popitem")
    update = _refusal("update")
    __ior__ = _refusal("|=")

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


class FrozenList(list[Any]):
    """A ``list`` that refuses mutation (with
    [ReadOnlyStateError][rxchronos.graph.ReadOnlyStateError]); equal to, and JSON-serialisable
    as, a plain list."""

    __slots__ = ()

    __setitem__ = _refusal("__setitem__", "set", "index")
    __delitem__ = _refusal("__delitem__", "delete", "index")
    pop = _refusal("pop", "pop", "index")
    append = _refusal("append")
    extend = _refusal("extend")
    insert = _refusal("insert")
    remove = _refusal("remove")
    clear = _refusal("clear")
    sort = _refusal("sort")
    reverse = _refusal("reverse")
    __iadd__ = _refusal("+=")
    __imul__ = _refusal("*=")

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __repr__(self) -> str:
        return list.__repr__(self)


ATOMIC = frozenset({str, int, float, bool, type(None), bytes, FrozenDict, FrozenList, frozenset})
"""Types ``freeze`` returns as they are (immutable, or frozen already)."""


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
        rxchronos.graph._errors.ReadOnlyStateError: graph state is read-only: cannot call ...
    """
    kind = type(value)
    if kind in ATOMIC:
        return value
    # the atomic check is repeated inline for the items: most are atoms or frozen already, and a
    # call per item would cost more than the check
    if isinstance(value, Mapping):
        return FrozenDict({k: v if type(v) in ATOMIC else freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList([v if type(v) in ATOMIC else freeze(v) for v in value])
    if isinstance(value, set):
        return frozenset(value)
    return value


def freeze_mapping(values: Mapping[str, Any]) -> FrozenDict:
    """Freeze the values of a top-level mapping (a node's update, an initial state)."""
    if type(values) is FrozenDict:
        return values
    return FrozenDict({k: v if type(v) in ATOMIC else freeze(v) for k, v in values.items()})


EMPTY_STATE = FrozenDict()
_MISSING = object()
_update = dict.update


def merge_update(
    node_id: str, state: FrozenDict, result: object, *, merge: bool = True
) -> tuple[FrozenDict, FrozenDict]:
    """Merge what a node returned into ``state``: ``(new_state, changed_keys)``.

    Only keys whose value is a different object count as changed, so a node may return the whole
    state; their values are frozen. With ``merge=False`` the state is not copied and comes back as
    it is (see `node_update`). Raises ``TypeError`` for anything but a mapping with string keys (or
    ``None``).

    Example:
        >>> state, changed = merge_update("a", FrozenDict({"x": 1, "y": 2}), {"x": 1, "y": 3})
        >>> dict(state), dict(changed)
        ({'x': 1, 'y': 3}, {'y': 3})
    """
    if result is None:
        return state, EMPTY_STATE
    if type(result) is not dict and not isinstance(result, Mapping):
        raise ArgumentTypeError(
            f"node {node_id!r} returned {type(result).__name__}; a node returns a mapping of the "
            "state keys it changes (or None)"
        )
    get = state.get
    changed = {}
    for key, value in result.items():
        if get(key, _MISSING) is not value:
            if type(key) is not str:
                raise ArgumentTypeError(f"node {node_id!r} returned a non-string state key {key!r}")
            changed[key] = value if type(value) in ATOMIC else freeze(value)
    if not changed:
        return state, EMPTY_STATE
    if not merge:
        return state, FrozenDict(changed)
    new_state = FrozenDict(state)
    _update(new_state, changed)
    return new_state, FrozenDict(changed)


class KeyConflict(Exception):
    """Two writes of one step to a key without a reducer (the runner raises
    ``InvalidUpdateError`` for it)."""

    def __init__(self, key: str, nodes: tuple[str, ...]) -> None:
        super().__init__(key, nodes)
        self.key = key
        self.nodes = nodes


class ReducerFailed(Exception):
    """A reducer raised while one step's writes were applied (the runner raises ``NodeError``
    for the node whose write it was merging, with ``error`` as the cause)."""

    def __init__(self, index: int, key: str, error: Exception) -> None:
        super().__init__(index, key, error)
        self.index = index
        self.key = key
        self.error = error


def with_update(state: FrozenDict, update: Mapping[str, Any]) -> FrozenDict:
    """``state`` with ``update`` (already frozen, as from `node_update`) merged in."""
    if not update:
        return state
    new_state = FrozenDict(state)
    _update(new_state, update)
    return new_state


def node_update(node_id: str, state: FrozenDict, result: object) -> FrozenDict:
    """What a node wrote, frozen: the keys of ``result`` whose value is not already in ``state``
    (`merge_update` without the merged state).

    Raises ``TypeError`` for anything but a mapping with string keys (or ``None``).
    """
    return merge_update(node_id, state, result, merge=False)[1]


def apply_writes(
    state: FrozenDict,
    writes: Sequence[tuple[str, Mapping[str, Any]]],
    reducers: Mapping[str, Callable[[Any, Any], Any]],
) -> FrozenDict:
    """``state`` with every ``(node_id, update)`` of one step applied, in the order given.

    A key with a reducer becomes ``reducer(current, written)`` for each write in turn (the first
    write of a key the state lacks is taken as it is), and what the last call returned is frozen
    once (so a later write of the same step passes the reducer its own earlier result, not yet
    frozen); a key without one may be written by one task only, else `KeyConflict` names the key
    and the nodes. A reducer that raises gives `ReducerFailed`, with the place of the write it
    was merging in ``writes``.

    Example:
        >>> import operator
        >>> s = apply_writes(FrozenDict({"n": [1]}), [("a", {"n": [2]}), ("b", {"n": [3]})],
        ...                  {"n": operator.add})
        >>> s["n"]
        [1, 2, 3]
    """
    new_state = dict(state)
    writers: dict[str, str] = {}
    reduced: set[str] = set()
    for index, (node_id, update) in enumerate(writes):
        for key, value in update.items():
            reducer = reducers.get(key)
            if reducer is not None:
                if key in new_state:
                    try:
                        value = reducer(new_state[key], value)
                    except Exception as exc:
                        raise ReducerFailed(index, key, exc) from exc
                    reduced.add(key)
                new_state[key] = value
            elif key in writers:
                raise KeyConflict(key, (writers[key], node_id))
            else:
                writers[key] = node_id
                new_state[key] = value
    for key in reduced:  # once per key, not once per write: the writes are frozen already
        new_state[key] = freeze(new_state[key])
    return FrozenDict(new_state)


def append(current: Any, update: Any) -> list[Any]:
    """A reducer: the current list with the update's items after it (a single item is wrapped).

    Example:
        >>> append([1], [2, 3]), append([1], 2)
        ([1, 2, 3], [1, 2])
    """
    items = list(update) if isinstance(update, list | tuple) else [update]
    return [*current, *items]


def add_messages(current: Any, update: Any) -> list[Any]:
    """A reducer for chat messages: merge by message id, like LangGraph's ``add_messages``.

    A message of the update whose ``id`` (a key of a mapping or an attribute) is already in the
    list replaces that one, in place; the others are appended in order. Messages without an
    id are always appended.

    Example:
        >>> old = [{"id": "1", "text": "hi"}, {"id": "2", "text": "draft"}]
        >>> [m["text"] for m in add_messages(old, [{"id": "2", "text": "final"}, {"text": "ok"}])]
        ['hi', 'final', 'ok']
    """
    merged = list(current)
    where = {_message_id(m): i for i, m in enumerate(merged) if _message_id(m) is not None}
    for message in update if isinstance(update, list | tuple) else [update]:
        key = _message_id(message)
        if key is not None and key in where:
            merged[where[key]] = message
        else:
            if key is not None:
                where[key] = len(merged)
            merged.append(message)
    return merged


def _message_id(message: Any) -> Any:
    if isinstance(message, Mapping):
        return message.get("id")
    return getattr(message, "id", None)


# --- what JSON can hold ----------------------------------------------------------------------

Path = tuple[str | int, ...]
JsonProblem = tuple[Path, str]
"""Where (keys and indexes from the top) and what is wrong."""

_SCALARS = (str, int, float, bool, type(None))
_PLAIN = frozenset(_SCALARS)


def dumps_checked(value: Mapping[str, Any]) -> tuple[str, JsonProblem | None]:
    """``(json_text, None)`` when ``value`` survives a JSON round trip, else ``("", problem)``.

    The text must also be valid UTF-8, as every store and every SSE client needs it: a string with
    a lone surrogate (``"\\ud800"``) is a problem too. A flat mapping of plain values needs only
    the dump; otherwise the text is loaded back and compared (in C), and only a value that fails
    that is walked in Python to find the culprit.

    Example:
        >>> dumps_checked({"a": [1, "x"]})
        ('{"a":[1,"x"]}', None)
        >>> dumps_checked({"a": {"b": ["ok", object()]}})[1]
        (('a', 'b', 1), 'object is not JSON-serialisable')
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if not text.isascii():
            text.encode()
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
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


def encode_state(values: Mapping[str, Any]) -> str:
    """``values`` (a state, an update) as JSON text.

    Raises:
        StateSerializationError: naming the key and the place inside it that JSON cannot carry
            (nested keys, non-string dict keys and lone surrogates included).
    """
    text, problem = dumps_checked(values)
    if problem is None:
        return text
    path, reason = problem
    raise StateSerializationError(str(path[0]) if path else "<state>", reason, path)


def encode_branches(branches: Mapping[str, Any]) -> str:
    """A checkpoint's ``branches`` (``{"tasks": [...], "joins": {...}}``) as JSON text.

    Raises:
        StateSerializationError: naming the Send whose argument JSON cannot carry, and where.
    """
    text, problem = dumps_checked(branches)
    if problem is None:
        return text
    path, reason = problem
    send = "the next step's tasks"
    if len(path) > 2 and path[0] == "tasks" and isinstance(path[1], int):
        task = branches["tasks"][path[1]]
        send = f"the argument of Send({task['node']!r}, ...) (task {path[1]} of the next step)"
    raise StateSerializationError(str(path[0]) if path else "tasks", reason, path, send=send)


def decode_branches(text: object) -> FrozenDict | None:
    """A checkpoint's ``branches`` from its stored JSON text (``None`` stays ``None``).

    Raises:
        ValueError: the text is not JSON of the shape ``{"tasks": [{"node": ...}, ...],
            "joins": {...}}`` (a store reports it as a damaged checkpoint).
    """
    if text is None:
        return None
    try:
        branches = json.loads(text) if isinstance(text, str) else None
    except ValueError as exc:
        raise InvalidArgumentError(f"its branches are not valid JSON ({exc})") from exc
    if not (
        isinstance(branches, dict)
        and isinstance(branches.get("tasks"), list)
        and isinstance(branches.get("joins"), dict)
        and all(isinstance(t, dict) and isinstance(t.get("node"), str) for t in branches["tasks"])
    ):
        raise InvalidArgumentError(f"its branches are {text!r}")
    return freeze_mapping(branches)


def decode_writes(rows: Iterable[tuple[Any, Any]]) -> dict[int, FrozenDict]:
    """A step's pending writes from their stored rows of ``(task number, JSON text)``.

    Raises:
        ValueError: a row whose task is not a number or whose writes are not a JSON object (a
            store reports it as damaged).
    """
    saved: dict[int, FrozenDict] = {}
    for task, text in rows:
        try:
            writes = json.loads(text) if isinstance(text, str) else None
        except ValueError as exc:
            raise InvalidArgumentError(
                f"the writes of its task {task!r} are not valid JSON ({exc})"
            ) from exc
        if isinstance(task, bool) or not isinstance(task, int) or not isinstance(writes, dict):
            raise InvalidArgumentError(f"the writes of its task {task!r} are {text!r}")
        saved[task] = freeze_mapping(writes)
    return saved


def find_problem(value: Any, path: Path = ()) -> JsonProblem | None:
    """The first place in ``value`` that does not survive JSON as it is, or ``None``."""
    return _walk(value, path, set())


def _walk(item: Any, where: Path, ancestors: set[int]) -> JsonProblem | None:
    if isinstance(item, str):
        return _surrogate(item, where)
    if isinstance(item, int) and item.bit_length() > _SAFE_INT_BITS:
        return _too_long(item, where)
    if isinstance(item, _SCALARS):
        return None
    if id(item) in ancestors:
        return where, "it contains itself (a reference cycle)"
    if isinstance(item, Mapping):
        for key in item:
            if not isinstance(key, str):
                return where, f"its key {key!r} is a {type(key).__name__}: {_key_fate(key)}"
            problem = _surrogate(key, where)
            if problem is not None:
                return where, f"its key {key!r}: {problem[1]}"
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


_SAFE_INT_BITS = 2000
"""An int of at most this many bits (about 600 decimal digits) is within the smallest limit
Python may set for writing an int as text (640 digits, ``sys.set_int_max_str_digits``): only a
longer one is tried."""


def _too_long(number: int, where: Path) -> JsonProblem | None:
    try:
        str(number)
    except ValueError:
        limit = sys.get_int_max_str_digits()
        return where, (
            f"the int has more than {limit} digits, more than Python writes as text "
            "(sys.set_int_max_str_digits); store it as a str"
        )
    return None


def _surrogate(text: str, where: Path) -> JsonProblem | None:
    if text.isascii():
        return None
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        return where, f"it contains a lone surrogate ({bad!r}), which UTF-8 cannot encode"
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
