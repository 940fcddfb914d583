"""A real browser against the SSE routes: headless Chromium, driven by Playwright.

The page (``browser_page.html``) opens ``new EventSource(...)`` the way an application does and
records what the browser delivers. Debian's ``chromium`` is used through ``executable_path``
(Playwright downloads nothing); without a browser these tests skip, or fail under
``RXCHRONOS_REQUIRE_BROWSER=1``. One browser serves the whole module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import BrowserContext
from playwright.async_api import Page

from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream.web import add_sse_route
from rxchronos.stream.web import broker_handler
from rxchronos.stream.web import close_streams
from tests._browser import chromium

from .conftest import Handler
from .conftest import Serve
from .conftest import serving

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PAGE = (Path(__file__).parent / "browser_page.html").read_bytes()

WAIT_MS = 15_000  # bounds a wait for the browser; never an assertion about speed


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(
    chromium_executable: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BrowserContext]:
    """Headless Chromium with a fresh profile, for every test of this module."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    async with chromium(chromium_executable, profile) as context:
        yield context


@pytest_asyncio.fixture(loop_scope="module")
async def start() -> AsyncIterator[Serve]:
    """:func:`~tests.stream.conftest.serving` on the module's loop."""
    async with serving() as start_app:
        yield start_app


class Tabs:
    """Opens pages of the test page; a test's pages are closed after it (and their
    ``EventSource`` with them)."""

    def __init__(self, browser: BrowserContext) -> None:
        self.browser = browser
        self.opened: list[Page] = []

    async def open(self, base: str, src: str, named: str = "") -> Page:
        """Open the test page on ``src`` and wait until its ``EventSource`` is open."""
        page = await self.browser.new_page()
        self.opened.append(page)
        query = f"?src={src}" + (f"&named={named}" if named else "")
        await page.goto(base + "/" + query)
        await page.wait_for_function("window.log.opens >= 1", timeout=WAIT_MS)
        return page

    async def close(self, page: Page) -> None:
        self.opened.remove(page)
        await page.close()


@pytest_asyncio.fixture(loop_scope="module")
async def tabs(browser: BrowserContext) -> AsyncIterator[Tabs]:
    """The test's :class:`Tabs`."""
    opened = Tabs(browser)
    yield opened
    for page in opened.opened:
        await page.close()


class Recorder:
    """Records each stream request: its ``Last-Event-ID`` header and the status answered."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.last_event_ids: list[str | None] = []
        self.statuses: list[int] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Accept") != "text/event-stream":  # the page, its favicon
            return await handler(request)
        self.requests.append(request)
        self.last_event_ids.append(request.headers.get("Last-Event-ID"))
        response = await handler(request)
        self.statuses.append(response.status)
        return response


RECORDER = web.AppKey("recorder", Recorder)


def page_app(path: str | None = None, handler: Handler | None = None) -> web.Application:
    """An app serving the test page at ``/`` (and ``handler`` at ``path``), recording streams."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    recorder = Recorder()
    app = web.Application(middlewares=[recorder.middleware])
    app[RECORDER] = recorder
    app.router.add_get("/", page)
    if path is not None and handler is not None:
        app.router.add_get(path, handler)
    app.on_shutdown.append(close_streams)
    return app


async def received(page: Page, count: int, kind: str = "messages") -> list[dict[str, Any]]:
    """Wait until the page recorded ``count`` events in ``log[kind]``; return them all."""
    await page.wait_for_function(f"window.log.{kind}.length >= {count}", timeout=WAIT_MS)
    events: list[dict[str, Any]] = await page.evaluate(f"window.log.{kind}")
    return events


def as_seen(event: Event, kind: str = "message") -> dict[str, Any]:
    """What the page records for a stamped ``event``."""
    return {"kind": kind, "id": event.id, "payload": {"type": event.type, "data": event.data}}


async def three_events_in(
    broker: Broker, start: Serve, tabs: Tabs
) -> tuple[Page, Recorder, list[Event]]:
    """A tab reading ``broker`` (reconnecting after 50 ms), once it received three events."""
    app = page_app("/events", broker_handler(broker, client_id="tab", retry=0.05))
    page = await tabs.open(await start(app), "/events")
    published = [broker.publish(Event(type="n", data=n)) for n in range(3)]
    await received(page, 3)
    return page, app[RECORDER], published


async def test_onmessage_receives_every_event(start: Serve, tabs: Tabs) -> None:
    broker = Broker()
    base = await start(page_app("/events", broker.sse_handler("client-123")))
    page = await tabs.open(base, "/events")
    published = [
        broker.publish(Event(type="node_end", data={"node": f"n{n}", "status": "done"}))
        for n in range(200)
    ]
    seen = await received(page, len(published))
    assert seen == [as_seen(event) for event in published]
    assert await page.evaluate("window.log.errors") == []


