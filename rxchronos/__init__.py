"""rxchronos: reactive LLM streaming.

Everything that streams is a :mod:`reactivex` Observable: a model's answer token by token
(:mod:`rxchronos.model`), the events of a running state graph (:mod:`rxchronos.graph`), and the
events a broker fans out to browsers over Server-Sent Events (:mod:`rxchronos.stream`). Compose them
with ``.pipe(...)`` and the operators in :mod:`rxchronos.operators`.

The package face re-exports the asyncio bridges and the whole exception tree (every error derives
from :class:`RxChronosError`), so one import catches anything the library raises:

Example:
    >>> import rxchronos
    >>> issubclass(rxchronos.ProviderHTTPError, rxchronos.RxChronosError)
    True
"""

from __future__ import annotations

from rxchronos._errors import RxChronosError, SlowConsumerError
from rxchronos._loop import NoRunningLoopError
from rxchronos.aio import from_async_iterable, to_async_iterator
from rxchronos.graph import (
    CheckpointNotFoundError,
    CheckpointStoreError,
    GraphError,
    GraphRecursionError,
    GraphValidationError,
    NodeError,
    NothingToResumeError,
    RoutingError,
    RunCancelledError,
    RunError,
    SessionBusyError,
    StateSerializationError,
)
from rxchronos.model import (
    IncompleteStreamError,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderStreamError,
    ProviderTimeoutError,
    ToolArgumentsError,
)
from rxchronos.stream import (
    BrokerClosedError,
    BrokerError,
    SSEClientError,
    SSEConnectionError,
    SSEHTTPError,
    SSEProtocolError,
)

__version__ = "0.1.0"

__all__ = [
    "BrokerClosedError",
    "BrokerError",
    "CheckpointNotFoundError",
    "CheckpointStoreError",
    "GraphError",
    "GraphRecursionError",
    "GraphValidationError",
    "IncompleteStreamError",
    "NoRunningLoopError",
    "NodeError",
    "NothingToResumeError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderStreamError",
    "ProviderTimeoutError",
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
    "to_async_iterator",
]
