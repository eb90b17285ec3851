"""Results across days, from the day reports: what a trader asks of a strategy before trusting it.

A day's P&L is the account's (realized and unrealized: what the day made), its realized P&L when the
account is unknown; a holiday is left out. Trade figures count each closed trade (a trade closed in parts
counts once, with its parts' P&L added).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.reporting.day import exit_kind

EXIT_ORDER = ("profit target", "spread stop", "time exit", "halt", "shutdown", "settled at the close", "other")


def _trades(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per trade: its parts (a partial exit closes a trade in several) added up."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in reports:
        for t in r["trades"]:
            key = (r["session_date"], t["trade_no"])
            if key in out:
                row = out[key]
                row["pnl"] = round(row["pnl"] + t["pnl"], 2)
                row["slippage"] = round(row["slippage"] + _slippage(t), 2)
            else:
                out[key] = {**t, "day": r["session_date"], "slippage": _slippage(t)}
    return list(out.values())


def trade_pnls(reports: list[dict[str, Any]]) -> list[float]:
    """Each trade's P&L as the summary counts trades (parts added up), for figures built outside it (a sweep's)."""
    return [t["pnl"] for t in _trades(reports)]


def _slippage(t: dict[str, Any]) -> float:
    return round((t.get("entry_slippage") or 0.0) + (t.get("exit_slippage") or 0.0), 2)


def day_pnl(report: dict[str, Any]) -> float:
    total = report.get("total_pnl")
    return float(report["realized_pnl"] if total is None else total)


def summarize(reports: list[dict[str, Any]]) -> dict[str, Any]:
    days = sorted((r for r in reports if not r.get("holiday")), key=lambda r: r["session_date"])
    trades = _trades(days)
    pnls = [t["pnl"] for t in trades]
    wins, losses = [p for p in pnls if p > 0], [p for p in pnls if p < 0]
    equity, peak, curve = 0.0, 0.0, []
    for r in days:
        equity += day_pnl(r)
        peak = max(peak, equity)
        curve.append({"day": r["session_date"], "pnl": round(day_pnl(r), 2), "equity": round(equity, 2),
                      "drawdown": round(equity - peak, 2)})
    by_exit: dict[str, dict[str, float]] = defaultdict(lambda: {"count": 0, "pnl": 0.0})
    for t in trades:
        kind = t.get("exit_kind") or exit_kind(t["exit_reason"])
        by_exit[kind]["count"] += 1
        by_exit[kind]["pnl"] = round(by_exit[kind]["pnl"] + t["pnl"], 2)
    credits = [t["premium"] for t in trades if t.get("premium_kind") == "credit"]
    risk_pct = [t["pnl_pct_of_risk"] for t in trades if t.get("pnl_pct_of_risk") is not None]
    run, worst_run = 0, 0
    for p in pnls:
        run = run + 1 if p < 0 else 0
        worst_run = max(worst_run, run)
    worst = min(curve, key=lambda c: c["pnl"], default=None)
    return {
        "first_day": days[0]["session_date"] if days else None,
        "last_day": days[-1]["session_date"] if days else None,
        "sessions": len(days),
        "holidays": sum(1 for r in reports if r.get("holiday")),
        "total_pnl": round(equity, 2),
        "trades": len(trades),
        "trades_per_day": round(len(trades) / len(days), 2) if days else None,
        "win_rate": round(len(wins) / len(trades), 4) if trades else None,
        "average_credit": round(sum(credits) / len(credits), 4) if credits else None,
        "average_pnl_pct_of_risk": round(sum(risk_pct) / len(risk_pct), 2) if risk_pct else None,
        "profit_factor": round(sum(wins) / -sum(losses), 3) if losses else None,
        "expectancy": round(sum(pnls) / len(pnls), 2) if pnls else None,
        "worst_day": worst,
        "max_drawdown": min((c["drawdown"] for c in curve), default=0.0),
        "max_consecutive_losses": worst_run,
        "by_exit": {k: dict(by_exit[k]) for k in EXIT_ORDER if k in by_exit},
        "average_slippage": round(sum(t["slippage"] for t in trades) / len(trades), 2) if trades else None,
        "equity_curve": curve,
        "days": [{"day": r["session_date"], "trades": r["trade_count"], "pnl": round(day_pnl(r), 2),
                  "stopped": r.get("stopped")} for r in days],
    }


def summary_lines(s: dict[str, Any]) -> list[str]:
    """The summary as a person reads it on the console."""
    if not s["sessions"]:
        return ["no session in these reports"]

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    def num(v: float | None, fmt: str = "+.2f") -> str:
        return "n/a" if v is None else format(v, fmt)

    worst = s["worst_day"]
    lines = [
        f"{s['sessions']} session(s) {s['first_day']} .. {s['last_day']}"
        + (f" ({s['holidays']} holiday(s) left out)" if s["holidays"] else ""),
        f"  total P&L {s['total_pnl']:+.2f}; max drawdown {s['max_drawdown']:+.2f}; worst day "
        f"{worst['day']} {worst['pnl']:+.2f}",
        f"  {s['trades']} trade(s), {num(s['trades_per_day'], '.2f')} a day; win rate {pct(s['win_rate'])}; "
        f"expectancy {num(s['expectancy'])} a trade; profit factor {num(s['profit_factor'], '.2f')}",
        f"  average credit {num(s['average_credit'], '.2f')}; average P&L {num(s['average_pnl_pct_of_risk'], '+.1f')}% "
        f"of max risk; slippage against mid {num(s['average_slippage'])} a trade; "
        f"max consecutive losses {s['max_consecutive_losses']}",
    ]
    if s["by_exit"]:
        exits = (f"{k} {v['count']:.0f} ({v['pnl']:+.2f})" for k, v in s["by_exit"].items())
        lines.append("  by exit: " + "; ".join(exits))
    return lines
