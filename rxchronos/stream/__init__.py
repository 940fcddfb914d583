"""Events fanned out to subscribers and browsers: the broker and its SSE routes.

Example:
    >>> from rxchronos.stream import Broker, Event
    >>> broker = Broker()
    >>> seen = []
    >>> _ = broker.subscribe("client-123").subscribe(lambda e: seen.append(e.type))
    >>> _ = broker.publish(Event(type="node_end", data={"node": "extract"}))
    >>> seen
    ['node_end']
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from rxchronos._queue import Overflow
from rxchronos.stream._broker import Broker
from rxchronos.stream._client import sse_client
from rxchronos.stream._errors import BrokerClosedError
from rxchronos.stream._errors import BrokerError
from rxchronos.stream._errors import BrokerUnavailableError
from rxchronos.stream._errors import SSEClientError
from rxchronos.stream._errors import SSEConnectionError
from rxchronos.stream._errors import SSEHTTPError
from rxchronos.stream._errors import SSEProtocolError
from rxchronos.stream._errors import SubscriberError
from rxchronos.stream._event import Event
from rxchronos.stream._protocol import BrokerProtocol
from rxchronos.stream._protocol import BrokerStats
from rxchronos.stream._protocol import Control
from rxchronos.stream._protocol import SSESource
from rxchronos.stream._protocol import SubscriberStats
from rxchronos.stream._serve import StreamOptions

if TYPE_CHECKING:
    from rxchronos.stream._redis import RedisBroker

__all__ = [
    "Broker",
    "BrokerClosedError",
    "BrokerError",
    "BrokerProtocol",
    "BrokerStats",
    "BrokerUnavailableError",
    "Control",
    "Event",
    "Overflow",
    "RedisBroker",
    "SSEClientError",
    "SSEConnectionError",
    "SSEHTTPError",
    "SSEProtocolError",
    "SSESource",
    "StreamOptions",
    "SubscriberError",
    "SubscriberStats",
    "sse_client",
]


def __getattr__(name: str) -> Any:
    # RedisBroker needs the optional redis-py (``rxchronos[redis]``): imported on first use.
    if name == "RedisBroker":
        from rxchronos.stream._redis import RedisBroker

        return RedisBroker
    raise AttributeError(f"module 'rxchronos.stream' has no attribute {name!r}")
