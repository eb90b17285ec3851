"""Benchmark: a simulated day of zdte against NautilusTrader's BacktestEngine with orders, on the same real SPY days.

    pip install -e ".[dev,nautilus]"      # in a venv of its own: nautilus-trader 1.221 needs pandas < 3
    python bench/anchor_nautilus.py [--rounds 2] [--days N] [--config config.yaml]

The speed anchor of a simulated day (issue 14): the real SPY minute bars of July 2025 in ../shared (21 sessions),
each day run once by each side per round, zdte first in even rounds and NautilusTrader first in odd ones, so both
see the same machine load. Prints the median seconds per day of each side, their ratio, and the orders each side
sent per day (both really trade).

- zdte: a fresh engine per day as bench/sim_day.py builds it (`engine.app.build`, `runner.run()`) on the config
  given, with `sim.bars` the real bars: a model-priced option chain, the config's strategy, input recording on, the
  day's JSON report built from its journal, no HTML. Timed from the build to the end of the run.
- NautilusTrader: a fresh BacktestEngine per day, SPY as an equity on a simulated venue with a margin account, the
  day's regular-session bars (stamped at their close, Nautilus's convention) and the anchor strategy: an EMA cross,
  fast 10 / slow 20, that sends a 100-share market order on every 30th bar, buying when the fast EMA is at or above
  the slow one and selling otherwise. Timed from the engine's construction (venue, instrument, data, strategy) to
  the end of its run, post-run analysis included; its logging is at ERROR, so it writes nothing, while zdte writes
  its journal and log files. The bars are turned into Nautilus objects once per day, outside the timing, as zdte's
  bars file is parsed once and cached.

Exit 2 with a message when nautilus-trader is not installed or the ../shared data is absent. The figure is a ratio
of medians from one run, and the median of each day's pair of runs (which a burst of load on a shared machine
moves less); the machine is noisy, so compare ratios, not times.
"""

from __future__ import annotations

import argparse
import csv
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.sim_day import run_day  # noqa: E402
from engine.calendar import ET, ExchangeCalendar  # noqa: E402
from engine.config import Config, load_config, parse_config  # noqa: E402
from engine.logs import setup_logging  # noqa: E402
from engine.models import Session  # noqa: E402
from engine.version import engine_version  # noqa: E402

SPY_CSV = REPO.parent / "shared" / "data" / "other" / "pratikdkale_rl_trade_execution" / "data" / "SPY_1min.csv"
MONTH = (2025, 7)
FAST, SLOW, EVERY, SHARES = 10, 20, 30, 100


def sessions_in_month(path: Path, year: int, month: int, calendar: ExchangeCalendar) -> list[date]:
    """The exchange sessions of that month the bars file has bars for: the days both sides run."""
    with path.open(newline="", encoding="utf-8") as fh:
        days = {date.fromisoformat(row["date"][:10]) for row in csv.DictReader(fh)}
    return sorted(d for d in days if (d.year, d.month) == (year, month) and calendar.session(d) is not None)


def regular_bars(frame: pd.DataFrame, session: Session) -> pd.DataFrame:
    """The bars that start in [open, close) of the session, indexed by their close in UTC (Nautilus stamps a bar at
    its end; zdte's venue shows a bar once its minute is over, so neither side sees a bar early).

    `frame` is the bars file as read: a `date` column of naive New York bar starts and Open..Volume."""
    starts = pd.to_datetime(frame["date"]).dt.tz_localize(ET)
    inside = (starts >= pd.Timestamp(session.open)) & (starts < pd.Timestamp(session.close))
    out = frame.loc[inside, ["Open", "High", "Low", "Close", "Volume"]]
    out.columns = ["open", "high", "low", "close", "volume"]
    out.index = pd.DatetimeIndex((starts[inside] + pd.Timedelta(minutes=1)).dt.tz_convert("UTC"), name="timestamp")
    return out.astype(float)


def cross_side(bars_seen: int, fast: float, slow: float, every: int = EVERY) -> str | None:
    """The anchor's signal on the `bars_seen`-th bar: an order on every `every`-th bar only, a buy when the fast EMA
    is at or above the slow one, else a sell."""
    if bars_seen == 0 or bars_seen % every:
        return None
    return "BUY" if fast >= slow else "SELL"


