"""Delivering one event to many observers, none of which can break the others.

A plain ``reactivex.Subject`` calls its observers in a loop: when one raises, the rest miss the
event and the exception lands in the publisher. The broker's subscribers are independent, so
:func:`deliver` gives the value to all of them and reports an observer's exception to the event
loop's exception handler (or re-raises it, after everyone got the value, outside a loop). The
broker is loop-affine, so no lock is taken per event.

:class:`Fanout` holds the broker's observers: those of every event, and those of each topic. It
calls them directly (no Subject, no Rx wrapper per call) from snapshots that are rebuilt only
when someone subscribes or leaves. :class:`GuardedSubject` is the same guarantee as a ``Subject``,
for the hot ``Broker.events`` stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, TypeVar

from reactivex import abc
from reactivex.subject import Subject

__all__ = ["Fanout", "GuardedSubject", "deliver"]

_T = TypeVar("_T")

_Observers = tuple[abc.ObserverBase[Any], ...]


def deliver(observers: Iterable[abc.ObserverBase[_T]], value: _T) -> None:
    """Call ``on_next(value)`` on every observer, even when some raise (see the module docs)."""
    first_error: Exception | None = None
    for observer in observers:
        try:
            observer.on_next(value)
        except Exception as exc:
            if first_error is None:
                first_error = exc
            _report(exc)
    if first_error is not None and not _in_loop():
        raise first_error


class Fanout:
    """Observers by topic (``None``: every event), called directly and guarded.

    Example:
        >>> from reactivex import Observer
        >>> fanout, seen = Fanout(), []
        >>> everything = Observer(lambda v: seen.append(("all", v)))
        >>> only_a = Observer(lambda v: seen.append(("a", v)))
        >>> fanout.add(everything, None)
        >>> fanout.add(only_a, frozenset({"a"}))
        >>> fanout.deliver("x", "a")
        >>> fanout.deliver("y", "b")
        >>> seen
        [('all', 'x'), ('a', 'x'), ('all', 'y')]
    """

    __slots__ = ("_everything", "_snapshots", "by_topic")

    def __init__(self) -> None:
        self._everything: dict[abc.ObserverBase[Any], None] = {}
        self.by_topic: dict[str, dict[abc.ObserverBase[Any], None]] = {}
        self._snapshots: dict[str | None, _Observers] = {None: ()}

    def add(self, observer: abc.ObserverBase[Any], topics: frozenset[str] | None) -> None:
        """Deliver to ``observer`` every event (``topics=None``) or those of ``topics``."""
        if topics is None:
            self._everything[observer] = None
            self._snapshots[None] = tuple(self._everything)
            return
        for topic in sorted(topics):
            observers = self.by_topic.setdefault(topic, {})
            observers[observer] = None
            self._snapshots[topic] = tuple(observers)

    def remove(self, observer: abc.ObserverBase[Any], topics: frozenset[str] | None) -> None:
        """Stop delivering to ``observer`` (what :meth:`add` was given)."""
        if topics is None:
            self._everything.pop(observer, None)
            self._snapshots[None] = tuple(self._everything)
            return
        for topic in topics:
            observers = self.by_topic.get(topic)
            if observers is None:
                continue
            observers.pop(observer, None)
            if observers:
                self._snapshots[topic] = tuple(observers)
            else:
                del self.by_topic[topic]
                del self._snapshots[topic]

    def deliver(self, event: Any, topic: str | None) -> None:
        """Give ``event`` to every-event observers, then to those of ``topic``."""
        snapshots = self._snapshots
        everything = snapshots[None]
        if topic is not None:
            of_topic = snapshots.get(topic)
            if of_topic:
                deliver(everything + of_topic if everything else of_topic, event)
                return
        if everything:
            deliver(everything, event)


class GuardedSubject(Subject[_T]):
    """A ``Subject`` that delivers every value to every observer even when one of them raises.

    Example:
        >>> subject = GuardedSubject()
        >>> seen = []
        >>> _ = subject.subscribe(lambda v: seen.append(("a", v)))
        >>> _ = subject.subscribe(lambda v: seen.append(("b", v)))
        >>> subject.on_next(1)
        >>> seen
        [('a', 1), ('b', 1)]
    """

    def on_next(self, value: _T) -> None:
        if self.is_stopped or self.is_disposed:
            return
        deliver(self.observers.copy(), value)


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _report(exc: Exception) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    message = "a broker subscriber raised in on_next (the others got the event)"
    loop.call_exception_handler({"message": message, "exception": exc})
