"""One cell run in whichever process an executor gives it: a fresh engine on the cell's config, in a scratch folder
of its own, as `run` would run that session, so the cell's result depends on its config and nothing else.

Everything a cell raises is its result (the error in its row), never the sweep's: one bad date must not cost the
other cells. The journal comes back as bytes when asked for, because a Ray worker's disk is not the parent's.
"""

from __future__ import annotations

import gc
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.sweep.grid import Cell


@dataclass(frozen=True)
class Outcome:
    key: str
    figures: dict[str, Any] | None
    error: str | None
    seconds: float
    journal: bytes | None = None


_ready = False


def prepare_worker() -> None:
    """Once per worker process: no console logging at all (the parent's progress bar and table own the console),
    and the engine imported, so a worker's first cell is not timed with the imports."""
    global _ready
    if not _ready:
        import engine.app  # noqa: F401 - imported for its cost, outside the cells' seconds
        from engine.logs import setup_logging

        setup_logging(-2)
        gc.freeze()  # as `run` does: what is loaded lives as long as the process, so no full pass walks it
        _ready = True


def local_worker_init() -> None:
    """A local pool's worker: Ctrl-C reaches the whole process group, but stopping is the parent's call (it hands
    out no more cells and the running ones finish), so a cell is never cut off half-way."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prepare_worker()


def run_cell(cell: Cell, keep_journal: bool = False) -> Outcome:
    from engine.app import build
    from engine.config import parse_config
    from engine.logs import close_day_files
    from engine.sweep.figures import row_figures

    prepare_worker()
    started = time.perf_counter()
    journal = None
    with tempfile.TemporaryDirectory(prefix="zdte-cell-") as scratch:
        raw = {**cell.config, "logs_dir": scratch, "risk": {**cell.config["risk"], "kill_file": f"{scratch}/KILL"}}
        try:
            runner = build(parse_config(raw, f"cell {cell.key}"))
            try:
                code = runner.run()
            finally:
                close_day_files()
            if code != 0 or not runner.reports:
                raise RuntimeError(f"the engine exited {code} with {len(runner.reports)} report(s)")
            figures: dict[str, Any] | None = row_figures(runner.reports[0][1])
            error = None
        except Exception as exc:  # noqa: BLE001 - a cell's failure is its row, never the sweep's
            figures, error = None, f"{type(exc).__name__}: {exc}"
        if keep_journal:
            found = sorted(Path(scratch).glob("audit-*.jsonl"))
            journal = found[0].read_bytes() if found else None
    return Outcome(cell.key, figures, error, round(time.perf_counter() - started, 3), journal)
