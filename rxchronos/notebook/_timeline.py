"""A timeline picture of a graph run: one row per node, a bar for each time it ran.

[`timeline`][rxchronos.notebook.timeline] reads events as they come from anywhere: graph
``StreamEvent``\\ s, broker ``Event``\\ s (the graph event's fields in ``data``), or the JSON an SSE
client received (``{"type": ..., "data": {...}}`` or a flat mapping).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from rxchronos._errors import ArgumentTypeError, InvalidArgumentError
from rxchronos.notebook._svg import FONT, SVGPicture, attr, text_width

__all__ = ["timeline"]

_ROW = 28
_TOP = 34
_PAD = 12
_AXIS_MARGIN = 36
_END_COLOURS = {
    "node_end": "#4c9a6a",
    "error": "#c8453b",
    "cancelled": "#8a8f98",
    "open": "#d9dde3",
}
_MARKS = {"interrupt": "#d99a1e", "custom": "#6a5acd", "model_chunk": "#3b7dd8"}


@dataclass(frozen=True, slots=True)
class _Item:
    type: str
    node: str | None
    at: float


@dataclass(frozen=True, slots=True)
class _Span:
    node: str
    start: float
    end: float
    outcome: str


def timeline(
    events: Iterable[Any],
    *,
    by: Literal["time", "order"] = "time",
    width: int = 720,
    title: str | None = None,
) -> SVGPicture:
    """Draw a run as a timeline: node spans over time, with interrupts, model tokens and the end.

    Each node gets a row; each ``node_start`` ... ``node_end`` (or ``error``, ``cancelled``) is a
    bar, coloured by how it ended (a node still running is a pale bar to the last event).
    ``model_chunk`` events are ticks on their node's row, ``custom`` events dots, an
    ``interrupt`` a diamond, and ``completed`` a line at the end.

    Args:
        events: the events of one or more runs, in the order they happened.
        by: ``"time"`` places events by their timestamps; ``"order"`` spaces them evenly in order
            (clearer for runs too fast to see; used anyway when the events carry no timestamps).
        width: the picture's width in pixels.
        title: a heading; by default the number of events and the time they span.

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
    """
    if by not in ("time", "order"):
        raise InvalidArgumentError(f"by must be 'time' or 'order', got {by!r}")
    if not isinstance(width, int) or width < 200:
        raise InvalidArgumentError(f"width must be an int of at least 200 pixels, got {width!r}")
    items = [_normalise(e, i) for i, e in enumerate(events)]
    has_time = all(item.at >= 0 for item in items)
    if by == "order" or not has_time:
        items = [_Item(it.type, it.node, float(i)) for i, it in enumerate(items)]
    spans, rows = _spans(items)
    return SVGPicture(_draw(items, spans, rows, width, title, timed=by == "time" and has_time))


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
    node = fields.get("node_id")
    stamp = fields.get("timestamp")
    if isinstance(stamp, datetime):
        stamp = stamp.timestamp()
    at = float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else -1.0
    return _Item(raw_type, node if isinstance(node, str) else None, at)


def _fields(event: Any) -> Mapping[str, Any]:
    if isinstance(event, Mapping):
        return event
    names = ("type", "node_id", "timestamp", "data")
    return {name: getattr(event, name) for name in names if hasattr(event, name)}


def _spans(items: list[_Item]) -> tuple[list[_Span], list[str]]:
    rows: list[str] = []
    open_at: dict[str, float] = {}
    spans: list[_Span] = []
    last = items[-1].at if items else 0.0
    for item in items:
        node = item.node
        if node is None:
            continue
        if node not in rows and item.type not in ("completed", "edge_transition", "checkpoint"):
            rows.append(node)
        if item.type == "node_start":
            open_at[node] = item.at
        elif item.type in ("node_end", "error", "cancelled") and node in open_at:
            spans.append(_Span(node, open_at.pop(node), item.at, item.type))
    spans.extend(_Span(node, start, last, "open") for node, start in open_at.items())
    return spans, rows


def _draw(
    items: list[_Item],
    spans: list[_Span],
    rows: list[str],
    width: int,
    title: str | None,
    *,
    timed: bool,
) -> str:
    label_w = max([text_width(r, 12) for r in rows] + [40.0]) + 2 * _PAD
    plot_w = width - label_w - _AXIS_MARGIN  # room for the last axis label, centred on the end
    start = min((it.at for it in items), default=0.0)
    total = max((it.at for it in items), default=0.0) - start
    height = _TOP + max(len(rows), 1) * _ROW + 40

    def x(at: float) -> float:
        return label_w + (plot_w * (at - start) / total if total > 0 else 0.0)

    def y(node: str) -> float:
        return _TOP + rows.index(node) * _ROW

    if title is None:
        span = f"{total * 1000:.1f} ms" if timed else f"{len(items)} steps"
        title = f"{len(items)} events, {len(rows)} nodes, {span}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT};font-size:12px">',
        f'<text x="{_PAD}" y="18" font-weight="bold">{attr(title)}</text>',
    ]
    for i, node in enumerate(rows):
        top = _TOP + i * _ROW
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{top}" width="{width}" height="{_ROW}" fill="#f5f6f8"/>')
        out.append(f'<text x="{_PAD}" y="{top + 18}">{attr(node)}</text>')
    for s in spans:
        left, right = x(s.start), max(x(s.end), x(s.start) + 3)
        out.append(
            f'<rect class="span {attr(s.outcome)}" x="{left:.1f}" y="{y(s.node) + 5}" '
            f'width="{right - left:.1f}" height="{_ROW - 10}" rx="3" '
            f'fill="{_END_COLOURS[s.outcome]}"><title>{attr(s.node)}: {attr(s.outcome)}'
            f"{_duration(s, timed)}</title></rect>"
        )
    out.extend(_marks(items, rows, x, y))
    axis = _TOP + max(len(rows), 1) * _ROW + 4
    out.append(
        f'<line x1="{label_w}" y1="{axis}" x2="{label_w + plot_w}" y2="{axis}" stroke="#555"/>'
    )
    unit = "ms" if timed else "step"
    for k in range(5):
        at = start + total * k / 4
        value = (at - start) * 1000 if timed else at - start
        out.append(
            f'<text x="{x(at):.1f}" y="{axis + 16}" text-anchor="middle" fill="#555">'
            f"{value:.0f} {unit}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _marks(items: list[_Item], rows: list[str], x: Any, y: Any) -> list[str]:
    out: list[str] = []
    for item in items:
        colour = _MARKS.get(item.type)
        if item.type == "completed":
            top, bottom = _TOP, _TOP + max(len(rows), 1) * _ROW
            out.append(
                f'<line class="completed" x1="{x(item.at):.1f}" y1="{top}" '
                f'x2="{x(item.at):.1f}" y2="{bottom}" stroke="#222" stroke-dasharray="4 3">'
                "<title>completed</title></line>"
            )
        if colour is None or item.node not in rows:
            continue
        cx, cy = x(item.at), y(item.node) + _ROW / 2
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
