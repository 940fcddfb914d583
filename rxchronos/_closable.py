"""`AsyncClosable`: ``async with thing:`` calls ``await thing.aclose()`` on the way out; and
`AsyncResource`, the protocol of such a thing (what the provider and broker protocols extend).

Example:
    >>> import asyncio
    >>> class Connection(AsyncClosable):
    ...     async def aclose(self) -> None:
    ...         print("closed")
    >>> async def main() -> None:
    ...     async with Connection():
    ...         print("using it")
    >>> asyncio.run(main())
    using it
    closed
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from types import TracebackType
from typing import Protocol
from typing import Self

__all__ = ["AsyncClosable", "AsyncResource"]


class AsyncClosable(ABC):
    """Mixin: ``async with thing:`` calls ``await thing.aclose()`` on the way out.

    ``aclose`` is abstract: a class that owns nothing to release has no business being closable.
    """

    __slots__ = ()

    @abstractmethod
    async def aclose(self) -> None:
        """Release what the object owns (idempotent)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncResource(Protocol):
    """Something that owns resources: ``await it.aclose()``, or ``async with it:``."""

    async def aclose(self) -> None:
        """Release what the object owns (idempotent)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
