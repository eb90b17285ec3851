"""Benchmark: how soon a stop (or a profit target) is acted on, streaming vs polling, over loopback.

    python bench/latency.py [--seeds N] [--config examples/loopback.yaml]

For each seed, one loopback day on serve-sim's streams (data.source: stream) and one polled (data.source: poll),
interleaved, each a fresh SimServer in this process and a fresh engine with the real alpaca-py clients. A day
whose trade is closed on price (spread stop or profit target) in both runs, with the same entry, is measured:

- market time: from the crossing quote (the minute the streamed run saw it: serve-sim's market changes only at
  minute boundaries, and the streamed run wakes at each) to the first exit order's submission, in simulated
  seconds;
- wall time: from the clock move that reached that minute (its request's arrival at serve-sim) to the exit
  order's POST, in milliseconds: what it takes to learn of the event (the streams' delivery, or the polls) and
  act on it.

Prints p50 and p99 of each for both modes, and the REST requests per simulated minute while a condor is held and
no order is worked (the steady state; serve-sim's /sim/* control requests left out).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.app import SIM_START, alpaca, build  # noqa: E402
from engine.calendar import ET, ExchangeCalendar  # noqa: E402
from engine.clock import SimClock  # noqa: E402
from engine.config import load_config, parse_config  # noqa: E402
from engine.journal.audit import read_journal  # noqa: E402
from engine.logs import close_day_files, setup_logging  # noqa: E402
from engine.sim.transport import SimServer  # noqa: E402
from engine.sim.venue import SimVenue  # noqa: E402

KEY, SECRET = "zdte-bench-key", "zdte-bench-secret"
ON_PRICE = ("spread stop", "profit target")


def run_day(raw: dict[str, Any], seed: int, source: str, tmp: Path) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    raw["sim"]["seed"] = seed
    raw["data"]["source"] = source
    sim_raw = copy.deepcopy(raw)
    sim_raw.update(broker="sim")
    sim_raw["data"]["source"] = None
    sim_cfg = parse_config(sim_raw, "latency bench")
    day = sim_cfg.session.date
    assert day is not None
    clock = SimClock(datetime.combine(day, SIM_START, tzinfo=ET))
    venue = SimVenue(sim_cfg.sim, sim_cfg.underlying, clock, ExchangeCalendar())
    server = SimServer(venue, clock, api_key=KEY, secret_key=SECRET, seed=seed, streams=source == "stream").start()
    os.environ.update(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET)
    try:
        raw.update(broker="alpaca", logs_dir=str(tmp / f"{source}-{seed}"))
        raw["risk"]["kill_file"] = str(tmp / "KILL")
        raw["alpaca"].update(trading_url=server.url, data_url=server.url)
        cfg = parse_config(raw, "latency bench")
        runner = build(cfg, alpaca(cfg))
        runner.run()
    finally:
        close_day_files()
        server.stop()
    records, _ = read_journal(cfg.logs_dir / f"audit-{day:%Y%m%d}.jsonl")
    return {"records": records, "log": server.request_log}


def _exit(day: dict[str, Any]) -> tuple[Any, datetime] | None:
    """(the trade's entry, the first exit submission's time) of a trade closed on price."""
    records = day["records"]
    closed = [r for r in records if r["kind"] == "closed" and r["exit_reason"].startswith(ON_PRICE)]
    if not closed:
        return None
    trade = closed[0]["trade_no"]
    opened = next(r for r in records if r["kind"] == "opened" and r["trade_no"] == trade)
    submit = next(
        r for r in records if r["kind"] == "order" and r["event"] == "submit" and r.get("why", "").startswith(ON_PRICE)
    )
    return (tuple(opened["strikes"]), opened["ts"]), datetime.fromisoformat(submit["ts"])


def _wall_ms(day: dict[str, Any], crossing: datetime) -> float:
    log = day["log"]
    seen = max(
        e["wall"] for e in log if e["path"] == "/sim/advance" and datetime.fromisoformat(e["sim_time"]) < crossing
    )
    posted = next(e["wall"] for e in log if e["path"] == "/v2/orders" and e["method"] == "POST" and e["wall"] >= seen)
    return (posted - seen) * 1000


def rest_per_minute_holding(day: dict[str, Any]) -> float | None:
    spans, since = [], None
    for r in day["records"]:
        if r["kind"] == "transition" and r["dest"] == "Monitoring":
            since = datetime.fromisoformat(r["ts"])
        elif r["kind"] == "transition" and r["source"] == "Monitoring" and since is not None:
            spans.append((since, datetime.fromisoformat(r["ts"])))
    orders = {e["sim_time"][:16] for e in day["log"] if "/orders" in e["path"]}
    per_minute: dict[str, int] = {}
    for e in day["log"]:
        if not e["path"].startswith("/sim/"):
            per_minute[e["sim_time"][:16]] = per_minute.get(e["sim_time"][:16], 0) + 1
    minutes = asked = 0
    for lo, hi in spans:
        t = lo + timedelta(minutes=2)
        while t + timedelta(minutes=2) <= hi:
            key = t.isoformat()[:16]
            if key not in orders:
                minutes += 1
                asked += per_minute.get(key, 0)
            t += timedelta(minutes=1)
    return asked / minutes if minutes else None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=12, help="days measured: seeds 1..N of the config's date")
    ap.add_argument("--config", default="examples/loopback.yaml")
    args = ap.parse_args()
    setup_logging(-1)
    base = load_config(args.config).model_dump(mode="json")
    market = {"stream": [], "poll": []}
    wall: dict[str, list[float]] = {"stream": [], "poll": []}
    rates: dict[str, list[float]] = {"stream": [], "poll": []}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            days = {source: run_day(base, seed, source, Path(tmp)) for source in ("stream", "poll")}
            for source, day in days.items():
                if (rate := rest_per_minute_holding(day)) is not None:
                    rates[source].append(rate)
            exits = {source: _exit(day) for source, day in days.items()}
            s, p = exits["stream"], exits["poll"]
            note = "no exit on price"
            if s is not None and p is not None and s[0] == p[0]:
                crossing = s[1].replace(second=0)
                for source, e in exits.items():
                    assert e is not None
                    market[source].append((e[1] - crossing).total_seconds())
                    wall[source].append(_wall_ms(days[source], crossing))
                lags = f"stream +{market['stream'][-1]:.0f}s, poll +{market['poll'][-1]:.0f}s"
                note = f"crossing {crossing:%H:%M}: {lags}"
            elif s is not None or p is not None:
                note = "the runs' trades differ: not compared"
            print(f"seed {seed:>3}: {note}  ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    print(f"loopback days measured: {len(market['stream'])} of {args.seeds} (a trade closed on price in both runs)")
    for source in ("stream", "poll"):
        m, w, r = market[source], wall[source], rates[source]
        if m:
            print(
                f"  {source:<6}  market time to the exit order p50 {pct(m, 0.5):5.1f}s p99 {pct(m, 0.99):5.1f}s;"
                f"  wall p50 {pct(w, 0.5):6.1f}ms p99 {pct(w, 0.99):6.1f}ms"
            )
        if r:
            print(f"  {source:<6}  REST requests per minute holding a condor (median of {len(r)} days): "
                  f"{statistics.median(r):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
