"""matplotlib, for what asks for it: the PNG files of the report charts (`report.png: true`) and the sweep's heatmap
(HTML and PNG). Its object API only (no pyplot: no global state, no display needed); importing this module is
what imports matplotlib, so a run that wants neither never pays for it.

A report chart is drawn from its Chart (engine/reporting/chart_model.py) as the page's SVG is: the same ranges, the
same ticks, the same elements.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from engine.reporting.chart_model import Chart, Panel

Draw = Callable[[Figure], None]
SIZE = (10.0, 3.6)
"""Inches, at PNG_DPI: the page's charts are as wide for as high."""
PNG_DPI = 110
MARKER = {"up": "^", "down": "v"}


def render(draw: Draw, png: Path | None, size: tuple[float, float] = SIZE, tight: bool = False) -> str:
    """The chart as SVG text (text kept as text), and as PNG at `png` when given; `tight` fits the margins to the
    labels (a chart whose labels are data, a sweep's heatmap) instead of the day charts' fixed ones."""
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "zdte"}):
        fig = Figure(figsize=size)
        draw(fig)
        if not tight:
            fig.subplots_adjust(left=0.07, right=0.92, bottom=0.15, top=0.9)  # fixed: half the constrained cost
        bbox = "tight" if tight else None
        if png is not None:
            fig.savefig(png, format="png", dpi=PNG_DPI, bbox_inches=bbox)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None}, bbox_inches=bbox)
    text = out.getvalue()
    return text[text.index("<svg"):]


def write_png(chart: Chart, path: Path) -> Path:
    """The chart as a PNG file at `path`."""
    fig = figure(chart)
    fig.subplots_adjust(left=0.07, right=0.92, bottom=0.15, top=0.9, hspace=0.08)
    fig.savefig(path, format="png", dpi=PNG_DPI)
    return path


def figure(chart: Chart) -> Figure:
    """The chart drawn on a Figure of its own: one axes per panel, stacked, sharing the x axis."""
    fig = Figure(figsize=SIZE)
    shares = [p.share for p in chart.panels]
    axes = fig.subplots(len(shares), 1, sharex=True, height_ratios=shares, squeeze=False)[:, 0]
    for ax, panel in zip(axes, chart.panels, strict=True):
        _panel(ax, panel)
    axes[0].set_title(chart.title)
    bottom = axes[-1]
    bottom.set_xlim(chart.x.lo, chart.x.hi)
    bottom.set_xticks([v for v, _ in chart.x.ticks], [label for _, label in chart.x.ticks])
    bottom.set_xlabel(chart.x.label)
    return fig


def _panel(ax: Axes, panel: Panel) -> None:
    ax.set_ylim(panel.y.lo, panel.y.hi)
    ax.set_yticks([v for v, _ in panel.y.ticks], [label for _, label in panel.y.ticks])
    ax.set_ylabel(panel.y.label)
    ax.grid(True, alpha=0.3)
    for b in panel.boxes:
        ax.add_patch(Rectangle((b.x0, min(b.y0, b.y1)), b.x1 - b.x0, abs(b.y1 - b.y0), color=b.color, lw=0))
    for line in panel.lines:
        ax.plot(line.xs, line.ys, color=line.color, lw=line.width, ls="--" if line.dashed else "-",
                marker="o" if line.dots else None, ms=3)
    for m in panel.markers:
        ax.plot([m.x], [m.y], marker=MARKER[m.shape], color=m.color, ms=9, ls="none")
    for note in panel.notes:
        ax.annotate(note.text, (note.x, note.y), fontsize=note.size, color=note.color, xytext=(note.dx, -note.dy),
                    textcoords="offset points", ha="left" if note.anchor == "start" else "center")
    if panel.legend:
        handles = [Patch(color=k.color, label=k.label) if k.kind == "box" else Line2D([], [], color=k.color,
                                                                                         label=k.label)
                   for k in panel.legend]
        ax.legend(handles=handles, loc=panel.legend_at, fontsize=7, ncol=min(4, len(handles)))
    if panel.right is not None:
        twin = ax.twinx()
        twin.set_ylim(panel.y.lo, panel.y.hi)
        twin.set_yticks([v for v, _ in panel.right.ticks], [label for _, label in panel.right.ticks])
        twin.set_ylabel(panel.right.label)
