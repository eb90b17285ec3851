"""Risk invariants of whole simulated days, over price paths, fill behaviour and risk configs made by hypothesis.

Each example runs one session through the real engine (engine.app.build -> Runner.run, journal in a temporary
directory) on the embedded simulator, with the underlying's minute bars replaced by a generated path (a seeded
random walk with a trend, a volatility regime change and jumps/crashes). After every engine tick the simulated
exchange itself is asked what the account holds, and these must hold:

- the day's loss (account equity against the previous close, marked at mid) never exceeds `risk.max_daily_loss`
  by more than one poll's move plus one exit's slippage: see `loss_tolerance` for how both are measured;
- never more trades than `risk.max_daily_trades` (counted from the exchange's positions and orders, not from the
  engine's book);
- never a short leg without its wing, at any moment (per option right, contracts held long >= contracts short);
- nothing open after the hard exit plus the time one exit order needs (`exit_allowance_s`).

Days are made cheap: most examples move the entry window and the hard exit into the first one to two hours of the
session (the engine's day ends at its hard exit, so such a day costs ~20-40 ms), the day log files are not opened
(loguru's sink set-up costs more than a short day) and the engine's log calls are disabled. The journal is still
written and fsynced as in a real run (on /dev/shm where there is one).

Generated examples: 1,000 simulated days (price path + fill behaviour + risk config each) in total, derandomized so
CI sees the same ones on every run:
  test_risk_invariants_hold_on_generated_days ..... 690  (short sessions, mixed paths and configs)
  test_loss_limit_holds_on_crash_and_trend_days ... 280  (short sessions, strong trends and crashes, tight limits)
  test_invariants_hold_on_full_length_days ......... 30  (the default 10:00-14:30 entries, 15:15 hard exit)
About 35 s of CPU for the file.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loguru import logger

from engine.app import SIM_START, Adapters, build
from engine.brokers.sim import SimBroker, SimMarketData
from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import Config, parse_config
from engine.machine import State
from engine.models import Bars, Right, Session
from engine.occ import parse_occ
from engine.sim.market import SimMarket
from engine.sim.venue import SimVenue

DAY = date(2025, 7, 1)
SESSION_MINUTES = 390
START_PRICE = 600.0
CALENDAR = ExchangeCalendar()
# The journal fsyncs every transition and order; on a RAM disk that costs nothing, so 1,000 days stay fast.
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None
OPENING_ID = re.compile(r"-(?P<trade>\d{2,})o-\d{2,}$")

COMMON = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- the generated world -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricePath:
    """A minute path of the underlying: seeded noise at `annual_vol`, a log-drift per minute, a volatility regime
    that multiplies the noise from `regime_at` on, and jumps (minute, log-return) on top."""

    seed: int
    annual_vol: float
    drift: float
    regime_at: int
    regime_mult: float
    jumps: tuple[tuple[int, float], ...]

    def closes(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 0x5EED])
        sd = self.annual_vol / math.sqrt(252 * SESSION_MINUTES)
        mult = np.where(np.arange(SESSION_MINUTES) >= self.regime_at, self.regime_mult, 1.0)
        r = self.drift + sd * mult * rng.standard_normal(SESSION_MINUTES)
        for minute, size in self.jumps:
            r[minute] += size
        return np.round(START_PRICE * np.exp(np.cumsum(r)), 2)

    def bars(self, session: Session) -> Bars:
        c = self.closes()
        o = np.concatenate(([START_PRICE], c[:-1]))
        ts = int(session.open.timestamp()) + 60 * np.arange(SESSION_MINUTES, dtype=np.int64)
        return Bars("SPY", ts, o, np.maximum(o, c), np.minimum(o, c), c, np.full(SESSION_MINUTES, 1000.0))


class PathVenue(SimVenue):
    """The simulator with the day's underlying taken from a PricePath; everything else is the real venue."""

    def __init__(self, cfg: Any, clock: SimClock, path: PricePath) -> None:
        super().__init__(cfg, "SPY", clock, CALENDAR)
        self.path = path

    def _build_market(self, session: Session) -> SimMarket:
        return SimMarket(self.path.bars(session), self.cfg, session, self.underlying)


def hhmm(minutes_after_open: int) -> str:
    t = (datetime.combine(DAY, time(9, 30)) + timedelta(minutes=minutes_after_open)).time()
    return f"{t:%H:%M}"


