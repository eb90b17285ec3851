"""What-if: the recorded day simulated again under a changed config, side by side with what was recorded.

A simulated session's market is a function of its config's `sim` section, its date and its seed, all in
the journal's header: re-running it with only strategy or risk changes meets the very market the session
met, so an unchanged config gives back the recorded P&L to the cent (the check that the comparison is
fair). A paper session's market lives only in its recorded calls; re-simulating it needs the simulator to
run on a journal's recorded bars and chains, which it does not yet, so it is refused with that reason.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from engine.config import parse_config
from engine.journal.replay import JournalUnusable, usable_records
from engine.overrides import apply_sets
from engine.reporting.day import build_day


def what_if(path: Path, sets: list[str]) -> dict[str, Any]:
    """The recorded day's trades and P&L, and the same day's under the changed config."""
    from engine.app import build
    from engine.logs import close_day_files

    records = usable_records(path)
    header = records[0]
    if header.get("broker") != "sim":
        raise JournalUnusable(
            f"{path}: a {header.get('broker')} session: its market is only in its recorded calls, and the "
            "simulator cannot run on a journal's recorded bars and chains yet (what-if re-simulates simulated "
            "sessions)"
        )
    recorded = build_day(records)
    with tempfile.TemporaryDirectory(prefix="zdte-what-if-") as tmp:
        raw = apply_sets(header["config"], sets)
        raw.update(logs_dir=tmp)
        raw["session"] = {**raw["session"], "date": header["session_date"], "days": 1}
        raw["risk"] = {**raw["risk"], "kill_file": str(Path(tmp) / "KILL")}
        raw["report"] = {**raw.get("report", {}), "html": False}
        cfg = parse_config(raw, f"{path}'s config with {' '.join(sets) or 'no change'}")
        runner = build(cfg)
        try:
            runner.run()
        finally:
            close_day_files()
        [(_, simulated)] = runner.reports
    return {"file": str(path), "sets": sets, "recorded": _result(recorded), "what_if": _result(simulated)}


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
    return "\n".join(lines)
