"""A day report's figures as one sweep row: flat columns of plain types, so the rows of any sweep load as one table.

Trades, wins and the exit counts use `engine/reporting/summary.py`'s definitions (a trade closed in parts counts
once), so a cell's figures are those `run.py report` would print for its day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.reporting.summary import EXIT_ORDER, day_pnl, summarize, trade_pnls

EXIT_COLUMNS = {kind: "exit_" + kind.replace(" ", "_") for kind in EXIT_ORDER}
FIGURES = ("trades", "wins", "pnl", "realized_pnl", "gross_profit", "gross_loss", "max_drawdown",
           *EXIT_COLUMNS.values(), "halts", "stopped")
"""The columns a finished cell fills; a failed cell leaves them empty."""


def row_figures(report: dict[str, Any]) -> dict[str, Any]:
    summary = summarize([report])
    pnls = trade_pnls([report])
    by_exit = summary["by_exit"]
    return {
        "trades": summary["trades"],
        "wins": sum(1 for p in pnls if p > 0),
        "pnl": round(day_pnl(report), 2),
        "realized_pnl": report["realized_pnl"],
        "gross_profit": round(sum(p for p in pnls if p > 0), 2),
        "gross_loss": round(sum(p for p in pnls if p < 0), 2),
        "max_drawdown": intraday_drawdown(report),
        **{col: int(by_exit.get(kind, {}).get("count", 0)) for kind, col in EXIT_COLUMNS.items()},
        "halts": sum(1 for r in report["timeline"] if r["state"] == "Halted"),
        "stopped": report["stopped"],
    }


def intraday_drawdown(report: dict[str, Any]) -> float:
    """The day's worst fall from its running peak (0 or negative), from the report's own figures: realized P&L at
    each close, plus each open condor's P&L at mid minute by minute (the marks series, when inputs were recorded;
    without it only the closes count). The day starts at 0, and ends at its P&L."""
    closes = [(datetime.fromisoformat(t["exit_time"]), t["pnl"]) for t in report["trades"]]
    closed_at: dict[str, datetime] = {}  # a trade closed in parts is open until its last part
    for t in report["trades"]:
        when = datetime.fromisoformat(t["exit_time"])
        closed_at[str(t["trade_no"])] = max(closed_at.get(str(t["trade_no"]), when), when)
    marks = {no: [(datetime.fromisoformat(p[0]), p[2]) for p in points]
             for no, points in report["series"]["trades"].items() if points}
    moments = sorted({when for when, _ in closes} | {when for points in marks.values() for when, _ in points})
    peak, worst = 0.0, 0.0
    for now in moments:
        equity = sum(pnl for when, pnl in closes if when <= now)
        for no, points in marks.items():
            seen = [pnl for when, pnl in points if when <= now]
            if seen and now < closed_at[no]:
                equity += seen[-1]
        peak = max(peak, equity)
        worst = min(worst, equity - peak)
    final = day_pnl(report)
    return round(min(worst, final - max(peak, final)), 2)