@st.composite
def price_paths(draw: st.DrawFn, crash: bool = False) -> PricePath:
    jump = (
        st.tuples(st.integers(15, 100), st.floats(-0.05, 0.03))
        if crash
        else st.tuples(st.integers(10, 200), st.floats(-0.02, 0.02))
    )
    return PricePath(
        seed=draw(st.integers(0, 2**32 - 1)),
        annual_vol=draw(st.floats(0.05, 1.2)),
        drift=draw(st.floats(-1.5e-3, 1.5e-3) if crash else st.floats(-2e-4, 2e-4)),
        regime_at=draw(st.integers(0, SESSION_MINUTES - 1)),
        regime_mult=draw(st.floats(0.5, 4.0)),
        jumps=tuple(draw(st.lists(jump, max_size=3))),
    )


@st.composite
def day_configs(draw: st.DrawFn, full_day: bool = False, tight_loss: bool = False) -> dict[str, Any]:
    """Overrides of config.yaml: the trading window, strategy, risk limits, fill behaviour and order handling."""
    if full_day:
        window = {"entry_start": "10:00", "entry_end": "14:30"}
        hard_exit = "15:15"
        data = {"min_data_points": 30, "lookback_minutes": 60, "strike_discovery_range": 30.0}
    else:
        start = draw(st.integers(8, 25))
        end = start + draw(st.integers(5, 40))
        window = {"entry_start": hhmm(start), "entry_end": hhmm(end)}
        hard_exit = hhmm(end + draw(st.integers(5, 30)))
        data = {"min_data_points": 5, "lookback_minutes": 15, "strike_discovery_range": 30.0}
    wing = draw(st.sampled_from([1.0, 2.0, 3.0, 5.0]))
    contracts = draw(st.integers(1, 4))
    # Risk limits are drawn relative to the size of the position (a condor's loss is bounded by the wing), so that
    # both days the pre-trade gate blocks and days it lets through, and limits that bind, are generated.
    unit = wing * 100 * contracts
    if tight_loss:
        loss, stop, target = draw(st.floats(0.4, 1.25)), draw(st.floats(3.0, 20.0)), draw(st.floats(0.3, 1.0))
    else:
        loss, stop, target = draw(st.floats(0.5, 3.0)), draw(st.floats(0.1, 3.0)), draw(st.floats(0.05, 1.0))
    return {
        "sim": {
            "seed": draw(st.integers(0, 2**31 - 1)),
            "implied_vol": draw(st.floats(0.08, 0.45)),
            "partial_fill_prob": draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        },
        "strategy": {
            **window,
            "direction": draw(st.sampled_from(["short", "short", "long"])),
            "short_strike_rule": draw(st.sampled_from(["delta", "distance"])),
            "short_delta": draw(st.floats(0.08, 0.4)),
            "short_distance": draw(st.floats(1.0, 8.0)),
            "wing_width": wing,
            "contracts": contracts,
            "min_realized_vol": 0.0,
            "max_realized_vol": 10.0,
            "min_credit": 0.02,
        },
        "risk": {
            "max_daily_trades": draw(st.sampled_from([1, 2, 3, 4, 6, 0])),
            "max_daily_loss": round(loss * unit, 2),
            "max_loss_per_trade": round(draw(st.floats(0.8, 2.5)) * unit, 2),
            "target_daily_profit": round(draw(st.floats(0.1, 5.0)) * unit, 2),
            "profit_target_pct": target,
            "spread_stop_pct": stop,
            "hard_exit": hard_exit,
        },
        "data": data,
        "orders": {
            "walk_interval_s": draw(st.sampled_from([5.0, 10.0, 20.0])),
            "max_walk_ticks": draw(st.integers(5, 40)),
            "entry_timeout_s": draw(st.sampled_from([60.0, 120.0, 300.0])),
            "exit_extra_ticks": draw(st.integers(0, 5)),
        },
        "poll": {"monitoring": draw(st.sampled_from([15.0, 30.0, 60.0]))},
    }


# --- running one day and watching the exchange ---------------------------------------------------------------------


@dataclass
class Seen:
    """What the exchange held after one engine tick."""

    t: datetime
    minute: int | None
    loss: float
    held: dict[str, int]
    state: State


@dataclass
class Day:
    cfg: Config
    venue: PathVenue
    market: SimMarket
    hard_exit: datetime
    code: int
    final_state: State
    seen: list[Seen] = field(default_factory=list)


@contextmanager
def quiet_cheap_engine() -> Iterator[None]:
    """No day log files (their loguru sinks cost more to set up than a short day) and no log calls."""
    logger.disable("engine")
    logger.disable("states")
    try:
        with mock.patch("engine.journal.sink.open_day_files", lambda *a, **k: None):
            yield
    finally:
        logger.enable("engine")
        logger.enable("states")


