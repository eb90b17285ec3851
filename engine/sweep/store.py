"""A sweep's files: `rows.jsonl`, one line per cell as it finishes (what resume reads: a killed sweep loses no
finished cell), and `results.parquet` / `results.csv`, the current grid's rows in grid order, rewritten at the end.

A row's parameters, date and seed always come from the grid, and only its results from the line, so a cell that an
earlier sweep with other axes ran (the same config: the same key) is reused with this sweep's columns.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import IO, Any

from engine.sweep.cell import Outcome
from engine.sweep.figures import EXIT_COLUMNS, FIGURES
from engine.sweep.grid import Axis, Cell

ROWS, PARQUET, CSV = "rows.jsonl", "results.parquet", "results.csv"
RESULTS = (*FIGURES, "error", "seconds")
INTS = ("seed", "trades", "wins", *EXIT_COLUMNS.values(), "halts")
FLOATS = ("pnl", "realized_pnl", "gross_profit", "gross_loss", "max_drawdown", "seconds")


def load_rows(out: Path) -> dict[str, dict[str, Any]]:
    """The results of every cell run in this folder, by key (the last line of a key wins: a failed cell run again);
    a line cut off by a kill is skipped."""
    path = out / ROWS
    found: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "key" in row:
            found[row["key"]] = row
    return found


def make_row(cell: Cell, axes: list[Axis], results: dict[str, Any]) -> dict[str, Any]:
    params = {a.key: v for a, v in zip(axes, cell.params, strict=True)}
    return {"key": cell.key, **params, "date": cell.day.isoformat(), "seed": cell.seed,
            **{k: results.get(k) for k in RESULTS}}


def outcome_results(outcome: Outcome) -> dict[str, Any]:
    return {**(outcome.figures or {}), "error": outcome.error, "seconds": outcome.seconds}


class RowLog:
    """`rows.jsonl`, appended and flushed one line per finished cell."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = (out / ROWS).open("a", encoding="utf-8")

    def append(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def write_results(out: Path, rows: list[dict[str, Any]], axes: list[Axis]) -> tuple[Path, Path]:
    """The rows as Parquet (typed columns: a date, integers, floats, text) and the same as CSV."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    def column(name: str) -> Any:
        values = [r[name] for r in rows]
        if name == "date":
            return pa.array([date.fromisoformat(v) for v in values], pa.date32())
        if name in INTS:
            return pa.array(values, pa.int64())
        if name in FLOATS:
            return pa.array(values, pa.float64())
        if name in (a.key for a in axes):
            try:
                return pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types (0.1 and "x"): as text
                return pa.array([None if v is None else str(v) for v in values], pa.string())
        return pa.array(values, pa.string())

    names = ["key", *(a.key for a in axes), "date", "seed", *RESULTS]
    table = pa.table({name: column(name) for name in names})
    parquet, csv = out / PARQUET, out / CSV
    for path, write in ((parquet, lambda p: pq.write_table(table, p)), (csv, lambda p: pacsv.write_csv(table, p))):
        tmp = path.with_name(path.name + ".tmp")
        write(tmp)
        tmp.replace(path)
    return parquet, csv
