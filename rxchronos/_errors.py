"""The root of rxchronos' exception tree, and the errors shared by every layer.

Every exception the library raises derives from [`RxChronosError`][rxchronos.RxChronosError], so one
``except`` clause catches them all. Layer-specific errors (provider, graph, broker) live beside
their layer and derive from this base.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # no pydantic at import time: rxchronos.sse imports this module
    import pydantic

__all__ = [
    "ArgumentTypeError",
    "FrameTooLargeError",
    "InvalidArgumentError",
    "RxChronosError",
    "SlowConsumerError",
    "validation_problems",
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


def validation_problems(
    error: pydantic.ValidationError, whole: str, most: int | None = None
) -> str:
    """The problems of a pydantic ``error`` (the first ``most`` of them), each ``path: message``,
    for an error message of our own; ``whole`` names an empty path (the input as a whole).

    Example:
        >>> import pydantic
        >>> try:
        ...     pydantic.TypeAdapter(dict[str, int]).validate_python({"a": "x"})
        ... except pydantic.ValidationError as exc:
        ...     print(validation_problems(exc, "options"))
        a: Input should be a valid integer, unable to parse string as an integer
    """
    return "; ".join(
        f"{'.'.join(str(p) for p in problem['loc']) or whole}: {problem['msg']}"
        for problem in error.errors()[:most]
    )
