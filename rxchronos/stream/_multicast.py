"""A Subject whose subscribers cannot break each other.

A plain ``reactivex.Subject`` calls its observers in a loop: when one raises, the rest miss the
event and the exception lands in the publisher. The broker's subscribers are independent, so
:class:`GuardedSubject` delivers to all of them and reports a subscriber's exception to the event
loop's exception handler (or re-raises it, after everyone got the event, outside a loop). The
broker is loop-affine, so no lock is taken per event.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from reactivex.subject import Subject

__all__ = ["GuardedSubject"]

_T = TypeVar("_T")


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
        first_error: Exception | None = None
        for observer in self.observers.copy():
            try:
                observer.on_next(value)
            except Exception as exc:
                if first_error is None:
                    first_error = exc
                _report(exc)
        if first_error is not None and not _in_loop():
            raise first_error


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
