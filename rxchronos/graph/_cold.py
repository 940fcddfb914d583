"""``ColdRun``: the Observable behind ``runner.stream(...)``, with a one-object subscription.

``reactivex.Observable.subscribe`` routes every subscription through the current-thread
trampoline (so that a source emitting synchronously during subscribe can be cancelled) and wraps
the observer in an ``AutoDetachObserver`` with two more disposables. A run never emits during
subscribe (it starts a task on the event loop) and its runner already stops delivering once the
subscription ends, so all of that only costs time: several microseconds per run, a large share of a
small graph's overhead. Here one :class:`RunSubscription` is the observer's stand-in and the
disposable at once. Everything else (operators via ``pipe``, the observer protocol) is plain
reactivex.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import BuiltinFunctionType, FunctionType, MethodType
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.internal.basic import default_error, noop

__all__ = ["ColdRun", "RunSubscription"]

_T = TypeVar("_T")
_CALLBACKS = frozenset({FunctionType, MethodType, BuiltinFunctionType, type(None)})
"""Types of ``on_next`` that are plain callbacks, never observers: no need to look further."""


class RunSubscription(abc.DisposableBase):
    """One subscription to a :class:`ColdRun`: the subscriber's callbacks and how to stop the run.

    ``on_next`` is the subscriber's own callback (the run calls it directly, and stops calling
    it when the subscription ends); ``on_error`` and ``on_completed`` end the subscription, once.
    """

    __slots__ = ("_on_completed", "_on_error", "cancel", "on_next", "stopped")

    def __init__(
        self,
        on_next: Callable[[Any], None],
        on_error: Callable[[Exception], None],
        on_completed: Callable[[], None],
    ) -> None:
        self.on_next = on_next
        self._on_error = on_error
        self._on_completed = on_completed
        self.stopped = False
        self.cancel: Callable[[], None] = noop
        """Set by the runner: cancels the run (only called if the subscription is disposed
        before the run ended)."""

    def on_error(self, error: Exception) -> None:
        """The run failed: tell the subscriber (once)."""
        if not self.stopped:
            self.stopped = True
            self._on_error(error)

    def on_completed(self) -> None:
        """The run ended: tell the subscriber (once)."""
        if not self.stopped:
            self.stopped = True
            self._on_completed()

    def dispose(self) -> None:
        """Unsubscribe: cancel the run at its next await (a no-op once the run has ended)."""
        if not self.stopped:
            self.stopped = True
            self.cancel()


class ColdRun(Observable[_T]):
    """An Observable whose ``start`` function begins one run per subscription; it never emits
    synchronously (only from loop tasks).

    ``start(subscription)`` starts the run and sets ``subscription.cancel``.
    """

    def __init__(self, start: Callable[[RunSubscription], None]) -> None:
        # what Observable.__init__ sets, without its trip through a dozen mixins (half the cost
        # of a small run's stream() call); the tests check the attributes stay the same
        self.lock = threading.RLock()
        self._subscribe = None
        self._start = start

    def subscribe(
        self,
        on_next: abc.ObserverBase[_T] | abc.OnNext[_T] | None = None,
        on_error: abc.OnError | None = None,
        on_completed: abc.OnCompleted | None = None,
        *,
        scheduler: abc.SchedulerBase | None = None,
    ) -> abc.DisposableBase:
        """Subscribe an observer or callbacks, as :meth:`reactivex.Observable.subscribe`."""
        if type(on_next) not in _CALLBACKS and (
            isinstance(on_next, abc.ObserverBase) or callable(getattr(on_next, "on_next", None))
        ):
            given: Any = on_next
            on_next, on_error, on_completed = given.on_next, given.on_error, given.on_completed
        subscription = RunSubscription(
            on_next or noop,  # type: ignore[arg-type]
            on_error or default_error,
            on_completed or noop,
        )
        self._start(subscription)
        return subscription

    def _subscribe_core(
        self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self.subscribe(observer, scheduler=scheduler)
