"""The demo page survives the death of its worker: ``rxchronos demo --workers 2`` in a browser.

The command runs as a real subprocess on a free port, on the shared Redis (a namespace of its
own) and PostgreSQL (a schema of its own). Headless Chromium (Debian's, through Playwright) opens
the page and starts a run; the test finds the worker serving the page's event stream (every
response names it in ``X-Rxchronos-Worker``) and SIGKILLs it mid-run. The page reconnects to
another worker (the surviving one, or the replacement the supervisor starts) and shows the rest
of the run: the event ids it received are one epoch's offsets 1, 2, 3, ... with no gap and no
repeat (when the killed worker was also running the run, another one adopts it and the node that
was half done streams again, with new ids); then Approve works, the run completes, and the
supervisor has reported the death and the restart. Without Chromium, Redis or PostgreSQL the
test skips, or fails under the ``RXCHRONOS_REQUIRE_*`` vars.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext
from playwright.async_api import Page
from playwright.async_api import Response

from rxchronos.demo._app import WORKER_HEADER
from tests._browser import chromium
from tests.demo.workers_cli import StartWorkers

pytestmark = pytest.mark.browser

WAIT_MS = 30_000  # bounds a wait for the browser; never an assertion about speed


@pytest.fixture
async def browser(chromium_executable: str, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async with chromium(chromium_executable, tmp_path / "profile") as context:
        yield context


RECORD_IDS = """
  window.eventIds = [];
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => window.eventIds.push(e.lastEventId));
    }
  };
"""


async def _status(page: Page, status: str) -> None:
    await page.wait_for_function(
        "s => document.querySelector('#status').textContent === s", arg=status, timeout=WAIT_MS
    )


async def test_the_page_survives_the_death_of_its_worker(
    browser: BrowserContext, start_workers: StartWorkers
) -> None:
    demo = start_workers(2)
    errors: list[str] = []
    stream_workers: list[int] = []

    def on_response(response: Response) -> None:
        if "/events" in response.url and response.status == 200:
            stream_workers.append(int(response.headers[WORKER_HEADER.lower()]))

    page = await browser.new_page()
    await page.add_init_script(RECORD_IDS)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", on_response)
    await page.goto(demo.base)
    await page.wait_for_selector("#node-plan", timeout=WAIT_MS)
    await page.click("#start")
    await page.wait_for_function("window.rxDemo.chunks > 3", timeout=WAIT_MS)  # mid-run
    assert stream_workers, "no event stream response was seen"
    victim = stream_workers[-1]
    os.kill(victim, signal.SIGKILL)

    await _status(page, "paused")  # the rest of the run, through the other worker
    assert stream_workers[-1] != victim
    # When the killed worker was also running the run, the other one resumed it from its last
    # checkpoint: the model node ran again, so its half-streamed turn is followed by a whole one.
    turns = await page.locator("#turns .message .text").all_text_contents()
    assert any(t.startswith("Let me check") and t.endswith("before I answer.") for t in turns), (
        turns
    )
    await page.wait_for_function("!document.querySelector('#approve').disabled", timeout=WAIT_MS)
    await page.click("#approve")
    await _status(page, "completed")
    answer = await page.text_content("#answer .text") or ""
    assert answer.startswith("Yes, take the umbrella. The forecast for Paris tomorrow")

    ids: list[str] = await page.evaluate("window.eventIds")
    epochs = {event_id.rpartition("-")[0] for event_id in ids}
    assert len(epochs) == 1, ids
    offsets = [int(event_id.rpartition("-")[2]) for event_id in ids]
    assert offsets == list(range(1, len(offsets) + 1)), offsets  # no gap, no repeat
    assert errors == []

    # The supervisor replaced the killed worker, whichever number it had.
    await asyncio.to_thread(demo.expect, " restarted (pid ")
    died = f"(pid {victim}) died (killed by SIGKILL); 1 of 2 still serving; restarting it in"
    assert any(died in line for line in demo.out), demo.out
    assert await asyncio.to_thread(demo.stop) == 0, demo.err
    assert "rxchronos demo: stopped\n" in demo.out
    assert "Traceback" not in "".join(demo.err)
