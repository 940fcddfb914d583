"""The demo page in a real browser: headless Chromium (Debian's), driven by Playwright.

A person's path through the page: start a run, watch the tokens and the two tool calls arrive
(run as parallel branches, both nodes running at once, each in its lane of the timeline), approve
the interrupt, see ``completed``; a second tab on the same URL watches the same run. A screenshot
of the finished run is saved as ``test-artifacts/demo.png``. Without a browser the test skips, or
fails under ``RXCHRONOS_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import BrowserContext
from playwright.async_api import Page

from rxchronos.demo import create_app
from rxchronos.demo import demo_provider
from rxchronos.model import ProviderConnectionError
from rxchronos.model import ScriptedProvider
from rxchronos.model import ScriptedReply
from tests._browser import chromium
from tests.demo.conftest import demo_server

pytestmark = pytest.mark.browser

WAIT_MS = 20_000  # bounds a wait for the browser; never an assertion about speed
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
async def browser(chromium_executable: str, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    viewport = {"width": 1440, "height": 1000}
    async with chromium(chromium_executable, tmp_path / "profile", viewport=viewport) as context:
        yield context


@pytest.fixture
async def demo_url() -> AsyncIterator[str]:
    """The demo app, with small delays so that streaming is visible but quick."""
    async with demo_server(provider=demo_provider(delay=0.02), pace=0.1) as base:
        yield f"{base}/"


async def _status(page: Page, status: str) -> None:
    await page.wait_for_function(
        "s => document.querySelector('#status').textContent === s", arg=status, timeout=WAIT_MS
    )


async def test_start_stream_approve_complete(browser: BrowserContext, demo_url: str) -> None:
    errors: list[str] = []
    page = await browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(demo_url)
    await page.wait_for_selector("#node-plan", timeout=WAIT_MS)  # the diagram is drawn
    assert await page.text_content("#status") == "idle"
    assert await page.is_disabled("#approve")

    # Record every length the answer text goes through, as the browser renders it.
    await page.evaluate(
        """() => {
          window.lengths = [];
          new MutationObserver(() => {
            const el = document.querySelector('#answer .text');
            if (el) window.lengths.push(el.textContent.length);
          }).observe(document.querySelector('#turns'),
                     {childList: true, subtree: true, characterData: true});
        }"""
    )
    await page.click("#start")
    await page.wait_for_function("window.rxDemo.chunks > 0", timeout=WAIT_MS)
    await _status(page, "paused")
    assert "session=" in page.url
    first_turn = await page.text_content("#turns .message .text")
    assert first_turn == (
        "Let me check tomorrow's forecast and the picnic spots in Paris before I answer."
    )
    names = await page.locator(".tool .tool-name").all_text_contents()
    assert names == ["get_forecast()", "find_picnic_spots()"]  # two tool calls at once
    states = await page.locator(".tool .tool-state").all_text_contents()
    assert [s.split(" ", 3)[:3] for s in states] == [["ran", "in", "branch"]] * 2
    assert '"city": "Paris"' in (await page.text_content(".tool .tool-args") or "")
    results = await page.locator(".tool .tool-result").all_text_contents()
    assert "rain_chance: 0.7" in results[0] and "Buttes-Chaumont" in results[1]
    assert await page.get_attribute("#node-approve", "data-state") == "paused"
    for node in ("forecast", "spots"):
        assert await page.get_attribute(f"#node-{node}", "data-state") == "done"
    # the two branches ran at the same time: the diagram showed both nodes running at once
    assert "forecast | spots" in await page.evaluate("window.rxDemo.together")
    calls = await page.evaluate(
        "[...document.querySelectorAll('.tool .tool-id')].map((el) => el.textContent)"
    )
    for node, call in zip(("forecast", "spots"), calls, strict=True):
        rows = page.locator(f"#timeline .row.branch.type-node_start:has-text('{node}')")
        lane = await rows.locator(".lane").text_content() or ""
        assert lane.startswith(f"{node}:") and lane.endswith(f" · {call}"), lane
        ended = page.locator(f"#timeline .row.branch.type-node_end:has-text('{node}') .lane")
        assert (await ended.text_content() or "").split(" · ")[0] == lane.split(" · ")[0]
    lanes = await page.evaluate(
        "[...document.querySelectorAll('#timeline .row.branch')].map((r) => r.className)"
    )
    assert {c.split()[-1] for c in lanes} == {"lane-0", "lane-1"}  # one lane per branch
    for edge in ("model-forecast", "model-spots", "forecast-approve", "spots-approve"):
        assert "taken" in (await page.get_attribute(f"#edge-{edge}", "class") or ""), edge
    ARTIFACTS.mkdir(exist_ok=True)
    await page.wait_for_timeout(500)  # let the CSS transitions finish before the picture
    await page.screenshot(path=str(ARTIFACTS / "demo-paused.png"), full_page=True)

    # A second tab on the same URL watches the same run, from its start.
    other = await browser.new_page()
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    await other.goto(page.url)
    await _status(other, "paused")
    assert await other.text_content("#turns .message .text") == first_turn

    assert await page.is_enabled("#approve")
    await page.click("#approve")
    await _status(page, "completed")
    await _status(other, "completed")

    answer = await page.text_content("#answer .text") or ""
    assert answer.startswith("Yes, take the umbrella. The forecast for Paris tomorrow")
    assert await other.text_content("#answer .text") == answer
    lengths: list[int] = await page.evaluate("window.lengths")
    growing = sorted(set(lengths))
    assert len(growing) > 10, lengths  # the answer appeared token by token, not at once
    assert growing[-1] == len(answer)
    for node in ("plan", "model", "forecast", "spots", "approve", "answer"):
        assert await page.get_attribute(f"#node-{node}", "data-state") == "done", node
    assert await page.is_disabled("#approve")
    timeline = await page.locator("#timeline .badge").all_text_contents()
    assert timeline[0] == "run_started" and timeline[-1] == "done"
    assert {"interrupt", "model_chunk", "model_response", "completed"} <= set(timeline)
    assert errors == []

    await page.wait_for_timeout(500)
    await page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
    assert (ARTIFACTS / "demo.png").stat().st_size > 10_000


# --- the page never contradicts itself -----------------------------------------------------------


class Demo:
    """A demo app on 127.0.0.1 that a test can stop (and start again on the same port)."""

    def __init__(self, **options: Any) -> None:
        self.options = {"provider": demo_provider(delay=0.01), "pace": 0.05, **options}
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> str:
        self.app = create_app(**self.options)
        self.runner = web.AppRunner(self.app, shutdown_timeout=5.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self.port = self.runner.addresses[0][1]
        self.options["provider"] = demo_provider(delay=0.01)  # the app closes the one it had
        return f"http://127.0.0.1:{self.port}/"

    async def start_run_elsewhere(self) -> None:
        """Start a run the way another client would."""
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{self.port}/api/runs") as response:
                assert response.status == 201

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def demo() -> AsyncIterator[Demo]:
    server = Demo()
    try:
        yield server
    finally:
        await server.stop()


async def _opened(browser: BrowserContext, url: str) -> tuple[Page, list[str]]:
    """A page on ``url`` and the problems it reports: page errors and failed requests."""
    problems: list[str] = []
    page = await browser.new_page()
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    await page.goto(url)
    await page.wait_for_selector("#node-plan", timeout=WAIT_MS)
    return page, problems


async def _paused_run(page: Page) -> str:
    await page.click("#start")
    await _status(page, "paused")
    await _connection(page, "live")
    session_id: str = await page.evaluate("window.rxDemo.sessionId")
    return session_id


async def _connection(page: Page, state: str) -> None:
    await page.wait_for_function("s => window.rxDemo.connection === s", arg=state, timeout=WAIT_MS)


async def test_a_stopped_server_shows_a_lost_connection_and_disables_approving(
    browser: BrowserContext, demo: Demo
) -> None:
    page, problems = await _opened(browser, await demo.start())
    assert await page.is_hidden("#connection")  # no run, no stream: nothing to say
    await _paused_run(page)
    assert await page.text_content("#connection") == "live"
    assert await page.is_enabled("#approve")

    await demo.stop()
    await _connection(page, "reconnecting")
    assert await page.text_content("#connection") == "reconnecting…"
    assert await page.is_disabled("#approve") and await page.is_disabled("#decline")
    await _connection(page, "lost")
    assert await page.text_content("#connection") == "connection lost"
    assert await page.get_attribute("#connection", "title") == "the server cannot be reached"
    assert await page.get_attribute("#status", "data-stale") == "true"  # paused: last known
    assert await page.is_disabled("#approve") and await page.is_disabled("#decline")
    note = await page.text_content("#approval-note") or ""
    assert note == "Cannot approve: the server cannot be reached."
    assert await page.is_visible("#reconnect")
    timeline = await page.locator("#timeline .detail").all_text_contents()
    assert timeline[-1] == "connection lost: the server cannot be reached"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "demo-connection-lost.png"), full_page=True)

    await demo.start()  # a restarted server does not know the run
    await page.click("#reconnect")
    await page.wait_for_function(
        "() => document.querySelector('#session').textContent.startsWith('no run ')",
        timeout=WAIT_MS,
    )
    assert await page.text_content("#status") == "idle"
    assert await page.locator("#timeline li").count() == 0  # the old run is not shown as live
    assert [p for p in problems if not p.startswith("404 ")] == []


async def test_a_failed_approval_says_so_on_the_approval_card(
    browser: BrowserContext, demo: Demo
) -> None:
    demo.options.update(max_runs=1, max_running=1)
    page, _ = await _opened(browser, await demo.start())
    session_id = await _paused_run(page)
    await demo.start_run_elsewhere()  # another run: this app forgets the first
    await page.click("#approve")
    await page.wait_for_function(
        "() => document.querySelector('#approval').dataset.state === 'failed'", timeout=WAIT_MS
    )
    note = await page.text_content("#approval-note") or ""
    assert note == f"Approve failed: 404 no run with session id '{session_id}'"
    assert "Approved" not in (await page.text_content("#approval") or "")
    rows = await page.locator("#timeline .detail").all_text_contents()
    assert rows[-1] == f"approve failed: 404 no run with session id '{session_id}'"
    assert await page.text_content("#status") == "paused"


async def test_a_failed_start_says_so_by_the_button(browser: BrowserContext, demo: Demo) -> None:
    demo.options.update(max_running=1, provider=demo_provider(delay=0.2))
    page, _ = await _opened(browser, await demo.start())
    await demo.start_run_elsewhere()  # someone else's run takes the only slot
    await page.click("#start")
    await page.wait_for_function(
        "() => document.querySelector('#start-note').textContent !== ''", timeout=WAIT_MS
    )
    note = await page.text_content("#start-note") or ""
    assert note.startswith("Start failed: 429 the demo runs at most 1 run at once")
    assert await page.text_content("#status") == "idle" and await page.is_enabled("#start")


async def test_declining_says_what_it_did(browser: BrowserContext, demo: Demo) -> None:
    page, problems = await _opened(browser, await demo.start())
    await _paused_run(page)
    await page.click("#decline")
    await _status(page, "completed")
    await page.wait_for_function(
        "() => document.querySelector('#approval').dataset.state === 'declined'", timeout=WAIT_MS
    )
    note = await page.text_content("#approval-note") or ""
    assert note == "Declined: the answer node skipped the model, so the run ended with no answer."
    assert await page.text_content("#answer .text") == "Not approved: no answer was sent."
    assert await page.text_content("#answer .who") == "the answer node, without a model call"
    assert await page.text_content("#connection") == "stream finished"
    assert await page.is_disabled("#approve") and problems == []


async def test_back_and_forward_show_the_run_of_the_url(
    browser: BrowserContext, demo: Demo
) -> None:
    page, problems = await _opened(browser, await demo.start())
    first = await _paused_run(page)
    second = await _paused_run(page)
    assert first != second and page.url.endswith(f"?session={second}")

    async def shows(session_id: str | None) -> None:
        await page.wait_for_function(
            "s => window.rxDemo.sessionId === s"
            " && (s === null || window.rxDemo.status === 'paused')",
            arg=session_id,
            timeout=WAIT_MS,
        )
        started = await page.locator("#timeline .type-run_started .detail").all_text_contents()
        assert started == ([] if session_id is None else [f"session {session_id}"])

    await page.go_back()
    assert page.url.endswith(f"?session={first}")
    await shows(first)
    await page.go_back()
    assert "session=" not in page.url
    await shows(None)
    assert await page.text_content("#status") == "idle"
    assert await page.is_hidden("#connection")
    await page.go_forward()
    await shows(first)
    await page.go_forward()
    await shows(second)
    assert problems == []


async def test_the_favicon_loads(browser: BrowserContext, demo: Demo) -> None:
    page, problems = await _opened(browser, await demo.start())
    icon = await page.evaluate(
        """async () => {
          const href = document.querySelector('link[rel=icon]').href;
          const r = await fetch(href);
          return [r.status, r.headers.get('content-type')];
        }"""
    )
    assert icon == [200, "image/svg+xml"]
    assert problems == []


# --- narrow and wide screens --------------------------------------------------------------------

MIN_LABEL_PX = 12  # a node's name, as rendered, at the least
MIN_ABOUT_PX = 9.5  # the line under it

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wider = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not rendered
    if (box.left < -0.5 || box.right > width + 0.5) {
      wider.push(`${el.tagName.toLowerCase()}#${el.id}.${el.getAttribute('class')}: `
                 + `${box.left.toFixed(1)}..${box.right.toFixed(1)}`);
    }
  }
  return {width, scroll: document.documentElement.scrollWidth, wider};
}"""

