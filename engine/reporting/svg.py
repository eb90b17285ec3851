"""A Chart (engine/reporting/chart_model.py) as SVG text for the report pages: written by hand, a few kilobytes,
text kept as text, the same bytes for the same chart, and no import beyond the standard library, so a day's page
costs milliseconds where drawing it with matplotlib cost most of a simulated day's run.

The layout is fixed: every panel's plot area is a `rect class="plot"` inside LEFT..RIGHT and TOP..BOTTOM, and a
data point (x, y) lands at LEFT + (x - x.lo) / (x.hi - x.lo) * (RIGHT - LEFT) across and the same on its panel's y
axis downwards from the plot's bottom. Each element carries its role as its class (`spot`, `strike`, `entry`,
`exit`, `pnl`, `state`, ...); markers are placed with `transform="translate(X,Y)"` on their point.
"""

from __future__ import annotations

from html import escape

from engine.reporting.chart_model import Axis, Chart, Key, Panel

WIDTH, HEIGHT = 1000, 360
LEFT, RIGHT, TOP, BOTTOM = 72.0, 918.0, 34.0, 300.0
PANEL_GAP = 10.0
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
TICK = 4.0
MARKER = {"up": "M0,-7L7,6H-7Z", "down": "M0,7L7,-6H-7Z"}
NOTE_PX = 1.4
"""A note's size is in points, as matplotlib takes it; 1.4 px a point at this width."""


def _n(v: float) -> str:
    return f"{v:.1f}"


class _Scale:
    """Data to pixels on one panel: x across LEFT..RIGHT, y up from `bottom` to `top`."""

    def __init__(self, x: Axis, y: Axis, top: float, bottom: float) -> None:
        self.x, self.y, self.top, self.bottom = x, y, top, bottom

    def px(self, v: float) -> float:
        return LEFT + (v - self.x.lo) / (self.x.hi - self.x.lo) * (RIGHT - LEFT)

    def py(self, v: float) -> float:
        return self.bottom - (v - self.y.lo) / (self.y.hi - self.y.lo) * (self.bottom - self.top)


def panel_spans(chart: Chart) -> list[tuple[float, float]]:
    """Each panel's (top, bottom) in pixels: TOP..BOTTOM shared by their `share`s, PANEL_GAP between them."""
    room = BOTTOM - TOP - PANEL_GAP * (len(chart.panels) - 1)
    total = sum(p.share for p in chart.panels)
    out, top = [], TOP
    for p in chart.panels:
        height = room * p.share / total
        out.append((top, top + height))
        top += height + PANEL_GAP
    return out


