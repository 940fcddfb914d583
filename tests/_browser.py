"""Launching headless Chromium (Debian's, through ``executable_path``) for the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext
from playwright.async_api import async_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium(executable: str, profile: Path, **options: Any) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a fresh profile in ``profile``, closed on exit; Playwright
    downloads nothing. ``options`` go to ``launch_persistent_context`` (e.g. ``viewport``)."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, args=CHROMIUM_ARGS, headless=True, **options
        )
        try:
            yield context
        finally:
            await context.close()
