"""Events fanned out to subscribers and browsers: the :class:`Broker` and its SSE route.

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

from rxchronos.stream._broker import Broker
from rxchronos.stream._client import sse_client
from rxchronos.stream._errors import (
    BrokerClosedError,
    BrokerError,
    SSEClientError,
    SSEConnectionError,
    SSEHTTPError,
    SSEProtocolError,
)
from rxchronos.stream._event import Event
from rxchronos.stream._subscriber import Overflow, SubscriberStats
from rxchronos.stream._subscription import BrokerStats

__all__ = [
    "Broker",
    "BrokerClosedError",
    "BrokerError",
    "BrokerStats",
    "Event",
    "Overflow",
    "SSEClientError",
    "SSEConnectionError",
    "SSEHTTPError",
    "SSEProtocolError",
    "SubscriberStats",
    "sse_client",
]
