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

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Literal

from rxchronos._errors import InvalidArgumentError
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
    "Redactor",
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


class Redactor:
    """Replaces secrets (API keys) with ``***`` in the texts of errors; ``cut`` redacts a text,
    then cuts it.

    Cut a text after redacting it, never before: a secret across the cut would be half shown.
    Where a cut had to come first (an excerpt of a stream's data, made by a parser that knows no
    secrets), a run of at least 8 characters that starts a secret is replaced too.

    Example:
        >>> redact = Redactor(["sk-SECRET-0123456789"])
        >>> redact("bad key sk-SECRET-0123456789, and sk-SECRET-01")
        'bad key ***, and ***'
        >>> redact.cut("x" * 10 + "sk-SECRET-0123456789", 15)
        'xxxxxxxxxx***'
    """

    __slots__ = ("_secrets", "margin")

    _FRAGMENT = 8

    def __init__(self, secrets: Iterable[str]) -> None:
        kept = {s for s in secrets if s and len(s) >= 4}
        self._secrets = tuple(sorted(kept, key=len, reverse=True))  # a key holding another first
        self.margin = max((len(s.encode()) for s in kept), default=0)
        """The most bytes one secret takes: how far to read past a cut to redact across it."""

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
            head = secret[: self._FRAGMENT]
            if len(secret) > self._FRAGMENT and head in text:
                text = self._fragments(text, secret, head)
        return text

    def cut(self, text: str, limit: int) -> str:
        """``text`` redacted, then cut to ``limit`` characters (with a marker when it was cut)."""
        return truncate(self(text), limit)

    def ends_cut(self, text: str) -> str:
        """``text``, the redacted start of something longer, without the start of a secret it
        may end in (a secret read only in part).

        Example:
            >>> Redactor(["sk-SECRET-0123456789"]).ends_cut("error: sk-SEC")
            'error: '
        """
        dangling = max(
            (n for s in self._secrets for n in range(1, len(s)) if text.endswith(s[:n])),
            default=0,
        )
        return text[: len(text) - dangling]

    @staticmethod
    def _fragments(text: str, secret: str, head: str) -> str:
        pieces: list[str] = []
        done = 0
        start = text.find(head)
        while start >= 0:
            end = start + len(head)
            while (
                end < len(text) and end - start < len(secret) and text[end] == secret[end - start]
            ):
                end += 1
            pieces += (text[done:start], "***")
            done = end
            start = text.find(head, end)
        pieces.append(text[done:])
        return "".join(pieces)


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
        body: the start of the response body, redacted, then cut to ``error_body_limit``
            characters (2,000 by default); no more than that and one key's length is read.
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
        message: the provider's message, or what was wrong with its data (at most 2,000
            characters; a provider redacts the whole text before it is cut).
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
        self._whole = message  # for the provider to redact before it is cut (Redactor)
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


class ProviderConfigError(InvalidArgumentError):
    """A provider cannot be built: unknown name, a missing or empty API key (or one holding a
    control character such as a line break), a missing model, a base URL that is not an absolute
    http(s) URL, or an option of the wrong type.

    It is an [InvalidArgumentError][rxchronos.InvalidArgumentError] (and so a ``ValueError``).

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
