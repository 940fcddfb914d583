"""rxchronos' own operators, used like ``reactivex.operators``.

Every operator is a function returning ``Callable[[Observable[T]], Observable[R]]``, to be used in
``.pipe(...)``. State that an operator keeps (an accumulator, a buffer) is created per subscription.

Example:
    >>> import reactivex
    >>> from rxchronos import operators as rxo
    >>> from types import SimpleNamespace as E
    >>> seen = []
    >>> _ = reactivex.of(E(type="a"), E(type="b"), E(type="c")).pipe(
    ...     rxo.of_type("a", "c")).subscribe(lambda e: seen.append(e.type))
    >>> seen
    ['a', 'c']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import TypeVar

import reactivex
from reactivex import operators as ops

from rxchronos._errors import InvalidArgumentError
from rxchronos.graph import by_namespace
from rxchronos.graph import in_subgraph
from rxchronos.graph import stream_mode
from rxchronos.graph import top_level
from rxchronos.model._operators import accumulate_tool_calls
from rxchronos.model._operators import citations
from rxchronos.model._operators import coalesce_text
from rxchronos.model._operators import collect_response
from rxchronos.model._operators import content_parts
from rxchronos.model._operators import reasoning
from rxchronos.model._operators import server_tool_calls
from rxchronos.model._operators import server_tool_results
from rxchronos.model._operators import text

_T = TypeVar("_T")

__all__ = [
    "accumulate_tool_calls",
    "by_namespace",
    "citations",
    "coalesce_text",
    "collect_response",
    "content_parts",
    "in_subgraph",
    "of_type",
    "reasoning",
    "server_tool_calls",
    "server_tool_results",
    "stream_mode",
    "text",
    "top_level",
]


def of_type(*types: str) -> Callable[[reactivex.Observable[_T]], reactivex.Observable[_T]]:
    """Keep only the items whose ``.type`` is one of ``types``.

    Works on anything with a ``type`` attribute: graph ``StreamEvent``s, broker ``Event``s. Enum
    values compare by their string value.

    ::

        --a--b--c--a--|   of_type("a")
        --a--------a--|

    Args:
        *types: the event types to keep; at least one.

    Raises:
        ValueError: when no type is given.

    Example:
        >>> import asyncio
        >>> from reactivex import operators as ops
        >>> from rxchronos.graph import EventType, Runner, StateGraph
        >>> g = StateGraph("g").add_node("a", lambda s: {"x": 1}).set_entry_point("a").compile()
        >>> async def main():
        ...     kept = Runner(g).stream("s1").pipe(
        ...         of_type(EventType.NODE_START, "completed"), ops.to_list())
        ...     return [(str(e.type), e.node_id) for e in await kept]
        >>> asyncio.run(main())
        [('node_start', 'a'), ('completed', 'a')]
    """
    if not types:
        raise InvalidArgumentError(
            "of_type() needs at least one event type, e.g. of_type('node_end')"
        )
    wanted = frozenset(str(t) for t in types)

    def _matches(item: Any) -> bool:
        kind = getattr(item, "type", None)
        return kind is not None and (kind in wanted or getattr(kind, "value", None) in wanted)

    return ops.filter(_matches)