async def test_add_event_listener_receives_named_events(start: Serve, tabs: Tabs) -> None:
    broker = Broker()
    base = await start(page_app("/events", broker.sse_handler("client-123", named_events=True)))
    page = await tabs.open(base, "/events", named="token,node_end,done")
    token = broker.publish(Event(type="token", data="Hi"))
    node_end = broker.publish(Event(type="node_end", data={"node": "extract"}))
    error = broker.publish(Event(type="error", data="boom"))  # reserved: never an event: name
    done = broker.publish(Event(type="done", data=None))
    named = await received(page, 3, "named")
    assert named == [as_seen(token, "token"), as_seen(node_end, "node_end"), as_seen(done, "done")]
    assert await received(page, 1) == [as_seen(error)]


async def test_the_first_connection_resumes_from_the_last_event_id_query_parameter(
    start: Serve, tabs: Tabs
) -> None:
    broker = Broker()
    base = await start(page_app("/events", broker.sse_handler()))
    published = [broker.publish(Event(type="n", data=n)) for n in range(6)]
    page = await tabs.open(base, f"/events?last_event_id={published[2].id}")
    later = broker.publish(Event(type="n", data=6))
    assert await received(page, 4) == [as_seen(e) for e in [*published[3:], later]]


async def test_an_overflow_disconnect_is_followed_by_a_reconnect_that_gets_exactly_the_missed(
    start: Serve, tabs: Tabs
) -> None:
    broker = Broker(buffer_size=4)  # policy "disconnect": a burst of 10 overflows it
    page, route, before = await three_events_in(broker, start, tabs)
    burst = [broker.publish(Event(type="n", data=n)) for n in range(3, 13)]
    await received(page, 13)
    assert broker.stats().disconnects == 1
    assert route.last_event_ids == [None, before[-1].id]  # the browser resumed after event 3
    after = broker.publish(Event(type="n", data=13))
    seen = await received(page, 14)
    assert seen == [as_seen(e) for e in [*before, *burst, after]]  # no gap, no duplicate


async def test_a_dropped_connection_is_followed_by_a_reconnect_that_gets_exactly_the_missed(
    start: Serve, tabs: Tabs
) -> None:
    broker = Broker()
    page, route, before = await three_events_in(broker, start, tabs)
    transport = route.requests[0].transport
    assert transport is not None
    transport.abort()  # the network drops the connection ...
    missed = [broker.publish(Event(type="n", data=n)) for n in range(3, 8)]  # ... and these follow
    await page.wait_for_function("window.log.opens >= 2", timeout=WAIT_MS)
    after = broker.publish(Event(type="n", data=8))
    seen = await received(page, 9)
    assert route.last_event_ids == [None, before[-1].id]
    assert seen == [as_seen(e) for e in [*before, *missed, after]]


async def test_two_tabs_with_one_client_id_both_receive_everything(
    start: Serve, tabs: Tabs
) -> None:
    broker = Broker()
    base = await start(page_app("/events", broker.sse_handler("client-123")))
    first = await tabs.open(base, "/events")
    second = await tabs.open(base, "/events")
    stats = broker.stats()
    assert stats.subscribers == 2
    assert [s.client_id for s in stats.subscriptions] == ["client-123", "client-123"]
    published = [broker.publish(Event(type="n", data=n)) for n in range(50)]
    expected = [as_seen(e) for e in published]
    assert await received(first, 50) == expected
    assert await received(second, 50) == expected
    await tabs.close(second)  # closing one tab leaves the other's stream alone
    while broker.stats().subscribers != 1:
        await first.wait_for_timeout(20)
    later = broker.publish(Event(type="n", data=50))
    assert await received(first, 51) == [*expected, as_seen(later)]
    assert await first.evaluate("window.log.errors") == []


async def test_a_finished_run_sends_done_and_the_browser_stops_reconnecting(
    start: Serve, tabs: Tabs
) -> None:
    broker = Broker()
    app = page_app()
    add_sse_route(app, "/runs/{topic}/events", broker, retry=0.05)
    route = app[RECORDER]
    base = await start(app)
    page = await tabs.open(base, "/runs/s1/events")
    token = broker.publish(Event(type="token", data="Hi"), topic="s1")
    broker.publish(Event(type="token", data="not yours"), topic="s2")
    done = broker.finish_topic("s1")
    await page.wait_for_function("window.source.readyState === 2", timeout=WAIT_MS)  # CLOSED
    assert await page.evaluate("window.log.messages") == [as_seen(token), as_seen(done)]
    assert route.last_event_ids == [None, done.id]
    assert route.statuses == [200, 204]
    assert await page.evaluate("window.log.errors") == [0, 2]  # reconnecting, then closed
    assert broker.stats().subscribers == 0
