"""The demo's aiohttp application: one page, a small JSON API, and the library's SSE route.

* ``GET /``: the page (``static/index.html``, plain HTML + JS, no build step).
* ``GET /api/graph``: the sample graph (its steps, its Mermaid text) and the model in use.
* ``POST /api/runs``: start a run with a new session id; answers where its events are.
* ``GET /api/runs/{session_id}``: a run's status and events URL (for a second tab).
* ``POST /api/runs/{session_id}/approve``: resume a paused run (body ``{"approved": false}``
  declines).
* ``GET /runs/{session_id}/events``: the run's events over SSE (:func:`add_sse_route`); every tab
  gets its own subscription, and the ``last_event_id`` in the events URL replays the run from
  its start, so a tab that joins late sees all of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from rxchronos import RxChronosError
from rxchronos.demo._agent import DEMO_QUESTION, STEPS, build_agent, demo_provider, initial_state
from rxchronos.graph import MemoryStore, Runner, RunState
from rxchronos.model import Provider
from rxchronos.stream import Broker, Event
from rxchronos.stream.web import add_sse_route

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"
_MAX_SESSIONS = 200
_log = logging.getLogger("rxchronos.demo")


@dataclass(slots=True)
class _Session:
    session_id: str
    status: str  # running, paused, completed, failed, cancelled
    since: str  # the broker id just before the run's first event: the replay anchor

    def describe(self) -> dict[str, str]:
        return {
            "session_id": self.session_id,
            "status": self.status,
            "events_url": f"/runs/{self.session_id}/events?last_event_id={self.since}",
        }


class _DemoRuns:
    """The runs of one app: a Runner publishing to a Broker, and the tasks driving the runs."""

    def __init__(self, provider: Provider, *, question: str, pace: float) -> None:
        self.provider = provider
        self.question = question
        self.broker = Broker()
        self.runner = Runner(build_agent(provider, pace=pace), MemoryStore(), broker=self.broker)
        self.sessions: OrderedDict[str, _Session] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> _Session:
        session_id = secrets.token_hex(6)
        since = self.broker.last_event_id  # a page opening later replays the run from its start
        self.broker.publish(
            Event(type="run_started", data={"session_id": session_id, "question": self.question}),
            topic=session_id,
        )
        session = _Session(session_id, "running", since)
        self.sessions[session_id] = session
        while len(self.sessions) > _MAX_SESSIONS:
            self.sessions.popitem(last=False)
        self._drive(session, self.runner.run(session_id, initial_state(self.question)))
        return session

    def approve(self, session: _Session, approved: bool) -> None:
        if session.status != "paused":
            raise web.HTTPConflict(
                text=f"run {session.session_id} is {session.status}, not waiting for approval"
            )
        session.status = "running"
        update = {"approved": approved}
        self._drive(session, self.runner.resume(session.session_id, update=update))

    def _drive(self, session: _Session, run: Coroutine[Any, Any, RunState]) -> None:
        async def drive() -> None:
            try:
                session.status = str((await run).status)
            except RxChronosError as exc:  # the run's `error` event already told the page
                session.status = "failed"
                _log.warning("demo run %s failed: %s", session.session_id, exc)

        task = asyncio.get_running_loop().create_task(drive())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.broker.close()
        await self.provider.aclose()


_RUNS = web.AppKey("rxchronos_demo_runs", _DemoRuns)


def create_app(
    provider: Provider | None = None, *, question: str = DEMO_QUESTION, pace: float = 0.6
) -> web.Application:
    """The demo web application (see the module docstring for its routes).

    Args:
        provider: the model the agent asks; by default the offline :func:`demo_provider`. The
            app closes it on cleanup.
        question: what the user asks in every run.
        pace: seconds the non-model nodes pretend to work, so the diagram can be followed.

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.demo import create_app, demo_provider
        >>> app = create_app(demo_provider(delay=0.05))
        >>> sorted(r.method for r in app.router.routes() if r.method != "HEAD")[:3]
        ['GET', 'GET', 'GET']
    """
    runs = _DemoRuns(provider or demo_provider(), question=question, pace=pace)
    app = web.Application()
    app[_RUNS] = runs
    app.on_shutdown.append(_shutdown)
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC_DIR, name="static")
    app.router.add_get("/api/graph", _graph)
    app.router.add_post("/api/runs", _start)
    app.router.add_get("/api/runs/{session_id}", _status)
    app.router.add_post("/api/runs/{session_id}/approve", _approve)
    add_sse_route(app, "/runs/{topic}/events", runs.broker, authorize=_known_run)
    return app


async def _shutdown(app: web.Application) -> None:
    await app[_RUNS].close()


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _graph(request: web.Request) -> web.Response:
    runs = request.app[_RUNS]
    graph = runs.runner.graph
    return web.json_response(
        {
            "graph_id": graph.graph_id,
            "steps": list(STEPS),
            "mermaid": graph.to_mermaid(),
            "model": f"{runs.provider.name}:{runs.provider.model}",
            "question": runs.question,
        }
    )


async def _start(request: web.Request) -> web.Response:
    return web.json_response(request.app[_RUNS].start().describe(), status=201)


def _session(request: web.Request) -> _Session:
    session_id = request.match_info["session_id"]
    session = request.app[_RUNS].sessions.get(session_id)
    if session is None:
        raise web.HTTPNotFound(text=f"no run with session id {session_id[:64]!r}")
    return session


async def _status(request: web.Request) -> web.Response:
    return web.json_response(_session(request).describe())


async def _approve(request: web.Request) -> web.Response:
    session = _session(request)
    approved = True
    if request.can_read_body:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            raise web.HTTPBadRequest(text='the body must be JSON: {"approved": true}') from None
        if not isinstance(body, dict) or not isinstance(body.get("approved", True), bool):
            raise web.HTTPBadRequest(text='the body must be {"approved": true} or false')
        approved = body.get("approved", True)
    request.app[_RUNS].approve(session, approved)
    return web.json_response(session.describe(), status=202)


def _known_run(request: web.Request, topic: str | None) -> bool:
    if topic is None or topic not in request.app[_RUNS].sessions:
        raise web.HTTPNotFound(text=f"no run with session id {(topic or '')[:64]!r}")
    return True
