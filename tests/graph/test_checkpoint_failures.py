"""A checkpoint write that fails ends the run ``failed``, like a failing node: an ``error`` event,
then the store's error (``StateSerializationError`` / ``CheckpointStoreError``) carrying the run's
``RunState``; the session keeps its latest good checkpoint and can be resumed."""

from __future__ import annotations

from pathlib import Path

import pytest
from reactivex import operators as ops

from rxchronos.graph import Checkpoint
from rxchronos.graph import CheckpointStoreError
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import SQLiteStore
from rxchronos.graph import StateSerializationError
from rxchronos.graph import StreamEvent

from .helpers import approval_graph
from .helpers import assert_failed
from .helpers import kinds
from .helpers import linear_graph
from .helpers import record


class FailingStore(MemoryStore):
    """A MemoryStore whose ``put`` fails the ``at_put``-th time, or for every paused checkpoint."""

    def __init__(self, *, at_put: int | None = None, paused: bool = False) -> None:
        super().__init__()
        self.at_put = at_put
        self.paused = paused
        self.puts = 0

    async def put(self, checkpoint: Checkpoint) -> None:
        self.puts += 1
        if self.puts == self.at_put or (self.paused and checkpoint.paused):
            raise CheckpointStoreError(f"disk full writing {checkpoint.checkpoint_id}")
        await super().put(checkpoint)


async def test_a_store_error_mid_run_fails_the_stream_too_and_the_session_resumes() -> None:
    store = FailingStore(at_put=2)
    runner = Runner(linear_graph().compile(), store)
    seen: list[StreamEvent] = []
    with pytest.raises(CheckpointStoreError, match="disk full") as info:
        await runner.stream("s", {}).pipe(ops.do_action(seen.append), ops.to_list())
    state = assert_failed(info.value.run_state, seen, "transform")
    assert kinds(seen)[-3:] == ["node_start:transform", "node_end:transform", "error:transform"]
    assert state.steps == 2
    first = (await store.list_checkpoints("s"))[0]
    assert state.checkpoint_id == first.checkpoint_id

    result = await runner.resume("s")  # goes on after the last good checkpoint
    assert result.status is RunStatus.COMPLETED
    assert result.state["loaded"] == 12


async def test_a_failed_write_at_an_interrupt_fails_the_run_instead_of_pausing_it() -> None:
    runner = Runner(approval_graph().compile(), FailingStore(paused=True))
    seen = record(runner)
    with pytest.raises(CheckpointStoreError) as info:
        await runner.run("s", {})
    assert_failed(info.value.run_state, seen, "review")
    assert "interrupt" not in [e.type for e in seen]


async def test_a_fork_whose_first_checkpoint_fails_is_a_failed_run() -> None:
    store = FailingStore()
    runner = Runner(linear_graph().compile(), store)
    await runner.run("s", {})
    origin = (await store.list_checkpoints("s"))[0]
    store.at_put = store.puts + 1  # the fork's first write
    with pytest.raises(CheckpointStoreError) as info:
        await runner.fork_from(origin.checkpoint_id, {"rows": [5]}, session_id="f")
    assert info.value.run_state is not None
    assert (info.value.run_state.status, info.value.run_state.session_id) == ("failed", "f")
    assert await store.list_checkpoints("f") == []


async def test_errors_from_using_a_store_directly_carry_no_run_state(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "runs.db") as store:
        bad = Checkpoint("c1", "s", "r", 1, {"x": object()}, None, False, None, 0.0)
        with pytest.raises(StateSerializationError) as info:
            await store.put(bad)
    assert info.value.run_state is None
    with pytest.raises(CheckpointStoreError) as closed:
        await store.latest("s")
    assert closed.value.run_state is None
