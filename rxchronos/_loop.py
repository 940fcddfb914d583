"""The running asyncio loop, asked for loudly.

Everything that starts work on the loop when subscribed (the async bridges, the model providers)
must be subscribed on the loop's thread. `running_loop` returns that loop, or raises a
[`NoRunningLoopError`][rxchronos.NoRunningLoopError] that says which call needed it and how to fix
the call site. `Ending` is a future on that loop that the end of a stream settles.

Example:
    >>> import asyncio
    >>> try:
    ...     running_loop("stream.subscribe()")
    ... except NoRunningLoopError as exc:
    ...     print(str(exc).split(" (")[0])
    stream.subscribe() must run on the asyncio event loop's thread
    >>> async def main():
    ...     return running_loop("here") is asyncio.get_running_loop()
    >>> asyncio.run(main())
    True
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from rxchronos._errors import RxChronosError

__all__ = ["Ending", "NoRunningLoopError", "running_loop"]


class NoRunningLoopError(RxChronosError, RuntimeError):
    """A call that needs the running asyncio loop was made where no loop runs (another thread,
    or plain synchronous code)."""


def running_loop(what: str) -> asyncio.AbstractEventLoop:
    """The running loop; ``what`` names the call that needs it, for the error message.

    Raises:
        NoRunningLoopError: no asyncio loop runs in this thread.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise NoRunningLoopError(
            f"{what} must run on the asyncio event loop's thread (inside a coroutine or a loop "
            "callback, e.g. in `async def main()` run by asyncio.run); no running asyncio loop "
            "was found"
        ) from None


class Ending:
    """The end of a stream as an awaitable: ``fail`` (an observer's ``on_error``) and ``complete``
    (its ``on_completed``) settle it; whatever ends it second is ignored. Make it on the loop.

    Example:
        >>> import reactivex
        >>> async def main() -> None:
        ...     ending = Ending()
        ...     reactivex.of(1, 2).subscribe(print, ending.fail, ending.complete)
        ...     await ending
        >>> asyncio.run(main())
        1
        2
    """

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def fail(self, error: Exception) -> None:
        """End with ``error`` (raised by ``await``), unless already ended."""
        if not self._future.done():
            self._future.set_exception(error)

    def complete(self) -> None:
        """End normally, unless already ended."""
        if not self._future.done():
            self._future.set_result(None)

    def __await__(self) -> Generator[Any, None, None]:
        return self._future.__await__()
