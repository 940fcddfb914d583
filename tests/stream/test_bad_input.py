"""Misuse of every public entry point of rxchronos.stream gives a clear, typed error at once."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel

from rxchronos import ArgumentTypeError
from rxchronos import InvalidArgumentError
from rxchronos.stream import Broker
from rxchronos.stream import Event
from rxchronos.stream import RedisBroker
from rxchronos.stream.web import add_sse_route
from rxchronos.stream.web import broker_handler
from rxchronos.stream.web import sse_response

from .conftest import Serve
from .conftest import SSEReader
from .conftest import route_app


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"replay_size": "10"}, ArgumentTypeError, "replay_size"),
        ({"replay_size": 2.5}, ArgumentTypeError, "replay_size"),
        ({"buffer_size": "10"}, ArgumentTypeError, "buffer_size"),
        ({"buffer_size": True}, ArgumentTypeError, "buffer_size"),
        ({"buffer_size": None}, ArgumentTypeError, "buffer_size must be an int >= 1"),
        ({"buffer_size": 0}, InvalidArgumentError, "buffer_size must be >= 1, got 0"),
        ({"overflow": "error"}, InvalidArgumentError, "overflow"),
    ],
)
def test_broker_settings_of_the_wrong_kind(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Broker(**kwargs)


@dataclass
class NoType:
    name: str


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (NoType("x"), "`type` is None"),
        ({"data": 1}, "`type` is None"),
        (42, "cannot publish a int"),
        (None, "cannot publish a NoneType"),
        ({"type": 7}, "must be a string"),
    ],
)
def test_publishing_something_without_a_string_type(item: object, message: str) -> None:
    broker = Broker()
    with pytest.raises(ArgumentTypeError, match=message):
        broker.publish(item)
    assert broker.stats().published == 0


def test_publishing_data_that_is_not_json_names_the_event() -> None:
    broker = Broker()
    with pytest.raises(ArgumentTypeError, match="the data of event 'x' does not serialise to JSON"):
        broker.publish({"type": "x", "when": object()})
    assert broker.stats().published == 0


@dataclass
class Locked:
    type: str
    lock: Any  # a lock cannot be deep-copied (pickled), nor written as JSON


class Model(BaseModel):
    type: str
    value: Any


def _brokers() -> list[Broker | RedisBroker]:
    # a RedisBroker takes events into its outbox before it is started: no Redis needed here
    return [Broker(), RedisBroker("redis://127.0.0.1:1/0", namespace="unused")]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (Locked("locked", threading.Lock()), "cannot publish a Locked: its fields do not"),
        (Model(type="m", value=threading.Lock()), "cannot publish a Model: its fields do not"),
        (Model(type="m", value=object()), "cannot publish a Model: its fields do not"),
        (Event(type="e", data=Locked("x", threading.Lock())), "the data of event 'e' does not"),
        (Event(type="e", data=Model(type="m", value=object())), "the data of event 'e' does not"),
    ],
)
def test_publishing_what_cannot_be_copied_or_written_as_json_is_a_typed_error(
    item: object, message: str
) -> None:
    for broker in _brokers():
        with pytest.raises(ArgumentTypeError, match=message):
            broker.publish(item)
        assert broker.stats().published == 0


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"scores": [0.5, float("nan")]}, "holds nan at data['scores'][1]"),
        (float("inf"), "holds inf at data,"),
        ({"a": {"b": -float("inf")}}, "holds -inf at data['a']['b']"),
    ],
)
def test_publishing_nan_or_infinity_is_refused_naming_the_place(data: object, where: str) -> None:
    broker = Broker()
    seen: list[Event] = []
    broker.subscribe().subscribe(seen.append)
    with pytest.raises(InvalidArgumentError, match=re.escape(where)):
        broker.publish(Event(type="score", data=data))
    with pytest.raises(InvalidArgumentError, match="JSON cannot carry"):
        broker.publish({"type": "score", "value": data})  # a mapping's fields are its data
    assert broker.stats().published == 0
    assert seen == []


def test_the_words_nan_and_infinity_in_text_are_just_text() -> None:
    stamped = Broker().publish(Event(type="t", data={"NaN": "Infinity and -Infinity"}))
    assert json.loads(stamped.to_sse().split(b"data: ", 1)[1]) == {
        "type": "t",
        "data": {"NaN": "Infinity and -Infinity"},
    }


@pytest.mark.parametrize("topic", [5, b"bytes", ""])
def test_bad_topics_everywhere(topic: Any) -> None:
    broker = Broker()
    with pytest.raises(ArgumentTypeError, match="topic"):
        broker.publish(Event(type="x"), topic=topic)
    with pytest.raises(ArgumentTypeError, match="topic"):
        broker.finish_topic(topic)
    with pytest.raises(ArgumentTypeError, match="topic"):
        broker.subscribe(topics=topic)
    with pytest.raises(ArgumentTypeError, match="topic"):
        broker.sse_handler(topics=topic)


async def test_text_with_a_lone_surrogate_is_refused_where_it_enters() -> None:
    # UTF-8 cannot encode "\ud800": such a topic used to stop a RedisBroker's outbox for good
    for broker in _brokers():
        with pytest.raises(InvalidArgumentError, match="a topic must be text UTF-8 can encode"):
            broker.publish(Event(type="x"), topic="run-\ud800")
        with pytest.raises(InvalidArgumentError, match="a topic must be text UTF-8 can encode"):
            broker.publish(Event(type="x", topic="\udcff"))
        with pytest.raises(InvalidArgumentError, match="a topic"):
            broker.subscribe(topics=["ok", "\ud800"])
        with pytest.raises(InvalidArgumentError, match="session_id must be text UTF-8"):
            await broker.control("\ud800", "cancel")
        assert broker.stats().published == 0
    with pytest.raises(ValueError, match="an event type must be text UTF-8 can encode"):
        Event(type="tick\ud800")
    with pytest.raises(ValueError, match="an event id must be text UTF-8 can encode"):
        Event(type="tick", id="e-\ud800")


@pytest.mark.parametrize("last_event_id", ["\ud800", "\ud800-1", "e\udcff\ud800-1"])
def test_a_last_event_id_with_a_lone_surrogate_gets_one_reset_event(last_event_id: str) -> None:
    # an id read from JSON (a route's body) may hold any surrogate, not only escaped bytes
    broker = Broker()
    broker.publish(Event(type="before"))
    seen: list[Event] = []
    broker.subscribe(last_event_id=last_event_id).subscribe(seen.append)
    broker.publish(Event(type="after"))
    assert [e.type for e in seen] == ["reset", "after"]
    assert seen[0].data == {
        "reason": "invalid_id",
        "last_event_id": last_event_id.encode("utf-8", "backslashreplace").decode(),
    }
    assert seen[0].to_sse().startswith(f"id: {broker.epoch}-1\n".encode())


def test_subscribe_and_unsubscribe_arguments_of_the_wrong_kind() -> None:
    broker = Broker()
    with pytest.raises(ArgumentTypeError, match="client_id"):
        broker.subscribe(42)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="last_event_id"):
        broker.subscribe(last_event_id=17)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="client_id"):
        broker.unsubscribe(None)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="client_id"):
        broker.sse_handler(client_id=3)  # type: ignore[arg-type]


def test_an_event_id_that_would_break_the_framing_is_refused() -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):  # pydantic wraps it
        Event(type="x", id="1\ndata: injected")


def test_web_helpers_refuse_what_is_not_theirs() -> None:
    with pytest.raises(ArgumentTypeError, match="Broker"):
        broker_handler(object())  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="Broker"):
        add_sse_route(web.Application(), "/x", object())  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="Application"):
        add_sse_route(object(), "/x", Broker())  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="authorize"):
        add_sse_route(web.Application(), "/x", Broker(), authorize=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="finite"):
        Broker().sse_handler(heartbeat=float("nan"))


async def test_sse_response_refuses_what_is_not_an_observable(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await sse_response(request, [1, 2])  # type: ignore[arg-type]
        except ArgumentTypeError as exc:
            return web.Response(status=500, text=str(exc))

    async with http.get(await serve(route_app("/", handler)) + "/") as response:
        assert response.status == 500
        assert "reactivex Observable, got list" in await response.text()


@pytest.mark.parametrize(
    ("last_event_id", "reason"),
    [
        ("not an id", "invalid_id"),
        ("x" * 5000, "invalid_id"),
        ("é-1", "invalid_id"),
        ("zz-1", "unknown_epoch"),
        (f"{'9' * 4000}", "invalid_id"),
    ],
)
async def test_a_malformed_or_huge_last_event_id_gets_one_reset_event(
    serve: Serve, http: aiohttp.ClientSession, last_event_id: str, reason: str
) -> None:
    broker = Broker()
    base = await serve(route_app("/events", broker.sse_handler()))
    broker.publish(Event(type="before"))
    headers = {"Last-Event-ID": last_event_id}
    response = await http.get(base + "/events", headers=headers)
    reader = SSEReader(response)
    reset = await reader.next()
    message = json.loads(reset.data)
    assert message["type"] == "reset"
    assert message["data"]["reason"] == reason
    assert message["data"]["last_event_id"] == last_event_id[:128]
    assert reset.id == f"{broker.epoch}-1"
    broker.publish(Event(type="after"))
    assert json.loads((await reader.next()).data)["type"] == "after"
