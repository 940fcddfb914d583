"""One worker process for the RedisBroker tests: an aiohttp app streaming a RedisBroker.

``python -m tests.stream.redis_worker URL NAMESPACE`` prints the port it listens on, then serves
until its standard input closes (or it is killed).
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from rxchronos.stream import RedisBroker
from tests.stream.redis_servers import serve_until_stdin_closes


async def main(url: str, namespace: str) -> None:
    async with RedisBroker(url, namespace=namespace) as broker:
        app = web.Application()
        broker.add_sse_route(app, "/runs/{topic}", retry=0.05)
        await serve_until_stdin_closes(app)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
