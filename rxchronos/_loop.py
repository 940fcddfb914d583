"""The running asyncio loop, asked for loudly.

Everything that starts work on the loop when subscribed (the async bridges, the model providers)
must be subscribed on the loop's thread. `running_loop` returns that loop, or raises a
[`NoRunningLoopError`][rxchronos.NoRunningLoopError] that says which call needed it and how to fix
the call site.

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

from rxchronos._errors import RxChronosError

__all__ = ["NoRunningLoopError", "running_loop"]


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
