"""The graph layer's exceptions, all under [RxChronosError][rxchronos.RxChronosError].

A failed run raises one of the [RunError][rxchronos.graph.RunError] subclasses, which carry the
[RunState][rxchronos.graph.RunState] of the run at the moment it failed (``exc.run_state``), so a
caller can report or resume it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rxchronos._errors import RxChronosError

if TYPE_CHECKING:
    from rxchronos.graph._events import RunState

__all__ = [
    "CheckpointNotFoundError",
    "CheckpointStoreError",
    "GraphError",
    "GraphRecursionError",
    "GraphValidationError",
    "InvalidUpdateError",
    "NodeError",
    "NothingToResumeError",
    "ReadOnlyStateError",
    "RoutingError",
    "RunCancelledError",
    "RunError",
    "SessionBusyError",
    "StateSerializationError",
]


class GraphError(RxChronosError):
    """Base class of every error raised by [graph][rxchronos.graph]."""


class GraphValidationError(GraphError):
    """``StateGraph.compile()`` found problems; ``problems`` lists each one in words.

    Example:
        >>> from rxchronos.graph import StateGraph
        >>> try:
        ...     StateGraph("g").add_node("a", lambda s: {}).compile()
        ... except GraphValidationError as exc:
        ...     print(exc.problems[0])
        graph 'g' has no entry point: call set_entry_point(<node id>)
    """

    def __init__(self, graph_id: str, problems: Sequence[str]) -> None:
        self.graph_id = graph_id
        self.problems = list(problems)
        listing = "; ".join(self.problems)
        super().__init__(f"graph {graph_id!r} is not valid: {listing}")


class RunError(GraphError):
    """A run failed; ``run_state`` is the run as it stood when it failed (status ``failed``)."""

    def __init__(self, message: str, run_state: RunState) -> None:
        super().__init__(message)
        self.run_state = run_state


class NodeError(RunError):
    """A node function (or its routing function, or a reducer merging what the node wrote)
    raised; the original exception is ``__cause__``.

    The run emitted an ``error`` event first. The last checkpoint is the one before the failing
    node, so ``runner.resume(session_id)`` runs that node again.

    ``task_id`` names the task that failed (one run of the node in one step; the message names
    it too when it was one branch of a parallel step) and ``ns`` its namespace (``()`` at the
    top level; for a node inside a subgraph, the path of subgraph tasks that leads to it, which
    the message names too). In a parallel step the failing branch's siblings are
    cancelled first; the step is not checkpointed, so ``resume`` runs the whole step again.
    """

    def __init__(
        self,
        node_id: str,
        cause: BaseException,
        run_state: RunState,
        *,
        task_id: str | None = None,
        ns: tuple[str, ...] = (),
        branch: bool = False,
    ) -> None:
        branch_text = f" (branch {task_id!r})" if branch else ""
        if ns:
            branch_text += f" in subgraph {'/'.join(ns)!r}"
        super().__init__(
            f"node {node_id!r}{branch_text} failed in session {run_state.session_id!r}: "
            f"{type(cause).__name__}: {cause}",
            run_state,
        )
        self.node_id = node_id
        self.task_id = task_id
        self.ns = ns
        self.branch = branch


class InvalidUpdateError(RunError):
    """Two tasks of one step wrote the same state key, and the key has no reducer.

    ``key`` is the key and ``nodes`` the nodes that wrote it, in task order. Give the key a
    reducer (``StateGraph("g", reducers={key: operator.add})``) to combine such writes, or let
    one branch write it. The step's writes are not applied; the run ends ``failed``.

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import Runner, StateGraph
        >>> g = (StateGraph("g").add_node("plan", lambda s: None)
        ...      .add_node("a", lambda s: {"x": 1}).add_node("b", lambda s: {"x": 2})
        ...      .set_entry_point("plan").add_edge("plan", "a").add_edge("plan", "b").compile())
        >>> try:
        ...     asyncio.run(Runner(g).run("s1", {}))
        ... except InvalidUpdateError as exc:
        ...     print(exc.key, exc.nodes)
        x ('a', 'b')
    """

    def __init__(self, key: str, nodes: Sequence[str], run_state: RunState) -> None:
        self.key = key
        self.nodes = tuple(nodes)
        super().__init__(
            f"state key {key!r} was written by {len(self.nodes)} tasks of one step "
            f"({', '.join(repr(n) for n in self.nodes)}) and has no reducer: give it one, e.g. "
            f"StateGraph(..., reducers={{{key!r}: operator.add}}), or write it from one branch",
            run_state,
        )


class GraphRecursionError(RunError):
    """A run executed ``max_steps`` nodes without reaching the end (usually a cycle)."""


class RunCancelledError(RunError):
    """``runner.cancel(session_id)`` stopped the run of a ``runner.stream(...)`` subscription.

    ``run_state.status`` is ``cancelled``; the session can be resumed.
    """


class RoutingError(GraphError):
    """A conditional edge's route function returned something that is not a node of the graph."""


