"""One worker process for the run-control tests: a Runner on a RedisBroker and a PostgresStore.

``python -m tests.graph.control_worker REDIS_URL NAMESPACE DSN SCHEMA`` answers one command per
stdin line with JSON lines on stdout:

* ``run SESSION``: start a run of the graph below (its ``hang`` node waits until the state has
  ``go``); every event of the run is reported as ``{"event": type, "node": node}``, a control
  message that reaches this process as ``{"control": [session, command]}``, and the run's end as
  ``{"ended": status}``;
* ``cancel SESSION``: ``runner.cancel(session)``, answered ``{"cancel": bool}``;
* ``resume SESSION``: resume with ``{"go": true}``, answered ``{"resumed": status, "state": ...}``.

It prints ``{"ready": true}`` once connected, and ends when its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from rxchronos.graph import PostgresStore
from rxchronos.graph import Runner
from rxchronos.stream import RedisBroker
from tests.graph.helpers import chain


def say(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def hang(state: dict[str, Any]) -> dict[str, Any]:
    if not state.get("go"):
        await asyncio.sleep(3600)
    return {"hung": False}


GRAPH = chain(("first", lambda s: {"n": 1}), ("hang", hang), ("last", lambda s: {"m": 2}))


async def main(url: str, namespace: str, dsn: str, schema: str) -> None:
    async with (
        RedisBroker(url, namespace=namespace) as broker,
        PostgresStore(dsn, schema=schema, timeout=10) as store,
        Runner(GRAPH, store, broker=broker, lease_ttl=30) as runner,
    ):
        runner.events.subscribe(lambda e: say({"event": e.type, "node": e.node_id}))
        broker.controls.subscribe(lambda c: say({"control": list(c)}))
        runs: set[asyncio.Task[None]] = set()

        async def run(session: str) -> None:
            result = await runner.run(session, {})
            say({"ended": str(result.status)})

        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        say({"ready": True})
        while line := await stdin.readline():
            command, session = line.decode().split()
            if command == "run":
                task = asyncio.create_task(run(session))
                runs.add(task)
                task.add_done_callback(runs.discard)
            elif command == "cancel":
                say({"cancel": await runner.cancel(session)})
            elif command == "resume":
                result = await runner.resume(session, update={"go": True})
                say({"resumed": str(result.status), "state": dict(result.state)})


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
