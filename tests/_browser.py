"""Launching headless Chromium (Debian's, through ``executable_path``) for the browser tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Playwright

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


async def launch_chromium(
    playwright: Playwright, executable: str, profile: Path, **options: Any
) -> BrowserContext:
    """A headless Chromium with a fresh profile in ``profile``; Playwright downloads nothing."""
    return await playwright.chromium.launch_persistent_context(
        profile, executable_path=executable, args=CHROMIUM_ARGS, headless=True, **options
    )
