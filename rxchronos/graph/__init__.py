"""Graph execution streaming: state graphs whose runs are reactivex Observables of events.

Build a graph with [StateGraph][rxchronos.graph.StateGraph], compile it, and hand it to a
[Runner][rxchronos.graph.Runner]. Every step of a run is a
[StreamEvent][rxchronos.graph.StreamEvent]: ``runner.events`` is the hot stream of every run,
``runner.stream(...)`` a cold stream of one run. Runs checkpoint to a
[CheckpointStore][rxchronos.graph.CheckpointStore] ([MemoryStore][rxchronos.graph.MemoryStore],
[SQLiteStore][rxchronos.graph.SQLiteStore], [PostgresStore][rxchronos.graph.PostgresStore]),
pause at interrupt nodes, resume, and time-travel; on a [LeaseStore][rxchronos.graph.LeaseStore]
several workers share sessions safely.

Example:
    >>> import asyncio
    >>> from rxchronos.graph import Runner, StateGraph
    >>> g = (StateGraph("hello").add_node("greet", lambda s: {"text": f"hi {s['name']}"})
    ...      .set_entry_point("greet").set_finish_point("greet").compile())
    >>> asyncio.run(Runner(g).run("s1", {"name": "ada"})).state["text"]
    'hi ada'
"""

from __future__ import annotations

from rxchronos.graph._builder import NodeFunction
from rxchronos.graph._builder import RouteFunction
from rxchronos.graph._builder import StateGraph
from rxchronos.graph._compiled import END
from rxchronos.graph._compiled import START
from rxchronos.graph._compiled import CompiledGraph
from rxchronos.graph._compiled import Send
from rxchronos.graph._errors import CheckpointNotFoundError
from rxchronos.graph._errors import CheckpointStoreError
from rxchronos.graph._errors import GraphError
from rxchronos.graph._errors import GraphRecursionError
from rxchronos.graph._errors import GraphValidationError
from rxchronos.graph._errors import InvalidUpdateError
from rxchronos.graph._errors import NodeError
from rxchronos.graph._errors import NothingToResumeError
from rxchronos.graph._errors import ReadOnlyStateError
from rxchronos.graph._errors import RoutingError
from rxchronos.graph._errors import RunCancelledError
from rxchronos.graph._errors import RunError
from rxchronos.graph._errors import SessionBusyError
from rxchronos.graph._errors import StateSerializationError
from rxchronos.graph._events import EventPublisher
from rxchronos.graph._events import EventType
from rxchronos.graph._events import RunState
from rxchronos.graph._events import RunStatus
from rxchronos.graph._events import StreamEvent
from rxchronos.graph._execution import emit
from rxchronos.graph._lease import Lease
from rxchronos.graph._lease import LeaseStore
from rxchronos.graph._modes import StreamMode
from rxchronos.graph._modes import stream_mode
from rxchronos.graph._namespaces import Namespace
from rxchronos.graph._namespaces import by_namespace
from rxchronos.graph._namespaces import in_subgraph
from rxchronos.graph._namespaces import top_level
from rxchronos.graph._postgres import PostgresStore
from rxchronos.graph._runner import Runner
from rxchronos.graph._sqlite import SQLiteStore
from rxchronos.graph._state import add_messages
from rxchronos.graph._state import append
from rxchronos.graph._stores import Checkpoint
from rxchronos.graph._stores import CheckpointStore
from rxchronos.graph._stores import MemoryStore
from rxchronos.graph._stores import PendingWritesStore
from rxchronos.graph._subgraph import subgraph_session_id

__all__ = [
    "END",
    "START",
    "Checkpoint",
    "CheckpointNotFoundError",
    "CheckpointStore",
    "CheckpointStoreError",
    "CompiledGraph",
    "EventPublisher",
    "EventType",
    "GraphError",
    "GraphRecursionError",
    "GraphValidationError",
    "InvalidUpdateError",
    "Lease",
    "LeaseStore",
    "MemoryStore",
    "Namespace",
    "NodeError",
    "NodeFunction",
    "NothingToResumeError",
    "PendingWritesStore",
    "PostgresStore",
    "ReadOnlyStateError",
    "RouteFunction",
    "RoutingError",
    "RunCancelledError",
    "RunError",
    "RunState",
    "RunStatus",
    "Runner",
    "SQLiteStore",
    "Send",
    "SessionBusyError",
    "StateGraph",
    "StateSerializationError",
    "StreamEvent",
    "StreamMode",
    "add_messages",
    "append",
    "by_namespace",
    "emit",
    "in_subgraph",
    "stream_mode",
    "subgraph_session_id",
    "top_level",
]
