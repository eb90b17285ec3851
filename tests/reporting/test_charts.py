"""The charts keep a sane time axis whatever the day held: a trade closed seconds after its fill gave matplotlib a
single instant, which its date axis widens to four years of half-hour ticks (minutes of drawing, gigabytes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from matplotlib.figure import Figure

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


def test_a_trade_of_one_instant_draws_a_half_hour_axis_not_four_years() -> None:
    report = _report([[AT.isoformat(), -0.61, 0.0]])
    for make in (charts.trades, charts.underlying, charts.timeline):
        draw = make(report)
        assert draw is not None
        fig = Figure()
        draw(fig)
        lo, hi = fig.axes[0].get_xlim()
        assert 0 < hi - lo <= 1 / 24, f"{make.__name__}: an x axis of {hi - lo:.1f} days"
        assert len(fig.axes[0].get_xticks()) <= 10
