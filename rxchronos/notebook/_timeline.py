"""A timeline picture of a graph run: one lane per task, a bar for each time it ran.

[`timeline`][rxchronos.notebook.timeline] reads events as they come from anywhere: graph
``StreamEvent``\\ s, broker ``Event``\\ s (the graph event's fields in ``data``), or the JSON an SSE
client received (``{"type": ..., "data": {...}}`` or a flat mapping).

Lanes follow the events' ``task_id`` and ``ns``: tasks that run at once (parallel branches, the
``Send`` branches of one node) get a lane each, so they show side by side; the tasks of a subgraph
get lanes under the lane of the subgraph's node, indented; the runs of one node in later steps
(a loop) reuse its lane. Events without a ``task_id`` go to their node's lane.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from typing import Literal

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos.notebook._svg import FONT
from rxchronos.notebook._svg import SVGPicture
from rxchronos.notebook._svg import attr
from rxchronos.notebook._svg import text_width

__all__ = ["timeline"]

_ROW = 28
_TOP = 34
_PAD = 12
_INDENT = 14  # a subgraph's lanes, right of its node's
_AXIS_MARGIN = 36
_END_COLOURS = {
    "node_end": "#4c9a6a",
    "error": "#c8453b",
    "cancelled": "#8a8f98",
    "open": "#d9dde3",
}
_MARKS = {"interrupt": "#d99a1e", "custom": "#6a5acd", "model_chunk": "#3b7dd8"}
_NO_LANE = ("completed", "edge_transition", "checkpoint", "step_end")
_TASK = re.compile(r"^(?P<node>.*):\d+(?::(?P<k>\d+))?$")  # "<node>:<step>[:<k>]"

_Part = tuple[str, str | None]  # a node, and which of its Send branches ("0", "1", ...)
_Lane = tuple[_Part, ...]  # the parts from the root: a subgraph's lanes start with its node's


@dataclass(frozen=True, slots=True)
class _Item:
    type: str
    node: str | None
    at: float
    task: str | None = None
    ns: tuple[str, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Span:
    lane: _Lane
    start: float
    end: float
    outcome: str
    task: str | None


def timeline(
    events: Iterable[Any],
    *,
    by: Literal["time", "order"] = "time",
    width: int = 720,
    title: str | None = None,
) -> SVGPicture:
    """Draw a run as a timeline: task spans over time, with interrupts, model tokens and the end.

    Each task gets a lane: parallel branches (and each ``Send`` branch, labelled with its index
    and its ``tool_call_id``) side by side, a subgraph's tasks indented under its node's lane, and
    a node that runs again in a later step on its own lane again. Each ``node_start`` ...
    ``node_end`` (or ``error``, ``cancelled``) is a bar, coloured by how it ended (a task still
    running is a pale bar to the last event; the siblings of a failed branch end with it, as
    cancelled). ``model_chunk`` events are ticks on their task's lane, ``custom`` events dots, an
    ``interrupt`` a diamond, and ``completed`` a line at the end.

    Args:
        events: the events of one or more runs, in the order they happened.
        by: ``"time"`` places events by their timestamps; ``"order"`` spaces them evenly in order
            (clearer for runs too fast to see; used anyway when the events carry no timestamps).
        width: the picture's width in pixels.
        title: a heading; by default the number of events, lanes and the time they span.

    Returns:
        An [`SVGPicture`][rxchronos.notebook.SVGPicture]: the last expression of a cell shows it.

    Raises:
        ValueError: for an unknown ``by`` or a ``width`` under 200.
        TypeError: for an event without a ``type``.

    Example:
        >>> from rxchronos.notebook import timeline
        >>> events = [{"type": "node_start", "node_id": "plan", "timestamp": 0.0},
        ...           {"type": "node_end", "node_id": "plan", "timestamp": 0.25},
        ...           {"type": "completed", "node_id": "plan", "timestamp": 0.25}]
        >>> picture = timeline(events)
        >>> "plan" in picture.svg
        True
        >>> branches = [  # two Send branches of one node, at the same time
        ...     {"type": "node_start", "node_id": "tool", "task_id": "tool:2:0", "timestamp": 0.0},
        ...     {"type": "node_start", "node_id": "tool", "task_id": "tool:2:1", "timestamp": 0.1},
        ...     {"type": "node_end", "node_id": "tool", "task_id": "tool:2:1", "timestamp": 0.2},
        ...     {"type": "node_end", "node_id": "tool", "task_id": "tool:2:0", "timestamp": 0.3}]
        >>> timeline(branches).svg.count('class="lane"')
        2
    """
    if by not in ("time", "order"):
        raise InvalidArgumentError(f"by must be 'time' or 'order', got {by!r}")
    if not isinstance(width, int) or width < 200:
        raise InvalidArgumentError(f"width must be an int of at least 200 pixels, got {width!r}")
    items = [_normalise(e, i) for i, e in enumerate(events)]
    has_time = all(item.at >= 0 for item in items)
    if by == "order" or not has_time:
        items = [_Item(it.type, it.node, float(i), it.task, it.ns, it.tool_call_id)
                 for i, it in enumerate(items)]  # fmt: skip
    lanes = _Lanes()
    placed = [lanes.of(item) for item in items]
    spans = _spans(items, placed)
    return SVGPicture(
        _draw(items, placed, spans, lanes, width, title, timed=by == "time" and has_time)
    )


def _normalise(event: Any, index: int) -> _Item:
    fields = _fields(event)
    raw_type = fields.get("type")
    if isinstance(raw_type, Enum):
        raw_type = raw_type.value
    if not isinstance(raw_type, str):
        raise ArgumentTypeError(f"event {index} has no string `type`: {event!r:.80}")
    data = fields.get("data")
    if "node_id" not in fields and isinstance(data, Mapping):
        fields = {**data, "type": raw_type}  # a broker Event / SSE payload of a graph event
        data = fields.get("data")
    node = fields.get("node_id")
    stamp = fields.get("timestamp")
    if isinstance(stamp, datetime):
        stamp = stamp.timestamp()
    at = float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else -1.0
    task = fields.get("task_id")
    ns = fields.get("ns") or ()
    call = data.get("tool_call_id") if isinstance(data, Mapping) else None
    return _Item(
        raw_type,
        node if isinstance(node, str) else None,
        at,
        task if isinstance(task, str) else None,
        tuple(str(part) for part in ns) if isinstance(ns, list | tuple) else (),
        call if isinstance(call, str) else None,
    )


def _fields(event: Any) -> Mapping[str, Any]:
    if isinstance(event, Mapping):
        return event
    names = ("type", "node_id", "timestamp", "data", "task_id", "ns")
    return {name: getattr(event, name) for name in names if hasattr(event, name)}


class _Lanes:
    """The lanes of a timeline, in the order they appear (a subgraph's under its node's)."""

    def __init__(self) -> None:
        self.first: dict[_Lane, int] = {}  # when each lane (or lane prefix) was first seen
        self.of_task: dict[tuple[tuple[str, ...], str], _Lane] = {}
        self.calls: dict[_Lane, str] = {}

    def of(self, item: _Item) -> _Lane | None:
        """The lane of ``item`` (``None``: an event of the whole run), seen from now on."""
        if item.node is None or item.type in _NO_LANE:
            return None
        parent = self._parent(item.ns)
        branch = None
        if item.task is not None and item.task.startswith(item.node + ":"):
            rest = item.task[len(item.node) + 1 :].split(":")
            branch = rest[1] if len(rest) == 2 else None
        lane = (*parent, (item.node, branch))
        if item.task is not None:
            self.of_task[(item.ns, item.task)] = lane
        if item.tool_call_id is not None:
            self.calls.setdefault(lane, item.tool_call_id)
        for depth in range(1, len(lane) + 1):
            self.first.setdefault(lane[:depth], len(self.first))
        return lane

    def _parent(self, ns: tuple[str, ...]) -> _Lane:
        if not ns:
            return ()
        known = self.of_task.get((ns[:-1], ns[-1]))
        if known is not None:
            return known
        found = _TASK.match(ns[-1])  # its node's start was not among the events
        part = (found["node"], found["k"]) if found else (ns[-1], None)
        return (*self._parent(ns[:-1]), part)

    def ordered(self, used: set[_Lane]) -> list[_Lane]:
        """The lanes in ``used``, each after the lanes it is under and their earlier lanes."""

        def path(lane: _Lane) -> tuple[int, ...]:
            return tuple(self.first[lane[:depth]] for depth in range(1, len(lane) + 1))

        return sorted(used, key=path)

    def label(self, lane: _Lane) -> str:
        node, branch = lane[-1]
        text = node if branch is None else f"{node} [{branch}]"
        call = self.calls.get(lane)
        return text if call is None else f"{text} · {call}"


def _spans(items: list[_Item], placed: list[_Lane | None]) -> list[_Span]:
    open_at: dict[_Lane, tuple[float, str | None]] = {}
    spans: list[_Span] = []
    last = items[-1].at if items else 0.0
    for item, lane in zip(items, placed, strict=True):
        if lane is not None and item.type == "node_start":
            open_at[lane] = (item.at, item.task)
        elif item.type in ("node_end", "error", "cancelled"):
            if lane is not None and lane in open_at:
                start, task = open_at.pop(lane)
                spans.append(_Span(lane, start, item.at, item.type, task))
            if item.type != "node_end":  # the run stopped: the tasks still running stop with it
                spans.extend(
                    _Span(other, start, item.at, "cancelled", task)
                    for other, (start, task) in open_at.items()
                )
                open_at.clear()
    spans.extend(_Span(lane, start, last, "open", task) for lane, (start, task) in open_at.items())
    return spans


def _draw(
    items: list[_Item],
    placed: list[_Lane | None],
    spans: list[_Span],
    lanes: _Lanes,
    width: int,
    title: str | None,
    *,
    timed: bool,
) -> str:
    rows = lanes.ordered({lane for lane in placed if lane is not None})
    labels = [lanes.label(lane) for lane in rows]
    indents = [(len(lane) - 1) * _INDENT for lane in rows]
    label_w = max([text_width(t, 12) + i for t, i in zip(labels, indents, strict=True)] + [40.0])
    label_w += 2 * _PAD
    plot_w = width - label_w - _AXIS_MARGIN  # room for the last axis label, centred on the end
    start = min((it.at for it in items), default=0.0)
    total = max((it.at for it in items), default=0.0) - start
    height = _TOP + max(len(rows), 1) * _ROW + 40
    where = {lane: i for i, lane in enumerate(rows)}

    def x(at: float) -> float:
        return label_w + (plot_w * (at - start) / total if total > 0 else 0.0)

    def y(lane: _Lane) -> float:
        return _TOP + where[lane] * _ROW

    if title is None:
        span = f"{total * 1000:.1f} ms" if timed else f"{len(items)} steps"
        title = f"{len(items)} events, {len(rows)} lanes, {span}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT};font-size:12px">',
        f'<text x="{_PAD}" y="18" font-weight="bold">{attr(title)}</text>',
    ]
    for i, (lane, text, indent) in enumerate(zip(rows, labels, indents, strict=True)):
        top = _TOP + i * _ROW
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{top}" width="{width}" height="{_ROW}" fill="#f5f6f8"/>')
        ns = "/".join(part for part, _ in lane[:-1])
        out.append(
            f'<text class="lane" x="{_PAD + indent}" y="{top + 18}" data-ns="{attr(ns)}">'
            f"{attr(text)}</text>"
        )
    for s in spans:
        left, right = x(s.start), max(x(s.end), x(s.start) + 3)
        task = f" ({attr(s.task)})" if s.task is not None else ""
        out.append(
            f'<rect class="span {attr(s.outcome)}" x="{left:.1f}" y="{y(s.lane) + 5}" '
            f'width="{right - left:.1f}" height="{_ROW - 10}" rx="3" '
            f'fill="{_END_COLOURS[s.outcome]}"><title>{attr(lanes.label(s.lane))}: '
            f"{attr(s.outcome)}{_duration(s, timed)}{task}</title></rect>"
        )
    out.extend(_marks(items, placed, where, x, y))
    axis = _TOP + max(len(rows), 1) * _ROW + 4
    out.append(
        f'<line x1="{label_w}" y1="{axis}" x2="{label_w + plot_w}" y2="{axis}" stroke="#555"/>'
    )
    unit = "ms" if timed else "step"
    digits = 1 if timed and total * 1000 < 10 else 0  # a fast run: tenths of a millisecond
    for k in range(5):
        at = start + total * k / 4
        value = (at - start) * 1000 if timed else at - start
        out.append(
            f'<text x="{x(at):.1f}" y="{axis + 16}" text-anchor="middle" fill="#555">'
            f"{value:.{digits}f} {unit}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _marks(
    items: list[_Item], placed: list[_Lane | None], where: Mapping[_Lane, int], x: Any, y: Any
) -> list[str]:
    out: list[str] = []
    for item, lane in zip(items, placed, strict=True):
        colour = _MARKS.get(item.type)
        if item.type == "completed":
            top, bottom = _TOP, _TOP + max(len(where), 1) * _ROW
            out.append(
                f'<line class="completed" x1="{x(item.at):.1f}" y1="{top}" '
                f'x2="{x(item.at):.1f}" y2="{bottom}" stroke="#222" stroke-dasharray="4 3">'
                "<title>completed</title></line>"
            )
        if colour is None or lane is None:
            continue
        cx, cy = x(item.at), y(lane) + _ROW / 2
        if item.type == "model_chunk":
            out.append(
                f'<line class="model_chunk" x1="{cx:.1f}" y1="{cy - 9}" x2="{cx:.1f}" '
                f'y2="{cy + 9}" stroke="{colour}" stroke-width="1.5"/>'
            )
        elif item.type == "interrupt":
            out.append(
                f'<path class="interrupt" d="M{cx:.1f} {cy - 8}l8 8l-8 8l-8 -8z" fill="{colour}">'
                f"<title>interrupt before {attr(item.node)}</title></path>"
            )
        else:
            out.append(f'<circle class="custom" cx="{cx:.1f}" cy="{cy}" r="4" fill="{colour}"/>')
    return out


def _duration(span: _Span, timed: bool) -> str:
    return f" ({(span.end - span.start) * 1000:.2f} ms)" if timed else ""
