"""The :class:`Provider` protocol: what every model provider offers.

A provider is anything with ``name``, ``model``, a cold ``stream_chat`` Observable, an async
``chat``, and ``aclose``/``async with``. The HTTP providers get all of it from
:class:`~rxchronos.model._http.HTTPProvider`; :class:`~rxchronos.model.ScriptedProvider` and
:class:`~rxchronos.model.FallbackProvider` implement it directly.

Example:
    >>> from rxchronos.model import ScriptedProvider
    >>> isinstance(ScriptedProvider(), Provider)
    True
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import reactivex

from rxchronos.model._types import ChatRequest, ChatResponse

__all__ = ["Provider"]


@runtime_checkable
class Provider(Protocol):
    """A model provider.

    ``stream_chat(request)`` is cold: each subscription sends one request; disposing the
    subscription cancels it and closes its connection. Its items are ``ChatResponse`` deltas, and it
    completes only after the provider's terminal marker.

    Example:
        >>> import asyncio
        >>> from rxchronos.model import ChatRequest, Message, ScriptedProvider
        >>> async def ask(provider: Provider, question: str) -> str:  # any provider will do
        ...     request = ChatRequest(messages=[Message(role="user", content=question)])
        ...     async with provider:
        ...         answer = await provider.chat(request)
        ...     return f"{provider.name}: {answer.content}"
        >>> asyncio.run(ask(ScriptedProvider(["Paris."]), "The capital of France?"))
        'scripted: Paris.'
    """

    @property
    def name(self) -> str:
        """The provider's name, e.g. ``"openai"``."""
        ...

    @property
    def model(self) -> str:
        """The default model, used when a request does not name one."""
        ...

    def stream_chat(self, request: ChatRequest) -> reactivex.Observable[ChatResponse]:
        """The answer to ``request`` as a cold Observable of deltas."""
        ...

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """The whole answer to ``request`` (``delta=False``)."""
        ...

    async def aclose(self) -> None:
        """Release what the provider owns (its HTTP session)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
