"""Benchmark: simulated trading days through the whole engine, in-process.

    python bench/sim_day.py [--days N] [--config config.yaml]

Prints the median seconds per simulated day, option quotes priced per second of engine time,
transitions per day and the peak RSS. Each day is a fresh engine (new venue, journal, logs), as
`python run.py --date D` would run it, minus interpreter start-up and imports.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.app import build  # noqa: E402
from engine.calendar import ExchangeCalendar  # noqa: E402
from engine.config import load_config, parse_config  # noqa: E402
from engine.logs import close_day_files, setup_logging  # noqa: E402


def sessions(first, n):
    cal = ExchangeCalendar()
    day = first if cal.session(first) else cal.next_session(first).day
    out = [day]
    while len(out) < n:
        out.append(cal.next_session(out[-1]).day)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--config", default="config.yaml")
    args = ap.parse_args()
    base = load_config(args.config)
    setup_logging(-1)
    seconds, quotes, transitions = [], 0, []
    with tempfile.TemporaryDirectory() as tmp:
        days = sessions(base.session.date, args.days)
        for i, day in enumerate(days, start=1):
            raw = base.model_dump()
            raw["session"].update(date=day, days=1)
            raw["logs_dir"] = Path(tmp) / day.isoformat()
            raw["risk"]["kill_file"] = Path(tmp) / "KILL"
            cfg = parse_config(raw, "bench")
            t0 = time.perf_counter()
            runner = build(cfg)
            runner.run()
            seconds.append(time.perf_counter() - t0)
            close_day_files()
            market = runner.venue.market()
            quotes += market.quotes_priced if market else 0
            transitions.append(sum(r["transitions"] for _, r in runner.ctx.reports))
            sys.stderr.write(f"\r{i}/{len(days)} days")
        sys.stderr.write("\n")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"days simulated        {len(seconds)} ({days[0]} .. {days[-1]})")
    print(f"seconds per day       median {statistics.median(seconds):.3f}  "
          f"(min {min(seconds):.3f}, max {max(seconds):.3f}; first day includes calendar load)")
    print(f"option quotes priced  {quotes / sum(seconds):,.0f} per second of engine time ({quotes:,} in all)")
    print(f"transitions per day   median {statistics.median(transitions):.0f}")
    print(f"peak RSS              {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
