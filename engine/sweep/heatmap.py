"""The sweep's page: total P&L per parameter pair as a heatmap (`heatmap.html`, inline SVG, nothing fetched, and
`heatmap.png`), above the ranked table.

Two swept keys make the grid (the first down, the second across); one key makes a single row. With none, or more
than two, a flat grid of totals would hide which key moved them, so no heatmap is drawn and the caller says so.
Each cell of the picture is an SVG group `cell-ROW-COL` with its total in `total-ROW-COL`.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from engine.reporting.html import chart, money, page, table
from engine.reporting.matplotlib_render import render
from engine.sweep.grid import Axis
from engine.sweep.table import Ranked

HTML, PNG = "heatmap.html", "heatmap.png"


def why_none(axes: list[Axis]) -> str | None:
    """Why this sweep gets no heatmap; None when it gets one."""
    if not axes:
        return "no heatmap: no parameter is swept (only dates and seeds)"
    if len(axes) > 2:
        return f"no heatmap: {len(axes)} parameters are swept and a heatmap shows two; the table ranks every set"
    return None


def totals(rows: list[dict[str, Any]], axes: list[Axis]) -> list[list[dict[str, Any]]]:
    """For each (row value, column value): the total P&L of its finished cells (None if none finished), and how
    many cells it has and how many failed."""
    down, across = (axes[0], axes[1]) if len(axes) == 2 else (None, axes[0])
    grid: list[list[dict[str, Any]]] = [[{"total": None, "cells": 0, "failed": 0} for _ in across.values]
                                        for _ in (down.values if down else [0])]
    for row in rows:
        i = down.values.index(row[down.key]) if down else 0
        entry = grid[i][across.values.index(row[across.key])]
        entry["cells"] += 1
        if row["error"] is None:
            entry["total"] = round((entry["total"] or 0.0) + row["pnl"], 2)
        else:
            entry["failed"] += 1
    return grid


def write_heatmap(out: Path, rows: list[dict[str, Any]], axes: list[Axis], ranked: list[Ranked], title: str,
                  days: int, seeds: int) -> Path:
    """heatmap.html and heatmap.png in `out`; returns the page's path."""
    grid = totals(rows, axes)
    down, across = (axes[0], axes[1]) if len(axes) == 2 else (None, axes[0])
    caption = f"total P&L of {days} date(s) x {seeds} seed(s) per parameter {'pair' if down else 'value'}"

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        found = [e["total"] for line in grid for e in line if e["total"] is not None]
        reach = max((abs(v) for v in found), default=0.0) or 1.0
        norm, cmap = TwoSlopeNorm(0.0, -reach, reach), colormaps["RdYlGn"]
        for i, line in enumerate(grid):
            for j, e in enumerate(line):
                face = "#e0e0e0" if e["total"] is None else cmap(norm(e["total"]))
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="white", lw=2, gid=f"cell-{i}-{j}"))
                label = "failed" if e["total"] is None else f"{e['total']:+,.2f}"
                if e["failed"] and e["total"] is not None:
                    label += f"\n({e['failed']} failed)"
                ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=9, gid=f"total-{i}-{j}")
        ax.set_xlim(0, len(across.values))
        ax.set_ylim(len(grid), 0)
        ax.set_xticks([j + 0.5 for j in range(len(across.values))], [str(v) for v in across.values])
        ax.set_xlabel(across.key)
        if down:
            ax.set_yticks([i + 0.5 for i in range(len(down.values))], [str(v) for v in down.values])
            ax.set_ylabel(down.key)
        else:
            ax.set_yticks([])
        ax.set_title(caption)
        fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label="total P&L ($)")

    size = (2.5 + 1.3 * len(across.values), 1.6 + 0.6 * len(grid))
    svg = render(draw, out / PNG, size=size, tight=True)
    head = [down.key if down else "", *(f"{across.key}={v}" for v in across.values)]
    cells = [[escape(str(v)), *(_total(e) for e in line)] for v, line in zip(down.values if down else [""], grid,
                                                                           strict=True)]
    body = [f"<h1>{escape(title)}</h1>", f'<p class="muted">{escape(caption)}</p>', chart("heatmap", svg, ""),
            table("totals", head, cells, set(range(1, len(head)))), "<h2>Parameter sets, by total P&amp;L</h2>",
            _ranked_table(ranked, axes)]
    path = out / HTML
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page(title, body), encoding="utf-8")
    tmp.replace(path)
    return path


def _total(entry: dict[str, Any]) -> str:
    if entry["total"] is None:
        return "failed"
    return money(entry["total"]) + (f" ({entry['failed']} failed)" if entry["failed"] else "")


def _ranked_table(ranked: list[Ranked], axes: list[Axis]) -> str:
    head = ["rank", *(a.key for a in axes), "cells", "failed", "trades", "total P&L", "mean P&L", "win rate",
            "worst day", "profit factor", "worst drawdown"]
    rows = [[str(i), *(escape(str(v)) for v in r.params), str(r.cells), str(r.failed), str(r.trades), money(r.total),
             money(r.mean), "n/a" if r.win_rate is None else f"{100 * r.win_rate:.1f}%",
             "n/a" if r.worst is None else f"{r.worst['date']} seed {r.worst['seed']} {money(r.worst['pnl'])}",
             "n/a" if r.profit_factor is None else f"{r.profit_factor:.2f}", money(r.max_drawdown)]
            for i, r in enumerate(ranked, start=1)]
    return table("ranked", head, rows, {0, *range(1 + len(axes), len(head))} - {head.index("worst day")})
