"""The errors of model streaming, all under [RxChronosError][rxchronos.RxChronosError].

Provider errors derive from [ProviderError][rxchronos.model.ProviderError] and name the provider.
None of them ever holds an API key: texts built from response bodies are redacted by the HTTP layer
before they get here, no request headers are kept, and no aiohttp exception (whose
``request_info`` holds the request headers) is chained to them as a cause or context.

What failed is one word from one vocabulary, [ErrorKind][rxchronos.model.ErrorKind], on the
``kind`` attribute of [ProviderStreamError][rxchronos.model.ProviderStreamError] and
[ProviderTimeoutError][rxchronos.model.ProviderTimeoutError].

Example:
    >>> from rxchronos import RxChronosError
    >>> issubclass(ProviderHTTPError, RxChronosError)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Literal

from rxchronos._errors import RxChronosError

if TYPE_CHECKING:
    from rxchronos.model._types import ChatResponse

__all__ = [
    "DEFAULT_ERROR_BODY_LIMIT",
    "ErrorKind",
    "IncompleteStreamError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderRedirectError",
    "ProviderStreamError",
    "ProviderTimeoutError",
    "ToolArgumentsError",
]

ErrorKind = Literal["malformed", "provider_error", "connect", "first_token", "idle"]
"""What failed, one name per failure:

- ``"malformed"``: the provider sent data rxchronos cannot read (not JSON, a wrong shape, a value
  of the wrong type, a line past the size bound);
- ``"provider_error"``: the provider reported an error inside the stream (its own code is in
  ``ProviderStreamError.code``);
- ``"connect"``, ``"first_token"``, ``"idle"``: which time limit passed (``ProviderTimeoutError``).
"""
StreamErrorKind = Literal["malformed", "provider_error"]
TimeoutKind = Literal["connect", "first_token", "idle"]

DEFAULT_ERROR_BODY_LIMIT = 2000
"""How many bytes of an error response's body are read and kept (``error_body_limit``)."""


def truncate(text: str, limit: int = DEFAULT_ERROR_BODY_LIMIT) -> str:
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
        body: the start of the response body: at most ``error_body_limit`` bytes are read
            (2,000 by default), the rest is never downloaded.
        retry_after: seconds from a ``Retry-After`` header, or ``None``.
        url: the URL the request went to, without its query (``""`` when not known).
    """

    def __init__(
        self,
        *,
        provider: str,
        status: int,
        body: str,
        retry_after: float | None = None,
        url: str = "",
    ) -> None:
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.url = url
        where = f" to POST {url}" if url else ""
        super().__init__(f"{provider} answered HTTP {status}{where}: {body}", provider=provider)

    @property
    def retryable(self) -> bool:
        """Whether retrying can help: 408, 409, 429 and 5xx."""
        return self.status in (408, 409, 429) or self.status >= 500


class ProviderRedirectError(ProviderHTTPError):
    """The provider answered with a redirect that rxchronos does not follow.

    A redirect to another origin (scheme, host or port) is refused: the request carries the API
    key, and no credential ever leaves the origin it was configured for. A redirect within the
    origin is followed (307/308, up to a few hops); other redirects of a POST are refused too.

    Attributes:
        location: where the redirect pointed (scheme, host and port only).
    """

    def __init__(self, *, provider: str, status: int, location: str, reason: str) -> None:
        self.location = location
        super().__init__(provider=provider, status=status, body=f"{reason} ({location})")

    @property
    def retryable(self) -> bool:
        """Never: the same request gets the same redirect."""
        return False


class ProviderStreamError(ProviderError):
    """The stream (or a non-streaming answer) says the request failed, or cannot be read.

    Attributes:
        kind: ``"provider_error"`` when the provider reported an error in-band (after HTTP 200),
            ``"malformed"`` when its data could not be read (see
            [ErrorKind][rxchronos.model.ErrorKind]).
        code: the provider's own error type or code (``"overloaded_error"``,
            ``"tool_use_failed"``, ``"UNAVAILABLE"``); ``""`` for malformed data.
        message: the provider's message, or what was wrong with its data.
        partial: the response collected before the error, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        kind: StreamErrorKind = "provider_error",
        code: str = "",
        partial: ChatResponse | None = None,
    ) -> None:
        self.kind: StreamErrorKind = kind
        self.code = code
        self.message = truncate(message)
        self.partial = partial
        label = f"{kind}: {code}" if code else kind
        super().__init__(f"{provider} stream error ({label}): {self.message}", provider=provider)


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
        self.kind: TimeoutKind = kind
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
    """A provider cannot be built: unknown name, a missing or empty API key or model, a bad base
    URL, or an option of the wrong type.

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
