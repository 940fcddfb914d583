"""The demo's aiohttp application: one page, a small JSON API, and the library's SSE route.

* ``GET /``: the page (``static/index.html``, plain HTML + JS, no build step).
* ``GET /api/graph``: the sample graph (its steps, its Mermaid text) and the model in use.
* ``POST /api/runs``: start a run with a new session id; answers where its events are (429 when
  ``max_running`` runs are already running).
* ``GET /api/runs/{session_id}``: a run's status and events URL (for a second tab).
* ``POST /api/runs/{session_id}/approve``: resume a paused run (body ``{"approved": false}``
  declines; 400 for a body that is not UTF-8 JSON of that shape, 429 like a start).
* ``GET /chat``: a chat with the same agent through [`add_chat_route`][rxchronos.ui.add_chat_route]
  (``/api/chat``), on the AI SDK's browser pieces (``make js`` builds them).
* ``GET /runs/{session_id}/events``: the run's events over SSE (``add_sse_route``); every tab
  gets its own subscription. A first connection without an id (no ``Last-Event-ID`` header, no
  ``last_event_id`` query) is redirected to the run's start, so a tab or ``rxchronos tail`` that
  joins late sees all of it; ``?from=now`` redirects to what comes next instead.
* ``GET /favicon.ico``: the page's icon.

The app keeps the ``max_runs`` most recent runs: an older one is forgotten (404) and its
checkpoints are freed, so memory stays bounded however many runs are started.
"""

from __future__ import annotations

import asyncio
import codecs
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
from rxchronos._errors import InvalidArgumentError
from rxchronos.demo._agent import DEMO_QUESTION, STEPS, build_agent, demo_provider, initial_state
from rxchronos.graph import Checkpoint, MemoryStore, Runner, RunState
from rxchronos.model import Provider
from rxchronos.stream import Broker, Event
from rxchronos.stream.web import add_sse_route
from rxchronos.ui import add_chat_route

__all__ = ["MAX_RUNNING", "MAX_RUNS", "START_QUERY", "STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"
MAX_RUNS = 200
"""How many runs the app remembers by default; older ones are forgotten and freed."""
MAX_RUNNING = 16
"""How many runs may be running at once by default; one more is answered 429."""
START_QUERY = "from"
"""The events URL's query parameter choosing where a first connection starts: start or now."""
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


class _SessionStores:
    """A checkpoint store that can forget a session: one ``MemoryStore`` per session."""

    def __init__(self) -> None:
        self._stores: dict[str, MemoryStore] = {}
        self._sessions: dict[str, str] = {}  # checkpoint id -> session id

    async def put(self, checkpoint: Checkpoint) -> None:
        store = self._stores.get(checkpoint.session_id)
        if store is None:
            store = self._stores[checkpoint.session_id] = MemoryStore()
        await store.put(checkpoint)
        self._sessions[checkpoint.checkpoint_id] = checkpoint.session_id

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        store = self._stores.get(self._sessions.get(checkpoint_id, ""))
        return None if store is None else await store.get(checkpoint_id)

    async def latest(self, session_id: str) -> Checkpoint | None:
        store = self._stores.get(session_id)
        return None if store is None else await store.latest(session_id)

    async def list_checkpoints(self, session_id: str) -> list[Checkpoint]:
        store = self._stores.get(session_id)
        return [] if store is None else await store.list_checkpoints(session_id)

    def count(self) -> int:
        """How many checkpoints are kept, of every session."""
        return len(self._sessions)

    def session_ids(self) -> set[str]:
        return set(self._stores)

    def forget(self, session_id: str) -> None:
        self._stores.pop(session_id, None)
        self._sessions = {c: s for c, s in self._sessions.items() if s != session_id}


class _DemoRuns:
    """The runs of one app: a Runner publishing to a Broker, and the tasks driving the runs."""

    def __init__(
        self, provider: Provider, *, question: str, pace: float, max_runs: int, max_running: int
    ) -> None:
        self.provider = provider
        self.question = question
        self.max_runs = max_runs
        self.max_running = max_running
        self.broker = Broker()
        self.store = _SessionStores()
        self.runner = Runner(build_agent(provider, pace=pace), self.store, broker=self.broker)
        self.sessions: OrderedDict[str, _Session] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def running(self) -> int:
        return sum(session.status == "running" for session in self.sessions.values())

    def _check_capacity(self) -> None:
        if self.running() >= self.max_running:
            raise web.HTTPTooManyRequests(
                text=f"the demo runs at most {self.max_running} "
                f"{'run' if self.max_running == 1 else 'runs'} at once, and that many are "
                "running; try again when one has paused or finished",
                headers={"Retry-After": "1"},
            )

    def _remember(self, session: _Session) -> None:
        """Keep ``session``; forget the oldest runs that are not running past ``max_runs``."""
        self.sessions[session.session_id] = session
        idle = (s for s in list(self.sessions.values()) if s.status != "running")
        while len(self.sessions) > self.max_runs:
            old = next(idle, None)
            if old is None:  # cannot happen while max_running <= max_runs
                break
            del self.sessions[old.session_id]
            self.store.forget(old.session_id)

    def start(self) -> _Session:
        self._check_capacity()
        session_id = secrets.token_hex(6)
        since = self.broker.last_event_id  # a page opening later replays the run from its start
        self.broker.publish(
            Event(type="run_started", data={"session_id": session_id, "question": self.question}),
            topic=session_id,
        )
        session = _Session(session_id, "running", since)
        self._remember(session)
        self._drive(session, self.runner.run(session_id, initial_state(self.question)))
        return session

    def approve(self, session: _Session, approved: bool) -> None:
        if session.status != "paused":
            raise web.HTTPConflict(
                text=f"run {session.session_id} is {session.status}, not waiting for approval"
            )
        self._check_capacity()
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
        await self.runner.aclose()  # runs in flight end cancelled: their pages are told so
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.broker.close()
        await self.provider.aclose()


_RUNS = web.AppKey("rxchronos_demo_runs", _DemoRuns)


def create_app(
    provider: Provider | None = None,
    *,
    question: str = DEMO_QUESTION,
    pace: float = 0.6,
    max_runs: int = MAX_RUNS,
    max_running: int = MAX_RUNNING,
) -> web.Application:
    """The demo web application (see the module docstring for its routes).

    Args:
        provider: the model the agent asks; by default the offline
            `demo_provider()`. The app closes it on cleanup.
        question: what the user asks in every run.
        pace: seconds the non-model nodes pretend to work, so the diagram can be followed.
        max_runs: how many runs the app remembers; older ones are forgotten and their
            checkpoints freed.
        max_running: how many runs may run at once (at most ``max_runs``); starting or
            approving one more is answered 429.

    Raises:
        ValueError: for a negative ``pace`` or limits that are not positive integers.

    Example:
        >>> from aiohttp import web
        >>> from rxchronos.demo import create_app, demo_provider
        >>> app = create_app(demo_provider(delay=0.05))
        >>> sorted(r.method for r in app.router.routes() if r.method != "HEAD")[:3]
        ['GET', 'GET', 'GET']
    """
    for name, limit in (("max_runs", max_runs), ("max_running", max_running)):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"{name} must be a positive integer, got {limit!r}")
    if max_running > max_runs:
        raise InvalidArgumentError(
            f"max_running ({max_running}) must not exceed max_runs ({max_runs})"
        )
    runs = _DemoRuns(
        provider or demo_provider(),
        question=question,
        pace=pace,
        max_runs=max_runs,
        max_running=max_running,
    )
    app = web.Application()
    app[_RUNS] = runs
    app.on_shutdown.append(_shutdown)
    app.router.add_get("/", _index)
    app.router.add_get("/favicon.ico", _favicon)
    app.router.add_static("/static/", STATIC_DIR, name="static")
    app.router.add_get("/api/graph", _graph)
    app.router.add_post("/api/runs", _start)
    app.router.add_get("/api/runs/{session_id}", _status)
    app.router.add_post("/api/runs/{session_id}/approve", _approve)
    add_sse_route(app, "/runs/{topic}/events", runs.broker, authorize=_known_run, retry=1.0)
    app.router.add_get("/chat", _chat)
    chat_runner = Runner(build_agent(runs.provider, pace=pace), MemoryStore())
    add_chat_route(app, "/api/chat", runner=chat_runner)
    return app


