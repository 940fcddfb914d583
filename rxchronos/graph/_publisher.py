"""What a ``Runner`` needs from a broker: the :class:`EventPublisher` protocol.

The graph layer sits above ``rxchronos.stream`` but does not import it: any object with these two
methods will do (``rxchronos.stream.Broker`` has them).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["EventPublisher"]


@runtime_checkable
class EventPublisher(Protocol):
    """Receives every event of a run, published under the run's session id as the topic.

    Example:
        >>> class Recorder:
        ...     def __init__(self):
        ...         self.seen = []
        ...     def publish(self, event, *, topic=None):
        ...         self.seen.append((topic, event.type))
        ...     def finish_topic(self, topic):
        ...         self.seen.append((topic, "finished"))
        >>> isinstance(Recorder(), EventPublisher)
        True
    """

    def publish(self, event: Any, *, topic: str | None = None) -> Any:
        """Publish one event (a ``StreamEvent``) under ``topic`` (the session id)."""
        ...

    def finish_topic(self, topic: str) -> Any:
        """The session's run ended for good (``completed`` or ``failed``; not on an interrupt or
        a cancel, after which the session continues)."""
        ...
