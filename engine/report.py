"""The end-of-day report: what was traded, what it made, and how the day was spent, as JSON."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any


@dataclass
class DayStats:
    """The day's counters, folded from its audit records as they are written (or read back after a restart)."""

    transitions: int = 0
    refused: int = 0
    orders_submitted: int = 0
    fills: int = 0
    state_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    _state: str | None = None
    _since: datetime | None = None

    def add(self, record: dict[str, Any]) -> None:
        kind, ts = record.get("kind"), record.get("ts")
        at = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts) if ts else None
        if kind == "header":
            self._state, self._since = (record.get("resume") or {}).get("state", "Initializing"), at
        elif kind == "transition":
            self.transitions += 1
            self.until(at)
            self._state = record.get("dest")
        elif kind == "refused":
            self.refused += 1
        elif kind == "order" and record.get("event") == "submit":
            self.orders_submitted += 1
        elif kind == "order" and record.get("event") == "fill":
            self.fills += 1

    def until(self, now: datetime | None) -> None:
        """Count the time in the current state up to `now` (a transition, or the report)."""
        if self._state is not None and self._since is not None and now is not None:
            self.state_seconds[self._state] += (now - self._since).total_seconds()
        self._since = now


def stats_from_records(records: list[dict[str, Any]]) -> DayStats:
    """The day's counters rebuilt from its journal: after a restart the report still covers the whole day."""
    stats = DayStats()
    for r in records:
        stats.add(r)
    return stats


def report_path(logs_dir: Path, day: date) -> Path:
    return Path(logs_dir) / f"report-{day:%Y%m%d}.json"


def build_report(
    day: date,
    closed: list[Any],
    stats: DayStats,
    total_pnl: float | None,
    open_spreads: list[Any],
    generated_at: datetime,
    end_state: str,
) -> dict[str, Any]:
    trades = [t.to_dict() for t in closed]
    realized = round(sum(t["pnl"] for t in trades), 2)
    return {
        "session_date": day.isoformat(),
        "generated_at_market_time": generated_at.isoformat(),
        "end_state": end_state,
        "trades": trades,
        "trade_count": len(trades),
        "wins": sum(1 for t in trades if t["pnl"] > 0),
        "realized_pnl": realized,
        "total_pnl": None if total_pnl is None else round(total_pnl, 2),
        "open_at_end": [s.to_dict() for s in open_spreads],
        "transitions": stats.transitions,
        "refused_triggers": stats.refused,
        "orders_submitted": stats.orders_submitted,
        "fills": stats.fills,
        "seconds_in_state": {k: round(v, 1) for k, v in stats.state_seconds.items()},
    }


def write_report(path: Path, report: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
