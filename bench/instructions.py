"""Benchmark: CPU instructions per simulated day, counted by valgrind, for this checkout and optionally another.

    python bench/instructions.py [--days 5] [--against ../zdte-main]

Wall-clock figures on a shared 2-core machine swing by x2 from one minute to the next, so a change of a few
percent cannot be seen in them; an instruction count can: valgrind's callgrind counts the instructions the
interpreter executes, the same for the same code and inputs whatever else the machine does. Each checkout runs
in a process of its own, twice under callgrind: once with the warm-up day only (imports, the bars file, the
first day) and once with `--days` more days, so the difference is what those days cost. The days are the
anchor's (bench/anchor_nautilus.py: the real SPY sessions of July 2025 in ../shared, from the 2nd, with a
model-priced chain, input recording on and the JSON report, as `zdte_day` runs them), or, with ../shared absent,
the config's random-walk sessions from its date.

Needs valgrind (`apt-get install valgrind`); each run takes a minute or two (callgrind is some 50x slower), the two
checkouts in parallel. Prints instructions per day for each and their ratio. Instructions are not seconds (a cache
miss costs more than an add), so pair this with the timed benches; it tells whether a change removed work.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTED = re.compile(r"Collected : (\d+)")


def drive(root: Path, days: int) -> None:
    """In this process: the warm-up day and `days` more, with `root`'s engine (called through `--drive`)."""
    sys.path.insert(0, str(root))
    import gc

    from bench.anchor_nautilus import MONTH, SPY_CSV, sessions_in_month, zdte_base
    from bench.sim_day import run_day
    from engine.calendar import ExchangeCalendar
    from engine.config import load_config
    from engine.logs import setup_logging

    setup_logging(-1)
    calendar = ExchangeCalendar()
    if SPY_CSV.is_file():
        base = zdte_base(root / "config.yaml")
        sessions = sessions_in_month(SPY_CSV, *MONTH, calendar)[: days + 1]
    else:
        base = load_config(root / "config.yaml")
        assert base.session.date is not None, "the config names no session.date"
        sessions = calendar.sessions_from(base.session.date, days + 1)
    with tempfile.TemporaryDirectory() as tmp:
        run_day(base, sessions[0], Path(tmp) / "warm-up", record=True)
        gc.freeze()
        for day in sessions[1:]:
            run_day(base, day, Path(tmp) / str(day), record=True)


def count(root: Path, days: int) -> int:
    """Instructions of one process that drives `days` days after the warm-up, with `root`'s engine."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
         "--drive", str(root), "--days", str(days)],
        capture_output=True, text=True, cwd=root,
    )
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{root}: the run under valgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_day(root: Path, days: int) -> float:
    with ThreadPoolExecutor(2) as pool:
        warm, more = pool.map(lambda n: count(root, n), (0, days))
    return (more - warm) / days


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=5, help="days counted after the warm-up day")
    ap.add_argument("--against", type=Path, default=None, help="another checkout (a git worktree), counted alike")
    ap.add_argument("--drive", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.drive is not None:  # a counted process: 0 days is the warm-up alone
        drive(args.drive, args.days)
        return 0
    if args.days < 1:
        ap.error("--days must be at least 1")
    if shutil.which("valgrind") is None:
        print("skipped: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    roots = [REPO] + ([args.against.resolve()] if args.against else [])
    with ThreadPoolExecutor(len(roots)) as pool:
        figures = list(pool.map(lambda root: per_day(root, args.days), roots))
    for root, n in zip(roots, figures, strict=True):
        print(f"{root}: {n / 1e6:,.1f} M instructions per simulated day ({args.days} days after a warm-up day)")
    if len(figures) == 2:
        print(f"ratio this/other     x{figures[0] / figures[1]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
