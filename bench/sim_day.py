"""Benchmark: simulated trading days through the whole engine, in-process.

    python bench/sim_day.py [--days N] [--config config.yaml] [--html]

Each day is a fresh engine (new venue, journal, logs), as `python run.py --date D` would run it, minus
interpreter start-up and imports. Every day runs twice, with the journal's input recording on (the
default) and off, back to back so both see the same machine load. Prints the median seconds per day, the
option quotes priced per second of engine time, transitions per day, what recording costs (the median
of the days' on/off ratios), and the peak RSS. The day's JSON report is built from its journal as in any run;
its HTML page and charts (`report.html`) only with --html, so the figure is the engine's own unless asked.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.app import build  # noqa: E402
from engine.calendar import ExchangeCalendar  # noqa: E402
from engine.config import Config, load_config, parse_config  # noqa: E402
from engine.logs import close_day_files, setup_logging  # noqa: E402


def run_day(base: Config, day: date, logs: Path, record: bool, html: bool = False) -> tuple[float, object]:
    raw = base.model_dump()
    raw["report"]["html"] = html
    raw["session"].update(date=day, days=1)
    raw["logs_dir"] = logs
    raw["risk"]["kill_file"] = logs / "KILL"
    raw["journal"]["record_inputs"] = record
    cfg = parse_config(raw, "bench")
    gc.collect()  # each run starts on a clean heap, as a fresh `python run.py` would, not on its predecessor's garbage
    t0 = time.perf_counter()
    runner = build(cfg)
    runner.run()
    spent = time.perf_counter() - t0
    close_day_files()
    return spent, runner


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--html", action="store_true", help="also write each day's HTML page and charts")
    args = ap.parse_args()
    base = load_config(args.config)
    setup_logging(-1)
    on, off, ratios, quotes, transitions = [], [], [], 0, []
    with tempfile.TemporaryDirectory() as tmp:
        days = ExchangeCalendar().sessions_from(base.session.date, args.days)
        run_day(base, days[0], Path(tmp) / "warm-up", True, args.html)  # imports and the calendar, outside the figures
        gc.freeze()  # as `python run.py` does before it runs
        for i, day in enumerate(days, start=1):
            spent, runner = run_day(base, day, Path(tmp) / f"{day}-on", True, args.html)
            on.append(spent)
            off.append(run_day(base, day, Path(tmp) / f"{day}-off", False, args.html)[0])
            ratios.append(on[-1] / off[-1])
            market = runner.venue.market()
            quotes += market.quotes_priced if market else 0
            transitions.append(sum(r["transitions"] for _, r in runner.reports))
            sys.stderr.write(f"\r{i}/{len(days)} days")
        sys.stderr.write("\n")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med_on, med_off = statistics.median(on), statistics.median(off)
    print(f"days simulated        {len(on)} ({days[0]} .. {days[-1]})")
    print(f"seconds per day       median {med_on:.3f}  (min {min(on):.3f}, max {max(on):.3f})")
    print(f"option quotes priced  {quotes / sum(on):,.0f} per second of engine time ({quotes:,} in all)")
    print(f"transitions per day   median {statistics.median(transitions):.0f}")
    print(f"input recording       median {med_off:.3f} s/day without it: recording costs "
          f"{(statistics.median(ratios) - 1) * 100:.0f}% of the engine's time (median of the days' on/off ratios)")
    print(f"peak RSS              {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
