"""One worker process for the cross-worker resume tests: the chat and AG-UI routes on a RedisBroker.

``python -m tests.ui.redis_ui_worker URL NAMESPACE`` prints the port it listens on, then serves
``/api/chat`` (``add_chat_route``) and ``/agent`` (``add_ag_ui_route``), both answered by the
scripted model of ``tests/ui/conftest.py`` one fragment every 50 ms, until its standard input
closes (or it is killed).
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from rxchronos.stream import RedisBroker
from rxchronos.ui import add_ag_ui_route
from rxchronos.ui import add_chat_route
from tests.stream.redis_servers import serve_until_stdin_closes
from tests.ui.conftest import scripted_model


async def main(url: str, namespace: str) -> None:
    async with RedisBroker(url, namespace=namespace) as broker:
        app = web.Application()
        add_chat_route(app, "/api/chat", provider=scripted_model(delay=0.05), broker=broker)
        add_ag_ui_route(app, "/agent", provider=scripted_model(delay=0.05), broker=broker)
        await serve_until_stdin_closes(app)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
