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
checkpoints are freed, so memory stays bounded however many runs are started. With a
[SharedBackend][rxchronos.demo.SharedBackend] the runs are in Redis and PostgreSQL instead, for
every worker of ``rxchronos demo --workers N`` (see ``rxchronos.demo._workers``).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import os
import secrets
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from rxchronos import RxChronosError
from rxchronos._errors import InvalidArgumentError
from rxchronos.demo._agent import DEMO_QUESTION
from rxchronos.demo._agent import STEPS
from rxchronos.demo._agent import build_agent
from rxchronos.demo._agent import demo_provider
from rxchronos.demo._agent import initial_state
from rxchronos.demo._shared import HEARTBEAT_INTERVAL
from rxchronos.demo._shared import MemorySessions
from rxchronos.demo._shared import SessionRecord
from rxchronos.demo._shared import Sessions
from rxchronos.demo._shared import SharedBackend
from rxchronos.graph import Checkpoint
from rxchronos.graph import CheckpointStore
from rxchronos.graph import MemoryStore
from rxchronos.graph import NothingToResumeError
from rxchronos.graph import Runner
from rxchronos.graph import RunState
from rxchronos.graph import SessionBusyError
from rxchronos.model import Provider
from rxchronos.stream import Broker
from rxchronos.stream import BrokerProtocol
from rxchronos.stream import Event
from rxchronos.stream.web import add_sse_route
from rxchronos.ui import add_chat_route

__all__ = [
    "ADOPT_AFTER",
    "MAX_RUNNING",
    "MAX_RUNS",
    "START_QUERY",
    "STATIC_DIR",
    "WORKER_HEADER",
    "create_app",
]

STATIC_DIR = Path(__file__).parent / "static"
MAX_RUNS = 200
"""How many runs the app remembers by default; older ones are forgotten and freed."""
MAX_RUNNING = 16
"""How many runs may be running at once by default; one more is answered 429."""
START_QUERY = "from"
"""The events URL's query parameter choosing where a first connection starts: start or now."""
ADOPT_AFTER = 3.0
"""Seconds a run's lease lasts unrenewed with a shared backend: soon after, a worker whose
runs' worker died resumes them."""
_ADOPT_TRIES = 40  # waits of ADOPT_AFTER / 4 for a dead worker's lease to expire
WORKER_HEADER = "X-Rxchronos-Worker"
"""With a shared backend, every response names the process (pid) of the worker that sent it."""
_log = logging.getLogger("rxchronos.demo")


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
    """The runs of one app: a Runner publishing to a broker, and the tasks driving the runs.

    In one process (the default) the broker is a ``Broker`` and the checkpoints stay in
    memory; with a [SharedBackend][rxchronos.demo.SharedBackend] they are in Redis and
    PostgreSQL, every worker answers for every run, and a worker adopts the runs of a worker
    that died (see ``rxchronos.demo._shared``).
    """

    def __init__(
        self,
        provider: Provider,
        *,
        question: str,
        pace: float,
        max_runs: int,
        max_running: int,
        shared: SharedBackend | None,
    ) -> None:
        self.provider = provider
        self.question = question
        self.max_running = max_running
        self.shared = shared
        self.broker: BrokerProtocol
        self.sessions: Sessions
        if shared is None:
            self.broker = Broker()
            self.store: CheckpointStore = _SessionStores()
            self.sessions = MemorySessions(max_runs, self.store.forget)
            self.runner = Runner(build_agent(provider, pace=pace), self.store, broker=self.broker)
        else:
            self.broker, self.store, self.sessions = shared.broker, shared.store, shared.sessions
            self.runner = Runner(
                build_agent(provider, pace=pace),
                self.store,
                broker=self.broker,
                lease_ttl=ADOPT_AFTER,
            )
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None

    def running(self) -> int:
        """How many runs this app drives now."""
        return len(self._tasks)

    def _check_capacity(self) -> None:
        if self.running() >= self.max_running:
            raise web.HTTPTooManyRequests(
                text=f"the demo runs at most {self.max_running} "
                f"{'run' if self.max_running == 1 else 'runs'} at once, and that many are "
                "running; try again when one has paused or finished",
                headers={"Retry-After": "1"},
            )

    async def start(self) -> SessionRecord:
        self._check_capacity()
        session_id = secrets.token_hex(6)
        event = Event(
            type="run_started", data={"session_id": session_id, "question": self.question}
        )
        if isinstance(self.broker, Broker):
            since = self.broker.last_event_id  # a page opening later replays the run from here
            self.broker.publish(event, topic=session_id)
        else:  # ids are given where the events are stored: read the first one back
            self.broker.publish(event, topic=session_id)
            await self.broker.flush()
            since = _before((await self.broker.history(session_id))[0].id or "")
        record = SessionRecord(session_id, "running", since)
        await self.sessions.add(record)
        self._drive(session_id, self.runner.run(session_id, initial_state(self.question)))
        return record

    async def now(self, session_id: str) -> str:
        """The id after which a subscriber to the run gets only what comes next."""
        if isinstance(self.broker, Broker):
            return self.broker.last_event_id
        history = await self.broker.history(session_id)
        return (history[-1].id or "") if history else ""

    async def approve(self, record: SessionRecord, approved: bool) -> SessionRecord:
        self._check_capacity()
        if not await self.sessions.set_status(record.session_id, "running", expect="paused"):
            now = await self.sessions.get(record.session_id) or record
            raise web.HTTPConflict(
                text=f"run {record.session_id} is {now.status}, not waiting for approval"
            )
        record.status = "running"
        update = {"approved": approved}
        self._drive(record.session_id, self.runner.resume(record.session_id, update=update))
        return record

    def _drive(self, session_id: str, run: Coroutine[Any, Any, RunState]) -> None:
        async def drive() -> None:
            try:
                status = str((await run).status)
            except RxChronosError as exc:  # the run's `error` event already told the page
                status = "failed"
                _log.warning("demo run %s failed: %s", session_id, exc)
            try:
                await self.sessions.set_status(session_id, status)
            except RxChronosError as exc:
                _log.warning("demo run %s ended %s, not recorded: %s", session_id, status, exc)

        task = asyncio.get_running_loop().create_task(drive())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def watch(self) -> None:
        """Start renewing this worker's heartbeat and adopting the runs of dead workers."""
        if self.shared is not None and self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._adopt_orphans())

    async def _adopt_orphans(self) -> None:
        while True:
            try:
                for session_id in await self.sessions.heartbeat():
                    _log.warning("demo run %s lost its worker: resuming it here", session_id)
                    self._drive(session_id, self._adopt(session_id))
            except RxChronosError as exc:
                _log.warning("demo: cannot look for runs of dead workers: %s", exc)
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    async def _adopt(self, session_id: str) -> RunState:
        """Resume a dead worker's run once its lease has expired (from its last checkpoint;
        from the start when it had none)."""
        for _ in range(_ADOPT_TRIES):
            try:
                return await self.runner.resume(session_id)
            except SessionBusyError:  # the dead worker's lease has not expired yet
                await asyncio.sleep(ADOPT_AFTER / 4)
            except NothingToResumeError:
                if await self.store.latest(session_id) is not None:
                    raise
                return await self.runner.run(session_id, initial_state(self.question))
        raise SessionBusyError(f"session {session_id!r} stayed busy: another worker runs it")

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await self.runner.aclose()  # runs in flight end cancelled: their pages are told so
        tasks = list(self._tasks)
        for task in tasks:  # a shared run stays "running": a surviving worker adopts it
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.shared is None:
            self.broker.close()
        await self.provider.aclose()


