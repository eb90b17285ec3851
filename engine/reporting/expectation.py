"""Paper vs expectation: what the simulator says a paper session's day should have done, beside what it did.

The expectation is the backtest a user would have run of that day: the same config, on the underlying's bars
the session recorded, its chain from the simulator's model at the level the session's recorded chains carry
(or from the config's real quote file of that day, when it names one). Quotes are the model's, not the
recorded ones: what is measured is how far the simulator's market and fills are from the broker's.

The gap is |paper - expected| / max(|expected|, max_daily_loss). Relative to the expected P&L alone it would
explode on a day whose expected P&L is near zero (a 2-dollar difference on a 1-dollar day is 200%); the day's
risk budget keeps it meaningful then, while on a day that moved more than the budget it is the plain
relative error. The architecture note's "within 15% of backtest results" is gap <= 0.15.

The session recorded the underlying only while it asked for it (until the hard exit when it held a condor,
until the entry window's end otherwise). An expected trade still open past the recording meets a held price;
such trades are named (`beyond_recording`), so the figure is never silently rosy.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from engine.errors import ConfigError, DataError, ZdteError
from engine.journal.resim import recorded_sim, recorded_until, resimulate
from engine.reporting.day import DEFINITIONS, TARGETS
from engine.sim.errors import SimError

MATCH_WINDOW_S = 60
"""Trades pair up when their strikes are the same and they entered within this long of each other."""


def expectation(path: Path, records: list[dict[str, Any]], report: dict[str, Any]) -> dict[str, Any]:
    """The comparison for the journal's day (`report` is its day report); unmeasured, with the reason, for a
    simulated session or a journal the simulator cannot run on."""
    header = records[0]
    if header.get("broker") == "sim":
        return {"measured": False, "why": "a simulated session is its own expectation"}
    if report["holiday"]:
        return {"measured": False, "why": "no session that day"}
    try:
        market = recorded_sim(path, header, quotes=False)
        quotes = header["config"]["sim"].get("quotes")
        if quotes and str(quotes).endswith(".zip"):
            market.update(quotes=quotes, vol_source=header["config"]["sim"]["vol_source"])
        expected = resimulate(path, header, market, [])
    except (ConfigError, DataError, SimError, ValueError, ZdteError) as exc:
        return {"measured": False, "why": f"the simulator cannot run on this journal: {exc}"}
    except Exception as exc:  # noqa: BLE001 - the day's report is written whatever its expectation met
        logger.opt(exception=exc).warning("the expectation's re-simulation failed")
        return {"measured": False, "why": f"the re-simulation failed: {type(exc).__name__}: {exc}"}
    until = recorded_until(path)
    budget = float(header["config"]["risk"]["max_daily_loss"])
    paper_pnl, expected_pnl = _pnl(report), _pnl(expected)
    gap = abs(paper_pnl - expected_pnl) / max(abs(expected_pnl), budget)
    pairs = _pairs(report["trades"], expected["trades"])
    late = [t["trade_no"] for t in expected["trades"] if datetime.fromisoformat(t["exit_time"]) > until]
    return {
        "measured": True,
        "market": expected.get("simulator"),
        "recorded_until": until.isoformat(),
        "beyond_recording": late,
        "paper_pnl": paper_pnl,
        "expected_pnl": expected_pnl,
        "gap": round(gap, 4),
        "within": gap <= TARGETS["expectation_gap"],
        "matched": sum(p["match"] for p in pairs),
        "trades": pairs,
        "definition": DEFINITIONS["expectation_gap"],
    }


def _pnl(report: dict[str, Any]) -> float:
    total = report["total_pnl"]
    return float(report["realized_pnl"] if total is None else total)


def _side(t: dict[str, Any] | None) -> dict[str, Any] | None:
    if t is None:
        return None
    keys = ("trade_no", "strikes", "entry_time", "entry_price", "premium_kind", "premium", "entry_mid", "exit_time",
            "exit_price", "exit_reason", "pnl")
    return {k: t.get(k) for k in keys}


def _pairs(paper: list[dict[str, Any]], expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trades one to one in the order they were opened; a trade without a partner stands alone."""
    out = []
    for i in range(max(len(paper), len(expected))):
        p = paper[i] if i < len(paper) else None
        e = expected[i] if i < len(expected) else None
        row: dict[str, Any] = {"paper": _side(p), "expected": _side(e), "match": False}
        if p is not None and e is not None:
            apart = abs((datetime.fromisoformat(p["entry_time"]) - datetime.fromisoformat(e["entry_time"]))
                        .total_seconds())
            row.update(
                match=p["strikes"] == e["strikes"] and apart <= MATCH_WINDOW_S,
                entry_apart_s=apart,
                fill_diff=round(p["entry_price"] - e["entry_price"], 4),
                pnl_diff=round(p["pnl"] - e["pnl"], 2),
            )
        out.append(row)
    return out


def gap_figure(found: dict[str, Any]) -> tuple[float | None, str]:
    """(value, detail) of the expectation-gap metric."""
    if not found["measured"]:
        return None, f"not measured: {found['why']}"
    n = len(found["trades"])
    return found["gap"], (
        f"paper {found['paper_pnl']:+.2f} vs expected {found['expected_pnl']:+.2f}; "
        f"{found['matched']} of {n} trade(s) matched"
    )


def with_expectation(report: dict[str, Any], path: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The day report with its expectation, and the metric that measures it."""
    found = expectation(path, records, report)
    value, detail = gap_figure(found)
    metric = report["metrics"]["expectation_gap"]
    met = None if value is None else value <= metric["target"]
    return {**report, "expectation": found, "metrics": {**report["metrics"], "expectation_gap": {
        **metric, "value": value, "met": met, "detail": detail}}}
