"""Subgraphs: a [CompiledGraph][rxchronos.graph.CompiledGraph] as a node of another graph.

``add_node("research", research_graph)`` wraps the compiled graph in a
[SubgraphNode][rxchronos.graph._subgraph.SubgraphNode]. When its task runs, a ``SubgraphRun``
(a ``RunExecution`` of the subgraph) runs it inside the parent's run:

* **State in and out.** The subgraph starts from the node's input (the parent's state, or a
  ``Send``'s argument) and uses its own reducers. What its nodes wrote is the node's update: a key
  the parent has a reducer for gets the subgraph's writes to it combined in order by that reducer
  (so the parent's reducer sees each write once); any other key its value at the subgraph's end.
* **Events.** Every event of the subgraph is an event of the parent's run: same ``run_id``, one
  ``seq`` counter, and ``ns`` = the path of subgraph task ids from the root (``("research:2",)``,
  ``("research:2", "inner:1")``). The run-level events (``interrupt``, ``error``, ``completed``,
  ``cancelled``) are the root run's own.
* **Interrupts.** An interrupt inside the subgraph pauses the whole run: the subgraph writes its
  paused checkpoint, the parent a paused checkpoint whose task for the subgraph node says where to
  go on; ``resume`` continues inside the subgraph, and its ``update`` goes to the state of the
  graph that paused. In a parallel step the siblings of a paused subgraph run to their end first
  and their writes are kept, so ``resume`` does not run them again. When several subgraphs of one
  step paused, ``resume`` goes on in the first (in task order), with the update; the others pause
  again at their interrupts, one ``interrupt`` at a time.
* **Checkpoints** of a subgraph are stored in the parent's store under the session id
  [subgraph_session_id][rxchronos.graph.subgraph_session_id] (the parent's session plus the
  namespace), so the parent's own history stays as it is; their ``branches`` carry ``ns``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from rxchronos._errors import ArgumentTypeError
from rxchronos.graph._errors import CheckpointNotFoundError
from rxchronos.graph._errors import NodeError
from rxchronos.graph._events import EventType
from rxchronos.graph._events import RunStatus
from rxchronos.graph._execution import RunExecution
from rxchronos.graph._execution import SubgraphFailed
from rxchronos.graph._execution import SubgraphPaused
from rxchronos.graph._execution import Task
from rxchronos.graph._execution import _running_task
from rxchronos.graph._execution import current_run
from rxchronos.graph._state import FrozenDict
from rxchronos.graph._state import freeze
from rxchronos.graph._state import freeze_mapping
from rxchronos.graph._state import merge_update
from rxchronos.graph._stores import Checkpoint

if TYPE_CHECKING:
    from rxchronos.graph._compiled import CompiledGraph

__all__ = ["SubgraphNode", "SubgraphRun", "apply_resume_update", "subgraph_session_id"]

_ROOT_ONLY = frozenset(
    {EventType.INTERRUPT, EventType.ERROR, EventType.COMPLETED, EventType.CANCELLED}
)


def subgraph_session_id(session_id: str, ns: tuple[str, ...]) -> str:
    """The session id under which the subgraph at ``ns`` of a run of ``session_id`` stores its
    checkpoints: ``"<session>|<ns[0]>|<ns[1]>..."``.

    Example:
        >>> subgraph_session_id("s1", ("research:2", "check:1"))
        's1|research:2|check:1'
    """
    return "|".join((session_id, *ns))


def apply_resume_update(
    tasks: list[Task], state: FrozenDict, update: FrozenDict | None, *, resumed: bool = True
) -> FrozenDict:
    """A resume's ``update`` goes to the graph that paused: into ``state``, or, when a task of the
    step goes on inside its subgraph, along with the first such task (into its subgraph's state),
    which is marked ``resumed``: it goes past its interrupt. ``resumed=False`` (a subgraph that
    paused beside the one resumed) marks none, so each paused task pauses again."""
    for task in tasks:
        if task.resume is not None:
            if resumed:
                go_on = {**task.resume, "resumed": True}
                if update is not None:
                    go_on["update"] = update
                task.resume = FrozenDict(go_on)
            return state
    if update is None:
        return state
    return merge_update("<update>", state, update)[0]


class SubgraphNode:
    """The node function of a subgraph node: runs ``graph`` inside the current run.

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import Runner, StateGraph
        >>> inner = StateGraph("inner").add_node("x", lambda s: {"y": s["v"] + 1})
        >>> outer = (StateGraph("outer").add_node("sub", inner.set_entry_point("x").compile())
        ...          .set_entry_point("sub").compile())
        >>> dict(asyncio.run(Runner(outer).run("s1", {"v": 1})).state)
        {'v': 1, 'y': 2}
    """

    __slots__ = ("graph",)

    def __init__(self, graph: CompiledGraph) -> None:
        self.graph = graph

    async def __call__(self, given: Any) -> Mapping[str, Any]:
        parent = current_run.get()
        task = None if parent is None else parent.running_task()
        if parent is None or task is None:
            raise ArgumentTypeError(
                f"subgraph {self.graph.graph_id!r} runs as a node of a graph run, not on its own "
                "(use Runner(graph) to run it alone)"
            )
        if not isinstance(given, Mapping) or any(type(k) is not str for k in given):
            raise ArgumentTypeError(
                f"subgraph {self.graph.graph_id!r} needs a mapping with str keys as its input "
                f"state, got {type(given).__name__}"
            )
        child = SubgraphRun(parent, self.graph, (*parent.ns, task.task_id))
        resume = task.resume
        branch = _running_task.set(None)  # the subgraph's tasks are its own
        try:
            if resume is None:
                entry = Task(self.graph.entry_point)
                status = await child.execute([entry], freeze_mapping(given), resume_paused=False)
            else:
                status = await child.go_on(resume)
        except NodeError as error:
            raise SubgraphFailed(error) from error
        finally:
            _running_task.reset(branch)
        if status is RunStatus.PAUSED:
            node_id, ns, state = child.interrupted
            checkpoint_id = None if child.parent is None else child.parent.checkpoint_id
            raise SubgraphPaused(task, checkpoint_id, node_id, ns, state)
        task.resume = None
        return child.written

    def __repr__(self) -> str:
        return f"SubgraphNode({self.graph.graph_id!r})"


class SubgraphRun(RunExecution):
    """A run of ``graph`` inside ``parent`` at namespace ``ns`` (see the module docstring)."""

    __slots__ = ("_root", "_up", "interrupted", "written")

    def __init__(self, parent: RunExecution, graph: CompiledGraph, ns: tuple[str, ...]) -> None:
        root = getattr(parent, "_root", parent)
        super().__init__(
            graph,
            subgraph_session_id(root.session_id, ns),
            store=parent.store,
            hot=root._hot,
            broker=None,
            max_steps=parent._max_steps,
            sink=None,
            max_concurrency=parent._concurrency,
        )
        self.run_id = root.run_id
        self.ns = ns
        self._root = root
        self._up: Mapping[str, Callable[[Any, Any], Any]] = parent._graph.reducers
        self.written: dict[str, Any] = {}
        self.interrupted: tuple[str | None, tuple[str, ...], Any] = (None, ns, None)

    def publish(
        self,
        kind: EventType,
        node_id: str | None,
        state: Mapping[str, Any] | None,
        update: Mapping[str, Any] | None = None,
        error: str | None = None,
        data: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        ns: tuple[str, ...] = (),
    ) -> None:
        if kind in _ROOT_ONLY:
            if kind is EventType.INTERRUPT:
                self.interrupted = (node_id, ns or self.ns, state)
            return
        if kind is EventType.NODE_END and update and (data is None or not data.get("parallel")):
            self._fold(update)  # a parallel step's writes: in task order (_step_applied)
        self._root.publish(kind, node_id, state, update, error, data, task_id, ns or self.ns)

    def _step_applied(self, updates: list[FrozenDict]) -> None:
        for update in updates:
            if update:
                self._fold(update)

    def _fold(self, update: Mapping[str, Any]) -> None:
        written = self.written
        for key, value in update.items():
            reducer = self._up.get(key)
            if reducer is not None and key in written:
                written[key] = freeze(reducer(written[key], value))
            else:
                written[key] = value

    def _new_checkpoint(self, tasks: list[Task], paused: bool) -> Checkpoint:
        checkpoint: Checkpoint = super()._new_checkpoint(tasks, paused)
        branches = dict(checkpoint.branches or {"tasks": [t.saved() for t in tasks]})
        branches.setdefault("joins", {})
        branches.update(ns=list(self.ns), writes=self.written)
        return replace(  # the root run's id, so: the namespace keeps the id unique
            checkpoint,
            checkpoint_id=f"{checkpoint.checkpoint_id}|{'|'.join(self.ns)}",
            branches=freeze(branches),
        )

    async def go_on(self, resume: Mapping[str, Any]) -> RunStatus:
        """Continue from the subgraph checkpoint where the run paused."""
        store = self.store
        checkpoint_id = resume.get("checkpoint_id")
        checkpoint = None
        if store is not None and checkpoint_id is not None:
            checkpoint = await store.get(checkpoint_id)
        if checkpoint is None or checkpoint.branches is None:
            raise CheckpointNotFoundError(
                f"subgraph {self.ns} of session {self._root.session_id!r} paused at "
                f"checkpoint {checkpoint_id!r}, which the store does not have"
            )
        branches = checkpoint.branches
        tasks = [Task.restored(saved) for saved in branches["tasks"]]
        resumed = bool(resume.get("resumed"))
        state = apply_resume_update(
            tasks, FrozenDict(checkpoint.state), resume.get("update"), resumed=resumed
        )
        self.parent = checkpoint
        self.written = dict(branches.get("writes") or {})
        joins = {int(index): done for index, done in branches["joins"].items()}
        return await self.execute(
            tasks,
            state,
            resume_paused=checkpoint.paused and resumed,
            joins=joins,
            done=await self.restore_writes(checkpoint, tasks),
        )
