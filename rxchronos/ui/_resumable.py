"""Resumable protocol streams: every frame kept in a broker topic, served again on reconnect.

A session (a chat, an AG-UI thread) has one broker topic. A request that starts a reply does not
stream the reply itself: a *producer* subscribes the protocol's items and publishes each to the
topic (so the reply goes on when the client leaves), its event type the reply's own mark, then
finishes the topic. The response, and every reconnect, is a broker subscription of that topic
from the reply's start (or from the client's ``Last-Event-ID``), so every frame carries the
broker's id and a reconnect gets exactly what it missed.

Nothing about a reply lives only in the process that runs it: which reply is the latest of a
session, where it starts, which ids are its frames and whether it is over are read back from the
topic's history ([`history`][rxchronos.stream.BrokerProtocol.history]). With a broker that
several workers share ([`RedisBroker`][rxchronos.stream.RedisBroker]) any of them answers a
reconnect. Frames are the events' [`data_frame`][rxchronos.stream.Event.data_frame]s, built once
per event for every connection.

`Replies` starts and serves the replies of one route; `Spelling` says how one protocol writes
the ends of a stream.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Protocol

import pydantic_core
import reactivex
from aiohttp import web
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.disposable import SingleAssignmentDisposable

from rxchronos._errors import ArgumentTypeError
from rxchronos.stream import Broker
from rxchronos.stream import BrokerClosedError
from rxchronos.stream import BrokerProtocol
from rxchronos.stream import BrokerUnavailableError
from rxchronos.stream import Event
from rxchronos.stream import StreamOptions
from rxchronos.stream._event import frame_of
from rxchronos.stream._replay import parse_event_id
from rxchronos.stream._serve import FrameSink
from rxchronos.stream._serve import serve
from rxchronos.ui._translate import new_id

__all__ = ["Reopener", "Replies", "Reply", "Spelling", "answering_503", "json_error"]

_log = logging.getLogger("rxchronos.ui")
_OPTIONS = StreamOptions()


def json_error(status: int, message: str) -> web.Response:
    """A JSON error response: ``{"error": message}``."""
    return web.json_response({"error": message}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answering_503(handler: Handler) -> Handler:
    """``handler``, answering 503 with what is wrong when the broker cannot be reached (a
    ``RedisBroker`` whose Redis is down: its history cannot be read, nor a reply stored)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except BrokerUnavailableError as exc:
            return json_error(503, str(exc))

    return handle


