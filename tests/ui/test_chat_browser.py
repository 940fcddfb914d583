"""The demo's /chat page in headless Chromium: the AI SDK's own browser pieces reading
add_chat_route, a reload in the middle of an answer that resumes it, and the approval.

Needs the bundle ``make js`` builds (``rxchronos/demo/static/vendor/ai-chat.mjs``) and a
Chromium: skips without them, fails under RXCHRONOS_REQUIRE_NODE=1 / RXCHRONOS_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext
from playwright.async_api import Page

from rxchronos.demo import demo_provider
from rxchronos.demo._app import STATIC_DIR
from tests._browser import chromium
from tests.conftest import skip_or_fail
from tests.demo.conftest import demo_server

pytestmark = pytest.mark.browser

WAIT_MS = 30_000  # bounds a wait for the browser; never an assertion about speed
FIRST = "Let me check tomorrow's forecast and the picnic spots in Paris before I answer."


@pytest.fixture
async def browser(chromium_executable: str, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    if not (STATIC_DIR / "vendor" / "ai-chat.mjs").is_file():
        skip_or_fail(
            "the /chat page's AI SDK bundle is not built: run `make js`",
            require_env="RXCHRONOS_REQUIRE_NODE",
        )
    async with chromium(chromium_executable, tmp_path / "profile") as context:
        yield context


@pytest.fixture
async def chat_url() -> AsyncIterator[str]:
    """The demo app with a slow model, so that a reload lands in the middle of an answer."""
    async with demo_server(provider=demo_provider(delay=0.15), pace=0.05) as base:
        yield f"{base}/chat"


async def agent_text(page: Page) -> str:
    texts = await page.locator(".chat-message.assistant .chat-part.text").all_text_contents()
    return " ".join(texts)


async def test_chat_streams_resumes_after_a_reload_and_approves(
    browser: BrowserContext, chat_url: str
) -> None:
    errors: list[str] = []
    page = await browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(chat_url)
    await page.wait_for_selector("#chat-status[data-status='ready']", timeout=WAIT_MS)
    await page.click("#chat-send")

    # Part of the first answer has arrived, not all of it: reload now.
    await page.wait_for_function(
        """first => {
          const el = document.querySelector('.chat-message.assistant .chat-part.text');
          return el && el.textContent.length > 4 && el.textContent.length < first.length;
        }""",
        arg=FIRST,
        timeout=WAIT_MS,
    )
    partial = await agent_text(page)
    resumes: list[int] = []
    page.on("response", lambda r: resumes.append(r.status) if r.url.endswith("/stream") else None)
    await page.reload()

    # The page asks GET /api/chat/{id}/stream and reads the answer again from its start.
    await page.wait_for_function(
        "first => [...document.querySelectorAll('.chat-message.assistant .chat-part.text')]"
        ".some(el => el.textContent === first)",
        arg=FIRST,
        timeout=WAIT_MS,
    )
    assert FIRST.startswith(partial)
    assert resumes[:1] == [200]  # the answer came from the resumed stream, not from storage
    tools = page.locator(".chat-part.tool[data-state='output-available']")
    await tools.nth(1).wait_for(timeout=WAIT_MS)  # both tool calls, run as parallel branches
    outputs = await tools.all_text_contents()
    assert len(outputs) == 2 and '"rain_chance":0.7' in outputs[0]
    assert "Parc des Buttes-Chaumont" in outputs[1]
    assert await page.locator(".chat-message.user").count() == 1  # the question, once

    await page.click("button.approve", timeout=WAIT_MS)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.chat-part.text')]"
        ".some(el => el.textContent.startsWith('Yes, take the umbrella.'))",
        timeout=WAIT_MS,
    )
    await page.wait_for_selector("#chat-status[data-status='ready']", timeout=WAIT_MS)
    assert await page.is_hidden("#chat-problem")
    assert errors == []
