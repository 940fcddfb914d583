"""The broker's unit of delivery: `Event`, and how anything with a ``type`` becomes one.

An event stamped by a broker carries its JSON, encoded once at publish time, and caches the SSE
frame built from it on first send, which every other connection that sends it shares: fanning an
event out to a thousand browsers costs one JSON encoding and one frame, not a thousand. The same
holds for the frame of its data alone ([data_frame][rxchronos.stream.Event.data_frame], what the
frontend protocols of [rxchronos.ui][] send), cut out of that JSON rather than encoded again.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from enum import Enum
from typing import Any

import pydantic_core
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import PrivateAttr
from pydantic import field_validator

from rxchronos._construct import constructor
from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError

__all__ = [
    "RESERVED_EVENT_NAMES",
    "Event",
    "check_client",
    "check_topic",
    "check_utf8",
    "event_from_payload",
    "frame_of",
    "json_payload",
    "normalise_topics",
    "stamp_event",
]

RESERVED_EVENT_NAMES = frozenset({"message", "error", "open"})
"""Event types never sent as an ``event:`` name: a browser's ``EventSource`` gives them other
meanings (``message`` is the unnamed default, ``error`` and ``open`` are connection events)."""


class Event(BaseModel):
    """One event of a [Broker][rxchronos.stream.Broker]: what happened (``type``) and its ``data``.

    ``id`` and ``topic`` are set by [Broker.publish][rxchronos.stream.Broker.publish]; the
    event you pass in is never changed (events are immutable), ``publish`` returns the stamped copy.

    On the wire an event is ``id: <id>`` and ``data: {"type": ..., "data": ...}``, with no
    ``event:`` line unless named events were asked for (see
    [to_sse][rxchronos.stream.Event.to_sse]).

    Attributes:
        type: what happened, e.g. ``"node_end"``; a non-empty string without CR, LF, NUL or
            a lone surrogate.
        data: anything that serialises to JSON.
        id: the broker's id for it (``None`` until published).
        topic: the topic it was published to (``None``: no topic).
        timestamp: when it was created (UTC).

    Example:
        >>> from rxchronos.stream import Event
        >>> event = Event(type="node_end", data={"node": "extract", "status": "done"})
        >>> event.to_sse()
        b'data: {"type":"node_end","data":{"node":"extract","status":"done"}}\\n\\n'
    """

    model_config = ConfigDict(frozen=True)

    type: str
    data: Any = None
    id: str | None = None
    topic: str | None = None
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))

    _json: bytes | None = PrivateAttr(default=None)
    _frame: bytes | None = PrivateAttr(default=None)
    _named_frame: bytes | None = PrivateAttr(default=None)
    _data_frame: bytes | None = PrivateAttr(default=None)

    @field_validator("type", mode="before")
    @classmethod
    def _type_is_a_name(cls, value: Any) -> Any:
        if isinstance(value, Enum):
            value = value.value
        if isinstance(value, str):
            check_type(value)
        return value

    @field_validator("id")
    @classmethod
    def _id_fits_one_line(cls, value: str | None) -> str | None:
        if value is not None:
            if "\r" in value or "\n" in value or "\0" in value:
                raise InvalidArgumentError(
                    f"an event id must not contain CR, LF or NUL, got {value!r}"
                )
            check_utf8("an event id", value)
        return value

    def to_sse(self, *, named: bool = False) -> bytes:
        """The event as one ``text/event-stream`` frame, encoded on first use and then cached.

        Args:
            named: add an ``event: <type>`` line, for clients that use
                ``addEventListener(type, ...)``. Types ``message``, ``error`` and ``open`` are
                never sent as names (a browser gives those other meanings): such an event has no
                ``event:`` line and reaches ``onmessage``.

        Raises:
            TypeError: when ``data`` does not serialise to JSON.
            ValueError: when ``data`` holds a NaN or infinite float.

        Example:
            >>> Event(type="token", data="Hi", id="e1-1").to_sse(named=True)
            b'event: token\\nid: e1-1\\ndata: {"type":"token","data":"Hi"}\\n\\n'
        """
        private = self.__pydantic_private__
        assert private is not None
        if named and self.type not in RESERVED_EVENT_NAMES:
            frame = private["_named_frame"]
            if frame is None:
                frame = private["_named_frame"] = frame_of(
                    self._payload(), self.id, event=self.type
                )
            return frame  # type: ignore[no-any-return]
        frame = private["_frame"]
        if frame is None:
            frame = private["_frame"] = frame_of(self._payload(), self.id)
        return frame  # type: ignore[no-any-return]

    def data_frame(self) -> bytes:
        """The event as one frame whose ``data:`` line is only the JSON of ``data``, cached.

        What a protocol whose every event is a JSON object of its own sends (the AI SDK's UI
        message stream, AG-UI): ``id: <id>`` and ``data: <data as JSON>``, never an ``event:``
        line. The JSON is the part of the event's JSON (encoded once at publish time) that holds
        ``data``, so it is not encoded twice.

        Raises:
            TypeError: when ``data`` does not serialise to JSON.
            ValueError: when ``data`` holds a NaN or infinite float.

        Example:
            >>> part = {"type": "text-delta", "delta": "Hi"}
            >>> Event(type="part", data=part, id="e1-7").data_frame()
            b'id: e1-7\\ndata: {"type":"text-delta","delta":"Hi"}\\n\\n'
        """
        private = self.__pydantic_private__
        assert private is not None
        frame: bytes | None = private["_data_frame"]
        if frame is None:
            payload = self._payload()
            head = _data_prefix(self.type)
            if payload.startswith(head) and payload.endswith(b"}"):
                data = payload[len(head) : -1]
            else:  # not made by json_payload (a payload read back from elsewhere)
                data = json_payload(self.type, self.data)[len(head) : -1]
            frame = private["_data_frame"] = frame_of(data, self.id)
        return frame

    def _payload(self) -> bytes:
        private = self.__pydantic_private__
        assert private is not None
        payload: bytes | None = private["_json"]
        if payload is None:
            payload = private["_json"] = json_payload(self.type, self.data)
        return payload


def check_type(value: str) -> None:
    """Raise ``ValueError`` unless ``value`` can be an event type (and an SSE ``event:`` name)."""
    if not value:
        raise InvalidArgumentError("an event type must be a non-empty string, e.g. 'node_end'")
    if "\r" in value or "\n" in value or "\0" in value:
        raise InvalidArgumentError(f"event type {value!r} must not contain CR, LF or NUL")
    check_utf8("an event type", value)


def check_topic(topic: object) -> None:
    """Raise ``TypeError`` unless ``topic`` is a non-empty string, ``ValueError`` when it is
    not text UTF-8 can encode (a Redis key, a topic in JSON)."""
    if not isinstance(topic, str) or not topic:
        raise ArgumentTypeError(f"a topic must be a non-empty string, got {topic!r}")
    check_utf8("a topic", topic)


def check_utf8(what: str, text: str) -> None:
    """Raise ``ValueError`` when ``text`` holds a lone surrogate, which UTF-8 cannot encode (so
    neither a frame, nor JSON, nor Redis can carry it). Costs nothing for ASCII text.

    Example:
        >>> try:
        ...     check_utf8("a topic", "run-\\ud800")
        ... except ValueError as exc:
        ...     print(exc)
        a topic must be text UTF-8 can encode: 'run-\\ud800' holds a lone surrogate at 4
    """
    if text.isascii():
        return
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        shown = repr(text[:80]) + ("..." if len(text) > 80 else "")
        raise InvalidArgumentError(
            f"{what} must be text UTF-8 can encode: {shown} holds a lone surrogate at {exc.start}"
        ) from None


def check_client(client_id: object, last_event_id: object) -> None:
    """Raise ``TypeError`` unless ``client_id`` and ``last_event_id`` are strings or ``None``."""
    for name, value in (("client_id", client_id), ("last_event_id", last_event_id)):
        if value is not None and not isinstance(value, str):
            raise ArgumentTypeError(f"{name} must be a string or None, got {type(value).__name__}")


def normalise_topics(topics: str | Iterable[str] | None) -> frozenset[str] | None:
    """``None``, one topic or several, as a frozen set of checked topics."""
    if topics is None:
        return None
    if isinstance(topics, bytes | bytearray) or not isinstance(topics, str | Iterable):
        raise ArgumentTypeError(
            f"topics must be a string, an iterable of strings or None, got {type(topics).__name__}"
        )
    chosen = frozenset((topics,)) if isinstance(topics, str) else frozenset(topics)
    if not chosen:
        raise InvalidArgumentError(
            "topics must name at least one topic, or be None for every event"
        )
    for topic in chosen:
        check_topic(topic)
    return chosen


def json_payload(type_: str, data: Any) -> bytes:
    """The JSON sent in an event's ``data:`` line: ``{"type": ..., "data": ...}``, UTF-8.

    Compact JSON has no raw line break (they are escaped inside strings), so it fits one line.

    Raises:
        TypeError: when ``data`` does not serialise to JSON.
        ValueError: when ``data`` holds a float that is NaN or infinite: JSON has no such
            numbers (pydantic would write ``NaN``, which a browser's ``JSON.parse`` rejects).

    Example:
        >>> try:
        ...     json_payload("t", {"v": [1.5, float("nan")]})
        ... except ValueError as exc:
        ...     print(str(exc).split(",")[0])
        the data of event 't' holds nan at data['v'][1]
    """
    try:
        payload = pydantic_core.to_json({"type": type_, "data": data})
    except pydantic_core.PydanticSerializationError as exc:
        raise ArgumentTypeError(
            f"the data of event {type_!r} does not serialise to JSON ({exc}); "
            "publish plain JSON values, pydantic models or dataclasses"
        ) from None
    # Two substring searches per event (find: `in` first tries the needle as an int); the
    # exact look only when one of the words is there.
    if (
        payload.find(b"NaN") >= 0 or payload.find(b"Infinity") >= 0
    ) and payload != pydantic_core.to_json({"type": type_, "data": data}, inf_nan_mode="null"):
        where, number = _non_finite(data)
        raise InvalidArgumentError(
            f"the data of event {type_!r} holds {number} at {where}, which JSON cannot carry "
            "(a browser's JSON.parse rejects NaN and Infinity); send None or a string"
        )
    return payload


def _non_finite(data: Any) -> tuple[str, float]:
    """Where in ``data`` (as JSON values) the first NaN or infinite float is, and which it is."""
    stack: list[tuple[str, Any]] = [("data", pydantic_core.to_jsonable_python(data))]
    while stack:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where, value
        if isinstance(value, dict):
            stack.extend((f"{where}[{k!r}]", v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return "data", math.nan  # not reached: the JSON showed one


def _data_prefix(type_: str) -> bytes:
    """What `json_payload` writes before the JSON of ``data``."""
    return b"".join((b'{"type":', pydantic_core.to_json(type_), b',"data":'))


def frame_of(payload: bytes, id: str | None, *, event: str | None = None) -> bytes:
    """One SSE frame around a JSON payload; ``id`` and ``event`` were checked (no CR, LF, NUL).

    Example:
        >>> frame_of(b'{"type":"t","data":1}', "e-1")
        b'id: e-1\\ndata: {"type":"t","data":1}\\n\\n'
    """
    head = f"event: {event}\n" if event is not None else ""
    if id is not None:
        head += f"id: {id}\n"
    return b"".join((head.encode(), b"data: ", payload, b"\n\n"))


def stamp_event(item: object, *, id: str | None, topic: str | None) -> Event:
    """Build the broker's stamped copy of ``item``, with its JSON encoded once.

    ``item`` is an `Event`, or anything with a ``type``: a pydantic model (a graph
    ``StreamEvent``), a dataclass, a mapping with a ``"type"`` key, or an object with a ``type``
    attribute. For those, ``data`` is the object's fields except ``type``, as JSON values.

    Raises:
        TypeError: when ``item`` has no type or its data does not serialise to JSON.
        ValueError: when the type is empty or contains CR, LF or NUL, or the data holds a NaN
            or infinite float.
    """
    timestamp: Any = None
    if isinstance(item, Event):
        type_, data, timestamp = item.type, item.data, item.timestamp
        if topic is None:
            topic = item.topic
    else:
        type_, data, timestamp = _describe(item)
    if timestamp is None or not isinstance(timestamp, datetime):
        timestamp = datetime.now(UTC)
    return _build(type_, data, id, topic, timestamp, json_payload(type_, data))


_new_event = constructor(Event)


def _build(
    type_: str, data: Any, id: str | None, topic: str | None, timestamp: datetime, payload: bytes
) -> Event:
    """An `Event` from checked values, built without validation (see ``rxchronos._construct``):
    pydantic's ``model_construct`` costs several microseconds per event, on the publisher's hot
    path."""
    return _new_event(
        {"type": type_, "data": data, "id": id, "topic": topic, "timestamp": timestamp},
        {"_json": payload, "_frame": None, "_named_frame": None, "_data_frame": None},
    )


def event_from_payload(payload: bytes, *, id: str, topic: str | None, timestamp: datetime) -> Event:
    """The stamped event whose JSON (made by `json_payload`) is ``payload``, e.g. read back from
    a store; its SSE frame then reuses those bytes, so they are checked as `json_payload` would
    have made them: one JSON object with a ``type`` that can be an event type, no ``NaN`` or
    ``Infinity``, and no raw line break (it would cut the ``data:`` line).

    Raises:
        ValueError: when ``payload`` is not such JSON (the message shows at most 80 bytes of it).

    Example:
        >>> from datetime import UTC, datetime
        >>> e = event_from_payload(b'{"type":"t","data":1}', id="e-1", topic=None,
        ...     timestamp=datetime.now(UTC))
        >>> e.type, e.data, e.to_sse()
        ('t', 1, b'id: e-1\\ndata: {"type":"t","data":1}\\n\\n')
    """
    try:
        decoded = pydantic_core.from_json(payload, allow_inf_nan=False)
    except ValueError as exc:
        raise InvalidArgumentError(f"not JSON ({exc}): {payload[:80]!r}") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("type"), str):
        raise InvalidArgumentError(f"not an event's JSON: {payload[:80]!r}")
    if payload.find(b"\n") >= 0 or payload.find(b"\r") >= 0:  # find: no int() try as `in` has
        raise InvalidArgumentError(f"an event's JSON with a raw line break: {payload[:80]!r}")
    check_type(decoded["type"])
    return _build(decoded["type"], decoded.get("data"), id, topic, timestamp, payload)


def _json_fields(item: object) -> dict[str, Any]:
    """The fields of a pydantic model or a dataclass, as JSON values.

    Never a deep copy (``dataclasses.asdict`` fails on a field that cannot be pickled, a lock or
    a client, with a bare ``TypeError``): pydantic reads the fields and refuses what JSON cannot
    carry, naming it.
    """
    try:
        if isinstance(item, BaseModel):
            fields: dict[str, Any] = item.model_dump(mode="json")
        else:
            fields = pydantic_core.to_jsonable_python(item)
    except ValueError as exc:  # PydanticSerializationError; a circular or too deep value
        raise ArgumentTypeError(
            f"cannot publish a {type(item).__name__}: its fields do not serialise to JSON "
            f"({exc}); publish plain JSON values, pydantic models or dataclasses"
        ) from None
    return fields


def _describe(item: object) -> tuple[str, Any, Any]:
    """Split a ``type``-carrying object into its type, its other fields, and its timestamp."""
    if isinstance(item, BaseModel) or (
        dataclasses.is_dataclass(item) and not isinstance(item, type)
    ):
        fields = _json_fields(item)
        raw_type = getattr(item, "type", None)
    elif isinstance(item, Mapping):
        fields = {str(k): v for k, v in item.items()}
        raw_type = fields.get("type")
    elif hasattr(item, "type") and hasattr(item, "__dict__"):
        fields = {k: v for k, v in vars(item).items() if not k.startswith("_")}
        raw_type = item.type
    else:
        raise ArgumentTypeError(
            f"cannot publish a {type(item).__name__}: pass an Event, or an object with a `type` "
            "(a pydantic model, a dataclass, a mapping with a 'type' key)"
        )
    if isinstance(raw_type, Enum):
        raw_type = raw_type.value
    if not isinstance(raw_type, str):
        raise ArgumentTypeError(
            f"cannot publish a {type(item).__name__} whose `type` is {raw_type!r}: "
            "the type must be a string such as 'node_end'"
        )
    check_type(raw_type)
    fields.pop("type", None)
    timestamp = getattr(item, "timestamp", None)
    return raw_type, fields, timestamp
