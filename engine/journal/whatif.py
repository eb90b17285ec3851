"""What-if: the recorded day simulated again under a changed config, side by side with what was recorded.

A simulated session is re-run on its own market (engine/journal/resim.py), so an unchanged config gives back
the recorded P&L to the cent: the check that the comparison is fair. A paper session is re-run on the market
it recorded: its bars, its quotes in the minutes it recorded them, and the model (at the level its chains
carry) where the recording has no answer, such as the strikes a changed delta picks while the session was
watching others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import DataError
from engine.journal.replay import JournalUnusable, usable_records
from engine.journal.resim import recorded_sim, recorded_until, resimulate
from engine.reporting.day import build_day
from engine.sim.errors import SimError


def what_if(path: Path, sets: list[str]) -> dict[str, Any]:
    """The recorded day's trades and P&L, and the same day's under the changed config."""
    records = usable_records(path)
    header = records[0]
    paper = header.get("broker") != "sim"
    try:
        market = recorded_sim(path, header, quotes=True) if paper else {}
        simulated = resimulate(path, header, market, sets)
    except (DataError, SimError, ValueError) as exc:
        raise JournalUnusable(f"the simulator cannot run on this journal: {exc}") from None
    out: dict[str, Any] = {
        "file": str(path), "sets": sets, "recorded": _result(build_day(records)), "what_if": _result(simulated)
    }
    if paper:
        out.update(market=simulated.get("simulator"), recorded_until=recorded_until(path).isoformat())
    return out


def _result(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "pnl": report["total_pnl"] if report["total_pnl"] is not None else report["realized_pnl"],
        "trades": [
            {k: t[k] for k in ("trade_no", "strikes", "entry_time", "entry_price", "exit_time", "exit_price",
                               "exit_reason", "pnl")}
            for t in report["trades"]
        ],
    }


def format_what_if(result: dict[str, Any]) -> str:
    def rows(side: dict[str, Any]) -> list[str]:
        out = []
        for t in side["trades"]:
            kind = "credit" if t["entry_price"] < 0 else "debit"
            out.append(
                f"#{t['trade_no']} {'/'.join(f'{k:g}' for k in t['strikes'])} {t['entry_time'][11:16]} "
                f"{kind} {abs(t['entry_price']):.2f} -> {t['exit_time'][11:16]} {t['pnl']:+.2f} "
                f"({t['exit_reason'][:28]})"
            )
        return out or ["no trade"]

    rec, alt = rows(result["recorded"]), rows(result["what_if"])
    width = max(len(r) for r in rec + ["recorded"]) + 2
    lines = [f"== {result['file']}: what if {' '.join(result['sets']) or '(nothing changed)'}",
             f"{'recorded':<{width}}what-if"]
    for i in range(max(len(rec), len(alt))):
        lines.append(f"{rec[i] if i < len(rec) else '':<{width}}{alt[i] if i < len(alt) else ''}")
    r, w = result["recorded"]["pnl"], result["what_if"]["pnl"]
    lines.append(f"{f'day P&L {r:+.2f}':<{width}}day P&L {w:+.2f}  ({w - r:+.2f})")
    if "recorded_until" in result:
        lines.append(
            f"a paper session: the what-if runs on its recorded bars and quotes, the model (ATM IV "
            f"{result['market']['atm_iv']:g}, fitted to its chains) where it recorded none; the recording ends "
            f"{result['recorded_until'][11:16]} ET, after which the simulator holds the last recorded price"
        )
    return "\n".join(lines)