def make_config(base: dict[str, Any], overrides: dict[str, Any], logs: Path) -> Config:
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    raw["logs_dir"] = str(logs)
    raw["risk"]["kill_file"] = str(logs / "KILL-not-there")
    raw["session"] = {"date": DAY.isoformat(), "days": 1}
    raw["report"] = {"html": False}  # the pages are tested in tests/reporting; here they only cost time
    for section, values in overrides.items():
        raw[section] = {**raw.get(section, {}), **values}
    return parse_config(raw, "reliability config")


def run_day(base: dict[str, Any], overrides: dict[str, Any], path: PricePath) -> Day:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp, quiet_cheap_engine():
        cfg = make_config(base, overrides, Path(tmp) / "logs")
        clock = SimClock(datetime.combine(DAY, SIM_START, tzinfo=ET))
        venue = PathVenue(cfg.sim, clock, path)
        adapters = Adapters(clock, SimBroker(venue), SimMarketData(venue), venue, recorded=False)
        runner = build(cfg, adapters=adapters)
        exchange = venue.exchange
        seen: list[Seen] = []

        def observe() -> None:
            now = clock.now()
            account = exchange.account(now)
            market = exchange.market
            minute = None
            if market is not None and market.open_s <= now.timestamp() < market.close_s:
                minute = market.minute(now)
            held = {p.symbol: p.qty for p in exchange.positions(now)}
            seen.append(Seen(now, minute, account.last_equity - account.equity, held, runner.state))

        engine_tick = runner.tick

        def tick() -> Any:
            outcome = engine_tick()
            observe()
            return outcome

        runner.tick = tick  # type: ignore[method-assign] - Runner.run calls self.tick(): watch after every one
        code = runner.run()
        market = venue.market()
        assert market is not None
        return Day(cfg, venue, market, runner.ctx.schedule.hard_exit, code, runner.state, seen)


# --- the invariants --------------------------------------------------------------------------------------------------


def step_s(cfg: Config) -> float:
    """Seconds one walk step of an order takes: the order poll runs every `poll.entering` s, and a step is due
    `walk_interval_s` after the attempt was placed."""
    return math.ceil(cfg.orders.walk_interval_s / cfg.poll.entering) * cfg.poll.entering


def reaction_s(cfg: Config) -> float:
    """How long a loss beyond the limit may go unanswered: one Monitoring poll (the account is read once a poll),
    then the flatten (an urgent exit at the natural price: marketable when sent, so only partial fills make it take
    longer, one walk step per further contract), plus one order poll of granularity for when ticks fall."""
    return cfg.poll.monitoring + (cfg.strategy.contracts - 1) * step_s(cfg) + cfg.poll.entering


def position_value(market: SimMarket, held: dict[str, int], minute: int) -> tuple[float, float]:
    """(mid value in dollars, half the bid/ask width of every leg in dollars) of a position at a minute."""
    value = half_width = 0.0
    for symbol, qty in held.items():
        bid, ask = market.bid_ask(symbol, minute)
        value += qty * (bid + ask) / 2 * 100
        half_width += abs(qty) * (ask - bid) / 2 * 100
    return value, half_width


def loss_tolerance(day: Day) -> tuple[float, float]:
    """(one poll's move, one exit's slippage): how far the day's loss may go past max_daily_loss.

    The engine reads the account once a Monitoring poll, and the simulator's marks change only at minute boundaries.
    Between the last poll that saw the loss within the limit and the flatten that follows the first poll that did
    not, the position held can lose at most what its mid value moves across the minute boundaries `reaction_s`
    spans (a crash inside one minute counts whole); the flatten then pays the natural price where the account marked
    at mid, i.e. half of every leg's bid/ask width. Both are measured on this day's quotes, for the position the
    exchange actually held at each tick; the worst of each over the day is the tolerance. A loss that goes on
    growing past the limit for longer than that (an engine that does not react, or reacts slowly while the market
    moves) exceeds it.
    """
    cfg, market = day.cfg, day.market
    boundaries = math.ceil(reaction_s(cfg) / 60)
    move = slip = 0.0
    for s in day.seen:
        if not s.held or s.minute is None:
            continue
        v0, w0 = position_value(market, s.held, s.minute)
        slip = max(slip, w0)
        for m in range(s.minute + 1, min(s.minute + boundaries, market.minutes - 1) + 1):
            v, w = position_value(market, s.held, m)
            move, slip = max(move, v0 - v), max(slip, w)
    return move, slip


