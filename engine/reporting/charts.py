"""The report's charts, drawn with matplotlib's object API (no pyplot: no global state, no display needed).

Each chart is drawn from the report's own figures (its `series`, `trades`, `timeline`), so the JSON holds
everything a chart shows. A chart is kept as SVG text (for the HTML) and written as PNG beside it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.dates import DateFormatter, MinuteLocator, date2num
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from engine.calendar import ET

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
Draw = Callable[[Figure], None]


def _when(text: str | float) -> datetime:
    return datetime.fromtimestamp(text, ET) if isinstance(text, (int, float)) else datetime.fromisoformat(text)


def _x(text: str | float) -> float:
    """A time as matplotlib's date number (shown in ET by the axis' formatter)."""
    return float(date2num(_when(text)))


MIN_SPAN_DAYS = 30 / (24 * 60)
"""The narrowest time axis drawn: a single instant (a trade closed seconds after its fill) would otherwise be
widened by matplotlib's date axis to four years of half-hour ticks."""


def _time_axis(ax: Axes, xs: list[float]) -> None:
    """Half-hour ticks in ET over the data's own span (at least MIN_SPAN_DAYS), with a little room at each end."""
    lo, hi = min(xs), max(xs)
    if hi - lo < MIN_SPAN_DAYS:
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_SPAN_DAYS / 2, mid + MIN_SPAN_DAYS / 2
    pad = 0.02 * (hi - lo)
    ax.set_xlim(lo - pad, hi + pad)
    ax.xaxis.set_major_locator(MinuteLocator(byminute=(0, 30), tz=ET))
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=ET))
    ax.set_xlabel("time (US/Eastern)")
    ax.grid(True, alpha=0.3)


def underlying(report: dict[str, Any]) -> Draw | None:
    """Spot through the day, each trade's entry and exit, and its short strikes while it was open."""
    points = report["series"]["underlying"]
    if not points:
        return None

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.plot([_x(t) for t, _ in points], [c for _, c in points], color="#37474f", lw=1.2, label="spot")
        for t in report["trades"]:
            start, stop = _x(t["entry_time"]), _x(t["exit_time"])
            shorts = t["strikes"][1:3]
            for k in shorts:
                ax.hlines(k, start, stop, colors="#c62828", linestyles="--", lw=1)
                ax.annotate(f"{k:g}", (stop, k), fontsize=7, color="#c62828", xytext=(3, -3),
                            textcoords="offset points")
            if t["entry_spot"] is not None:
                ax.plot([start], [t["entry_spot"]], marker="^", color="#2e7d32", ms=9, ls="none")
            if t["exit_spot"] is not None:
                ax.plot([stop], [t["exit_spot"]], marker="v", color="#c62828", ms=9, ls="none")
        ax.set_ylabel(f"{report.get('underlying', 'underlying')} price")
        ax.set_title("underlying, entries (^), exits (v) and short strikes (dashed)")
        moments = [_x(t[k]) for t in report["trades"] for k in ("entry_time", "exit_time")]
        _time_axis(ax, [_x(t) for t, _ in points] + moments)

    return draw


def trades(report: dict[str, Any]) -> Draw | None:
    """Each condor's P&L (and mark) through its life, from the quotes the engine asked for its legs."""
    series = {no: s for no, s in report["series"]["trades"].items() if s}
    if not series:
        return None

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for no, points in series.items():
            ax.plot([_x(p[0]) for p in points], [p[2] for p in points], lw=1.4, label=f"trade {no}")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylabel("P&L ($)")
        if len(series) == 1:  # one condor: its mark is its P&L on another scale
            t = next(t for t in report["trades"] if str(t["trade_no"]) in series)
            per = t["multiplier"] * t["qty"]
            mark = ax.secondary_yaxis(
                "right", functions=(lambda pnl: t["entry_price"] + pnl / per, lambda m: (m - t["entry_price"]) * per)
            )
            mark.set_ylabel("mark (net price per contract)")
        ax.set_title("the condor's P&L (and mark) while open, at mid")
        ax.legend(loc="upper left", fontsize=8)
        _time_axis(ax, [_x(p[0]) for points in series.values() for p in points])

    return draw


