"""A broker belongs to one event loop: which one, refusing other threads, and reaching it from them.

A :class:`~rxchronos.stream.Broker` takes no lock per event: everything it does runs on its event
loop's thread. :class:`LoopAffinity` remembers that loop (the running one when the broker is
created, subscribed to or published to), refuses a publish from another thread with a
:class:`~rxchronos.stream.BrokerError` that names the way out, and runs a call on the loop for
``publish_threadsafe``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import TypeVar

from rxchronos.stream._errors import BrokerError

__all__ = ["LoopAffinity"]

_T = TypeVar("_T")


class LoopAffinity:
    """The event loop (and its thread) a broker runs on, once it has been used on one.

    Example:
        >>> import asyncio
        >>> affinity = LoopAffinity()
        >>> async def main():
        ...     affinity.check()  # binds to the running loop
        ...     future = await asyncio.to_thread(affinity.call_soon, lambda: "on the loop")
        ...     return await asyncio.wrap_future(future)
        >>> asyncio.run(main())
        'on the loop'
    """

    __slots__ = ("loop", "thread")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: int | None = None
        self.bind()

    def bind(self) -> None:
        """Adopt the running event loop, if there is one (a later loop replaces an earlier one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop is not self.loop:
            self.loop = loop
            self.thread = threading.get_ident()

    def check(self) -> None:
        """Bind on first use; raise ``BrokerError`` on a thread other than the loop's."""
        if self.thread is None:
            self.bind()
        elif self.thread != threading.get_ident():
            raise BrokerError(
                "Broker.publish() was called from another thread than its event loop's; "
                "use publish_threadsafe() there"
            )

    def call_soon(
        self, call: Callable[[], _T], loop: asyncio.AbstractEventLoop | None = None
    ) -> concurrent.futures.Future[_T]:
        """Run ``call`` on ``loop`` (default: the bound one), from any thread.

        Returns:
            A future of its result (or of the exception it raised).

        Raises:
            BrokerError: when no loop is bound yet and ``loop`` is not given.
        """
        target = loop or self.loop
        if target is None:
            raise BrokerError(
                "publish_threadsafe() does not know the broker's event loop yet: create, "
                "subscribe to or publish to the broker on its loop first, or pass loop="
            )
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

        target.call_soon_threadsafe(run)
        return future
