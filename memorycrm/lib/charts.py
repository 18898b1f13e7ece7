"""Charts drawn on the server as inline SVG: no script, no CDN, nothing to load, so they show
offline, print, and appear at once on a phone. Each function returns plain numbers for a
template (``templates/charts/*.html``) to draw; the page gives every chart a text alternative
(a sentence and a table) next to it.

The SVG's coordinates are its viewBox's: the drawing scales to its box, and the labels inside
it are few and short (a phone shows the viewBox at about its own size)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Segment:
    key: str
    value: int
    y: float
    height: float


@dataclass
class Column:
    label: str
    x: float
    width: float
    total: int
    segments: list[Segment] = field(default_factory=list)
    show_label: bool = False


@dataclass
class StackedColumns:
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    plot_left: int
    columns: list[Column]
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal grid lines
    keys: list[str]

    @property
    def empty(self) -> bool:
        return not any(c.total for c in self.columns)


def nice_max(value: float) -> int:
    """The smallest 1, 2 or 5 x 10^n at least ``value`` (at least 1): the y axis' top."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)  # pragma: no cover (the loop always returns)


def stacked_columns(
    rows: Sequence[tuple[str, dict[str, int]]],
    keys: Sequence[str],
    *,
    width: int = 320,
    height: int = 160,
    labels: int = 4,
) -> StackedColumns:
    """One column per row (label, counts by key), the keys stacked bottom-up in ``keys`` order.
    About ``labels`` x-axis labels are shown, evenly spread, always the last one."""
    left, top, bottom = 28, 8, height - 22
    plot_height = bottom - top
    top_value = nice_max(max((sum(c.values()) for _, c in rows), default=0))
    slot = (width - left - 4) / max(len(rows), 1)
    every = max(1, math.ceil(len(rows) / labels))
    columns = []
    for i, (label, counts) in enumerate(rows):
        column = Column(
            label=label,
            x=round(left + i * slot + slot * 0.15, 2),
            width=round(slot * 0.7, 2),
            total=sum(counts.get(k, 0) for k in keys),
            show_label=(len(rows) - 1 - i) % every == 0,
        )
        base = float(bottom)
        for key in keys:
            value = counts.get(key, 0)
            if not value:
                continue
            h = plot_height * value / top_value
            base -= h
            column.segments.append(Segment(key, value, round(base, 2), round(h, 2)))
        columns.append(column)
    ticks = [(round(bottom - plot_height * f, 2), round(top_value * f)) for f in (0, 0.5, 1)]
    if top_value == 1:
        ticks = [ticks[0], ticks[2]]
    return StackedColumns(width, height, top, bottom, left, columns, ticks, list(keys))


@dataclass
class Bar:
    label: str
    value: float
    percent: float  # of the largest bar, 0-100
    note: str = ""
    tone: str = ""


def bars(items: Sequence[tuple[str, float, str, str]]) -> list[Bar]:
    """Horizontal bars (label, value, note, tone), each as a percentage of the largest: the
    template draws the label as HTML text (it wraps on a phone) and the bar as a small SVG."""
    top = max((abs(v) for _, v, _, _ in items), default=0) or 1
    return [
        Bar(label, value, round(100 * abs(value) / top, 1), note, tone)
        for label, value, note, tone in items
    ]
