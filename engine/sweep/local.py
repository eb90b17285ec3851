"""The default executor: a pool of local processes, one cell at a time each.

Workers are spawned, not forked: a cell starts from a fresh interpreter as it would on Ray or under `run`, with
none of the parent's logging sinks, threads (a progress bar's) or half-set module state.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

from engine.sweep.cell import Outcome, local_worker_init, run_cell
from engine.sweep.grid import Cell


def run_local(cells: list[Cell], workers: int, keep_journals: bool) -> Iterator[Outcome]:
    """Each cell's outcome as it finishes. Closing the iterator early (Ctrl-C) cancels the cells not started and
    waits for the running ones, which the workers (ignoring SIGINT) finish."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=local_worker_init)
    try:
        futures = {pool.submit(run_cell, cell, keep_journals): cell for cell in cells}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died (killed, out of memory) fails its cell
                outcome = Outcome(futures[future].key, None, f"{type(exc).__name__}: {exc}", 0.0)
            yield outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
