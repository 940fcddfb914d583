"""The servers of ``ui_protocols.py``: the same graph events fanned out in three spellings.

Run by ``ui_protocols.py`` through ``sse_fanout.py``'s harness, with the command loop of
``_fanout_server.py`` (``python benchmarks/_ui_protocols_server.py KIND``). Every published event
is the ``custom`` ``StreamEvent`` a node's ``emit("tick", {"pad", "seq", "t"})`` produces; KIND says
how it reaches the clients at ``GET /events``:

``plain``   rxchronos' own frames: the event published to a ``Broker`` as a ``Runner`` does,
            served by ``broker.sse_handler()``;
``ui``      the AI SDK's UI message stream: ``to_ui_message_stream()`` (a ``data-tick`` part),
            published and served the way ``add_chat_route`` does it;
``ag-ui``   AG-UI: ``to_ag_ui()`` (a validated ``CUSTOM`` event), published and served the way
            ``add_ag_ui_route`` does it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import reactivex
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
import _fanout_server as fanout

from rxchronos.graph import EventType
from rxchronos.graph import StreamEvent
from rxchronos.stream import Broker


def tick(seq: int) -> StreamEvent:
    return StreamEvent(
        type=EventType.CUSTOM,
        run_id="run-1",
        session_id="session-1",
        seq=seq,
        node_id="work",
        data={"type": "tick", "data": fanout.event_data(seq)},
        timestamp=0.0,
    )


class PlainServer(fanout.Server):
    def __init__(self, buffer_size: int) -> None:
        self.broker = Broker(buffer_size=buffer_size)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/events", self.broker.sse_handler())
        await fanout.start_aiohttp(self, app)

    def publish(self, seq: int) -> None:
        self.broker.publish(tick(seq))

    def connected(self) -> int:
        return self.broker.stats().subscribers


class ProtocolServer(PlainServer):
    """A reply of one protocol route, fed by a subject of graph events (the route's own path)."""

    def __init__(self, buffer_size: int, protocol: str) -> None:
        super().__init__(buffer_size)
        self.protocol = protocol

    async def start(self) -> None:
        from rxchronos.ui import to_ag_ui
        from rxchronos.ui import to_ui_message_stream
        from rxchronos.ui._ag_ui import wire
        from rxchronos.ui._ag_ui_route import _SPELLING as AG_UI
        from rxchronos.ui._chat_route import _SPELLING as UI
        from rxchronos.ui._resumable import Replies

        self.source: reactivex.subject.Subject[StreamEvent] = reactivex.subject.Subject()
        replies = Replies(self.broker)
        if self.protocol == "ui":
            items = self.source.pipe(to_ui_message_stream())
            reply = await replies.start("ui-chat:chat", items, dict)
            spelling = UI
        else:
            items = self.source.pipe(to_ag_ui("thread", "run"))
            reply = await replies.start("ag-ui:thread", items, wire)
            spelling = AG_UI
        assert reply is not None

        async def events(request: web.Request) -> web.StreamResponse:
            return await replies.serve(request, reply, spelling)

        app = web.Application()
        app.router.add_get("/events", events)
        await fanout.start_aiohttp(self, app)

    def publish(self, seq: int) -> None:
        self.source.on_next(tick(seq))


def make(kind: str, buffer_size: int) -> Any:
    if kind == "plain":
        return PlainServer(buffer_size)
    return ProtocolServer(buffer_size, kind)


if __name__ == "__main__":
    fanout.make = make  # the same command loop, these servers
    asyncio.run(fanout.main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1024))