class ReadOnlyStateError(GraphError, TypeError):
    """Code tried to change a run's state in place (``state["items"] = ...``,
    ``state["items"].append(...)``, ``state.update(...)``): the state a node receives, and every
    value in it, is read-only. A node changes state by returning an update, a mapping of the keys
    it changes.

    ``key`` is the key or index that was being changed (``None`` for a change of the whole
    mapping or list, such as ``update`` or ``clear``); ``operation`` names the method.

    Example:
        >>> from rxchronos.graph._state import FrozenDict
        >>> FrozenDict({"items": []})["items"] = [1]
        Traceback (most recent call last):
        rxchronos.graph._errors.ReadOnlyStateError: graph state is read-only: cannot set key ...
    """

    def __init__(self, operation: str, key: object = None, *, kind: str = "key") -> None:
        self.operation = operation
        self.key = key
        target = f"{operation} {kind} {key!r}" if key is not None else f"call {operation}()"
        example = key if isinstance(key, str) else "items"
        super().__init__(
            f"graph state is read-only: cannot {target}; return an update from the node "
            f"instead, a mapping of the state keys it changes (e.g. return {{{example!r}: "
            "new_value}); dict(value) or list(value) gives a mutable copy"
        )


class StateSerializationError(GraphError, TypeError):
    """A state value cannot be sent or stored as JSON: found by
    [SQLiteStore][rxchronos.graph.SQLiteStore], or by a run with a broker (whose clients read
    every event as JSON).

    ``key`` names the top-level state key; ``path`` the place inside it, from the top (for
    ``state['config']['hosts'][2]``: ``("config", "hosts", 2)``). A dict key that is not a
    string counts too: JSON would silently turn it into one. For what the next step's tasks carry
    into a checkpoint (the argument of a [Send][rxchronos.graph.Send]), ``key`` is ``"tasks"``,
    ``path`` leads into the checkpoint's ``branches`` and the message names the Send.

    Raised by a run's checkpoint write, or before a node's update is merged when the run has a
    broker, it ends the run ``failed`` after an ``error`` event (and the broker's topic is
    finished), and ``run_state`` is that run, as for [NodeError][rxchronos.graph.NodeError]
    (``None`` when the store was used directly). The update is not merged and the checkpoint not
    written; the session's latest checkpoint is still there to resume.

    Example:
        >>> str(StateSerializationError("conn", "socket is not JSON-serialisable", ("conn",)))
        "state key 'conn' cannot be serialised to JSON: at state['conn'], socket is not ..."
    """

    run_state: RunState | None = None

    def __init__(
        self,
        key: str,
        reason: BaseException | str,
        path: Sequence[str | int] = (),
        *,
        send: str | None = None,
    ) -> None:
        self.key = key
        self.path: tuple[str | int, ...] = tuple(path) or (key,)
        why = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else reason
        root, subject, kept = "state", f"state key {key!r}", "checkpointed or published state"
        if send is not None:
            root, subject, kept = "branches", send, "Send arguments"
        where = root + "".join(f"[{part!r}]" for part in self.path)
        super().__init__(
            f"{subject} cannot be serialised to JSON: at {where}, {why}; keep {kept} to JSON "
            "types (str, int, float, bool, None, list, dict with str keys)"
        )


class CheckpointStoreError(GraphError):
    """A checkpoint store cannot be used (for example, a database from a newer schema version).

    Raised by a run's checkpoint write, it ends the run ``failed`` after an ``error`` event, and
    ``run_state`` is that run, as for [NodeError][rxchronos.graph.NodeError] (``None`` when the
    store was used directly).
    """

    run_state: RunState | None = None


class CheckpointNotFoundError(GraphError, LookupError):
    """No checkpoint has the given id."""


class NothingToResumeError(GraphError):
    """``resume`` found no checkpoint to continue from, or the session already completed."""


class SessionBusyError(GraphError):
    """A run of this session is already executing on this runner."""
