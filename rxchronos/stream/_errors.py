"""The errors of `rxchronos.stream`: the broker, its subscribers and the SSE client.

All derive from [RxChronosError][rxchronos.RxChronosError].
"""

from __future__ import annotations

from rxchronos._errors import RxChronosError

__all__ = [
    "BrokerClosedError",
    "BrokerError",
    "BrokerUnavailableError",
    "SSEClientError",
    "SSEConnectionError",
    "SSEHTTPError",
    "SSEProtocolError",
    "SubscriberError",
]


class BrokerError(RxChronosError):
    """A [Broker][rxchronos.stream.Broker] was used the wrong way (wrong thread, after close)."""


class BrokerClosedError(BrokerError):
    """The broker was closed: it accepts no more events.

    Example:
        >>> from rxchronos.stream import Broker, Event
        >>> broker = Broker()
        >>> broker.close()
        >>> try:
        ...     broker.publish(Event(type="ping"))
        ... except BrokerClosedError as exc:
        ...     print(type(exc).__name__)
        BrokerClosedError
    """


class BrokerUnavailableError(BrokerError):
    """A distributed broker cannot reach its store (Redis), or cannot keep up with it.

    Raised by ``publish`` when the bounded outbox of events not yet stored is full, by
    ``flush()`` when storing fails, and when the broker starts and its store is unreachable (the
    message names the URL without its password). A subscription ends with it when the broker
    lost its live feed; an SSE connection then simply ends, and the browser reconnects and
    resumes with its ``Last-Event-ID``.

    Example:
        >>> from rxchronos.stream import BrokerError, BrokerUnavailableError
        >>> issubclass(BrokerUnavailableError, BrokerError)
        True
    """


class SubscriberError(BrokerError):
    """Subscribers raised while the broker completed them (on close, finish or unsubscribe).

    Every subscriber is completed first; then this error reports the ones that raised. Outside an
    event loop it is raised; on the loop it goes to the loop's exception handler, so that closing
    a broker (or finishing a run) is never stopped by one subscriber's bug.

    Attributes:
        errors: what each failing subscriber raised, in the order they were completed.

    Example:
        >>> from rxchronos.stream import Broker
        >>> broker = Broker()
        >>> def boom():
        ...     raise RuntimeError("bug in a subscriber")
        >>> _ = broker.subscribe().subscribe(on_completed=boom)
        >>> ended = []
        >>> _ = broker.subscribe().subscribe(on_completed=lambda: ended.append(True))
        >>> try:
        ...     broker.close()
        ... except SubscriberError as exc:
        ...     print(len(exc.errors), ended)
        1 [True]
    """

    def __init__(self, what: str, errors: list[Exception]) -> None:
        self.errors = tuple(errors)
        first = errors[0]
        super().__init__(
            f"{len(errors)} subscriber(s) raised in on_completed while the broker {what} "
            f"(every subscriber was completed); the first: {type(first).__name__}: {first}"
        )
        self.__cause__ = first


class SSEClientError(RxChronosError):
    """Base class of the errors [sse_client][rxchronos.stream.sse_client] reports."""


class SSEHTTPError(SSEClientError):
    """The server answered with a status other than 200 (or 204, which ends the stream).

    Attributes:
        status: the HTTP status code.
        url: the URL requested (without its query string).
        body: the start of the response body, at most 500 characters.
    """

    def __init__(self, status: int, url: str, body: str) -> None:
        self.status = status
        self.url = url
        self.body = body
        detail = f": {body}" if body else ""
        super().__init__(f"GET {url} answered HTTP {status}, not an event stream{detail}")


class SSEProtocolError(SSEClientError):
    """The server answered 200 but not with ``text/event-stream``."""


class SSEConnectionError(SSEClientError):
    """The stream could not be (re)opened, after the configured number of attempts."""