def exit_allowance_s(cfg: Config) -> float:
    """Time one exit order needs from the hard exit: the first Monitoring poll at or after it, then walking from mid
    one tick a step up to the natural price (at most half of four legs' widest quotes, the model's spread cap
    widened into the close, plus a tick of rounding on each side), one more step per contract a partial fill may
    leave, and the step that fills."""
    widest = cfg.sim.spread_max * (1 + cfg.sim.spread_late)
    ticks_to_natural = math.ceil(4 * widest / 2 / cfg.orders.tick) + 2
    return cfg.poll.monitoring + (ticks_to_natural + cfg.strategy.contracts + 1) * step_s(cfg)


def trades_filled(day: Day) -> int:
    """Trades the day opened, counted twice over without trusting the engine's book: the times the exchange's
    position went from flat to held (a trade is one such stretch, whatever its partial fills), and the distinct
    trade numbers of opening orders that filled at least one contract."""
    stretches, flat = 0, True
    for s in day.seen:
        if s.held and flat:
            stretches += 1
        flat = not s.held
    numbers = set()
    for order in day.venue.exchange.all_orders(day.seen[-1].t):
        found = OPENING_ID.search(order.client_order_id)
        if found and order.filled_qty > 0:
            numbers.add(int(found["trade"]))
    return max(stretches, len(numbers))


def naked_shorts(held: dict[str, int]) -> list[str]:
    """Per option right, the contracts held short that no contract held long covers (a short leg without its wing).
    Every spread this engine trades pairs each short leg with a long leg of the same right and size."""
    short = {Right.PUT: 0, Right.CALL: 0}
    long = {Right.PUT: 0, Right.CALL: 0}
    for symbol, qty in held.items():
        right = parse_occ(symbol).right
        if qty < 0:
            short[right] -= qty
        else:
            long[right] += qty
    return [f"{right}: {short[right]} short vs {long[right]} long" for right in short if short[right] > long[right]]


def check_invariants(day: Day) -> None:
    cfg = day.cfg
    assert day.code == 0, f"exit code {day.code}"
    assert day.final_state is State.SHUTTING_DOWN
    assert day.seen, "the engine never ticked"

    move, slip = loss_tolerance(day)
    worst = max(day.seen, key=lambda s: s.loss)
    limit = cfg.risk.max_daily_loss
    assert worst.loss <= limit + move + slip + 0.01, (
        f"day's loss {worst.loss:.2f} at {worst.t:%H:%M:%S} ({worst.state}) exceeds max_daily_loss {limit:.2f} "
        f"+ one poll's move {move:.2f} (over {reaction_s(cfg):.0f}s) + one exit's slippage {slip:.2f}"
    )

    trades = trades_filled(day)
    assert trades <= cfg.risk.max_daily_trades, f"{trades} trades > max_daily_trades {cfg.risk.max_daily_trades}"

    for s in day.seen:
        naked = naked_shorts(s.held)
        assert not naked, f"naked short leg at {s.t:%H:%M:%S} ({s.state}): {naked}; held {s.held}"

    flat_by = day.hard_exit + timedelta(seconds=exit_allowance_s(cfg))
    late = [s for s in day.seen if s.t >= flat_by and s.held]
    assert not late, f"still holding {late[0].held} at {late[0].t:%H:%M:%S}, after {flat_by:%H:%M:%S}"
    exchange = day.venue.exchange
    after = max(flat_by, day.seen[-1].t)
    if after.timestamp() < day.market.close_s:
        assert not exchange.positions(after), f"the exchange still holds positions at {after:%H:%M:%S}"
    assert not exchange.open_orders(after), "an order is still working after the engine shut down"


# --- the tests -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_raw(default_raw_config: dict[str, Any]) -> dict[str, Any]:
    return default_raw_config


@settings(COMMON, max_examples=690)
@given(path=price_paths(), overrides=day_configs())
def test_risk_invariants_hold_on_generated_days(base_raw: dict[str, Any], path: PricePath, overrides: dict) -> None:
    check_invariants(run_day(base_raw, overrides, path))


@settings(COMMON, max_examples=280)
@given(path=price_paths(crash=True), overrides=day_configs(tight_loss=True))
def test_loss_limit_holds_on_crash_and_trend_days(base_raw: dict[str, Any], path: PricePath, overrides: dict) -> None:
    check_invariants(run_day(base_raw, overrides, path))


@settings(COMMON, max_examples=30)
@given(path=price_paths(), overrides=day_configs(full_day=True))
def test_invariants_hold_on_full_length_days(base_raw: dict[str, Any], path: PricePath, overrides: dict) -> None:
    check_invariants(run_day(base_raw, overrides, path))
