"""``stream_mode(...)``: views of a run's event stream, as an operator.

========================  ===========================  =============================================
mode                      from events                  emits
========================  ===========================  =============================================
``values``                ``node_end``, ``step_end``   the state after each step (read-only mapping)
``updates``               ``node_end``                 ``{node_id: update}`` per task: what it wrote
``messages``              ``model_call``, ``model_     the ``StreamEvent`` (``data`` is the request,
                          chunk``, ``model_response``  delta or response)
``custom``                ``custom``                   the event's ``data``: ``{"type", "data"}``
``checkpoints``           ``checkpoint``               the event's ``data``: ``checkpoint_id``,
                                                       ``step``, ``next_node``, ``paused``
``debug``                 every event                  the ``StreamEvent``
========================  ===========================  =============================================

With one mode the operator emits the values above; with several it emits ``(mode, value)`` pairs in
event order (an event that several modes want gives one pair per mode, in the order the modes were
given).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Literal
from typing import get_args

from reactivex import Observable
from reactivex import abc

from rxchronos._errors import InvalidArgumentError
from rxchronos.graph._events import EventType
from rxchronos.graph._events import StreamEvent

__all__ = ["StreamMode", "stream_mode"]

StreamMode = Literal["values", "updates", "messages", "custom", "checkpoints", "debug"]
_MODES: tuple[str, ...] = get_args(StreamMode)

_Extract = Callable[[StreamEvent], Any]


def _identity(event: StreamEvent) -> StreamEvent:
    return event


def _data(event: StreamEvent) -> Any:
    return event.data


_SKIP = object()


def _values(event: StreamEvent) -> Any:
    """The state after each step: a one-task step's ``node_end``, a parallel step's
    ``step_end`` (the ``node_end`` of a parallel branch carries a view of its own, skipped)."""
    if event.type is EventType.NODE_END and event.data is not None and event.data.get("parallel"):
        return _SKIP
    return event.state


def _updates(event: StreamEvent) -> Any:
    return {event.node_id: event.update}


_VIEWS: dict[str, tuple[tuple[EventType, ...], _Extract]] = {
    "values": ((EventType.NODE_END, EventType.STEP_END), _values),
    "updates": ((EventType.NODE_END,), _updates),
    "messages": (
        (EventType.MODEL_CALL, EventType.MODEL_CHUNK, EventType.MODEL_RESPONSE),
        _identity,
    ),
    "custom": ((EventType.CUSTOM,), _data),
    "checkpoints": ((EventType.CHECKPOINT,), _data),
    "debug": (tuple(EventType), _identity),
}


def stream_mode(
    *modes: StreamMode,
) -> Callable[[Observable[StreamEvent]], Observable[Any]]:
    """View a run's events the way you need them (see the table in this module).

    ::

        --node_start--node_end(a)--edge--node_start--node_end(b)--completed--|
                             stream_mode("updates")
        ---------------{a: upd}-------------------------{b: upd}-------------|

    Args:
        *modes: one or more of ``"values"``, ``"updates"``, ``"messages"``, ``"custom"``,
            ``"checkpoints"``, ``"debug"``.

    Raises:
        ValueError: no mode, an unknown mode, or the same mode twice.

    Example:
        >>> import asyncio
        >>> from reactivex import operators as ops
        >>> from rxchronos import operators as rxo
        >>> from rxchronos.graph import Runner, StateGraph
        >>> g = (StateGraph("g").add_node("a", lambda s: {"x": 1}).add_node("b", lambda s: {"y": 2})
        ...      .set_entry_point("a").add_edge("a", "b").compile())
        >>> async def main():
        ...     return await Runner(g).stream("s1", {}).pipe(
        ...         rxo.stream_mode("updates"), ops.to_list())
        >>> asyncio.run(main())
        [{'a': {'x': 1}}, {'b': {'y': 2}}]
    """
    if not modes:
        raise InvalidArgumentError(f"stream_mode() needs at least one mode, one of {list(_MODES)}")
    unknown = [m for m in modes if m not in _VIEWS]
    if unknown:
        raise InvalidArgumentError(f"unknown stream mode(s) {unknown}; choose from {list(_MODES)}")
    if len(set(modes)) != len(modes):
        raise InvalidArgumentError(f"stream_mode() got a mode twice: {list(modes)}")
    table: dict[str, list[tuple[str, _Extract]]] = {}
    for mode in modes:
        types, extract = _VIEWS[mode]
        for kind in types:
            table.setdefault(kind, []).append((mode, extract))
    single = len(modes) == 1

    def operator(source: Observable[StreamEvent]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            def on_next(event: StreamEvent) -> None:
                views = table.get(event.type)
                if views is None:
                    return
                for mode, extract in views:
                    value = extract(event)
                    if value is not _SKIP:
                        observer.on_next(value if single else (mode, value))

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return Observable(subscribe)

    return operator
