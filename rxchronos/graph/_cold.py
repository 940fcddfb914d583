"""``ColdRun``: the Observable behind ``runner.stream(...)``, minus the trampoline.

``reactivex.Observable.subscribe`` routes every subscription through the current-thread
trampoline, so that a source emitting synchronously during subscribe can be cancelled. A run never
emits during subscribe (it starts a task on the event loop), so the trampoline only costs time:
several microseconds per run, which is a large share of a small graph's overhead. Everything else
(auto-detaching observer, disposal, operators via ``pipe``) is plain reactivex.
"""

from __future__ import annotations

from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.observer import AutoDetachObserver

__all__ = ["ColdRun"]

_T = TypeVar("_T")


class ColdRun(Observable[_T]):
    """An Observable whose subscribe function never emits synchronously (only from loop tasks)."""

    def subscribe(
        self,
        on_next: abc.ObserverBase[_T] | abc.OnNext[_T] | None = None,
        on_error: abc.OnError | None = None,
        on_completed: abc.OnCompleted | None = None,
        *,
        scheduler: abc.SchedulerBase | None = None,
    ) -> abc.DisposableBase:
        """Subscribe an observer or callbacks, as :meth:`reactivex.Observable.subscribe`."""
        if isinstance(on_next, abc.ObserverBase) or callable(getattr(on_next, "on_next", None)):
            given: Any = on_next
            on_next, on_error, on_completed = given.on_next, given.on_error, given.on_completed
        observer: AutoDetachObserver[_T] = AutoDetachObserver(
            on_next,  # type: ignore[arg-type]
            on_error,
            on_completed,
        )
        observer.subscription = self._subscribe_core(observer, scheduler)
        return Disposable(observer.dispose)
