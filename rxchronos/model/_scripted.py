"""The offline provider: ``ScriptedProvider`` streams scripted replies, deterministically.

It is the embedded default for demos, notebooks and tests (yours too): no key, no network. Each
request (each subscription, each ``chat()``) takes the next scripted reply; when there is none, it
echoes the last user message. A reply streams token by token, in the same delta shape as a real
provider: reasoning, then content, then tool calls (id and name first, then the arguments in
fragments), then one delta with the stop reason and usage. A scripted error is raised after a given
number of deltas.

With ``delay=0`` (the default) the deltas are emitted synchronously during subscribe; with a
``delay`` they are emitted one per ``delay`` seconds on the running asyncio loop, and disposing the
subscription stops them.

Example:
    >>> import asyncio
    >>> from rxchronos import operators as rxo
    >>> from rxchronos.model import ChatRequest, Message, ScriptedProvider
    >>> async def main() -> None:
    ...     provider = ScriptedProvider(["Hello from a script."])
    ...     request = ChatRequest(messages=[Message(role="user", content="Hi")])
    ...     print((await provider.stream_chat(request).pipe(rxo.collect_response())).content)
    ...     print((await provider.chat(request)).content)  # no script left: echo
    >>> asyncio.run(main())
    Hello from a script.
    Hi
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable

from rxchronos._closable import AsyncClosable
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.aio import from_producer
from rxchronos.model._operators import ResponseCollector
from rxchronos.model._operators import tapped
from rxchronos.model._types import PART_CLASSES
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import ContentPart
from rxchronos.model._types import ReasoningPart
from rxchronos.model._types import Role
from rxchronos.model._types import StopReason
from rxchronos.model._types import TextPart
from rxchronos.model._types import ToolCall
from rxchronos.model._types import Usage

__all__ = ["ScriptedProvider", "ScriptedReply"]

_TOKEN = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """One scripted answer.

    Attributes:
        text: the content, streamed word by word (whitespace kept).
        reasoning: reasoning text, streamed before the content.
        parts: [content parts][rxchronos.model.ContentPart] streamed after the reasoning and
            before the text, in order: a ``TextPart`` or ``ReasoningPart`` as its text token by
            token (a reasoning part's signature and ids then as its closing fragment), any other
            part as one delta.
        tool_calls: calls to stream after the content; an empty ``id`` gets a generated one.
        usage: the usage to report; by default words in the request / tokens streamed.
        stop_reason: by default ``TOOL_CALL`` when there are tool calls, else ``END``.
        error: an exception to raise instead of completing.
        error_after: how many deltas to stream before ``error`` (0: fail before the first delta).

    Example:
        >>> from rxchronos.model import ToolCall
        >>> reply = ScriptedReply(tool_calls=[ToolCall(name="get_time", arguments="{}")])
        >>> reply.tool_calls[0].name
        'get_time'
    """

    text: str = ""
    reasoning: str = ""
    parts: Sequence[ContentPart] = ()
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None
    stop_reason: StopReason | None = None
    error: Exception | None = None
    error_after: int = 0

    def __post_init__(self) -> None:
        for part in self.parts:
            if not isinstance(part, PART_CLASSES):
                raise ArgumentTypeError(
                    "ScriptedReply parts are content parts (TextPart, CitationPart, ...), "
                    f"got {type(part).__name__}"
                )


Script = Iterable[str | ScriptedReply] | Callable[[ChatRequest], str | ScriptedReply]


def _part_deltas(rid: str, part: ContentPart) -> list[ChatResponse]:
    if isinstance(part, TextPart):
        return [ChatResponse(id=rid, content=t) for t in tokens(part.text)]
    if isinstance(part, ReasoningPart) and not part.redacted:
        out = [ChatResponse(id=rid, reasoning=t) for t in tokens(part.text)]
        closing = part.model_copy(update={"text": ""})
        if closing != ReasoningPart():
            out.append(ChatResponse(id=rid, parts=(closing,)))
        return out
    return [ChatResponse(id=rid, parts=(part,))]


def tokens(text: str) -> list[str]:
    """``text`` cut into word tokens that join back to exactly ``text``."""
    return _TOKEN.findall(text)


class ScriptedProvider(AsyncClosable):
    """A deterministic offline provider (see the module docstring).

    Args:
        replies: the replies, in order (strings are plain text answers), or a function from the
            request to its reply. ``None``: always echo the last user message.
        model: the model name it reports.
        delay: seconds between deltas (0: emit synchronously).
        fragment_size: characters per tool-call arguments fragment.
        name: the provider name it reports.

    Raises:
        ArgumentTypeError: an argument of the wrong type (named in the message), such as one
            reply or ``replies`` as a whole; a replies function returning neither a str nor a
            ``ScriptedReply`` is one too, at ``on_error``.
        InvalidArgumentError: a negative or infinite ``delay``, or ``fragment_size`` below 1.

    Example:
        >>> from rxchronos.model import ChatRequest, Message
        >>> provider = ScriptedProvider(["4"])
        >>> deltas = []
        >>> _ = provider.stream_chat(ChatRequest(messages=[Message(role="user", content="2+2?")])
        ...                          ).subscribe(deltas.append)
        >>> [d.content for d in deltas], deltas[-1].stop_reason
        (['4', ''], <StopReason.END: 'end'>)
    """

    def __init__(
        self,
        replies: Script | None = None,
        *,
        model: str = "scripted",
        delay: float = 0.0,
        fragment_size: int = 8,
        name: str = "scripted",
    ) -> None:
        if not isinstance(delay, int | float) or isinstance(delay, bool):
            raise ArgumentTypeError(f"ScriptedProvider(delay=...) takes seconds, got {delay!r}")
        if not 0 <= delay < math.inf:
            raise InvalidArgumentError(
                f"ScriptedProvider(delay=...) must be finite and not negative, got {delay!r}"
            )
        if not isinstance(fragment_size, int) or isinstance(fragment_size, bool):
            raise ArgumentTypeError(
                f"ScriptedProvider(fragment_size=...) takes an int, got {fragment_size!r}"
            )
        if fragment_size < 1:
            raise InvalidArgumentError(f"fragment_size must be at least 1, got {fragment_size!r}")
        for label, text in (("model", model), ("name", name)):
            if not isinstance(text, str):
                raise ArgumentTypeError(
                    f"ScriptedProvider({label}=...) takes a str, got {type(text).__name__}"
                )
        if isinstance(replies, str | bytes | ScriptedReply | Mapping):
            raise ArgumentTypeError(
                "ScriptedProvider takes a list of replies: ScriptedProvider(['Hi']), got "
                f"{type(replies).__name__}"
            )
        if not (replies is None or callable(replies) or isinstance(replies, Iterable)):
            raise ArgumentTypeError(
                "ScriptedProvider takes a list of replies (texts or ScriptedReply) or a function "
                f"of the request, got {type(replies).__name__}"
            )
        self._function = replies if callable(replies) else None
        self._queue: list[str | ScriptedReply] = [] if callable(replies) else list(replies or ())
        for number, reply in enumerate(self._queue, 1):
            if not isinstance(reply, str | ScriptedReply):
                raise ArgumentTypeError(
                    f"ScriptedProvider's reply {number}: a scripted reply is a str or a "
                    f"ScriptedReply, got {type(reply).__name__}"
                )
        self._model = model
        self._name = name
        self.delay = delay
        self.fragment_size = fragment_size
        self.requests: list[ChatRequest] = []
        """Every request answered so far, in order (handy in tests)."""

    @property
    def name(self) -> str:
        """The provider name (``"scripted"``)."""
        return self._name

    @property
    def model(self) -> str:
        """The model name it reports."""
        return self._model

    def __repr__(self) -> str:
        return f"ScriptedProvider(model={self._model!r}, pending={len(self._queue)})"

    async def aclose(self) -> None:
        """Nothing to release."""

    def _next_reply(self, request: ChatRequest) -> ScriptedReply:
        self.requests.append(request)
        if self._function is not None:
            reply: str | ScriptedReply = self._function(request)
            if not isinstance(reply, str | ScriptedReply):
                raise ArgumentTypeError(
                    "the replies function of ScriptedProvider returns a str or a ScriptedReply, "
                    f"got {type(reply).__name__}"
                )
        elif self._queue:
            reply = self._queue.pop(0)
        else:
            reply = _last_user_text(request)
        return ScriptedReply(text=reply) if isinstance(reply, str) else reply

    def _deltas(self, request: ChatRequest, reply: ScriptedReply) -> list[ChatResponse]:
        rid = f"scripted-{len(self.requests)}"
        out = [ChatResponse(id=rid, reasoning=t) for t in tokens(reply.reasoning)]
        for part in reply.parts:
            out += _part_deltas(rid, part)
        out += [ChatResponse(id=rid, content=t) for t in tokens(reply.text)]
        size = self.fragment_size
        for i, call in enumerate(reply.tool_calls):
            call_id = call.id or f"call_{len(self.requests)}_{i}"
            first = ToolCall(index=i, id=call_id, name=call.name, provider_data=call.provider_data)
            out.append(ChatResponse(id=rid, tool_calls=(first,)))
            args = call.arguments
            out += [
                ChatResponse(id=rid, tool_calls=(ToolCall(index=i, arguments=args[p : p + size]),))
                for p in range(0, len(args), size)
            ]
        prompt = sum(len(tokens(m.content or "")) for m in request.messages)
        usage = reply.usage or Usage(
            prompt_tokens=prompt, completion_tokens=len(out), total_tokens=prompt + len(out)
        )
        stop = reply.stop_reason or (StopReason.TOOL_CALL if reply.tool_calls else StopReason.END)
        out.append(ChatResponse(id=rid, stop_reason=stop, usage=usage))
        return out

    def stream_chat(self, request: ChatRequest) -> reactivex.Observable[ChatResponse]:
        """The next scripted reply as a cold Observable of deltas.

        Example:
            >>> from rxchronos.model import ChatRequest, Message
            >>> chunks = ScriptedProvider().stream_chat(
            ...     ChatRequest(messages=[Message(role="user", content="echo me")]))
            >>> _ = chunks.subscribe(lambda d: print(repr(d.content)))
            'echo '
            'me'
            ''
        """
        if not isinstance(request, ChatRequest):
            raise ArgumentTypeError(
                f"stream_chat() takes a ChatRequest, got {type(request).__name__}"
            )

        def subscribe(
            observer: abc.ObserverBase[ChatResponse], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            reply = self._next_reply(request)
            deltas = self._deltas(request, reply)
            if reply.error is not None:
                deltas = deltas[: reply.error_after]
            if self.delay == 0:
                for delta in deltas:
                    observer.on_next(delta)
                _finish(observer, reply.error)
                return Disposable()

            async def play(emit: Callable[[ChatResponse], None]) -> None:
                await self._play(deltas, reply.error, emit)

            played = from_producer(play, what="ScriptedProvider.stream_chat() with a delay")
            return played.subscribe(observer, scheduler=scheduler)

        source: reactivex.Observable[ChatResponse] = reactivex.create(subscribe)
        return tapped(source, provider=self._name, model=request.model or self._model)

    async def _play(
        self,
        deltas: list[ChatResponse],
        error: Exception | None,
        emit: Callable[[ChatResponse], None],
    ) -> None:
        for delta in deltas:
            await asyncio.sleep(self.delay)
            emit(delta)
        if error is not None:
            raise error

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """The next scripted reply, whole (``delta=False``); a scripted error is raised.

        Example:
            >>> import asyncio
            >>> from rxchronos.model import ChatRequest, Message
            >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
            >>> asyncio.run(ScriptedProvider(["Hello!"]).chat(request)).content
            'Hello!'
        """
        if not isinstance(request, ChatRequest):
            raise ArgumentTypeError(f"chat() takes a ChatRequest, got {type(request).__name__}")
        reply = self._next_reply(request)
        if reply.error is not None:
            raise reply.error
        return ResponseCollector.of(self._deltas(request, reply))


def _finish(observer: abc.ObserverBase[ChatResponse], error: Exception | None) -> None:
    if error is not None:
        observer.on_error(error)
    else:
        observer.on_completed()


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role is Role.USER and message.content:
            return message.content
    return ""
