"""The charts keep a sane time axis whatever the day held: a trade closed seconds after its fill gave matplotlib a
single instant, which its date axis widened to four years of half-hour ticks (minutes of drawing, gigabytes). The
axis is now the chart's own data, drawn as it is by the page's SVG and by the PNG of `report.png`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from engine.calendar import ET
from engine.reporting import charts

AT = datetime(2025, 7, 1, 10, 1, tzinfo=ET)


def _report(points: list[list[Any]]) -> dict[str, Any]:
    trade = {"trade_no": 1, "entry_time": AT.isoformat(), "exit_time": AT.isoformat(), "strikes": [587, 592, 603, 608],
             "entry_spot": 597.9, "exit_spot": 597.9, "multiplier": 100, "qty": 1, "entry_price": -0.61}
    return {"series": {"trades": {"1": points}, "underlying": [[AT.timestamp(), 597.9]]}, "trades": [trade],
            "timeline": [{"state": "Monitoring", "start": AT.isoformat(),
                          "end": (AT + timedelta(seconds=2)).isoformat(), "reason": "filled"}],
            "underlying": "SPY"}


MAKERS = (charts.trades, charts.underlying, charts.timeline)


@pytest.mark.parametrize("make", MAKERS, ids=lambda m: m.__name__)
def test_a_trade_of_one_instant_gets_a_half_hour_axis_not_four_years(make) -> None:
    chart = make(_report([[AT.isoformat(), -0.61, 0.0]]))
    assert chart is not None
    assert 30 * 60 <= chart.x.hi - chart.x.lo <= 3600
    assert chart.x.lo <= AT.timestamp() <= chart.x.hi
    assert 1 <= len(chart.x.ticks) <= 10 and all(label.endswith((":00", ":30")) for _, label in chart.x.ticks)


@pytest.mark.parametrize("make", MAKERS, ids=lambda m: m.__name__)
def test_the_png_draws_the_charts_own_axis(make) -> None:
    """matplotlib (report.png) is given the range and the ticks; it must not widen them on its own."""
    from engine.reporting.matplotlib_render import figure

    chart = make(_report([[AT.isoformat(), -0.61, 0.0]]))
    fig = figure(chart)
    assert fig.axes[0].get_xlim() == pytest.approx((chart.x.lo, chart.x.hi))
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == [label for _, label in chart.x.ticks]
