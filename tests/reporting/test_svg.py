"""The report pages' charts as our own SVG: well-formed, drawn where the data says, the same bytes for the same
report, and nothing drawn where there is no data. The positions are computed here from the inputs and the
plot area the SVG itself declares, not read back from the code's scales."""

from __future__ import annotations

import xml.etree.ElementTree as ET_XML
from datetime import datetime, timedelta
from typing import Any

import pytest

from engine.calendar import ET
from engine.reporting import charts
from engine.reporting.svg import draw

NS = {"s": "http://www.w3.org/2000/svg"}
OPEN = datetime(2025, 7, 1, 9, 30, tzinfo=ET)


def minute(i: int) -> datetime:
    return OPEN + timedelta(minutes=i)


def trade(no: int, entry: int, exit_: int, entry_spot: float, exit_spot: float) -> dict[str, Any]:
    return {"trade_no": no, "entry_time": minute(entry).isoformat(), "exit_time": minute(exit_).isoformat(),
            "strikes": [585.0, 590.0, 610.0, 615.0], "entry_spot": entry_spot, "exit_spot": exit_spot,
            "multiplier": 100, "qty": 1, "entry_price": -0.60}


def report(spots: list[float], trades: list[dict[str, Any]], timeline: list[dict[str, Any]] | None = None,
           marks: dict[str, list[list[Any]]] | None = None) -> dict[str, Any]:
    return {"underlying": "SPY", "trades": trades, "timeline": timeline or [],
            "series": {"underlying": [[minute(i).timestamp(), s] for i, s in enumerate(spots)],
                       "trades": marks or {}}}


def parse(svg: str) -> ET_XML.Element:
    return ET_XML.fromstring(svg)  # raises on anything that is not well-formed XML


def plot_box(root: ET_XML.Element, panel: int = 0) -> tuple[float, float, float, float]:
    rect = root.findall(".//s:rect[@class='plot']", NS)[panel]
    x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def polyline(root: ET_XML.Element, role: str) -> list[tuple[float, float]]:
    [line] = root.findall(f".//s:polyline[@class='{role}']", NS)
    return [(float(a), float(b)) for a, b in (p.split(",") for p in line.get("points").split())]


def translate(element: ET_XML.Element) -> tuple[float, float]:
    inside = element.get("transform").removeprefix("translate(").removesuffix(")")
    x, y = inside.split(",")
    return float(x), float(y)


SPOTS = [600.0 + (i % 7) - 3 for i in range(120)]  # 597 .. 603, two hours from the open
TWO = [trade(1, 20, 50, 598.5, 601.0), trade(2, 70, 100, 600.5, 597.5)]


def test_the_underlying_chart_is_well_formed_with_one_entry_and_one_exit_marker_per_trade() -> None:
    root = parse(draw(charts.underlying(report(SPOTS, TWO))))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall(".//s:path[@class='entry']", NS)) == len(TWO)
    assert len(root.findall(".//s:path[@class='exit']", NS)) == len(TWO)
    assert len(root.findall(".//s:polyline[@class='strike']", NS)) == 2 * len(TWO)  # both short strikes of each
    notes = [t.text for t in root.findall(".//s:text[@class='note']", NS)]
    assert notes == ["590", "610", "590", "610"]
    assert "underlying, entries (^), exits (v) and short strikes (dashed)" in "".join(root.itertext())


def test_a_point_lands_where_the_data_scale_puts_it() -> None:
    """x: the data's span (spots and trade moments) widened by 2% at each end; y: the values' span (spots, strikes,
    marker spots) widened by 5% above and below; both mapped linearly onto the declared plot area."""
    root = parse(draw(charts.underlying(report(SPOTS, TWO))))
    left, top, right, bottom = plot_box(root)
    t0, t1 = minute(0).timestamp(), minute(len(SPOTS) - 1).timestamp()
    x_lo, x_hi = t0 - 0.02 * (t1 - t0), t1 + 0.02 * (t1 - t0)
    values = [*SPOTS, 590.0, 610.0, 598.5, 601.0, 600.5, 597.5]
    span = max(values) - min(values)
    y_lo, y_hi = min(values) - 0.05 * span, max(values) + 0.05 * span

    def at(t: float, v: float) -> tuple[float, float]:
        across = left + (t - x_lo) / (x_hi - x_lo) * (right - left)
        return across, bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top)

    spot = polyline(root, "spot")
    assert len(spot) == len(SPOTS)
    for i in (0, 37, len(SPOTS) - 1):
        assert spot[i] == pytest.approx(at(minute(i).timestamp(), SPOTS[i]), abs=0.06)
    entry = root.findall(".//s:path[@class='entry']", NS)[1]
    assert translate(entry) == pytest.approx(at(minute(70).timestamp(), 600.5), abs=0.06)
    ticks = {t.text: float(t.get("x")) for t in root.findall(".//s:text[@class='xtick']", NS)}
    assert ticks["10:00"] == pytest.approx(at(minute(30).timestamp(), 0)[0], abs=0.06)  # half hours in ET