@dataclass(frozen=True, slots=True)
class Spelling:
    """How one protocol writes its stream.

    Attributes:
        headers: the response headers besides SSE's own.
        first: the ``type`` of a reply's first frame (``start``, ``RUN_STARTED``).
        done: the payload of the frame that ends a reply (``None``: the stream just ends).
        failure: the payload of the frame that says the reply cannot be resumed, from a message.
    """

    headers: dict[str, str]
    first: str
    done: bytes | None
    failure: Callable[[str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply as its topic's history shows it.

    Attributes:
        topic: the session's topic.
        mark: the reply's own event type (its frames' broker events have it).
        frames: its events still kept, in order.
        finished: whether the topic was finished after its last frame (the reply is over).
    """

    topic: str
    mark: str
    frames: tuple[Event, ...]
    finished: bool

    @property
    def since(self) -> str:
        """The id just before its first kept frame: a subscription from it starts there."""
        return _before(self.frames[0].id or "")

    @property
    def ids(self) -> frozenset[str]:
        """The ids of its frames."""
        return frozenset(e.id for e in self.frames if e.id is not None)

    def whole(self, spelling: Spelling) -> bool:
        """Whether its first frame is still kept (it can be served from its start)."""
        data = self.frames[0].data
        return isinstance(data, dict) and data.get("type") == spelling.first


def replies_in(topic: str, history: Sequence[Event]) -> list[Reply]:
    """The replies of a session's topic, oldest first, from its history."""
    frames: dict[str, list[Event]] = {}
    last: dict[str, int] = {}
    last_done = -1
    for i, event in enumerate(history):
        if event.type == "done":
            last_done = i
        elif event.type != "reset":
            frames.setdefault(event.type, []).append(event)
            last[event.type] = i
    return [
        Reply(topic, mark, tuple(kept), last[mark] < last_done) for mark, kept in frames.items()
    ]


def _before(event_id: str) -> str:
    """The id just before ``event_id`` (``<epoch>-<n>`` ids, per broker or per topic)."""
    parsed = parse_event_id(event_id)
    if parsed is None:
        return event_id
    return f"{parsed.epoch}-{max(parsed.seq - 1, 0)}"


class Reopener(Protocol):
    """Folds the events a client already has, then says what re-opens them (AG-UI resuming)."""

    def fold(self, data: dict[str, Any]) -> None:
        """Take in one event the client had."""

    def reopened(self) -> Iterable[dict[str, Any]]:
        """The events that re-open what was open at the last folded event."""
        return ()


class Replies:
    """The replies of one route, published to ``broker`` and served from it.

    Args:
        broker: where the frames are kept (any [`BrokerProtocol`][rxchronos.stream.BrokerProtocol],
            e.g. a [`RedisBroker`][rxchronos.stream.RedisBroker] shared by several workers); a
            private [`Broker`][rxchronos.stream.Broker] when ``None`` (closed with the app).
    """

    def __init__(self, broker: BrokerProtocol | None) -> None:
        if broker is not None and not isinstance(broker, BrokerProtocol):
            raise ArgumentTypeError(
                "broker must be a rxchronos broker (Broker, RedisBroker: "
                f"rxchronos.stream.BrokerProtocol), got {type(broker).__name__}"
            )
        self.owns_broker = broker is None
        self.broker: BrokerProtocol = Broker() if broker is None else broker
        self._producers: dict[str, _Producer] = {}  # topic -> its reply running here, until over

    @classmethod
    def of_route(cls, app: web.Application, broker: BrokerProtocol | None) -> Replies:
        """The replies of a route of ``app``, closed when the app shuts down."""
        replies = cls(broker)

        async def close(app: web.Application) -> None:
            await replies.close()

        app.on_shutdown.append(close)
        return replies

    async def find(self, topic: str, match: Callable[[Reply], bool] | None = None) -> Reply | None:
        """The latest reply of ``topic`` (that ``match`` accepts), from the broker's history."""
        found = replies_in(topic, await self.broker.history(topic))
        for reply in reversed(found):
            if match is None or match(reply):
                return reply
        return None

    async def start(
        self, topic: str, items: reactivex.Observable[Any], to_data: Callable[[Any], dict[str, Any]]
    ) -> Reply | None:
        """Publish ``items`` (each made a JSON-ready dict by ``to_data``) as a new reply.

        A reply of ``topic`` still running in this process is stopped first. Returns the reply
        once its first frame is stored (``None`` when the broker is closed).

        Raises:
            BrokerUnavailableError: the broker cannot store it (the reply is stopped).
        """
        old = self._producers.pop(topic, None)
        if old is not None:
            old.subscription.dispose()
        broker = self.broker
        mark = new_id("reply")
        producers = self._producers

        def over(producer: _Producer) -> None:
            if producers.get(topic) is producer:
                del producers[topic]

        producer = _Producer(broker, topic, mark, to_data, over)
        producers[topic] = producer
        producer.subscription.disposable = items.subscribe(
            producer.on_next, producer.finish, producer.finish
        )
        if broker.closed:
            return None
        try:
            await broker.flush()  # stored, with its id, where every worker reads it
            return await self.find(topic, lambda reply: reply.mark == mark)
        except BaseException:  # no one will read this reply: stop it
            producer.subscription.dispose()
            over(producer)
            raise

    async def answer(
        self,
        request: web.Request,
        topic: str,
        items: reactivex.Observable[Any],
        to_data: Callable[[Any], dict[str, Any]],
        spelling: Spelling,
    ) -> web.StreamResponse:
        """``start`` ``items`` as a new reply and serve it from its start; 503 with
        ``{"error": ...}`` when the broker is closed (the server is shutting down).

        Raises:
            BrokerUnavailableError: the broker cannot store it (the reply is stopped).
        """
        reply = await self.start(topic, items, to_data)
        if reply is None:
            return json_error(503, "the server is shutting down")
        return await self.serve(request, reply, spelling)

    async def close(self) -> None:
        """Stop every producer; close the broker when it is the private one."""
        producers, self._producers = self._producers, {}
        for producer in producers.values():
            producer.subscription.dispose()
        if self.owns_broker:
            await self.broker.aclose()

    async def serve(
        self,
        request: web.Request,
        reply: Reply,
        spelling: Spelling,
        *,
        after: str | None = None,
        reopen: Callable[[], Reopener] | None = None,
    ) -> web.StreamResponse:
        """Stream ``reply`` from its start, or from after the id ``after``.

        With ``reopen``, the frames up to ``after`` are folded by a fresh reopener instead of
        skipped, and what it says is sent first (AG-UI's re-opened run, steps and messages).
        A reply whose start is no longer kept, served from its start, gets the failure frame.
        """
        from_start = after is None or reopen is not None
        if from_start and not reply.whole(spelling):
            why = "the reply's start is no longer in the broker's history; ask again"
            return await _serve_only(request, _failure(spelling, why, reply.frames[0].id), spelling)
        feed = _Feed(
            reply.mark,
            spelling,
            after,
            reopen() if reopen is not None and after is not None else None,
        )
        broker = self.broker
        topics = frozenset((reply.topic,))
        from_id = reply.since if from_start else after

        async def attach(sink: FrameSink) -> abc.DisposableBase:
            feed.sink = sink
            return await broker.attach(sink, topics=topics, last_event_id=from_id)

        return await serve(
            request,
            attach,
            _OPTIONS,
            buffer_size=broker.buffer_size,
            overflow=broker.overflow,
            headers=spelling.headers,
            encode=feed.encode,
        )


class _Producer:
    """Publishes one reply's items to its topic, marked, then finishes the topic."""

    __slots__ = ("_broker", "_mark", "_over", "_to_data", "_topic", "stopped", "subscription")

    def __init__(
        self,
        broker: BrokerProtocol,
        topic: str,
        mark: str,
        to_data: Callable[[Any], dict[str, Any]],
        over: Callable[[_Producer], None],
    ) -> None:
        self._broker = broker
        self._topic = topic
        self._mark = mark
        self._to_data = to_data
        self._over = over
        self.stopped = False
        self.subscription = SingleAssignmentDisposable()

    def on_next(self, item: Any) -> None:
        if self.stopped:
            return
        try:
            self._broker.publish(
                Event(type=self._mark, data=self._to_data(item)), topic=self._topic
            )
        except BrokerClosedError:
            self.stopped = True
            self.subscription.dispose()
            self._over(self)

    def finish(self, error: Exception | None = None) -> None:
        if self.stopped:
            return
        self.stopped = True
        self._over(self)
        if error is not None:
            _log.warning("reply %s failed: %s: %s", self._mark, type(error).__name__, error)
        if not self._broker.closed:
            self._broker.finish_topic(self._topic)


class _Feed:
    """One connection's frames of one reply: the encoder of its SSE sink.

    The hot path is the first line: a frame of the reply, not folded, is the event's own
    ``data_frame`` (built once for every connection). Frames of other replies are skipped; a
    ``done`` ends the stream with the protocol's end frame, a ``reset`` with its failure frame.
    """

    __slots__ = ("_after", "_ended", "_fold", "_live", "_mark", "_spelling", "sink")

    def __init__(
        self, mark: str, spelling: Spelling, after: str | None, fold: Reopener | None
    ) -> None:
        self._mark = mark
        self._spelling = spelling
        self._after = after
        self._fold = fold
        self._live = fold is None
        self._ended = False
        self.sink: FrameSink | None = None

    def encode(self, event: Event) -> bytes | None:
        if self._live and event.type == self._mark:
            return event.data_frame()
        return self._other(event)

    def _other(self, event: Event) -> bytes | None:
        if self._ended:
            return None
        kind = event.type
        if kind == "done" or kind == "reset":
            self._end(event)
            return None
        if kind != self._mark or self._fold is None:
            return None  # another reply's frame (one that is still running elsewhere)
        self._fold.fold(event.data)
        if event.id != self._after:
            return None
        self._live = True
        after = self._after
        return b"".join(frame_of(pydantic_core.to_json(d), after) for d in self._fold.reopened())

    def _end(self, event: Event) -> None:
        self._ended = True
        sink = self.sink
        assert sink is not None
        spelling = self._spelling
        if event.type == "reset":
            why = "the reply is no longer in the broker's history; ask again"
            sink.queue.push(_failure(spelling, why, event.id))
        elif spelling.done is not None:
            sink.queue.push(frame_of(spelling.done, event.id))
        sink.on_completed()


def _failure(spelling: Spelling, why: str, id: str | None) -> bytes:
    return frame_of(pydantic_core.to_json(spelling.failure(why)), id)


async def _serve_only(request: web.Request, frame: bytes, spelling: Spelling) -> web.StreamResponse:
    """A stream of one frame."""

    def attach(sink: FrameSink) -> abc.DisposableBase:
        sink.queue.push(frame)
        sink.on_completed()
        return Disposable()

    return await serve(
        request, attach, _OPTIONS, buffer_size=1, overflow="disconnect", headers=spelling.headers
    )
