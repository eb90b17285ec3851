"""A chart as plain data: what it shows and on which scales, decided once (engine/reporting/charts.py) and drawn by
each renderer as it is given (svg.py for the page, matplotlib_render.py for the PNG files of `report.png`). The
axes' ranges and ticks are part of the data, so the page and its PNG show the same ranges and the same ticks, and a
test can compute where a point must land from the data alone. The pieces are NamedTuples, not dataclasses: as
immutable, and about ten times cheaper to define (a frozen dataclass costs Python 3.11 about 0.6 ms at import).

Coordinates are data units: x in epoch seconds on a time axis (ticks shown in US/Eastern) or a plain index, y in
the chart's unit. Offsets of text (`Note.dx`, `dy`) are pixels, y down, as in SVG.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from engine.calendar import ET

MIN_TIME_SPAN_S = 30 * 60
"""The narrowest time axis: a single instant (a trade closed seconds after its fill) gets half an hour around it."""
TIME_PAD = 0.02
"""Room at each end of a time axis, as a share of its span."""
VALUE_PAD = 0.05
"""Room above and below the data on a value axis, as a share of its span (matplotlib's own default margin)."""
HALF_HOUR_S = 30 * 60
MAX_TIME_TICKS = 16


class Axis(NamedTuple):
    lo: float
    hi: float
    ticks: tuple[tuple[float, str], ...] = ()
    """Each tick's position (in the axis' data units) and its label."""
    label: str = ""


class Line(NamedTuple):
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    color: str
    role: str
    """What the line is (`spot`, `strike`, `pnl`, `zero`, `equity`): the SVG's class, the tests' handle."""
    width: float = 1.2
    dashed: bool = False
    dots: bool = False
    """A dot at each point (the equity curve's days)."""
    label: str | None = None
    """Its legend entry, if it has one."""


class Marker(NamedTuple):
    x: float
    y: float
    shape: Literal["up", "down"]
    color: str
    role: str


class Box(NamedTuple):
    """A filled rectangle in data coordinates: a state's span, a bar, a day's drawdown."""

    x0: float
    x1: float
    y0: float
    y1: float
    color: str
    role: str


class Note(NamedTuple):
    """Text at a data point, moved by (dx, dy) pixels."""

    x: float
    y: float
    text: str
    color: str
    size: float = 7.0
    dx: float = 0.0
    dy: float = 0.0
    anchor: Literal["start", "middle"] = "start"


class Key(NamedTuple):
    """A legend entry: a line or a filled box of this color."""

    label: str
    color: str
    kind: Literal["line", "box"] = "line"


class Panel(NamedTuple):
    y: Axis
    lines: tuple[Line, ...] = ()
    markers: tuple[Marker, ...] = ()
    boxes: tuple[Box, ...] = ()
    notes: tuple[Note, ...] = ()
    right: Axis | None = None
    """A second scale on the right (the condor's mark beside its P&L): its ticks placed on the y axis' scale."""
    legend: tuple[Key, ...] = ()
    legend_at: Literal["upper left", "upper right"] = "upper left"
    title: str = ""
    share: float = 1.0
    """The panel's share of the chart's height, against its siblings'."""


class Chart(NamedTuple):
    name: str
    title: str
    x: Axis
    panels: tuple[Panel, ...] = ()


def when(value: str | float) -> float:
    """Epoch seconds of a report's time: an ISO-8601 text with its offset, or epoch seconds already."""
    return float(value) if isinstance(value, (int, float)) else datetime.fromisoformat(value).timestamp()


def time_axis(xs: list[float], label: str = "time (US/Eastern)") -> Axis:
    """The data's own span (at least MIN_TIME_SPAN_S) with TIME_PAD at each end, ticked on the ET half hours (every
    hour or more on a long span, so at most MAX_TIME_TICKS)."""
    lo, hi = min(xs), max(xs)
    if hi - lo < MIN_TIME_SPAN_S:
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_TIME_SPAN_S / 2, mid + MIN_TIME_SPAN_S / 2
    pad = TIME_PAD * (hi - lo)
    lo, hi = lo - pad, hi + pad
    step = HALF_HOUR_S * max(1, math.ceil((hi - lo) / HALF_HOUR_S / MAX_TIME_TICKS))
    start = datetime.fromtimestamp(lo, ET).replace(minute=0, second=0, microsecond=0)
    ticks = []
    at = start
    while (t := at.timestamp()) <= hi:
        if t >= lo and int(t - start.timestamp()) % step == 0:
            ticks.append((t, f"{at:%H:%M}"))
        at = (at + timedelta(minutes=30)).astimezone(ET)  # through the zone: a DST night keeps the wall's half hours
    return Axis(lo, hi, tuple(ticks), label)


def value_axis(values: list[float], label: str = "", pad: float = VALUE_PAD, most: int = 10) -> Axis:
    """The values' span with `pad` above and below (a single value: one unit either side), ticked on round
    numbers, at most `most` of them (fewer on a short panel)."""
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    room = pad * (hi - lo)
    lo, hi = lo - room, hi + room
    return Axis(lo, hi, tuple((t, tick_label(t, step)) for t, step in round_ticks(lo, hi, most)), label)


def round_ticks(lo: float, hi: float, most: int = 10) -> list[tuple[float, float]]:
    """Ticks on the multiples of 1, 2, 2.5 or 5 x 10^k inside [lo, hi], the finest step giving at most `most`;
    each with its step (for its label's decimals)."""
    raw = (hi - lo) / most
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    out = []
    k = first
    while (t := k * step) <= hi + 1e-9 * step:
        out.append((round(t, 10) + 0.0, step))  # + 0.0: no -0.0 label
        k += 1
    return out


def tick_label(value: float, step: float) -> str:
    """As many decimals as the step needs (600, 597.5, 0.25), and a minus sign, not a hyphen, as matplotlib shows
    it."""
    power = math.floor(math.log10(step) + 1e-9)
    halves = round(step / 10.0**power, 6) == 2.5  # a step of 2.5 x 10^k needs one decimal more than 10^k
    decimals = max(0, -power + (1 if halves else 0))
    return f"{value:.{decimals}f}".replace("-", "\u2212")
