"""One worker process for the RedisBroker tests: an aiohttp app streaming a RedisBroker.

``python -m tests.stream.redis_worker URL NAMESPACE`` prints the port it listens on, then serves
until its standard input closes (or it is killed).
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from rxchronos.stream import RedisBroker


async def main(url: str, namespace: str) -> None:
    async with RedisBroker(url, namespace=namespace) as broker:
        app = web.Application()
        broker.add_sse_route(app, "/runs/{topic}", retry=0.05)
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        print(runner.addresses[0][1], flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
