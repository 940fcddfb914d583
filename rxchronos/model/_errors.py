"""The errors of model streaming, all under :class:`rxchronos.RxChronosError`.

Provider errors derive from :class:`ProviderError` and name the provider. None of them ever holds an
API key: texts built from response bodies are redacted by the HTTP layer before they get here, and
no request headers are kept.

Example:
    >>> from rxchronos import RxChronosError
    >>> issubclass(ProviderHTTPError, RxChronosError)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from rxchronos._errors import RxChronosError

if TYPE_CHECKING:
    from rxchronos.model._types import ChatResponse

__all__ = [
    "IncompleteStreamError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderStreamError",
    "ProviderTimeoutError",
    "ToolArgumentsError",
]

TimeoutKind = Literal["connect", "first_token", "idle"]

_BODY_LIMIT = 2000


def truncate(text: str, limit: int = _BODY_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with a marker when it was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


class ProviderError(RxChronosError):
    """Base of the errors a model provider raises; ``provider`` is its name (e.g. ``"openai"``)."""

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ProviderHTTPError(ProviderError):
    """The provider answered with a non-2xx status.

    Attributes:
        status: the HTTP status.
        body: the response body, truncated to 2,000 characters.
        retry_after: seconds from a ``Retry-After`` header, or ``None``.
    """

    def __init__(
        self, *, provider: str, status: int, body: str, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.body = truncate(body)
        self.retry_after = retry_after
        super().__init__(f"{provider} answered HTTP {status}: {self.body}", provider=provider)

    @property
    def retryable(self) -> bool:
        """Whether retrying can help: 408, 409, 429 and 5xx."""
        return self.status in (408, 409, 429) or self.status >= 500


class ProviderStreamError(ProviderError):
    """The provider reported an error inside a stream that started with HTTP 200.

    Attributes:
        type: the provider's error type or code (``"overloaded_error"``, ``"tool_use_failed"``).
        message: the provider's message.
        partial: the response collected before the error, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        type: str = "error",
        partial: ChatResponse | None = None,
    ) -> None:
        self.type = type
        self.message = truncate(message)
        self.partial = partial
        super().__init__(f"{provider} stream error ({type}): {self.message}", provider=provider)


class IncompleteStreamError(ProviderError):
    """The stream ended (EOF) before the provider's terminal marker.

    Attributes:
        partial: what arrived before the stream broke, as a collected ``ChatResponse``.
    """

    def __init__(self, message: str, *, provider: str, partial: ChatResponse | None) -> None:
        self.partial = partial
        super().__init__(message, provider=provider)


class ProviderTimeoutError(ProviderError):
    """A time limit passed: connecting, waiting for the first token, or idle between tokens.

    Keep-alive comments and pings do not count as progress. There is never a total time limit on a
    stream.

    Attributes:
        kind: ``"connect"``, ``"first_token"`` or ``"idle"``.
        seconds: the limit that passed.
        partial: what arrived before the timeout (``None`` before the first token).
    """

    def __init__(
        self,
        *,
        provider: str,
        kind: TimeoutKind,
        seconds: float,
        partial: ChatResponse | None = None,
    ) -> None:
        self.kind = kind
        self.seconds = seconds
        self.partial = partial
        what = {
            "connect": "connecting",
            "first_token": "waiting for the first token",
            "idle": "waiting for the next token",
        }[kind]
        super().__init__(f"{provider}: timed out after {seconds:g} s {what}", provider=provider)


class ProviderConnectionError(ProviderError):
    """The connection to the provider failed or broke (DNS, refused, reset)."""


class ProviderConfigError(RxChronosError, ValueError):
    """A provider cannot be built: unknown name, missing model, or a missing key in the environment.

    Example:
        >>> from rxchronos.model import provider_from_string
        >>> try:
        ...     provider_from_string("nope:model")
        ... except ProviderConfigError as exc:
        ...     print(str(exc).split(";")[0])
        unknown provider 'nope' in 'nope:model'
    """


class ToolArgumentsError(RxChronosError):
    """A tool call's arguments are not a valid JSON object.

    Attributes:
        name: the tool's name.
        call_id: the call's id.
        arguments: the raw arguments text, as the model produced it.
    """

    def __init__(self, message: str, *, name: str, call_id: str, arguments: str) -> None:
        super().__init__(message)
        self.name = name
        self.call_id = call_id
        self.arguments = arguments
