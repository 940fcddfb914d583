"""The errors of :mod:`rxchronos.stream`: the broker and the SSE client.

All derive from :class:`rxchronos.RxChronosError`.
"""

from __future__ import annotations

from rxchronos._errors import RxChronosError

__all__ = [
    "BrokerClosedError",
    "BrokerError",
    "SSEClientError",
    "SSEConnectionError",
    "SSEHTTPError",
    "SSEProtocolError",
]


class BrokerError(RxChronosError):
    """A :class:`~rxchronos.stream.Broker` was used the wrong way (wrong thread, after close)."""


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


class SSEClientError(RxChronosError):
    """Base class of the errors :func:`~rxchronos.stream.sse_client` reports."""


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
