"""The one place where a model stream reports into a running graph.

``rxchronos.model`` must not import ``rxchronos.graph``. Instead, the graph runner installs a *tap*
(a plain callable) in a context variable while a node runs; a model stream subscribed inside that
node looks the tap up with `current_tap` at subscribe time and reports ``model_call``,
``model_chunk`` and ``model_response`` through it. Outside a run there is no tap and reporting is a
no-op.

The tap is called on the event-loop thread as ``tap(event_type, data)``, where ``data`` is a
JSON-serialisable mapping. It must not raise; the graph side makes sure of that.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from contextvars import ContextVar
from contextvars import Token
from typing import Any

__all__ = ["Tap", "current_tap", "reset_tap", "set_tap"]

Tap = Callable[[str, Mapping[str, Any]], None]
"""``tap(event_type, data)``: report one event of a model stream to whoever listens."""

_current_tap: ContextVar[Tap | None] = ContextVar("rxchronos_tap", default=None)


def current_tap() -> Tap | None:
    """Return the tap installed in the current context, or ``None`` outside a graph run."""
    return _current_tap.get()


def set_tap(tap: Tap | None) -> Token[Tap | None]:
    """Install ``tap`` for the current context; pass the returned token to `reset_tap`."""
    return _current_tap.set(tap)


def reset_tap(token: Token[Tap | None]) -> None:
    """Restore the tap that was current before the matching `set_tap`."""
    _current_tap.reset(token)
