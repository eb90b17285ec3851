"""Benchmark: simulated trading days over loopback HTTP (engine with broker alpaca -> SimServer on 127.0.0.1).

    python bench/loopback_day.py [--days N] [--config examples/loopback.yaml] [--source stream|poll] [--html]
                                 [--fault-rate F] [--against DIR [--rounds N]]

Each day is a fresh SimServer (in a thread of this process, with its streams, as `run.py serve-sim` serves them)
and a fresh engine whose alpaca-py clients point at it, as `run.py serve-sim` + `run.py --config
examples/loopback.yaml` would run it; --source poll runs the engine on REST alone (the default is alpaca's own:
streams). A warm-up day runs first, outside the figures (imports, the calendar), and the day's HTML page and
charts are written only with --html (as in bench/sim_day.py: the figure is the engine's day). Prints the wall
seconds per day and what the engine asks of Alpaca: requests per simulated minute by path over the session (the
simulator's /sim/* control requests left out), the steady-state rate while the machine is in Monitoring or
Scanning between the first fill and the hard exit (target <= 6/min; Alpaca allows 200/min), and the busiest
minute. --fault-rate injects the simulator's seeded faults (rate limits, errors, drops, slow answers) to show
the adapter's retries. --against DIR times another checkout's engine (say a worktree of main) against this
one: each round runs this script once on each, alternately, in fresh processes, and the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

from loguru import logger

HERE = Path(__file__).resolve()
if "--engine" in sys.argv:  # another checkout's engine under this script (--against runs it so)
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--engine") + 1]).resolve()))
else:
    sys.path.insert(0, str(HERE.parents[1]))

from engine.app import SIM_START, alpaca, build  # noqa: E402
from engine.calendar import ET, ExchangeCalendar  # noqa: E402
from engine.clock import SimClock  # noqa: E402
from engine.config import Config, load_config, parse_config  # noqa: E402
from engine.journal.audit import read_journal  # noqa: E402
from engine.logs import close_day_files, setup_logging  # noqa: E402
from engine.sim.transport import FAULT_KINDS, SimServer  # noqa: E402
from engine.sim.venue import SimVenue  # noqa: E402

KEY, SECRET = "zdte-bench-key", "zdte-bench-secret"
STEADY_STATES = ("Monitoring", "Scanning")
TARGET_PER_MIN = 6.0
ALPACA_LIMIT_PER_MIN = 200


def day_config(base: Config, day: date, logs: Path, kill: Path, url: str, source: str, html: bool) -> Config:
    raw = base.model_dump()
    raw.update(broker="alpaca", logs_dir=logs)
    raw["data"]["source"] = source
    raw["report"]["html"] = html
    raw["session"].update(date=day, days=1)
    raw["risk"]["kill_file"] = kill
    raw["alpaca"].update(trading_url=url, data_url=url)
    return parse_config(raw, "loopback bench")


def run_day(base: Config, day: date, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One day: server and engine, both fresh; returns what the report needs."""
    clock = SimClock(datetime.combine(day, SIM_START, tzinfo=ET))
    venue = SimVenue(base.sim, base.underlying, clock, ExchangeCalendar())
    server = SimServer(
        venue,
        clock,
        api_key=KEY,
        secret_key=SECRET,
        fault_rate=args.fault_rate,
        seed=base.sim.seed,
        slow_seconds=0.05,  # a slow answer, well inside the adapter's timeout: only the wall time grows
        fault_kinds=FAULT_KINDS,
        streams=True,
    ).start()
    saved = {k: os.environ.get(k) for k in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")}
    os.environ.update(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET)
    try:
        cfg = day_config(base, day, tmp / day.isoformat(), tmp / "KILL", server.url, args.source, args.html)
        t0 = time.perf_counter()
        adapters = alpaca(cfg)
        runner = build(cfg, adapters)
        code = runner.run()
        wall = time.perf_counter() - t0
    finally:
        close_day_files()
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    records, _ = read_journal(cfg.logs_dir / f"audit-{day:%Y%m%d}.jsonl")
    return {
        "day": day,
        "code": code,
        "wall": wall,
        "log": server.request_log,
        "records": records,
        "end": clock.now(),
        "session": venue.session(day),
        "hard_exit": datetime.combine(day, cfg.risk.hard_exit, tzinfo=ET),
        "retries": adapters.broker._retry.retries,
        "report": runner.reports[-1][1] if runner.reports else {},
    }


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def state_intervals(records: list[dict], end: datetime) -> list[tuple[str, datetime, datetime]]:
    """(state, from, to) of the day, from the journal's transitions (market time)."""
    out, state, since = [], "Initializing", _ts(records[0]["ts"])
    for r in records:
        if r["kind"] == "transition":
            at = _ts(r["ts"])
            out.append((state, since, at))
            state, since = r["dest"], at
    out.append((state, since, end))
    return out


def analyse(day: dict[str, Any]) -> dict[str, Any]:
    api = [e for e in day["log"] if not e["path"].startswith("/sim/")]
    session = day["session"]
    open_, close = (session.open, session.close) if session else (day["end"], day["end"])
    in_session = [e for e in api if open_ <= _ts(e["sim_time"]) < close]
    fills = [_ts(r["ts"]) for r in day["records"] if r["kind"] == "order" and r.get("event") == "fill"]
    steady_from = min(fills) if fills else open_
    steady_to = min(day["hard_exit"], close)
    windows = []  # (state, from, to) clipped to [first fill, hard exit]
    for state, a, b in state_intervals(day["records"], day["end"]):
        a, b = max(a, steady_from), min(b, steady_to)
        if state in STEADY_STATES and b > a:
            windows.append((state, a, b))
    steady_minutes: Counter[str] = Counter()
    steady_requests: Counter[str] = Counter()
    for state, a, b in windows:
        steady_minutes[state] += (b - a).total_seconds() / 60
        steady_requests[state] += sum(a <= _ts(e["sim_time"]) < b for e in api)
    per_minute = Counter(_ts(e["sim_time"]).astimezone(ET).replace(second=0, microsecond=0) for e in api)
    return {
        "session_minutes": (close - open_).total_seconds() / 60,
        "by_path": Counter(f"{e['method']} {e['path']}" for e in in_session),
        "api_total": len(api),
        "sim_total": len(day["log"]) - len(api),
        "steady_minutes": steady_minutes,
        "steady_requests": steady_requests,
        "per_minute": per_minute,
        "faults": Counter(e["fault"] for e in day["log"] if e["fault"]),
        "statuses": Counter(e["status"] for e in api),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--config", default=str(HERE.parents[1] / "examples" / "loopback.yaml"))
    ap.add_argument("--source", choices=("stream", "poll"), default="stream", help="the engine's data.source")
    ap.add_argument("--html", action="store_true", help="also write each day's HTML page and charts")
    ap.add_argument("--fault-rate", type=float, default=0.0, help="probability of an injected fault per request")
    ap.add_argument("--against", metavar="DIR", help="another checkout to time against this one, alternately")
    ap.add_argument("--rounds", type=int, default=5, help="with --against: runs of each checkout")
    ap.add_argument("--engine", metavar="DIR", help=argparse.SUPPRESS)  # the checkout whose engine runs
    ap.add_argument("--walls", action="store_true", help=argparse.SUPPRESS)  # print the day walls as JSON only
    args = ap.parse_args()
    if args.against:
        return against(args)
    base = load_config(args.config)
    setup_logging(-1)
    if args.fault_rate:
        logger.remove()
        logger.add(sys.stderr, level="ERROR")  # retries log a warning each: the counts below say it shorter
    days = ExchangeCalendar().sessions_from(base.session.date, args.days)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        run_day(base, days[0], Path(tmp) / "warm-up", args)
        for i, day in enumerate(days, start=1):
            results.append(run_day(base, day, Path(tmp), args))
            if not args.walls:
                sys.stderr.write(f"\r{i}/{len(days)} days ({day}: {results[-1]['wall']:.1f}s)")
                sys.stderr.flush()
        if not args.walls:
            sys.stderr.write("\n")
    if args.walls:
        print(json.dumps([r["wall"] for r in results]))
    else:
        report(args, base, results)
    return 0


def against(args: argparse.Namespace) -> int:
    """This checkout and another, alternately, each run in a fresh process on the same options."""
    passed = [a for a in sys.argv[1:] if a not in (args.against, "--against")]
    checkouts = {"this": HERE.parents[1], "against": Path(args.against).resolve()}
    walls: dict[str, list[float]] = {name: [] for name in checkouts}
    for i in range(args.rounds):
        for name, root in checkouts.items():
            cmd = [sys.executable, str(HERE), *passed, "--engine", str(root), "--walls"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            walls[name] += json.loads(out.strip().splitlines()[-1])
        sys.stderr.write(f"\r{i + 1}/{args.rounds} rounds")
        sys.stderr.flush()
    sys.stderr.write("\n")
    med = {name: statistics.median(w) for name, w in walls.items()}
    for name, root in checkouts.items():
        w = walls[name]
        print(f"{name:<8} {root}: median {med[name]:.2f} s per day (min {min(w):.2f}, max {max(w):.2f}, n {len(w)})")
    print(f"ratio    this / against = {med['this'] / med['against']:.2f} ({args.source}, html {args.html})")
    return 0


def report(args: argparse.Namespace, base: Config, results: list[dict[str, Any]]) -> None:
    stats = [analyse(r) for r in results]
    walls = [r["wall"] for r in results]
    n = len(results)
    session_minutes = sum(s["session_minutes"] for s in stats)
    by_path: Counter[str] = sum((s["by_path"] for s in stats), Counter())
    steady_min: Counter[str] = sum((s["steady_minutes"] for s in stats), Counter())
    steady_req: Counter[str] = sum((s["steady_requests"] for s in stats), Counter())
    faults: Counter[str] = sum((s["faults"] for s in stats), Counter())
    peak_day, peak_minute, peak = None, None, 0
    for r, s in zip(results, stats, strict=True):
        if s["per_minute"]:
            minute, count = s["per_minute"].most_common(1)[0]
            if count > peak:
                peak_day, peak_minute, peak = r, minute, count

    print(
        f"loopback days         {n} ({results[0]['day']} .. {results[-1]['day']}), seed {base.sim.seed}, "
        f"fault rate {args.fault_rate}"
    )
    print(f"wall seconds per day  median {statistics.median(walls):.2f}  (min {min(walls):.2f}, max {max(walls):.2f})")
    trades = sum(r["report"].get("trade_count", 0) for r in results)
    pnl = sum(r["report"].get("realized_pnl", 0.0) for r in results)
    flat = all(r["report"].get("open_at_end") == [] for r in results)
    codes = Counter(r["code"] for r in results)
    print(
        f"engine                exit codes {dict(codes)}, {trades} trade(s), realized P&L {pnl:+.2f}, "
        f"{'flat at every close' if flat else 'NOT FLAT at a close'}"
    )
    api = sum(s["api_total"] for s in stats)
    sim = sum(s["sim_total"] for s in stats)
    print(
        f"requests per day      {api / n:.0f} to Alpaca's paths, {sim / n:.0f} /sim/* clock moves (not counted below)"
    )
    print()
    print(f"per path, over the session ({session_minutes / n:.0f} min/day)")
    width = max((len(k) for k in by_path), default=10)
    print(f"  {'path':<{width}}  {'per day':>8}  {'per min':>7}")
    for path, count in sorted(by_path.items(), key=lambda kv: -kv[1]):
        print(f"  {path:<{width}}  {count / n:>8.0f}  {count / session_minutes:>7.2f}")
    total = sum(by_path.values())
    print(f"  {'all':<{width}}  {total / n:>8.0f}  {total / session_minutes:>7.2f}")
    print()
    minutes, requests = sum(steady_min.values()), sum(steady_req.values())
    if minutes:
        rate = requests / minutes
        verdict = "OK" if rate <= TARGET_PER_MIN else "ABOVE TARGET"
        print(
            f"steady state          {rate:.2f} req/min in {' + '.join(STEADY_STATES)}, first fill -> hard exit "
            f"({minutes / n:.0f} min/day): target <= {TARGET_PER_MIN:g} -> {verdict}"
        )
        for state in STEADY_STATES:
            if steady_min[state]:
                print(
                    f"  {state:<19} {steady_req[state] / steady_min[state]:.2f} req/min over "
                    f"{steady_min[state] / n:.0f} min/day"
                )
    else:
        print("steady state          no fill: the machine never reached Monitoring")
    if peak_day is not None:
        minute_paths = Counter(
            f"{e['method']} {e['path']}"
            for e in peak_day["log"]
            if not e["path"].startswith("/sim/")
            and _ts(e["sim_time"]).astimezone(ET).replace(second=0, microsecond=0) == peak_minute
        )
        top = ", ".join(f"{p} {c}" for p, c in minute_paths.most_common(3))
        print(
            f"peak minute           {peak} requests at {peak_minute:%Y-%m-%d %H:%M} ET ({top}); "
            f"Alpaca allows {ALPACA_LIMIT_PER_MIN}/min"
        )
    retries = sum(r["retries"] for r in results)
    non_ok = {s: c for s, c in sum((s["statuses"] for s in stats), Counter()).items() if s not in (200, 204)}
    print(
        f"retries               {retries} by the adapter; faults injected: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(faults.items())) or 'none'}"
        + (f"; non-2xx answers {dict(sorted(non_ok.items(), key=str))}" if non_ok else "")
    )


if __name__ == "__main__":
    raise SystemExit(main())
