"""Benchmark: a sweep of 15 dates x 6 parameter sets (90 cells) on 1 and then 2 local workers.

    python bench/sweep.py [--config config.yaml] [--dates 15] [--ray]

Each run starts from an empty output folder, so every cell runs; its time is the sweep's own, from handing out
the first cell to the last row written, the workers' start-up included (a sweep pays it too); the grid is built
before the clock starts. Prints cells per second for each, and the 1 -> 2 scaling ratio (2.0 is perfect). With
--ray it also runs the grid as Ray tasks on a local runtime of 2 CPUs (started before the clock).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.calendar import ExchangeCalendar  # noqa: E402
from engine.config import load_config  # noqa: E402
from engine.logs import setup_logging  # noqa: E402
from engine.sweep.driver import Executor, execute  # noqa: E402
from engine.sweep.grid import build_cells, parse_axes  # noqa: E402
from engine.sweep.local import run_local  # noqa: E402

SETS = ["strategy.short_delta=0.10,0.15,0.20", "risk.spread_stop_pct=1,2"]


def timed(label: str, cells: list, axes: list, executor: Executor) -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = execute(cells, axes, Path(out), executor)
        spent = time.perf_counter() - started
    failed = len(done.failed)
    rate = len(cells) / spent
    print(f"{label:<22} {len(cells)} cells in {spent:6.1f} s: {rate:5.2f} cells/s"
          + (f" ({failed} failed)" if failed else ""))
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--dates", type=int, default=15, help="sessions from the config's date")
    ap.add_argument("--ray", action="store_true", help="also run on a local Ray runtime of 2 CPUs")
    args = ap.parse_args()
    setup_logging(-1)
    cfg = load_config(args.config)
    assert cfg.session.date is not None
    days = ExchangeCalendar().sessions_from(cfg.session.date, args.dates)
    axes = parse_axes(SETS)
    cells = build_cells(cfg.model_dump(mode="json"), axes, days, [cfg.sim.seed], args.config)
    print(f"grid: {len(cells) // len(days)} parameter sets x {len(days)} dates ({days[0]} .. {days[-1]}) x 1 seed")
    one = timed("local, 1 worker", cells, axes, lambda todo: run_local(todo, 1, False))
    two = timed("local, 2 workers", cells, axes, lambda todo: run_local(todo, 2, False))
    print(f"scaling 1 -> 2 workers: x{two / one:.2f}")
    if args.ray:
        from engine.sweep.on_ray import LOCAL, connect, ray_module, run_on_ray

        connect(LOCAL, 2)
        timed("ray local, 2 CPUs", cells, axes, lambda todo: run_on_ray(todo, False))
        ray_module().shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
