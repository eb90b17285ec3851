"""The parameter sets ranked by total P&L, each over its dates and seeds, with `engine/reporting/summary.py`'s
definitions: win rate is winning trades over trades, profit factor gross wins over gross losses (n/a without a
loss), the worst day the worst cell. Failed cells are counted, never averaged in as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.sweep.grid import Axis


@dataclass(frozen=True)
class Ranked:
    params: tuple[Any, ...]
    cells: int
    failed: int
    trades: int
    total: float | None
    mean: float | None
    win_rate: float | None
    worst: dict[str, Any] | None
    profit_factor: float | None
    max_drawdown: float | None


def rank(rows: list[dict[str, Any]], axes: list[Axis]) -> list[Ranked]:
    """One entry per parameter set, best total first; a set whose every cell failed comes last. Ties keep the
    grid's order, so the ranking of a sweep is the same however its cells were run."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(_hashable(row[a.key]) for a in axes), []).append(row)
    ranked = [_one(group, axes) for group in groups.values()]
    return sorted(ranked, key=lambda r: (r.total is None, -(r.total or 0.0)))


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (list, dict)) else value


def _one(rows: list[dict[str, Any]], axes: list[Axis]) -> Ranked:
    done = [r for r in rows if r["error"] is None]
    trades = sum(r["trades"] for r in done)
    wins = sum(r["wins"] for r in done)
    loss = -sum(r["gross_loss"] for r in done)
    total = round(sum(r["pnl"] for r in done), 2) if done else None
    worst = min(done, key=lambda r: r["pnl"], default=None)
    return Ranked(
        params=tuple(rows[0][a.key] for a in axes),
        cells=len(rows),
        failed=len(rows) - len(done),
        trades=trades,
        total=total,
        mean=round(total / len(done), 2) if total is not None else None,
        win_rate=round(wins / trades, 4) if trades else None,
        worst=None if worst is None else {"date": worst["date"], "seed": worst["seed"], "pnl": worst["pnl"]},
        profit_factor=round(sum(r["gross_profit"] for r in done) / loss, 3) if loss else None,
        max_drawdown=min((r["max_drawdown"] for r in done), default=None),
    )


def table_lines(ranked: list[Ranked], axes: list[Axis], seeds: int) -> list[str]:
    """The ranking as a person reads it: one line per parameter set, numbers right-aligned."""

    def money(v: float | None) -> str:
        return "n/a" if v is None else f"{v:+,.2f}"

    def worst(r: Ranked) -> str:
        if r.worst is None:
            return "n/a"
        seed = f" seed {r.worst['seed']}" if seeds > 1 else ""
        return f"{r.worst['date']}{seed} {money(r.worst['pnl'])}"

    head = ["rank", *(a.key for a in axes), "cells", "failed", "trades", "total P&L", "mean P&L", "win rate",
            "worst day", "profit factor", "worst drawdown"]
    body = [[str(i), *(str(v) for v in r.params), str(r.cells), str(r.failed), str(r.trades), money(r.total),
             money(r.mean), "n/a" if r.win_rate is None else f"{100 * r.win_rate:.1f}%", worst(r),
             "n/a" if r.profit_factor is None else f"{r.profit_factor:.2f}", money(r.max_drawdown)]
            for i, r in enumerate(ranked, start=1)]
    if not any(r.failed for r in ranked):
        failed = head.index("failed")
        head.pop(failed)
        for line in body:
            line.pop(failed)
    text = {0, *range(1 + len(axes), len(head))} - {head.index("worst day")}
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]

    def fmt(line: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in text else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths,
                                                                                             strict=True))).rstrip()

    return [fmt(head), *(fmt(line) for line in body)]
