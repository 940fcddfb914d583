"""How a run keeps its lease on a store that several workers share: renewals while it runs, and
what a renewal finds (a cancel flag, a lease taken over, a store that stays away or comes back).

The store here keeps its leases in memory and is told what its next renewals answer, so each
path runs in a fraction of a second with a short ``lease_ttl``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from rxchronos.graph import CheckpointStoreError
from rxchronos.graph import Lease
from rxchronos.graph import LeaseStore
from rxchronos.graph import MemoryStore
from rxchronos.graph import Runner
from rxchronos.graph import RunStatus
from rxchronos.graph import SessionBusyError
from rxchronos.graph import StateGraph

TTL = 0.2  # renewals every 0.05 s


class ScriptedLeases(MemoryStore):
    """A MemoryStore with leases; ``answers`` are what the next renewals do (then ``"held"``)."""

    __slots__ = ("acquired", "answers", "released", "renewals")

    def __init__(self, *answers: str) -> None:
        super().__init__()
        self.answers = list(answers)
        self.renewals = 0
        self.acquired: list[str] = []
        self.released: list[str] = []

    async def acquire_lease(self, session_id: str, owner: str, ttl: float) -> Lease:
        self.acquired.append(owner)
        return Lease(session_id, owner, ttl)

    async def renew_lease(self, session_id: str, owner: str, ttl: float) -> Any:
        self.renewals += 1
        answer = self.answers.pop(0) if self.answers else "held"
        if answer == "fail":
            raise CheckpointStoreError("the store is away")
        return answer

    async def release_lease(self, session_id: str, owner: str) -> None:
        self.released.append(owner)

    async def request_cancel(self, session_id: str) -> bool:
        return False


def waiting_graph(renewals: int, store: ScriptedLeases) -> Any:
    """One node that runs until the store has seen ``renewals`` renewals (or is cancelled)."""

    async def work(state: Mapping[str, Any]) -> dict[str, Any]:
        while store.renewals < renewals:
            await asyncio.sleep(0.01)
        return {"done": True}

    return StateGraph("g").add_node("work", work).set_entry_point("work").compile()


def test_the_store_is_a_lease_store() -> None:
    assert isinstance(ScriptedLeases(), LeaseStore)


async def test_a_short_run_takes_and_gives_back_its_lease_without_renewing() -> None:
    store = ScriptedLeases()
    graph = StateGraph("g").add_node("a", lambda s: {"x": 1}).set_entry_point("a").compile()
    result = await Runner(graph, store, lease_ttl=TTL).run("s", {})
    assert result.status is RunStatus.COMPLETED
    assert store.renewals == 0 and store.acquired == store.released and len(store.acquired) == 1


async def test_a_long_run_renews_until_it_ends_and_then_stops_renewing() -> None:
    store = ScriptedLeases()
    result = await Runner(waiting_graph(3, store), store, lease_ttl=TTL).run("s", {})
    assert result.status is RunStatus.COMPLETED and store.released == store.acquired
    seen = store.renewals
    await asyncio.sleep(TTL)
    assert store.renewals == seen  # nothing renews a lease that was given back


async def test_a_cancel_flag_found_on_renewal_cancels_the_run() -> None:
    store = ScriptedLeases("held", "cancel")
    result = await Runner(waiting_graph(10**9, store), store, lease_ttl=TTL).run("s", {})
    assert result.status is RunStatus.CANCELLED and store.released == store.acquired


async def test_a_lease_taken_over_stops_the_run_with_session_busy() -> None:
    store = ScriptedLeases("lost")
    with pytest.raises(SessionBusyError, match="lost its lease"):
        await Runner(waiting_graph(10**9, store), store, lease_ttl=TTL).run("s", {})
    assert store.released == store.acquired


async def test_a_store_away_for_a_moment_is_tried_again() -> None:
    store = ScriptedLeases("fail", "held", "held")
    result = await Runner(waiting_graph(3, store), store, lease_ttl=TTL).run("s", {})
    assert result.status is RunStatus.COMPLETED


async def test_a_store_away_until_the_lease_would_expire_stops_the_run() -> None:
    store = ScriptedLeases(*["fail"] * 100)
    with pytest.raises(CheckpointStoreError, match="could not be renewed"):
        await Runner(waiting_graph(10**9, store), store, lease_ttl=TTL).run("s", {})
    assert store.renewals >= 2


async def test_a_renewal_that_crashes_is_raised_when_the_run_ends() -> None:
    class Broken(ScriptedLeases):
        __slots__ = ()

        async def renew_lease(self, session_id: str, owner: str, ttl: float) -> Any:
            self.renewals += 1
            raise ZeroDivisionError("a defect in the store")

    store = Broken()
    with pytest.raises(ZeroDivisionError, match="a defect in the store"):
        await Runner(waiting_graph(1, store), store, lease_ttl=TTL).run("s", {})