def _before(event_id: str) -> str:
    """The id just before ``event_id`` in its topic (``<epoch>-<n>`` to ``<epoch>-<n-1>``)."""
    epoch, _, offset = event_id.rpartition("-")
    return f"{epoch}-{int(offset) - 1}"


_RUNS = web.AppKey("rxchronos_demo_runs", _DemoRuns)


def create_app(
    provider: Provider | None = None,
    *,
    question: str = DEMO_QUESTION,
    pace: float = 0.6,
    max_runs: int = MAX_RUNS,
    max_running: int = MAX_RUNNING,
    shared: SharedBackend | None = None,
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
            approving one more is answered 429 (per worker, with ``shared``).
        shared: an opened [SharedBackend][rxchronos.demo.SharedBackend] (Redis and PostgreSQL)
            to serve the runs of several workers: every worker answers for every run, a page
            resumes on any of them, and a worker adopts the runs of one that died. The caller
            closes it after the app. ``max_runs`` does not apply (the records expire instead).
            Every response names its worker's pid in the ``X-Rxchronos-Worker`` header.

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
        shared=shared,
    )
    app = web.Application()
    app[_RUNS] = runs
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    if shared is not None:
        app.on_response_prepare.append(_name_worker)
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


async def _startup(app: web.Application) -> None:
    app[_RUNS].watch()


async def _name_worker(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[WORKER_HEADER] = str(os.getpid())


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
    return web.json_response((await request.app[_RUNS].start()).describe(), status=201)


async def _session(request: web.Request, session_id: str) -> SessionRecord:
    """The run of ``session_id``, or 404."""
    record = await request.app[_RUNS].sessions.get(session_id)
    if record is None:
        raise web.HTTPNotFound(text=f"no run with session id {session_id[:64]!r}")
    return record


async def _status(request: web.Request) -> web.Response:
    return web.json_response((await _session(request, request.match_info["session_id"])).describe())


async def _approve(request: web.Request) -> web.Response:
    session = await _session(request, request.match_info["session_id"])
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
    session = await request.app[_RUNS].approve(session, approved)
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


async def _known_run(request: web.Request, topic: str | None) -> bool:
    """404 for an unknown run; a first connection without an id goes to the run's start."""
    runs = request.app[_RUNS]
    session = await _session(request, topic or "")
    if "Last-Event-ID" in request.headers or "last_event_id" in request.query:
        return True
    start = request.query.get(START_QUERY, "start")
    if start not in ("start", "now"):
        raise web.HTTPBadRequest(text=f"{START_QUERY}= must be start or now, got {start[:40]!r}")
    since = session.since if start == "start" else await runs.now(session.session_id)
    query = {k: v for k, v in request.query.items() if k != START_QUERY}
    raise web.HTTPTemporaryRedirect(request.rel_url.with_query({**query, "last_event_id": since}))
