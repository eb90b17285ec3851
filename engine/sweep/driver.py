"""Running a grid: the cells not finished in this folder before, on the executor asked for, each result logged the
moment it comes back, then the results files of the whole grid.

Resume is by key: a cell whose key has a finished row in `rows.jsonl` is skipped; a failed cell runs again (its
failure may have been the machine's), and its new row replaces the old.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.progress import Progress
from engine.sweep.cell import Outcome
from engine.sweep.grid import Axis, Cell
from engine.sweep.store import RowLog, load_rows, make_row, outcome_results, write_results

Executor = Callable[[list[Cell]], Iterator[Outcome]]


@dataclass(frozen=True)
class Done:
    rows: list[dict[str, Any]]
    """The grid's rows in grid order (only the finished ones after an interruption)."""
    ran: int
    skipped: int
    interrupted: bool
    results: tuple[Path, Path]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["error"] is not None]


def execute(cells: list[Cell], axes: list[Axis], out: Path, executor: Executor, keep_journals: bool = False) -> Done:
    results = {k: r for k, r in load_rows(out).items() if r.get("error") is None}
    todo = [c for c in cells if c.key not in results]
    by_key = {c.key: c for c in cells}
    log, ran, interrupted = RowLog(out), 0, False
    bar = Progress(len(todo), "cells") if todo else None
    outcomes = executor(todo) if todo else iter(())
    try:
        for outcome in outcomes:
            cell = by_key[outcome.key]
            results[cell.key] = outcome_results(outcome)
            log.append(make_row(cell, axes, results[cell.key]))
            if outcome.journal is not None:
                _keep(out, cell, outcome.journal)
            ran += 1
            if bar is not None:
                bar.step(cell.label(axes))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
        log.close()
        if bar is not None:
            bar.close()
    rows = [make_row(c, axes, results[c.key]) for c in cells if c.key in results]
    return Done(rows, ran, len(cells) - len(todo), interrupted, write_results(out, rows, axes))


def _keep(out: Path, cell: Cell, journal: bytes) -> None:
    """The cell's journal as `journals/audit-YYYYMMDD-KEY.jsonl`: dated like any journal, so `replay` reads it."""
    folder = out / "journals"
    folder.mkdir(exist_ok=True)
    (folder / f"audit-{cell.day:%Y%m%d}-{cell.key}.jsonl").write_bytes(journal)
