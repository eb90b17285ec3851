"""What each chart of the reports shows, from the report's own figures (its `series`, `trades`, `timeline`; the
summary's `equity_curve` and `by_exit`), so the JSON holds everything a chart shows. Each maker returns a Chart
(engine/reporting/chart_model.py), or None when there is nothing to draw; svg.py and matplotlib_render.py only draw
what they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.reporting.chart_model import Axis, Box, Chart, Key, Line, Marker, Note, Panel, time_axis, value_axis, when

STATE_COLORS = {
    "Initializing": "#9e9e9e",
    "AwaitingOpen": "#bdbdbd",
    "Scanning": "#64b5f6",
    "Entering": "#ffb74d",
    "Monitoring": "#81c784",
    "Halted": "#e57373",
    "ShuttingDown": "#757575",
    "Down": "#212121",
}
TRADE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
"""One color per condor, in turn (matplotlib's first eight)."""
UP, DOWN, SPOT, STRIKE, EQUITY, DRAWDOWN = "#2e7d32", "#c62828", "#37474f", "#c62828", "#1565c0", "#e57373"
HALT_NOTE = "#b71c1c"
BAR_WIDTH = 0.8


def _zero(x: Axis) -> Line:
    return Line((x.lo, x.hi), (0.0, 0.0), "#000000", "zero", width=0.6)


def underlying(report: dict[str, Any]) -> Chart | None:
    """Spot through the day, each trade's entry and exit, and its short strikes while it was open."""
    points = report["series"]["underlying"]
    if not points:
        return None
    xs, ys = tuple(when(t) for t, _ in points), tuple(float(c) for _, c in points)
    lines, markers, notes = [Line(xs, ys, SPOT, "spot")], [], []
    moments, values = [], list(ys)
    for t in report["trades"]:
        start, stop = when(t["entry_time"]), when(t["exit_time"])
        moments += [start, stop]
        for k in t["strikes"][1:3]:
            lines.append(Line((start, stop), (k, k), STRIKE, "strike", width=1.0, dashed=True))
            notes.append(Note(stop, k, f"{k:g}", STRIKE, dx=3, dy=3))
            values.append(k)
        if t["entry_spot"] is not None:
            markers.append(Marker(start, t["entry_spot"], "up", UP, "entry"))
            values.append(t["entry_spot"])
        if t["exit_spot"] is not None:
            markers.append(Marker(stop, t["exit_spot"], "down", DOWN, "exit"))
            values.append(t["exit_spot"])
    panel = Panel(
        value_axis(values, f"{report.get('underlying', 'underlying')} price"),
        tuple(lines), tuple(markers), notes=tuple(notes),
    )
    return Chart("underlying", "underlying, entries (^), exits (v) and short strikes (dashed)",
                 time_axis([*xs, *moments]), (panel,))


def trades(report: dict[str, Any]) -> Chart | None:
    """Each condor's P&L at mid through its life, from the quotes the engine asked for its legs; with one condor,
    its mark on the right (the same line on the scale of the net price)."""
    series = {no: s for no, s in report["series"]["trades"].items() if s}
    if not series:
        return None
    x = time_axis([when(p[0]) for points in series.values() for p in points])
    lines, keys = [], []
    for i, (no, points) in enumerate(series.items()):
        color = TRADE_COLORS[i % len(TRADE_COLORS)]
        lines.append(Line(tuple(when(p[0]) for p in points), tuple(float(p[2]) for p in points), color, "pnl",
                          width=1.4, label=f"trade {no}"))
        keys.append(Key(f"trade {no}", color))
    y = value_axis([v for line in lines for v in line.ys] + [0.0], "P&L ($)")
    right = None
    if len(series) == 1:
        t = next(t for t in report["trades"] if str(t["trade_no"]) in series)
        right = _mark_axis(y, t["entry_price"], t["multiplier"] * t["qty"])
    panel = Panel(y, (_zero(x), *lines), right=right, legend=tuple(keys))
    return Chart("trades", "the condor's P&L (and mark) while open, at mid", x, (panel,))


def _mark_axis(pnl: Axis, entry_price: float, per_point: float) -> Axis:
    """The net price per contract beside the P&L: mark = entry + P&L / (multiplier x qty), ticked on round marks
    placed where their P&L is."""
    lo, hi = (entry_price + v / per_point for v in (pnl.lo, pnl.hi))
    marks = value_axis([lo, hi], pad=0.0)
    ticks = tuple(((m - entry_price) * per_point, text) for m, text in marks.ticks)
    return Axis(pnl.lo, pnl.hi, ticks, "mark (net price per contract)")


def timeline(report: dict[str, Any]) -> Chart | None:
    """Which state when; halts labelled with their reasons."""
    rows = [r for r in report["timeline"] if when(r["end"]) > when(r["start"])]
    if not rows:
        return None
    boxes = tuple(Box(when(r["start"]), when(r["end"]), 0.0, 1.0, STATE_COLORS.get(r["state"], "#000000"), "state")
                  for r in rows)
    notes = tuple(Note(when(r["start"]), 1.05, r["reason"][:60], HALT_NOTE)
                  for r in rows if r["state"] in ("Halted", "Down"))
    shown = tuple(Key(s, STATE_COLORS[s], "box") for s in STATE_COLORS if any(r["state"] == s for r in rows))
    panel = Panel(Axis(0.0, 1.6), boxes=boxes, notes=notes, legend=shown, legend_at="upper right")
    return Chart("timeline", "state timeline", time_axis([v for b in boxes for v in (b.x0, b.x1)]), (panel,))


def _index_axis(labels: list[str], most: int = 12) -> Axis:
    """Categories at 0, 1, 2 ..., half a step of room at each end; at most `most` labels, evenly spaced."""
    step = max(1, len(labels) // most)
    return Axis(-0.6, len(labels) - 0.4, tuple((float(i), labels[i]) for i in range(0, len(labels), step)))


def equity(summary: dict[str, Any]) -> Chart | None:
    """The equity curve (cumulative day P&L) over its drawdown below the running peak."""
    curve = summary["equity_curve"]
    if not curve:
        return None
    x = _index_axis([c["day"][5:] for c in curve])
    xs = tuple(float(i) for i in range(len(curve)))
    eq = tuple(float(c["equity"]) for c in curve)
    dd = [float(c["drawdown"]) for c in curve]
    top = Panel(value_axis([*eq, 0.0], "equity ($)"), (_zero(x), Line(xs, eq, EQUITY, "equity", dots=True)), share=3)
    bottom = Panel(
        value_axis([*dd, 0.0], "drawdown ($)", most=3),  # a quarter of the height: three ticks fit
        boxes=tuple(Box(i - 0.5, i + 0.5, d, 0.0, DRAWDOWN, "drawdown") for i, d in zip(xs, dd, strict=True)),
    )
    return Chart("equity", "equity curve (cumulative day P&L) and drawdown", x, (top, bottom))


def exits(summary: dict[str, Any]) -> Chart | None:
    """P&L and count by exit reason."""
    by = summary["by_exit"]
    if not by:
        return None
    names = list(by)
    x = _index_axis(names, most=len(names))
    pnl = [float(by[n]["pnl"]) for n in names]
    bars = tuple(Box(i - BAR_WIDTH / 2, i + BAR_WIDTH / 2, 0.0, p, UP if p >= 0 else DOWN, "bar")
                 for i, p in enumerate(pnl))
    notes = tuple(Note(float(i), p, f"{by[n]['count']:.0f} trade(s)", "#000000", size=8, dy=-3, anchor="middle")
                  for i, (n, p) in enumerate(zip(names, pnl, strict=True)))
    panel = Panel(value_axis([*pnl, 0.0], "P&L ($)"), (_zero(x),), boxes=bars, notes=notes)
    return Chart("exits", "P&L by exit reason", x, (panel,))


Maker = Callable[[dict[str, Any]], Chart | None]
SUMMARY_CHARTS: dict[str, Maker] = {"equity": equity, "exits": exits}
DAY_CHARTS: dict[str, Maker] = {"underlying": underlying, "trades": trades, "timeline": timeline}