def timeline(report: dict[str, Any]) -> Draw | None:
    """Which state when; halts labelled with their reasons."""
    rows = [r for r in report["timeline"] if _when(r["end"]) > _when(r["start"])]
    if not rows:
        return None

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for r in rows:
            start, end = _x(r["start"]), _x(r["end"])
            ax.broken_barh([(start, end - start)], (0, 1), color=STATE_COLORS.get(r["state"], "#000000"))
            if r["state"] in ("Halted", "Down"):
                ax.annotate(r["reason"][:60], (start, 1.05), fontsize=7, color="#b71c1c", rotation=8)
        ax.set_yticks([])
        ax.set_ylim(0, 1.6)
        shown = [s for s in STATE_COLORS if any(r["state"] == s for r in rows)]
        ax.legend(handles=[Patch(color=STATE_COLORS[s], label=s) for s in shown], loc="upper right", fontsize=7, ncol=4)
        ax.set_title("state timeline")
        _time_axis(ax, [_x(r[k]) for r in rows for k in ("start", "end")])

    return draw


def equity(summary: dict[str, Any]) -> Draw | None:
    """The equity curve (cumulative day P&L) over its drawdown below the running peak."""
    curve = summary["equity_curve"]
    if not curve:
        return None

    def draw(fig: Figure) -> None:
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        x = list(range(len(curve)))
        top.plot(x, [c["equity"] for c in curve], marker="o", ms=3, color="#1565c0")
        top.axhline(0, color="black", lw=0.6)
        top.set_ylabel("equity ($)")
        top.set_title("equity curve (cumulative day P&L) and drawdown")
        top.grid(True, alpha=0.3)
        bottom.fill_between(x, [c["drawdown"] for c in curve], 0, color="#e57373", step="mid")
        bottom.set_ylabel("drawdown ($)")
        bottom.grid(True, alpha=0.3)
        step = max(1, len(curve) // 12)
        bottom.set_xticks(x[::step], [c["day"][5:] for c in curve][::step], fontsize=7)

    return draw


def exits(summary: dict[str, Any]) -> Draw | None:
    """P&L and count by exit reason."""
    by = summary["by_exit"]
    if not by:
        return None

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        names = list(by)
        pnl = [by[n]["pnl"] for n in names]
        bars = ax.bar(names, pnl, color=["#2e7d32" if p >= 0 else "#c62828" for p in pnl])
        for bar, n in zip(bars, names, strict=True):
            ax.annotate(f"{by[n]['count']:.0f} trade(s)", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", fontsize=8, xytext=(0, 3), textcoords="offset points")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylabel("P&L ($)")
        ax.set_title("P&L by exit reason")

    return draw


SUMMARY_CHARTS: dict[str, Callable[[dict[str, Any]], Draw | None]] = {"equity": equity, "exits": exits}
DAY_CHARTS: dict[str, Callable[[dict[str, Any]], Draw | None]] = {
    "underlying": underlying,
    "trades": trades,
    "timeline": timeline,
}


def render(draw: Draw, png: Path | None, size: tuple[float, float] = (10.0, 3.6), tight: bool = False) -> str:
    """The chart as SVG text (text kept as text), and as PNG at `png` when given; `tight` fits the margins to the
    labels (a chart whose labels are data, a sweep's heatmap) instead of the day charts' fixed ones."""
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "zdte"}):
        fig = Figure(figsize=size)
        draw(fig)
        if not tight:
            fig.subplots_adjust(left=0.07, right=0.92, bottom=0.15, top=0.9)  # fixed: half the constrained cost
        bbox = "tight" if tight else None
        if png is not None:
            fig.savefig(png, format="png", dpi=110, bbox_inches=bbox)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None}, bbox_inches=bbox)
    text = out.getvalue()
    return text[text.index("<svg"):]