@cache
def _nautilus() -> Any:
    """NautilusTrader's modules and the anchor strategy, imported on first use so the pure helpers above load
    (and are tested) without it."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig, StrategyConfig
    from nautilus_trader.indicators import ExponentialMovingAverage
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, OrderStatus
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import Equity
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.persistence.wranglers import BarDataWrangler
    from nautilus_trader.trading.strategy import Strategy

    class AnchorConfig(StrategyConfig, frozen=True):
        instrument_id: InstrumentId
        bar_type: BarType

    class EmaCrossEvery30(Strategy):  # type: ignore[misc]
        def __init__(self, config: AnchorConfig) -> None:
            super().__init__(config)
            self.fast = ExponentialMovingAverage(FAST)
            self.slow = ExponentialMovingAverage(SLOW)
            self.seen = 0

        def on_start(self) -> None:
            self.register_indicator_for_bars(self.config.bar_type, self.fast)
            self.register_indicator_for_bars(self.config.bar_type, self.slow)
            self.subscribe_bars(self.config.bar_type)

        def on_bar(self, bar: Bar) -> None:
            self.seen += 1
            if not self.indicators_initialized():
                return
            side = cross_side(self.seen, self.fast.value, self.slow.value)
            if side is not None:
                order = self.order_factory.market(
                    self.config.instrument_id, OrderSide[side], Quantity.from_int(SHARES)
                )
                self.submit_order(order)

    venue = Venue("ARCA")
    spy = Equity(
        instrument_id=InstrumentId(Symbol("SPY"), venue),
        raw_symbol=Symbol("SPY"),
        currency=USD,
        price_precision=2,
        price_increment=Price.from_str("0.01"),
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
    )
    bar_type = BarType.from_str(f"{spy.id}-1-MINUTE-LAST-EXTERNAL")

    def bars(frame: pd.DataFrame) -> list[Any]:
        return list(BarDataWrangler(bar_type, spy).process(frame))

    def run(day_bars: list[Any]) -> tuple[float, int, int]:
        """Seconds from construction to the end of the run, orders submitted, orders filled."""
        gc.collect()
        t0 = time.perf_counter()
        engine = BacktestEngine(
            BacktestEngineConfig(trader_id="ANCHOR-001", logging=LoggingConfig(log_level="ERROR"))
        )
        engine.add_venue(
            venue=venue,
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN,
            base_currency=USD,
            starting_balances=[Money(1_000_000, USD)],
        )
        engine.add_instrument(spy)
        engine.add_data(day_bars)
        engine.add_strategy(EmaCrossEvery30(AnchorConfig(instrument_id=spy.id, bar_type=bar_type)))
        engine.run()
        spent = time.perf_counter() - t0
        orders = engine.cache.orders()
        filled = sum(1 for o in orders if o.status == OrderStatus.FILLED)
        engine.dispose()
        return spent, len(orders), filled

    return bars, run


def zdte_base(config: Path) -> Config:
    raw = load_config(config).model_dump()
    raw["sim"]["bars"] = SPY_CSV
    raw["sim"]["quotes"] = None
    raw["journal"]["record_inputs"] = True
    return parse_config(raw, "anchor bench")


def zdte_day(base: Config, day: date, logs: Path) -> tuple[float, int, int]:
    spent, runner = run_day(base, day, logs, record=True, html=False)
    report = runner.reports[-1][1]  # type: ignore[attr-defined]
    return spent, report["orders_submitted"], report["fills"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="times each day runs on each side")
    ap.add_argument("--days", type=int, default=None, help="only the first N sessions")
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml", help="zdte's config (sim.bars is replaced)")
    args = ap.parse_args()
    if not SPY_CSV.is_file():
        print(f"skipped: ../shared data absent ({SPY_CSV} is missing)", file=sys.stderr)
        return 2
    try:
        make_bars, nautilus_day = _nautilus()
    except ImportError as exc:
        print(f"skipped: nautilus-trader is not installed ({exc}); pip install -e '.[nautilus]'", file=sys.stderr)
        return 2
    import nautilus_trader

    calendar = ExchangeCalendar()
    days = sessions_in_month(SPY_CSV, *MONTH, calendar)[: args.days]
    frame = pd.read_csv(SPY_CSV)
    bars = {d: make_bars(regular_bars(frame, calendar.session(d))) for d in days}  # type: ignore[arg-type]
    base = zdte_base(args.config)
    setup_logging(-1)
    times: dict[str, list[float]] = {"zdte": [], "nautilus": []}
    orders: dict[str, list[int]] = {"zdte": [], "nautilus": []}
    fills: dict[str, list[int]] = {"zdte": [], "nautilus": []}
    with tempfile.TemporaryDirectory() as tmp:
        sides: dict[str, Callable[[date, str], tuple[float, int, int]]] = {
            "zdte": lambda d, tag: zdte_day(base, d, Path(tmp) / f"{d}-{tag}"),
            "nautilus": lambda d, tag: nautilus_day(bars[d]),
        }
        for side in sides.values():  # imports, caches and first-call costs, outside the figures
            side(days[0], "warm-up")
        gc.freeze()  # as `python run.py` does before it runs
        for r in range(args.rounds):
            for i, day in enumerate(days, start=1):
                turn = list(sides.items())
                for name, side in turn if r % 2 == 0 else turn[::-1]:  # neither side always runs on the other's heels
                    spent, sent, filled = side(day, f"r{r}")
                    times[name].append(spent)
                    orders[name].append(sent)
                    fills[name].append(filled)
                sys.stderr.write(f"\rround {r + 1}/{args.rounds}: {i}/{len(days)} days")
        sys.stderr.write("\n")
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"sessions              {len(days)} ({days[0]} .. {days[-1]}), {args.rounds} round(s), interleaved")
    print(f"versions              zdte {engine_version()} at {_commit()}, "
          f"nautilus-trader {nautilus_trader.__version__}, pandas {pd.__version__}")
    for name in times:
        t = times[name]
        print(f"{name:<9} s/day       median {med[name]:.4f}  (min {min(t):.4f}, max {max(t):.4f}); orders per day "
              f"median {statistics.median(orders[name]):.0f} (total {sum(orders[name]) // args.rounds} a round), "
              f"fills {statistics.median(fills[name]):.0f}")
    print(f"ratio zdte/nautilus   x{med['zdte'] / med['nautilus']:.2f}  (of the medians); "
          f"x{paired_ratio(times['zdte'], times['nautilus']):.2f} (median of each day's pair)")
    return 0


def paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """The median of the per-run ratios of two sides that ran each day back to back: a burst of load on a shared
    machine lands on both runs of a pair, where it moves one side's median more than the other's."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError(f"paired runs needed: {len(ours)} against {len(theirs)}")
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def _commit() -> str:
    """The checkout's commit, so a figure says which zdte it measured (the "before" and "after" of an optimisation)."""
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
