"""The end-of-day report's figures, from the book and from the journal's records."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.book import ClosedTrade, Spread
from engine.models import Intent, Leg, Side
from engine.report import DayStats, build_report, stats_from_records

NY = ZoneInfo("America/New_York")
DAY = date(2025, 7, 1)


def at(hh: int, mm: int) -> datetime:
    return datetime(2025, 7, 1, hh, mm, tzinfo=NY)


def closed(no: int, entry: float, exit_: float) -> ClosedTrade:
    legs = (Leg("SPY250701P00595000", Side.SELL, Intent.SELL_TO_OPEN),)
    spread = Spread(no, "short", legs, (590, 595, 605, 610), 5.0, 1, entry, at(10, 0), f"zdte-20250701-0{no}o-00")
    return ClosedTrade(spread, exit_, at(11, 0), "profit target")


def test_trades_wins_and_realized_pnl_add_up() -> None:
    trades = [closed(1, -0.70, 0.30), closed(2, -0.50, 1.20)]  # +40, -70
    report = build_report(DAY, trades, DayStats(), -31.0, [], at(15, 15), "ShuttingDown")
    assert report["trade_count"] == 2 and report["wins"] == 1
    assert report["realized_pnl"] == -30.0 and report["total_pnl"] == -31.0
    assert [t["pnl"] for t in report["trades"]] == [40.0, -70.0]


def test_an_unknown_total_stays_unknown() -> None:
    assert build_report(DAY, [], DayStats(), None, [], at(15, 15), "ShuttingDown")["total_pnl"] is None


def test_time_in_state_and_counts_come_back_from_the_records() -> None:
    records = [
        {"kind": "transition", "ts": at(9, 0).isoformat(), "dest": "AwaitingOpen"},
        {"kind": "transition", "ts": at(10, 0).isoformat(), "dest": "Scanning"},
        {"kind": "order", "event": "submit"},
        {"kind": "order", "event": "fill"},
        {"kind": "refused"},
        {"kind": "transition", "ts": at(10, 30).isoformat(), "dest": "Monitoring"},
    ]
    stats = stats_from_records(records)
    assert stats.transitions == 3 and stats.refused == 1 and stats.orders_submitted == 1 and stats.fills == 1
    assert dict(stats.state_seconds) == {"AwaitingOpen": 3600.0, "Scanning": 1800.0}
