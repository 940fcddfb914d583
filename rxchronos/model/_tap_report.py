"""Reporting a model stream into a running graph through the context-variable tap.

:func:`tapped` wraps a provider's stream: at subscribe time it looks up
:func:`rxchronos._tap.current_tap`; outside a graph run there is no tap and the subscriber is wired
straight to the source (no cost per delta). Inside one, it reports ``model_call`` (provider, model),
one ``model_chunk`` per delta (a JSON-able dict) and ``model_response`` (the collected response).

Example:
    >>> import reactivex
    >>> from rxchronos._tap import reset_tap, set_tap
    >>> from rxchronos.model import ChatResponse
    >>> seen = []
    >>> token = set_tap(lambda kind, data: seen.append(kind))
    >>> _ = tapped(reactivex.of(ChatResponse(content="Hi")), provider="p", model="m").subscribe()
    >>> reset_tap(token)
    >>> seen
    ['model_call', 'model_chunk', 'model_response']
"""

from __future__ import annotations

from typing import Any

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable

from rxchronos._tap import current_tap
from rxchronos.model._collect import ResponseCollector
from rxchronos.model._types import ChatResponse

__all__ = ["tapped"]


def tapped(
    source: reactivex.Observable[ChatResponse], *, provider: str, model: str
) -> reactivex.Observable[ChatResponse]:
    """``source``, reporting to the current tap (if any) of each subscriber."""

    def subscribe(
        observer: abc.ObserverBase[ChatResponse], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        tap = current_tap()
        if tap is None:
            return source.subscribe(observer, scheduler=scheduler)
        tap("model_call", {"provider": provider, "model": model})
        collector = ResponseCollector()

        def on_next(delta: ChatResponse) -> None:
            tap("model_chunk", delta.model_dump(mode="json", exclude_defaults=True))
            collector.add(delta)
            observer.on_next(delta)

        def on_completed() -> None:
            data: dict[str, Any] = collector.result().model_dump(mode="json")
            tap("model_response", {"provider": provider, "model": model, **data})
            observer.on_completed()

        subscription = source.subscribe(
            on_next, observer.on_error, on_completed, scheduler=scheduler
        )
        return Disposable(subscription.dispose)

    return reactivex.create(subscribe)
