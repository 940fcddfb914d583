"""The root of rxchronos' exception tree, and the errors shared by every layer.

Every exception the library raises derives from :class:`RxChronosError`, so one ``except`` clause
catches them all. Layer-specific errors (provider, graph, broker) live beside their layer and derive
from this base.
"""

from __future__ import annotations

__all__ = ["RxChronosError", "SlowConsumerError"]


class RxChronosError(Exception):
    """Base class of every exception raised by rxchronos.

    Example:
        >>> try:
        ...     raise SlowConsumerError("queue full")
        ... except RxChronosError as exc:
        ...     print(type(exc).__name__)
        SlowConsumerError
    """


class SlowConsumerError(RxChronosError):
    """A bounded buffer between a producer and an async consumer overflowed.

    Raised in the consumer when its buffer's overflow policy is ``"error"``; the subscription behind
    it has been disposed by then.
    """