async def _shutdown(app: web.Application) -> None:
    await app[_RUNS].close()


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _favicon(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "favicon.svg", headers={"Content-Type": "image/svg+xml"})


async def _chat(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "chat.html", headers={"Cache-Control": "no-cache"})


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
        text = await _body_text(request)
        try:
            body = json.loads(text or "{}", parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise web.HTTPBadRequest(text='the body must be JSON: {"approved": true}') from None
        if not isinstance(body, dict) or not isinstance(body.get("approved", True), bool):
            raise web.HTTPBadRequest(text='the body must be {"approved": true} or false')
        approved = body.get("approved", True)
    request.app[_RUNS].approve(session, approved)
    return web.json_response(session.describe(), status=202)


async def _body_text(request: web.Request) -> str:
    """The request's body as text in its declared charset (UTF-8 by default); 400 otherwise."""
    charset = request.charset or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        raise web.HTTPBadRequest(text=f"unknown charset {charset[:40]!r}; send UTF-8") from None
    raw = await request.read()
    try:
        return raw.decode(charset)
    except UnicodeDecodeError:
        raise web.HTTPBadRequest(text=f"the body is not valid {charset[:40]} text") from None


def _no_constant(name: str) -> None:
    raise InvalidArgumentError(f"{name} is not JSON")


def _known_run(request: web.Request, topic: str | None) -> bool:
    """404 for an unknown run; a first connection without an id goes to the run's start."""
    runs = request.app[_RUNS]
    session = runs.sessions.get(topic or "")
    if session is None:
        raise web.HTTPNotFound(text=f"no run with session id {(topic or '')[:64]!r}")
    if "Last-Event-ID" in request.headers or "last_event_id" in request.query:
        return True
    start = request.query.get(START_QUERY, "start")
    if start not in ("start", "now"):
        raise web.HTTPBadRequest(text=f"{START_QUERY}= must be start or now, got {start[:40]!r}")
    since = session.since if start == "start" else runs.broker.last_event_id
    query = {k: v for k, v in request.query.items() if k != START_QUERY}
    raise web.HTTPTemporaryRedirect(request.rel_url.with_query({**query, "last_event_id": since}))
