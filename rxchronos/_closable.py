""":class:`AsyncClosable`: ``async with thing:`` calls ``await thing.aclose()`` on the way out.

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

from types import TracebackType
from typing import Self

__all__ = ["AsyncClosable"]


class AsyncClosable:
    """Mixin: ``async with thing:`` calls ``await thing.aclose()`` on the way out."""

    __slots__ = ()

    async def aclose(self) -> None:
        """Release what the object owns; nothing by default."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
