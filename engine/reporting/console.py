"""The few lines a person reads after a run: trades, P&L, where the time went, where the files are."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def shown(path: Path) -> Path:
    """A path as the person typed it: relative to where they are when it is below it (config paths are absolute
    once read, since they are relative to the config file)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def human_summary(runner: Any) -> str:
    lines = []
    for path, r in runner.reports:
        if r["holiday"]:
            lines.append(f"session {r['session_date']}: holiday (no session)")
            continue
        lines.append(f"session {r['session_date']}: {r['trade_count']} trade(s), {r['wins']} win(s), "
                     f"realized P&L {r['realized_pnl']:+.2f}, total P&L "
                     + ("unknown" if r["total_pnl"] is None else f"{r['total_pnl']:+.2f}"))
        for t in r["trades"]:
            lines.append(f"  #{t['trade_no']} {t['direction']} condor {'/'.join(f'{k:g}' for k in t['strikes'])} "
                         f"x{t['qty']}: {t['entry_time'][11:16]} {t['entry_price']:+.2f} -> "
                         f"{t['exit_time'][11:16]} {t['exit_price']:+.2f} = {t['pnl']:+.2f} ({t['exit_reason']})")
        if r["open_at_end"]:
            lines.append(f"  STILL OPEN at the end: {len(r['open_at_end'])} spread(s)")
        spent = ", ".join(f"{k} {v / 60:.0f}m" for k, v in r["seconds_in_state"].items() if v >= 30)
        lines.append(f"  {r['transitions']} transitions; time in state (market hours): {spent}")
        if r["stopped"]:
            lines.append(f"  stopped: {r['stopped']}")
        lines.append(f"  report {shown(path)}" + (f" (page {path.with_suffix('.html').name})" if "charts" in r else ""))
    if runner.interrupted:
        left = "a run until stopped" if runner.days.forever else f"{runner.not_run} session(s) of the run not run"
        lines.append(f"INTERRUPTED ({runner.interrupted}): {left}; exit code {runner.exit_code}")
    logs = shown(runner.ctx.cfg.logs_dir)
    lines.append(f"files in {logs}/: audit-*.jsonl (journal), engine-*.log, trades-*.log, report-*.json/.html"
                 + ("/.png" if runner.ctx.cfg.report.png else ""))
    return "\n".join(lines)
