"""The root of rxchronos' exception tree, and the errors shared by every layer.

Every exception the library raises derives from [`RxChronosError`][rxchronos.RxChronosError], so one
``except`` clause catches them all. Layer-specific errors (provider, graph, broker) live beside
their layer and derive from this base.
"""

from __future__ import annotations

__all__ = [
    "ArgumentTypeError",
    "FrameTooLargeError",
    "InvalidArgumentError",
    "RxChronosError",
    "SlowConsumerError",
]


class RxChronosError(Exception):
    """Base class of every exception raised by rxchronos.

    Example:
        >>> try:
        ...     raise SlowConsumerError("queue full")
        ... except RxChronosError as exc:
        ...     print(type(exc).__name__)
        SlowConsumerError
    """


class ArgumentTypeError(RxChronosError, TypeError):
    """An entry point was called with an argument of the wrong type.

    It is a ``TypeError`` too, so code written against the usual Python contract still catches it.

    Example:
        >>> issubclass(ArgumentTypeError, TypeError)
        True
    """


class InvalidArgumentError(RxChronosError, ValueError):
    """An entry point was called with an argument of the right type but an unusable value.

    It is a ``ValueError`` too, so code written against the usual Python contract still catches it.
    """


class SlowConsumerError(RxChronosError):
    """A bounded buffer between a producer and an async consumer overflowed.

    Raised in the consumer when its buffer's overflow policy is ``"error"``; the subscription behind
    it has been disposed by then.
    """


class FrameTooLargeError(RxChronosError, ValueError):
    """A stream sent a line or an event larger than the decoder's ``max_size``.

    Raised by [`SSEDecoder`][rxchronos.sse.SSEDecoder] and
    [`NDJSONSplitter`][rxchronos.sse.NDJSONSplitter], so a peer that never ends a line cannot make
    the reader buffer without limit.

    Attributes:
        limit: the ``max_size`` that was exceeded.
    """

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit
