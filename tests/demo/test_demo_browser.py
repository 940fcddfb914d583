"""The demo page in a real browser: headless Chromium (Debian's), driven by Playwright.

A person's path through the page: start a run, watch the tokens and the tool call arrive, approve
the interrupt, see ``completed``; a second tab on the same URL watches the same run. A screenshot
of the finished run is saved as ``test-artifacts/demo.png``. Without a browser the test skips, or
fails under ``RXCHRONOS_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import BrowserContext, Page, async_playwright

from rxchronos.demo import create_app, demo_provider
from tests._browser import launch_chromium

pytestmark = pytest.mark.browser

WAIT_MS = 20_000  # bounds a wait for the browser; never an assertion about speed
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
async def browser(chromium_executable: str, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as playwright:
        context = await launch_chromium(
            playwright,
            chromium_executable,
            tmp_path / "profile",
            viewport={"width": 1440, "height": 1000},
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def demo_url() -> AsyncIterator[str]:
    """The demo app, with small delays so that streaming is visible but quick."""
    runner = web.AppRunner(create_app(demo_provider(delay=0.02), pace=0.1), shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


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
    assert first_turn == "Let me check tomorrow's forecast for Paris before I answer."
    assert await page.text_content(".tool .tool-name") == "get_forecast()"
    assert await page.text_content(".tool .tool-state") == "complete"
    assert '"city": "Paris"' in (await page.text_content(".tool .tool-args") or "")
    assert "rain_chance: 0.7" in (await page.text_content(".tool .tool-result") or "")
    assert await page.get_attribute("#node-approve", "data-state") == "paused"
    assert await page.get_attribute("#node-tool", "data-state") == "done"
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
    for node in ("plan", "model", "tool", "approve", "answer"):
        assert await page.get_attribute(f"#node-{node}", "data-state") == "done", node
    assert await page.is_disabled("#approve")
    timeline = await page.locator("#timeline .badge").all_text_contents()
    assert timeline[0] == "run_started" and timeline[-1] == "done"
    assert {"interrupt", "model_chunk", "model_response", "completed"} <= set(timeline)
    assert errors == []

    await page.wait_for_timeout(500)
    await page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
    assert (ARTIFACTS / "demo.png").stat().st_size > 10_000
