"""Show a stream live in a notebook cell: [`live`][rxchronos.notebook.live] and the
[`LiveView`][rxchronos.notebook.LiveView] it returns.

The view subscribes on the kernel's running asyncio loop and returns at once, so the cell
finishes and the kernel stays free while tokens arrive; the cell's output is one display that is
updated in place (at most every ``interval`` seconds, and once more at the end). Views are kept by
name: showing a stream under a name that is already live disposes the old subscription first, so
re-running a cell never stacks subscriptions.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from html import escape
from typing import Any

import reactivex
from reactivex import abc

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.notebook._ipython import ipython_display

__all__ = ["LiveView", "live", "live_views"]

_views: dict[str, LiveView] = {}


def live(
    observable: reactivex.Observable[Any],
    *,
    name: str = "live",
    format: Callable[[Any], str] | None = None,
    max_lines: int = 40,
    interval: float = 0.05,
) -> LiveView:
    """Display ``observable`` in the current cell, updating the output as items arrive.

    Strings (model tokens, e.g. ``chunks.pipe(rxo.text())``) are joined into one text; any other
    item becomes one line (``format(item)``, or for events ``seq type task``: the task id names
    the node and, for parallel branches, the branch, after its subgraph's path), of which the last
    ``max_lines`` are shown. A status line says whether the stream is running, completed, failed
    (with the error) or stopped.

    Args:
        observable: the stream to show; subscribed once, now, on the running loop.
        name: the view's name. A live view with the same name is disposed first (re-running a
            cell replaces its stream); use different names to show several streams at once.
        format: how to turn a non-string item into a line.
        max_lines: how many lines of non-string items to keep (memory stays bounded).
        interval: the least time between two updates of the output, in seconds.

    Returns:
        The [`LiveView`][rxchronos.notebook.LiveView]: ``await view.wait()`` waits for the end,
        ``view.dispose()`` stops.

    Raises:
        RuntimeError: when no asyncio loop is running (call it from a notebook cell or a
            coroutine).
        ValueError: for a non-positive ``max_lines`` or a negative ``interval``.
        NotebookExtraMissingError: when IPython is not installed.

    Example:
        >>> import asyncio, reactivex
        >>> from rxchronos.notebook import live
        >>> async def main() -> str:
        ...     view = live(reactivex.of("Hello", ", ", "world"), name="greeting")
        ...     await view.wait()
        ...     return view.text
        >>> asyncio.run(main())  # outside a notebook only the first frame is printed
        [live: greeting · streaming · 0 items]
        'Hello, world'
    """
    if not isinstance(max_lines, int) or max_lines < 1:
        raise InvalidArgumentError(f"max_lines must be a positive int, got {max_lines!r}")
    if interval < 0:
        raise InvalidArgumentError(f"interval must be >= 0 seconds, got {interval!r}")
    if not isinstance(observable, reactivex.Observable):
        raise ArgumentTypeError(
            f"live() needs a reactivex Observable, got {type(observable).__name__}"
        )
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "live() needs a running asyncio loop: call it in a notebook cell (IPython runs one) "
            "or inside a coroutine"
        ) from None
    display = ipython_display()
    previous = _views.pop(name, None)
    if previous is not None:
        previous.dispose()
    view = LiveView(name, loop, display, format, max_lines, interval)
    _views[name] = view
    view._start(observable)
    return view


def live_views() -> dict[str, LiveView]:
    """The live views by name (a copy), e.g. to dispose them all.

    Example:
        >>> from rxchronos.notebook import live_views
        >>> for view in live_views().values():
        ...     view.dispose()
    """
    return dict(_views)


class LiveView:
    """A stream shown live in a notebook output; made by [`live`][rxchronos.notebook.live].

    Attributes:
        name: the name it is registered under.
        status: ``streaming``, ``completed``, ``failed`` or ``stopped``.
        error: the stream's error, when it failed.
        count: how many items arrived.

    Example:
        >>> import asyncio, reactivex
        >>> from rxchronos.notebook import live
        >>> async def main():
        ...     numbers = live(reactivex.of(1, 2, 3), name="numbers", format=str, max_lines=2)
        ...     await numbers.wait()
        ...     endless = live(reactivex.never(), name="endless")
        ...     endless.dispose()
        ...     return numbers.status, numbers.count, numbers.lines, endless.status
        >>> asyncio.run(main())  # outside a notebook only the first frame of each is printed
        [live: numbers · streaming · 0 items]
        [live: endless · streaming · 0 items]
        ('completed', 3, ['2', '3'], 'stopped')
    """

    def __init__(
        self,
        name: str,
        loop: asyncio.AbstractEventLoop,
        display: Any,
        format: Callable[[Any], str] | None,
        max_lines: int,
        interval: float,
    ) -> None:
        self.name = name
        self.status = "streaming"
        self.error: BaseException | None = None
        self.count = 0
        self._loop = loop
        self._display = display
        self._format = format
        self._interval = interval
        self._parts: list[str] = []
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._done: asyncio.Future[None] = loop.create_future()
        self._flush: asyncio.TimerHandle | None = None
        self._subscription: abc.DisposableBase | None = None
        self._handle: Any = display.display(_Frame(self), display_id=True)
        self._cell = _execution_count()

    @property
    def text(self) -> str:
        """The strings that arrived, joined."""
        return "".join(self._parts)

    @property
    def lines(self) -> list[str]:
        """The last lines of non-string items."""
        return list(self._lines)

    async def wait(self) -> None:
        """Wait until the stream ends or the view is disposed.

        Raises:
            Exception: the stream's error, when it failed.
        """
        await asyncio.shield(self._done)
        if self.error is not None:
            raise self.error

    def dispose(self) -> None:
        """Stop: dispose the subscription and mark the output ``stopped``. Idempotent."""
        if self.status != "streaming":
            return
        self.status = "stopped"
        self._finish()

    def _start(self, observable: reactivex.Observable[Any]) -> None:
        try:
            subscription = observable.subscribe(self._on_next, self._on_error, self._on_completed)
        except Exception as exc:  # shown in the output, and raised to the cell
            self._on_error(exc)
            raise
        if self.status == "streaming":
            self._subscription = subscription
        else:
            subscription.dispose()

    def _on_next(self, item: Any) -> None:
        if self.status != "streaming":
            return
        try:
            if isinstance(item, str):
                self._parts.append(item)
            else:
                self._lines.append(self._format(item) if self._format else _describe(item))
        except Exception as exc:  # a failing format() ends the view, visibly
            self._on_error(exc)
            return
        self.count += 1
        if self._flush is None:
            self._flush = self._loop.call_later(self._interval, self._update)

    def _on_error(self, error: Exception) -> None:
        if self.status == "streaming":
            self.status, self.error = "failed", error
            self._finish()

    def _on_completed(self) -> None:
        if self.status == "streaming":
            self.status = "completed"
            self._finish()

    def _finish(self) -> None:
        if self._subscription is not None:
            self._subscription.dispose()
            self._subscription = None
        if _views.get(self.name) is self:
            del _views[self.name]
        self._update()
        if not self._done.done():
            self._done.set_result(None)

    def _update(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._handle is not None:
            self._handle.update(_Frame(self))

    def _ipython_display_(self) -> None:
        # The view is already shown where live() ran; shown again from a later cell, it is a
        # second output of the same display, updated together with the first.
        if _execution_count() != self._cell and self._handle is not None:
            self._display.display(_Frame(self), display_id=self._handle.display_id)

    def __repr__(self) -> str:
        return f"<LiveView {self.name!r} {self.status}, {self.count} items>"


class _Frame:
    """One rendering of a view: HTML for the notebook, plain text for everything else."""

    __slots__ = ("body", "status")

    def __init__(self, view: LiveView) -> None:
        status = f"live: {view.name} · {view.status} · {view.count} items"
        if view.error is not None:
            status += f" · {type(view.error).__name__}: {view.error}"
        self.status = status
        lines = "\n".join(view.lines)
        self.body = view.text + ("\n" if view.text and lines else "") + lines

    def _repr_html_(self) -> str:
        return (
            '<div class="rxchronos-live"><div style="font-size:11px;opacity:.7">'
            f'{escape(self.status)}</div><pre style="white-space:pre-wrap;margin:2px 0">'
            f"{escape(self.body)}</pre></div>"
        )

    def __repr__(self) -> str:
        return f"[{self.status}]\n{self.body}" if self.body else f"[{self.status}]"


def _describe(item: Any) -> str:
    kind = getattr(item, "type", None)
    if kind is None:
        return repr(item)
    kind = getattr(kind, "value", kind)
    # the task (``plan:1``, ``tool:3:0``) tells parallel branches apart; a subgraph's tasks come
    # after the path of tasks they run in (``research:2/x:1``)
    where = getattr(item, "task_id", None) or getattr(item, "node_id", "") or ""
    ns = getattr(item, "ns", None) or ()
    parts = [
        str(getattr(item, "seq", "") or ""),
        str(kind),
        "/".join([*map(str, ns), str(where)]) if where else "",
    ]
    return " ".join(p for p in parts if p)


def _execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    count = getattr(shell, "execution_count", None)
    return count if isinstance(count, int) else None
