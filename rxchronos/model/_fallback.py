"""Trying providers in order: [FallbackProvider][rxchronos.model.FallbackProvider].

A request goes to the first provider; if it fails with a provider error *before its first delta*,
the next one gets the request, and so on. Once a delta was emitted, an error propagates (switching
providers mid-answer would mix two answers). When every provider failed, the last error propagates.

Example:
    >>> import asyncio
    >>> from rxchronos.model import (ChatRequest, Message, ProviderConnectionError,
    ...                              ScriptedProvider, ScriptedReply)
    >>> outage = ProviderConnectionError("down", provider="a")
    >>> down = ScriptedProvider([ScriptedReply(error=outage)])
    >>> provider = FallbackProvider(down, ScriptedProvider(["from the backup"]),
    ...                             on_fallback=lambda p, exc: print("fallback after", exc))
    >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
    >>> asyncio.run(provider.chat(request)).content
    fallback after down
    'from the backup'
"""

from __future__ import annotations

from collections.abc import Callable

import reactivex
from reactivex import abc
from reactivex.disposable import SerialDisposable

from rxchronos._closable import AsyncClosable
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.model._errors import ProviderError
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import Provider

__all__ = ["FallbackProvider"]

OnFallback = Callable[[Provider, Exception], None]


class FallbackProvider(AsyncClosable):
    """Providers tried in order, falling back on errors before the first delta.

    Args:
        *providers: at least one provider.
        on_fallback: called as ``on_fallback(failed_provider, error)`` before trying the next.

    Raises:
        InvalidArgumentError: no provider.
        ArgumentTypeError: a provider that is not a ``Provider`` (its position is named), or an
            ``on_fallback`` that is not callable.

    Example:
        >>> from rxchronos.model import ScriptedProvider
        >>> FallbackProvider(ScriptedProvider(model="a"), ScriptedProvider(model="b")).model
        'a'
    """

    def __init__(self, *providers: Provider, on_fallback: OnFallback | None = None) -> None:
        if not providers:
            raise InvalidArgumentError("FallbackProvider needs at least one provider")
        for number, provider in enumerate(providers, 1):
            if not isinstance(provider, Provider):
                raise ArgumentTypeError(
                    f"FallbackProvider's provider {number} is not a Provider (stream_chat, chat, "
                    f"name, model, aclose), got {type(provider).__name__}"
                )
        if on_fallback is not None and not callable(on_fallback):
            raise ArgumentTypeError(
                "FallbackProvider(on_fallback=...) takes a function of (provider, error), got "
                f"{type(on_fallback).__name__}"
            )
        self.providers = providers
        self.on_fallback = on_fallback

    @property
    def name(self) -> str:
        """``"fallback"``."""
        return "fallback"

    @property
    def model(self) -> str:
        """The first provider's model."""
        return self.providers[0].model

    def __repr__(self) -> str:
        return f"FallbackProvider({', '.join(repr(p) for p in self.providers)})"

    async def aclose(self) -> None:
        """Close every provider."""
        for provider in self.providers:
            await provider.aclose()

    def _may_fall_back(self, index: int, exc: Exception) -> bool:
        if index + 1 >= len(self.providers) or not isinstance(exc, ProviderError):
            return False
        if self.on_fallback is not None:
            self.on_fallback(self.providers[index], exc)
        return True

    def stream_chat(self, request: ChatRequest) -> reactivex.Observable[ChatResponse]:
        """The answer of the first provider that gets to its first delta.

        Example:
            >>> from rxchronos.model import ChatRequest, Message, ScriptedProvider
            >>> provider = FallbackProvider(ScriptedProvider(["ok"]))
            >>> _ = provider.stream_chat(ChatRequest(messages=[Message(role="user", content="?")])
            ...                          ).subscribe(lambda d: d.content and print(d.content))
            ok
        """
        if not isinstance(request, ChatRequest):
            raise ArgumentTypeError(
                f"stream_chat() takes a ChatRequest, got {type(request).__name__}"
            )

        def subscribe(
            observer: abc.ObserverBase[ChatResponse], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            serial = SerialDisposable()
            state = {"current": 0, "emitted": False}

            def attempt(index: int) -> None:
                def on_next(delta: ChatResponse) -> None:
                    state["emitted"] = True
                    observer.on_next(delta)

                def on_error(exc: Exception) -> None:
                    try:
                        again = not state["emitted"] and self._may_fall_back(index, exc)
                    except Exception as callback_error:
                        observer.on_error(callback_error)
                        return
                    if not again:
                        observer.on_error(exc)
                        return
                    state["current"] = index + 1
                    attempt(index + 1)

                subscription = (
                    self.providers[index]
                    .stream_chat(request)
                    .subscribe(on_next, on_error, observer.on_completed, scheduler=scheduler)
                )
                if state["current"] == index:
                    serial.disposable = subscription

            attempt(0)
            return serial

        return reactivex.create(subscribe)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """The whole answer of the first provider that answers."""
        for index, provider in enumerate(self.providers):
            try:
                return await provider.chat(request)
            except Exception as exc:
                if not self._may_fall_back(index, exc):
                    raise
        raise AssertionError("unreachable: the last provider's error propagates")