LABELS = """() => {
  const scale = document.querySelector('#graph').getScreenCTM().a;
  const px = (sel) => [...document.querySelectorAll(sel)].map(
    (t) => parseFloat(getComputedStyle(t).fontSize) * scale);
  return {labels: px('#graph .node-label'), about: px('#graph .node-about'),
          vertical: document.querySelector('#graph').classList.contains('vertical')};
}"""

CUT = """() => [...document.querySelectorAll('#timeline .detail, .tool-args, .bubble')]
  .filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent)"""


@pytest.mark.parametrize("width", [360, 768, 1280])
async def test_the_page_fits_the_screen(browser: BrowserContext, demo: Demo, width: int) -> None:
    page, problems = await _opened(browser, await demo.start())
    await page.set_viewport_size({"width": width, "height": 900})
    await _paused_run(page)
    await page.wait_for_timeout(400)  # let the CSS transitions finish before measuring
    fit = await page.evaluate(OVERFLOW)
    assert fit["width"] == width
    assert fit["wider"] == [] and fit["scroll"] <= width, fit
    sizes = await page.evaluate(LABELS)
    assert len(sizes["labels"]) == 6 and min(sizes["labels"]) >= MIN_LABEL_PX, sizes
    assert min(sizes["about"]) >= MIN_ABOUT_PX, sizes
    assert sizes["vertical"] == (width < 900)  # the diagram turns top to bottom when narrow
    assert await page.evaluate(CUT) == []  # the timeline's details wrap instead of being cut
    if width < 900:  # the cards are stacked: the timeline under the conversation
        conversation = await page.locator("#turns").bounding_box()
        timeline = await page.locator("#timeline").bounding_box()
        assert conversation is not None and timeline is not None
        assert timeline["y"] > conversation["y"]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"demo-{width}px.png"), full_page=True)
    assert problems == []


