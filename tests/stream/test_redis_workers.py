"""RedisBroker across worker processes: two aiohttp apps in their own processes on one Redis.

A client that read part of a run from one worker and reconnects to the other (after the first
was killed) gets exactly the rest; many clients hopping between workers while events are
published each end with every event once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal

import aiohttp

from rxchronos.stream import Event
from rxchronos.stream import RedisBroker

from .conftest import SSEReader
from .conftest import publish_numbers
from .redis_servers import Worker
from .redis_servers import worker_processes


def workers(
    url: str, namespace: str, count: int
) -> contextlib.AbstractAsyncContextManager[list[Worker]]:
    return worker_processes("tests.stream.redis_worker", count, url, namespace)


def number(event_data: str) -> int:
    value: int = json.loads(event_data)["data"]
    return value


async def test_a_client_resumes_on_the_other_worker_after_its_worker_is_killed(
    url: str, namespace: str
) -> None:
    async with (
        RedisBroker(url, namespace=namespace) as publisher,
        workers(url, namespace, 2) as (a, b),
        aiohttp.ClientSession() as http,
    ):
        response = await http.get(f"{a.base}/runs/run-1")
        reader = SSEReader(response)
        await reader.until_raw(b": connected\n")
        for n in range(20):
            publisher.publish(Event(type="n", data=n), topic="run-1")
        await publisher.flush()
        seen = await asyncio.wait_for(reader.take(12), 20)
        a.process.send_signal(signal.SIGKILL)
        await a.process.wait()
        response.close()
        for n in range(20, 30):
            publisher.publish(Event(type="n", data=n), topic="run-1")
        await publisher.flush()
        again = SSEReader(
            await http.get(f"{b.base}/runs/run-1", headers={"Last-Event-ID": seen[-1].id})
        )
        rest = await asyncio.wait_for(again.take(18), 20)
        assert [number(e.data) for e in seen + rest] == list(range(30))
        again.response.close()


async def test_a_reconnect_storm_across_workers_while_publishing_loses_nothing(
    url: str, namespace: str
) -> None:
    total, clients = 600, 20
    async with (
        RedisBroker(url, namespace=namespace) as publisher,
        workers(url, namespace, 2) as pool,
        aiohttp.ClientSession() as http,
    ):
        publisher.publish(Event(type="n", data=0), topic="storm")
        await publisher.flush()
        start = f"{await _epoch_of(http, pool[0])}-0"

        async def one_client(seed: int) -> list[int]:
            rng = random.Random(seed)
            last, got = start, []
            while len(got) < total:
                worker = pool[rng.randrange(len(pool))]
                response = await http.get(
                    f"{worker.base}/runs/storm", headers={"Last-Event-ID": last}
                )
                reader = SSEReader(response)
                with contextlib.suppress(EOFError):
                    for _ in range(rng.randint(1, 60)):
                        if len(got) == total:
                            break
                        event = await reader.next()
                        got.append(number(event.data))
                        last = event.id
                response.close()
            return got

        results = await asyncio.wait_for(
            asyncio.gather(
                publish_numbers(publisher, "storm", range(1, total), every=5, pause=0.002),
                *(one_client(seed) for seed in range(clients)),
            ),
            120,
        )
        for got in results[1:]:
            assert got == list(range(total))


async def _epoch_of(http: aiohttp.ClientSession, worker: Worker) -> str:
    """The topic's epoch, from the reset a nonsense id gets."""
    response = await http.get(f"{worker.base}/runs/storm", headers={"Last-Event-ID": "x"})
    reader = SSEReader(response)
    reset = await asyncio.wait_for(reader.next(), 20)
    response.close()
    event_id: str = reset.id
    return event_id.rsplit("-", 1)[0]
