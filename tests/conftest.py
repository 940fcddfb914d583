"""Shared test fixtures.

Tests that need an outside program (a browser) skip on a machine without it, unless the matching
``RXCHRONOS_REQUIRE_*`` variable is set (CI sets them), in which case the missing program is a
failure, so nothing is silently left untested.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator

import pytest

_BROWSER_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def skip_or_fail(reason: str, *, require_env: str) -> None:
    """Skip the current test with ``reason``, or fail it when ``require_env`` is set to 1."""
    if os.environ.get(require_env, "") == "1":
        pytest.fail(f"{reason} ({require_env}=1 makes this a failure instead of a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Path of a Chromium executable for Playwright, from ``RXCHRONOS_CHROMIUM`` or the PATH."""
    explicit = os.environ.get("RXCHRONOS_CHROMIUM")
    if explicit:
        return explicit
    for name in _BROWSER_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    skip_or_fail(
        "no Chromium found (install Debian's `chromium` package or set RXCHRONOS_CHROMIUM)",
        require_env="RXCHRONOS_REQUIRE_BROWSER",
    )
    raise AssertionError("unreachable")


@pytest.fixture
def redis_namespace() -> Iterator[tuple[str, str]]:
    """The shared Redis and a namespace of this test's own (its keys deleted after)."""
    from tests.stream.redis_servers import drop_namespace
    from tests.stream.redis_servers import new_namespace
    from tests.stream.redis_servers import shared_url

    url = shared_url()
    namespace = new_namespace()
    yield url, namespace
    drop_namespace(url, namespace)
