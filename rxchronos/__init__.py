"""rxchronos: reactive LLM streaming.

Everything that streams is a `reactivex` Observable: a model's answer token by token
([`rxchronos.model`][rxchronos.model]), the events of a running state graph
([`rxchronos.graph`][rxchronos.graph]), and the events a broker fans out to browsers over
Server-Sent Events ([`rxchronos.stream`][rxchronos.stream]). Compose them with ``.pipe(...)`` and
the operators in [`rxchronos.operators`][rxchronos.operators].

The package face re-exports the asyncio bridges and the whole exception tree (every error derives
from [`RxChronosError`][rxchronos.RxChronosError]), so one import catches anything the library
raises. The names are imported when first used: ``import rxchronos.sse`` (a pure codec) does not
import aiohttp, pydantic or the layers.

Example:
    >>> import rxchronos
    >>> issubclass(rxchronos.ProviderHTTPError, rxchronos.RxChronosError)
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from rxchronos._errors import ArgumentTypeError
    from rxchronos._errors import FrameTooLargeError
    from rxchronos._errors import InvalidArgumentError
    from rxchronos._errors import RxChronosError
    from rxchronos._errors import SlowConsumerError
    from rxchronos._loop import NoRunningLoopError
    from rxchronos.aio import from_async_iterable
    from rxchronos.aio import from_producer
    from rxchronos.aio import to_async_iterator
    from rxchronos.graph import CheckpointNotFoundError
    from rxchronos.graph import CheckpointStoreError
    from rxchronos.graph import GraphError
    from rxchronos.graph import GraphRecursionError
    from rxchronos.graph import GraphValidationError
    from rxchronos.graph import NodeError
    from rxchronos.graph import NothingToResumeError
    from rxchronos.graph import ReadOnlyStateError
    from rxchronos.graph import RoutingError
    from rxchronos.graph import RunCancelledError
    from rxchronos.graph import RunError
    from rxchronos.graph import SessionBusyError
    from rxchronos.graph import StateSerializationError
    from rxchronos.model import IncompleteStreamError
    from rxchronos.model import ProviderConfigError
    from rxchronos.model import ProviderConnectionError
    from rxchronos.model import ProviderError
    from rxchronos.model import ProviderHTTPError
    from rxchronos.model import ProviderStreamError
    from rxchronos.model import ProviderTimeoutError
    from rxchronos.model import ToolArgumentsError
    from rxchronos.stream import BrokerClosedError
    from rxchronos.stream import BrokerError
    from rxchronos.stream import SSEClientError
    from rxchronos.stream import SSEConnectionError
    from rxchronos.stream import SSEHTTPError
    from rxchronos.stream import SSEProtocolError

__version__ = "0.1.0"

# Where each re-exported name lives; imported on first access by ``__getattr__``.
_HOMES = {
    "BrokerClosedError": "rxchronos.stream",
    "BrokerError": "rxchronos.stream",
    "CheckpointNotFoundError": "rxchronos.graph",
    "CheckpointStoreError": "rxchronos.graph",
    "ArgumentTypeError": "rxchronos._errors",
    "FrameTooLargeError": "rxchronos._errors",
    "InvalidArgumentError": "rxchronos._errors",
    "GraphError": "rxchronos.graph",
    "GraphRecursionError": "rxchronos.graph",
    "GraphValidationError": "rxchronos.graph",
    "IncompleteStreamError": "rxchronos.model",
    "NoRunningLoopError": "rxchronos._loop",
    "NodeError": "rxchronos.graph",
    "NothingToResumeError": "rxchronos.graph",
    "ProviderConfigError": "rxchronos.model",
    "ProviderConnectionError": "rxchronos.model",
    "ProviderError": "rxchronos.model",
    "ProviderHTTPError": "rxchronos.model",
    "ProviderStreamError": "rxchronos.model",
    "ProviderTimeoutError": "rxchronos.model",
    "ReadOnlyStateError": "rxchronos.graph",
    "RoutingError": "rxchronos.graph",
    "RunCancelledError": "rxchronos.graph",
    "RunError": "rxchronos.graph",
    "RxChronosError": "rxchronos._errors",
    "SSEClientError": "rxchronos.stream",
    "SSEConnectionError": "rxchronos.stream",
    "SSEHTTPError": "rxchronos.stream",
    "SSEProtocolError": "rxchronos.stream",
    "SessionBusyError": "rxchronos.graph",
    "SlowConsumerError": "rxchronos._errors",
    "StateSerializationError": "rxchronos.graph",
    "ToolArgumentsError": "rxchronos.model",
    "from_async_iterable": "rxchronos.aio",
    "from_producer": "rxchronos.aio",
    "to_async_iterator": "rxchronos.aio",
}

__all__ = [
    "ArgumentTypeError",
    "BrokerClosedError",
    "BrokerError",
    "CheckpointNotFoundError",
    "CheckpointStoreError",
    "FrameTooLargeError",
    "GraphError",
    "GraphRecursionError",
    "GraphValidationError",
    "IncompleteStreamError",
    "InvalidArgumentError",
    "NoRunningLoopError",
    "NodeError",
    "NothingToResumeError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderStreamError",
    "ProviderTimeoutError",
    "ReadOnlyStateError",
    "RoutingError",
    "RunCancelledError",
    "RunError",
    "RxChronosError",
    "SSEClientError",
    "SSEConnectionError",
    "SSEHTTPError",
    "SSEProtocolError",
    "SessionBusyError",
    "SlowConsumerError",
    "StateSerializationError",
    "ToolArgumentsError",
    "__version__",
    "from_async_iterable",
    "from_producer",
    "to_async_iterator",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rxchronos' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
