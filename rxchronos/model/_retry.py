"""Time limits and retry policy of the HTTP providers.

:class:`Timeouts` holds the three limits of a stream: connecting, the time to the first token, and
the idle time between tokens (keep-alive comments and pings are not progress). There is
deliberately no total limit: a long generation is not a failure.

:class:`RetryPolicy` says how often and how long to wait before retrying a request that failed
before its first delta (connection errors, 408/409/429, 5xx): exponential backoff with full jitter,
or the server's ``Retry-After`` when it gives one. :func:`with_retries` is that loop, shared by the
streaming and the non-streaming calls; :func:`retryable` says which failures it retries.

Example:
    >>> Timeouts(first_token=30).idle
    60.0
    >>> parse_retry_after({"Retry-After": "2"})
    2.0
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time
from typing import TypeVar

from rxchronos.model._errors import (
    IncompleteStreamError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeoutError,
)

__all__ = ["RetryPolicy", "Timeouts", "parse_retry_after", "retryable", "with_retries"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Time limits of a provider request, in seconds; ``None`` means no limit.

    Attributes:
        connect: to open the connection.
        first_token: from sending the request to the first delta (or, for ``chat()``, between
            reads of the answer).
        idle: between two deltas of a stream.

    Example:
        >>> from rxchronos.model import OpenAI
        >>> provider = OpenAI(api_key="sk-test", model="gpt-4o", timeout=Timeouts(idle=20))
    """

    connect: float | None = 10.0
    first_token: float | None = 120.0
    idle: float | None = 60.0

    @classmethod
    def of(cls, value: Timeouts | float | None) -> Timeouts:
        """``value`` as ``Timeouts``: the defaults for ``None``, one number for all three limits.

        Example:
            >>> Timeouts.of(30)
            Timeouts(connect=30, first_token=30, idle=30)
        """
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        return cls(connect=value, first_token=value, idle=value)

    def __post_init__(self) -> None:
        for name in ("connect", "first_token", "idle"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"Timeouts.{name} takes seconds or None, got {value!r}")
            if not value > 0:
                raise ValueError(f"Timeouts.{name} must be positive or None, got {value!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How to retry a request that failed before its first delta.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        base_delay: the first backoff in seconds; it doubles per attempt, with full jitter.
        max_delay: the cap of one backoff, and of an honoured ``Retry-After``.

    Example:
        >>> RetryPolicy(max_retries=3, base_delay=0.1).delay(0, retry_after=None) <= 0.1
        True
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool):
            raise TypeError(f"RetryPolicy.max_retries takes an int, got {self.max_retries!r}")
        for name in ("base_delay", "max_delay"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
                raise TypeError(f"RetryPolicy.{name} takes seconds, got {value!r}")
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(f"RetryPolicy values must not be negative: {self!r}")

    def delay(self, attempt: int, *, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.base_delay * (2**attempt), self.max_delay)
        return random.uniform(0.0, ceiling)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time(), 0.0)


def retryable(exc: ProviderError) -> bool:
    """Whether retrying can help: connection errors, connect timeouts, 408/409/429 and 5xx, and a
    stream that broke before anything arrived."""
    if isinstance(exc, ProviderHTTPError):
        return exc.retryable
    if isinstance(exc, ProviderTimeoutError):
        return exc.kind == "connect"
    if isinstance(exc, IncompleteStreamError):
        return exc.partial is None
    return isinstance(exc, ProviderConnectionError)


async def with_retries(
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[_T]],
    *,
    may_retry: Callable[[], bool] | None = None,
) -> _T:
    """``await attempt()``, again after a backoff while it fails retryably (see :func:`retryable`).

    Args:
        policy: how often and how long to wait (``Retry-After`` of an HTTP error wins).
        attempt: one try.
        may_retry: asked after a failure; ``False`` re-raises at once (a stream that already
            emitted a delta is never retried: that would duplicate tokens).
    """
    failures = 0
    while True:
        try:
            return await attempt()
        except ProviderError as exc:
            if failures >= policy.max_retries or not retryable(exc):
                raise
            if may_retry is not None and not may_retry():
                raise
            retry_after = exc.retry_after if isinstance(exc, ProviderHTTPError) else None
            await asyncio.sleep(policy.delay(failures, retry_after=retry_after))
            failures += 1