def draw(chart: Chart) -> str:
    """The chart as one `<svg>` element."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{escape(chart.name)}" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text class="title" x="{_n((LEFT + RIGHT) / 2)}" y="20" text-anchor="middle" font-size="14">'
        f"{escape(chart.title)}</text>",
    ]
    spans = panel_spans(chart)
    for panel, (top, bottom) in zip(chart.panels, spans, strict=True):
        out += _panel(panel, _Scale(chart.x, panel.y, top, bottom))
    out += _x_axis(chart.x, spans[-1][1])
    out.append("</svg>")
    return "\n".join(out)


def _panel(panel: Panel, s: _Scale) -> list[str]:
    out = ['<g class="panel">']
    for v, _ in s.x.ticks:
        out.append(f'<line class="grid" x1="{_n(s.px(v))}" y1="{_n(s.top)}" x2="{_n(s.px(v))}" y2="{_n(s.bottom)}" '
                   'stroke="#000000" stroke-opacity="0.12" stroke-width="0.8"/>')
    for v, label in panel.y.ticks:
        y = _n(s.py(v))
        out.append(f'<line class="grid" x1="{_n(LEFT)}" y1="{y}" x2="{_n(RIGHT)}" y2="{y}" stroke="#000000" '
                   'stroke-opacity="0.12" stroke-width="0.8"/>')
        out.append(f'<line x1="{_n(LEFT - TICK)}" y1="{y}" x2="{_n(LEFT)}" y2="{y}" stroke="#000000"/>')
        out.append(f'<text class="ytick" x="{_n(LEFT - TICK - 3)}" y="{_n(s.py(v) + 4)}" text-anchor="end">'
                   f"{escape(label)}</text>")
    if panel.y.label:
        mid = _n((s.top + s.bottom) / 2)
        out.append(f'<text class="ylabel" x="18" y="{mid}" text-anchor="middle" font-size="12" '
                   f'transform="rotate(-90 18 {mid})">{escape(panel.y.label)}</text>')
    if panel.right is not None:
        out += _right_axis(panel.right, s)
    for b in panel.boxes:
        x0, x1 = sorted((s.px(b.x0), s.px(b.x1)))
        y0, y1 = sorted((s.py(b.y0), s.py(b.y1)))
        out.append(f'<rect class="{escape(b.role)}" x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" '
                   f'height="{_n(y1 - y0)}" fill="{b.color}"/>')
    for line in panel.lines:
        points = " ".join(f"{_n(s.px(x))},{_n(s.py(y))}" for x, y in zip(line.xs, line.ys, strict=True))
        dash = ' stroke-dasharray="5,3"' if line.dashed else ""
        out.append(f'<polyline class="{escape(line.role)}" fill="none" stroke="{line.color}" '
                   f'stroke-width="{line.width:g}"{dash} stroke-linejoin="round" points="{points}"/>')
        if line.dots:
            out += [f'<circle class="{escape(line.role)}-dot" cx="{_n(s.px(x))}" cy="{_n(s.py(y))}" r="3" '
                    f'fill="{line.color}"/>' for x, y in zip(line.xs, line.ys, strict=True)]
    for m in panel.markers:
        out.append(f'<path class="{escape(m.role)}" transform="translate({_n(s.px(m.x))},{_n(s.py(m.y))})" '
                   f'd="{MARKER[m.shape]}" fill="{m.color}"/>')
    for note in panel.notes:
        out.append(f'<text class="note" x="{_n(s.px(note.x) + note.dx)}" y="{_n(s.py(note.y) + note.dy)}" '
                   f'fill="{note.color}" font-size="{note.size * NOTE_PX:g}" text-anchor="{note.anchor}">'
                   f"{escape(note.text)}</text>")
    if panel.legend:
        out += _legend(panel.legend, panel.legend_at, s.top)
    out.append(f'<rect class="plot" x="{_n(LEFT)}" y="{_n(s.top)}" width="{_n(RIGHT - LEFT)}" '
               f'height="{_n(s.bottom - s.top)}" fill="none" stroke="#000000" stroke-width="0.8"/>')
    out.append("</g>")
    return out


def _right_axis(axis: Axis, s: _Scale) -> list[str]:
    out = []
    for v, label in axis.ticks:
        y = _n(s.py(v))
        out.append(f'<line x1="{_n(RIGHT)}" y1="{y}" x2="{_n(RIGHT + TICK)}" y2="{y}" stroke="#000000"/>')
        out.append(f'<text class="rtick" x="{_n(RIGHT + TICK + 3)}" y="{_n(s.py(v) + 4)}">{escape(label)}</text>')
    if axis.label:
        x, mid = _n(WIDTH - 24), _n((s.top + s.bottom) / 2)
        out.append(f'<text class="rlabel" x="{x}" y="{mid}" text-anchor="middle" font-size="12" '
                   f'transform="rotate(90 {x} {mid})">{escape(axis.label)}</text>')
    return out


def _legend(keys: tuple[Key, ...], where: str, top: float) -> list[str]:
    """One row of keys in a framed box at the plot's upper left or right corner."""
    widths = [26 + 6.2 * len(k.label) for k in keys]
    width = sum(widths) + 8
    x = LEFT + 8 if where == "upper left" else RIGHT - 8 - width
    y = top + 8
    out = [f'<g class="legend"><rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="20" fill="#ffffff" '
           'fill-opacity="0.85" stroke="#cccccc"/>']
    at = x + 6
    for key, w in zip(keys, widths, strict=True):
        if key.kind == "box":
            out.append(f'<rect x="{_n(at)}" y="{_n(y + 6)}" width="16" height="8" fill="{key.color}"/>')
        else:
            out.append(f'<line x1="{_n(at)}" y1="{_n(y + 10)}" x2="{_n(at + 16)}" y2="{_n(y + 10)}" '
                       f'stroke="{key.color}" stroke-width="1.6"/>')
        out.append(f'<text x="{_n(at + 20)}" y="{_n(y + 14)}" font-size="10">{escape(key.label)}</text>')
        at += w
    out.append("</g>")
    return out


def _x_axis(x: Axis, bottom: float) -> list[str]:
    out = ['<g class="xaxis">']
    scale = _Scale(x, Axis(0.0, 1.0), 0.0, 1.0)
    for v, label in x.ticks:
        px = _n(scale.px(v))
        out.append(f'<line x1="{px}" y1="{_n(bottom)}" x2="{px}" y2="{_n(bottom + TICK)}" stroke="#000000"/>')
        out.append(f'<text class="xtick" x="{px}" y="{_n(bottom + TICK + 13)}" text-anchor="middle">'
                   f"{escape(label)}</text>")
    if x.label:
        out.append(f'<text class="xlabel" x="{_n((LEFT + RIGHT) / 2)}" y="{_n(bottom + 38)}" text-anchor="middle" '
                   f'font-size="12">{escape(x.label)}</text>')
    out.append("</g>")
    return out
