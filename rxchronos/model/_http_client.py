"""The session and request plumbing of the HTTP providers: the session, one POST, a whole read.

- :class:`SessionSource` gives the ``aiohttp.ClientSession`` to use: the caller's (never closed
  here), or one created lazily inside the running loop, replaced when used from another loop, and
  closed by :meth:`SessionSource.aclose`;
- :func:`post` sends one :class:`HTTPRequest` and maps every failure to a typed provider error:
  connect timeout, timeout before the answer's headers, connection failure, non-2xx status (with
  the body read, redacted and truncated, and ``Retry-After``); no response is left open on failure;
- :func:`read_whole` reads a non-streaming answer and releases its connection.

Example:
    >>> request = HTTPRequest("https://example.invalid/v1/chat", {"Authorization": "k"}, {})
    >>> request.url
    'https://example.invalid/v1/chat'
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, NamedTuple

import aiohttp

from rxchronos.model._errors import (
    ProviderConnectionError,
    ProviderHTTPError,
    ProviderTimeoutError,
)
from rxchronos.model._retry import Timeouts, parse_retry_after

__all__ = ["HTTPRequest", "SessionSource", "post", "read_whole"]


class HTTPRequest(NamedTuple):
    """One POST: URL, headers (credentials included) and JSON body."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


class SessionSource:
    """The caller's session, or one owned here and created lazily inside the running loop."""

    __slots__ = ("_owned", "_owned_loop", "_session")

    def __init__(self, session: aiohttp.ClientSession | None) -> None:
        self._session = session
        self._owned: aiohttp.ClientSession | None = None
        self._owned_loop: asyncio.AbstractEventLoop | None = None

    @property
    def owned(self) -> aiohttp.ClientSession | None:
        """The session created here, if any."""
        return self._owned

    def get(self) -> aiohttp.ClientSession:
        """The session to use now (call inside the running loop)."""
        if self._session is not None:
            return self._session
        loop = asyncio.get_running_loop()
        owned = self._owned
        if owned is None or owned.closed or self._owned_loop is not loop:
            if owned is not None and not owned.closed:
                owned.detach()  # left over from another (finished) event loop
            owned = self._owned = aiohttp.ClientSession()
            self._owned_loop = loop
        return owned

    async def aclose(self) -> None:
        """Close the session created here (a caller's session is left open)."""
        owned, self._owned, self._owned_loop = self._owned, None, None
        if owned is not None and not owned.closed:
            await owned.close()


async def post(
    session: aiohttp.ClientSession,
    http: HTTPRequest,
    *,
    provider: str,
    timeouts: Timeouts,
    read: float | None,
    redact: Callable[[str], str],
) -> aiohttp.ClientResponse:
    """POST ``http`` and check the status; ``read`` limits each socket read (``None``: no limit).

    Raises:
        ProviderTimeoutError: connecting (``kind="connect"``) or waiting for the answer's headers
            (``kind="first_token"``) took too long.
        ProviderConnectionError: the connection failed.
        ProviderHTTPError: the status is not 2xx.
    """
    headers = {"Content-Type": "application/json", **http.headers}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect, sock_read=read)
    try:
        resp = await session.post(
            http.url, data=json.dumps(http.body), headers=headers, timeout=timeout
        )
    except aiohttp.ConnectionTimeoutError:
        raise ProviderTimeoutError(
            provider=provider, kind="connect", seconds=timeouts.connect or 0.0
        ) from None
    except aiohttp.SocketTimeoutError:
        raise ProviderTimeoutError(
            provider=provider, kind="first_token", seconds=read or 0.0
        ) from None
    except aiohttp.ClientError as exc:
        raise ProviderConnectionError(
            redact(f"{provider}: connection failed: {type(exc).__name__}: {exc}"),
            provider=provider,
        ) from None
    if resp.status >= 300:
        try:
            body = (await resp.read()).decode("utf-8", "replace")
        except aiohttp.ClientError as exc:
            body = f"(body unreadable: {type(exc).__name__})"
        finally:
            resp.release()
        raise ProviderHTTPError(
            provider=provider,
            status=resp.status,
            body=redact(body),
            retry_after=parse_retry_after(resp.headers),
        )
    return resp


async def read_whole(
    resp: aiohttp.ClientResponse, *, provider: str, seconds: float | None
) -> bytes:
    """The whole body of ``resp``; the connection is released (pooled) or, on failure, closed.

    Raises:
        ProviderTimeoutError: a read took longer than ``seconds`` (``kind="first_token"``).
        ProviderConnectionError: the connection broke while reading.
    """
    try:
        raw = await resp.read()
    except aiohttp.SocketTimeoutError:
        resp.close()
        raise ProviderTimeoutError(
            provider=provider, kind="first_token", seconds=seconds or 0.0
        ) from None
    except aiohttp.ClientError as exc:
        resp.close()
        raise ProviderConnectionError(
            f"{provider}: connection broke while reading the answer: {type(exc).__name__}",
            provider=provider,
        ) from None
    resp.release()
    return raw