async def test_the_graph_turns_when_the_window_narrows(browser: BrowserContext, demo: Demo) -> None:
    page, _ = await _opened(browser, await demo.start())
    await page.set_viewport_size({"width": 1280, "height": 900})
    await _paused_run(page)
    assert not (await page.evaluate(LABELS))["vertical"]
    await page.set_viewport_size({"width": 400, "height": 900})
    await page.wait_for_function(
        "() => document.querySelector('#graph').classList.contains('vertical')", timeout=WAIT_MS
    )
    # the redrawn diagram keeps what the run did
    assert await page.get_attribute("#node-approve", "data-state") == "paused"
    assert await page.get_attribute("#node-spots", "data-state") == "done"
    assert "taken" in (await page.get_attribute("#edge-model-forecast", "class") or "")
    assert "taken" in (await page.get_attribute("#edge-spots-approve", "class") or "")


async def test_at_1920_px_the_header_and_the_content_share_one_width(
    browser: BrowserContext, demo: Demo
) -> None:
    page, _ = await _opened(browser, await demo.start())
    await page.set_viewport_size({"width": 1920, "height": 1000})
    boxes = {}
    for name in (".brand", ".controls", ".graph-card", ".timeline-card", "footer"):
        box = await page.locator(name).bounding_box()
        assert box is not None
        boxes[name] = box
    left = boxes[".graph-card"]["x"]
    right = left + boxes[".graph-card"]["width"]
    assert abs(boxes[".brand"]["x"] - left) <= 1
    assert abs(boxes[".controls"]["x"] + boxes[".controls"]["width"] - right) <= 1
    assert abs(boxes[".timeline-card"]["x"] + boxes[".timeline-card"]["width"] - right) <= 1
    assert right - left < 1920 - 400  # a column in the middle, not the whole screen
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "demo-1920px.png"))


async def test_a_failing_model_fails_the_run_on_the_page(
    browser: BrowserContext, demo: Demo
) -> None:
    broken = ProviderConnectionError("scripted: the connection was reset", provider="scripted")
    demo.options["provider"] = ScriptedProvider(
        lambda request: ScriptedReply(text="Let me check the", error=broken, error_after=2),
        model="demo-agent",
    )
    page, problems = await _opened(browser, await demo.start())
    await page.click("#start")
    await _status(page, "failed")
    assert await page.get_attribute("#node-model", "data-state") == "failed"
    assert await page.get_attribute("#node-forecast", "data-state") == "idle"
    rows = await page.locator("#timeline .row").all_inner_texts()
    assert any("error" in row and "the connection was reset" in row for row in rows), rows
    assert await page.is_disabled("#approve") and await page.is_enabled("#start")
    assert problems == []