def test_the_condors_pnl_has_its_mark_on_the_right_axis() -> None:
    """One condor opened at -0.60 for 100 x 1: a mark of m sits where its P&L, (m + 0.60) x 100, sits."""
    marks = {"1": [[minute(20 + i).isoformat(), -0.60 + i / 100, -i * 1.0] for i in range(31)]}
    root = parse(draw(charts.trades(report(SPOTS, TWO[:1], marks=marks))))
    _, top, _, bottom = plot_box(root)
    pnl = polyline(root, "pnl")
    assert [y for _, y in pnl] == sorted(y for _, y in pnl)  # P&L falls: the line goes down the page
    left_ticks = {t.text: float(t.get("y")) for t in root.findall(".//s:text[@class='ytick']", NS)}
    right_ticks = {t.text: float(t.get("y")) for t in root.findall(".//s:text[@class='rtick']", NS)}
    assert right_ticks["\u22120.60"] == pytest.approx(left_ticks["0"])  # the entry price is where P&L is zero
    assert right_ticks["\u22120.70"] == pytest.approx(left_ticks["\u221210"])
    assert root.find(".//s:text[@class='rlabel']", NS).text == "mark (net price per contract)"


def test_the_same_report_draws_the_same_bytes() -> None:
    timeline = [{"state": "Halted", "start": minute(5).isoformat(), "end": minute(9).isoformat(),
                 "reason": "data outage: <no bars> & no quotes"}]
    one, two = (report(SPOTS, TWO, timeline) for _ in range(2))
    for make in (charts.underlying, charts.timeline):
        assert draw(make(one)) == draw(make(two))
    halted = parse(draw(charts.timeline(one)))  # the reason's < and & are escaped: still well-formed
    assert [t.text for t in halted.findall(".//s:text[@class='note']", NS)] == ["data outage: <no bars> & no quotes"]
    assert len(halted.findall(".//s:rect[@class='state']", NS)) == 1


def test_no_data_no_chart() -> None:
    empty = report([], [], [{"state": "Initializing", "start": OPEN.isoformat(), "end": OPEN.isoformat(),
                             "reason": "start"}], {"1": []})
    assert charts.underlying(empty) is None
    assert charts.trades(empty) is None
    assert charts.timeline(empty) is None  # a state of no duration draws nothing
    assert charts.equity({"equity_curve": []}) is None
    assert charts.exits({"by_exit": {}}) is None


def test_the_summary_charts_one_dot_a_day_and_one_bar_an_exit_reason() -> None:
    curve = [{"day": f"2025-07-0{d}", "equity": e, "drawdown": dd}
             for d, e, dd in ((1, -70.0, -70.0), (2, -20.0, -20.0), (3, 40.0, 0.0))]
    root = parse(draw(charts.equity({"equity_curve": curve})))
    assert len(root.findall(".//s:circle[@class='equity-dot']", NS)) == 3
    assert len(root.findall(".//s:rect[@class='drawdown']", NS)) == 3
    assert [t.text for t in root.findall(".//s:text[@class='xtick']", NS)] == ["07-01", "07-02", "07-03"]
    by = {"profit target": {"count": 3, "pnl": 120.0}, "spread stop": {"count": 1, "pnl": -70.0}}
    bars = parse(draw(charts.exits({"by_exit": by})))
    rects = bars.findall(".//s:rect[@class='bar']", NS)
    assert [r.get("fill") for r in rects] == [charts.UP, charts.DOWN]
    heights = [float(r.get("height")) for r in rects]
    assert heights[0] / heights[1] == pytest.approx(120 / 70, rel=1e-2)  # bars from zero, on one scale
    assert [t.text for t in bars.findall(".//s:text[@class='note']", NS)] == ["3 trade(s)", "1 trade(s)"]
