"""Resumable protocol streams: every frame kept in a broker topic, served again on reconnect.

A request that starts a reply does not stream the reply itself. A *producer* subscribes the
protocol's items and publishes each to the broker under the reply's topic (so the reply goes on
when the client leaves), then finishes the topic. The response, and every reconnect, is a broker
subscription of that topic from the reply's start (or from the client's ``Last-Event-ID``), so
every frame carries the broker's id and a reconnect gets exactly what it missed.

`Replies` keeps the replies of one route (their topic and where they start);
`Spelling` says how one protocol writes a broker event on the wire.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pydantic_core
import reactivex
from aiohttp import web
from reactivex import abc
from reactivex.disposable import Disposable

from rxchronos._errors import ArgumentTypeError
from rxchronos.stream import Broker, BrokerClosedError, Event
from rxchronos.stream.web import sse_response

__all__ = ["Reopener", "Replies", "Reply", "Spelling", "json_error"]

_log = logging.getLogger("rxchronos.ui")


def json_error(status: int, message: str) -> web.Response:
    """A JSON error response: ``{"error": message}``."""
    return web.json_response({"error": message}, status=status)


class _Frame(Event):
    """A broker event as one protocol writes it: its SSE bytes, built once."""

    wire: bytes = b""

    def to_sse(self, *, named: bool = False) -> bytes:
        return self.wire


def frame(data: bytes, id: str | None) -> bytes:
    """One SSE frame: ``id:`` (the broker's) and one ``data:`` line."""
    head = b"data: " if id is None else b"".join((b"id: ", id.encode(), b"\ndata: "))
    return b"".join((head, data, b"\n\n"))


@dataclass(frozen=True, slots=True)
class Spelling:
    """How one protocol writes its stream.

    Attributes:
        headers: the response headers besides SSE's own.
        done: the payload of the frame that ends a reply (``None``: the stream just ends).
        failure: the payload of the frame that says the reply cannot be resumed, from a message.
    """

    headers: dict[str, str]
    done: bytes | None
    failure: Callable[[str], dict[str, Any]]


@dataclass(slots=True)
class Reply:
    """One reply kept in the broker: its topic, where it starts, the ids it published."""

    key: str
    topic: str
    since: str
    ids: set[str] = field(default_factory=set)
    finished: bool = False
    paused: bool = False
    producer: abc.DisposableBase = field(default_factory=Disposable)


class Replies:
    """The replies of one route, published to ``broker`` and served from it.

    Args:
        broker: where the frames are kept; a private [`Broker`][rxchronos.stream.Broker] when
            ``None`` (closed with the app).
        keep: how many replies are remembered (the oldest finished ones are forgotten first).
    """

    def __init__(self, broker: Broker | None, *, keep: int = 1000) -> None:
        if broker is not None and not isinstance(broker, Broker):
            raise ArgumentTypeError(
                f"broker must be a rxchronos.stream.Broker, got {type(broker).__name__}"
            )
        self.owns_broker = broker is None
        self.broker = Broker() if broker is None else broker
        self._keep = keep
        self._replies: OrderedDict[str, Reply] = OrderedDict()
        self._latest: dict[str, str] = {}  # session -> the key of its latest reply
        # The last event served and its frame: one fan-out delivers one event to every client in
        # turn, so a single slot builds each frame once for all of them.
        self._last: list[Any] = [None, None]

    def get(self, key: str) -> Reply | None:
        """The reply remembered under ``key``."""
        return self._replies.get(key)

    def latest(self, session: str) -> Reply | None:
        """The latest reply started for ``session``, while it is remembered."""
        key = self._latest.get(session)
        return None if key is None else self._replies.get(key)

    def start(
        self,
        key: str,
        topic: str,
        items: reactivex.Observable[Any],
        to_data: Callable[[Any], dict[str, Any]],
        *,
        session: str | None = None,
    ) -> Reply:
        """Publish ``items`` (each turned into a JSON-ready dict by ``to_data``) as a new reply.

        A reply already under ``key`` is stopped and replaced.
        """
        old = self._replies.pop(key, None)
        if old is not None:
            old.producer.dispose()
        broker = self.broker
        reply = Reply(key, topic, broker.last_event_id)
        self._replies[key] = reply
        self._latest[key if session is None else session] = key
        self._forget_old()

        def publish(item: Any) -> None:
            data = to_data(item)
            stamped = broker.publish(Event(type=str(data["type"]), data=data), topic=topic)
            reply.ids.add(stamped.id or "")
            if data["type"] in ("RUN_FINISHED", "data-interrupt"):
                reply.paused = _is_pause(data)

        def finish(error: Exception | None = None) -> None:
            reply.finished = True
            if error is not None:
                _log.warning("reply %s failed: %s: %s", key, type(error).__name__, error)
            if not broker.closed:
                broker.finish_topic(topic)

        def on_next(item: Any) -> None:
            try:
                publish(item)
            except BrokerClosedError:
                reply.producer.dispose()
                reply.finished = True

        reply.producer = items.subscribe(on_next, finish, finish)
        return reply

    def _forget_old(self) -> None:
        replies = self._replies
        while len(replies) > self._keep:
            victim = next((k for k, r in replies.items() if r.finished), None)
            if victim is None:
                break
            del replies[victim]
        for session, key in list(self._latest.items()):
            if key not in replies:
                del self._latest[session]

    async def close(self) -> None:
        """Stop every producer; close the broker when it is the private one."""
        for reply in self._replies.values():
            reply.producer.dispose()
        if self.owns_broker:
            self.broker.close()

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

        With ``reopen``, the events up to ``after`` are folded by a fresh reopener instead of
        skipped, and what it says is sent first (AG-UI's re-opened run, steps and messages).
        """
        from_id = reply.since if after is None or reopen is not None else after
        events = self.broker.subscribe(topics=reply.topic, last_event_id=from_id)
        fold = reopen() if reopen is not None and after is not None else None
        frames = _frames(events, spelling, fold, after, self._last)
        return await sse_response(request, frames, headers=spelling.headers)


def _is_pause(data: dict[str, Any]) -> bool:
    if data["type"] == "data-interrupt":
        return True
    outcome = data.get("outcome")
    return isinstance(outcome, dict) and outcome.get("type") == "interrupt"


class Reopener(Protocol):
    """Folds the events a client already has, then says what re-opens them (AG-UI resuming)."""

    def fold(self, data: dict[str, Any]) -> None:
        """Take in one event the client had."""

    def reopened(self) -> Iterable[dict[str, Any]]:
        """The events that re-open what was open at the last folded event."""
        return ()


def _frames(
    events: reactivex.Observable[Event],
    spelling: Spelling,
    fold: Reopener | None,
    after: str | None,
    cache: list[Any],
) -> reactivex.Observable[Event]:
    """The broker's events of a reply as the protocol's frames, ending after the reply's end."""

    def subscribe(
        observer: abc.ObserverBase[Event], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        send = observer.on_next
        folding = fold is not None
        subscription: abc.DisposableBase | None = None
        ended = False

        def end(event: Event) -> None:
            nonlocal ended
            ended = True
            if event.type == "reset":
                why = "the reply is no longer in the broker's replay buffer; ask again"
                send(_make(pydantic_core.to_json(spelling.failure(why)), event.id))
            elif spelling.done is not None:
                send(_make(spelling.done, event.id))
            observer.on_completed()
            if subscription is not None:
                subscription.dispose()

        def on_next(event: Event) -> None:
            nonlocal folding
            if event is cache[0] and not folding:  # the hot path: a frame already built
                send(cache[1])
                return
            if ended:
                return
            kind = event.type
            if kind == "done" or kind == "reset":
                end(event)
                return
            if folding:
                assert fold is not None
                fold.fold(event.data)
                if event.id == after:
                    folding = False
                    for data in fold.reopened():
                        send(_make(pydantic_core.to_json(data), after))
                return
            built = _make(pydantic_core.to_json(event.data), event.id)
            cache[0], cache[1] = event, built
            send(built)

        subscription = events.subscribe(on_next, observer.on_error, observer.on_completed)
        if ended:
            subscription.dispose()
        return subscription

    return reactivex.create(subscribe)


def _make(data: bytes, id: str | None) -> _Frame:
    return _Frame(type="frame", id=id, wire=frame(data, id))
