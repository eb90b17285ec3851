"""Data faults through whole simulated sessions: bars that stop, freeze or come back malformed, and option quotes
that come back crossed, negative or NaN.

The engine runs for real (engine.app.build -> Runner.run) on the embedded simulator with a fixed, hand-shaped
underlying path; only its MarketData port is wrapped (`FaultyMarketData`, around engine.brokers.sim.SimMarketData)
to misbehave inside a window of market time. The broker side (fills, marks, account) stays the healthy simulated
exchange, so "managed from broker marks" can be seen working while the underlying's bars are missing. Outcomes are
read from the audit journal (engine.journal.audit.read_journal) and the day's engine log.

Every scenario also checks that no order was ever priced from anything but the true quotes: each `submit` record's
mid and natural price are recomputed from the simulator's own quotes at that moment and must match.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.app import SIM_START, Adapters
from engine.brokers.sim import SimBroker, SimMarketData
from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import Config, parse_config
from engine.journal.audit import read_journal
from engine.journal.replay import verify
from engine.models import Bars, OptionQuote, Session
from engine.sim.market import SimMarket
from engine.sim.venue import SimVenue
from tests.engine_run import run_engine

DAY = date(2025, 7, 1)
MINUTES = 390
START_PRICE = 600.0
CALENDAR = ExchangeCalendar()
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, ss, tzinfo=ET)


def minute_of(t: datetime) -> int:
    return int((t - at(9, 30)).total_seconds() // 60)


# --- the world: a shaped path, a venue that trades it, and market data that misbehaves ------------------------------


def shaped_closes(
    rally_from: datetime | None = None,
    rally_to: datetime | None = None,
    per_minute: float = 0.0,
    calm_until: datetime | None = None,
) -> np.ndarray:
    """A walk (seeded, 8% a year) around 600: almost still (0.5% a year) before `calm_until`, with an optional steady
    rally of `per_minute` log-return."""
    rng = np.random.default_rng(20250701)
    r = 0.08 / math.sqrt(252 * MINUTES) * rng.standard_normal(MINUTES)
    if calm_until is not None:
        r[: minute_of(calm_until)] *= 0.005 / 0.08
    if rally_from is not None and rally_to is not None:
        r[minute_of(rally_from) : minute_of(rally_to)] += per_minute
    return np.round(START_PRICE * np.exp(np.cumsum(r)), 2)


class PathVenue(SimVenue):
    """The real simulated venue, with the day's underlying bars taken from `closes`."""

    def __init__(self, cfg: Any, clock: SimClock, closes: np.ndarray) -> None:
        super().__init__(cfg, "SPY", clock, CALENDAR)
        self.closes = closes

    def _build_market(self, session: Session) -> SimMarket:
        c = self.closes
        o = np.concatenate(([START_PRICE], c[:-1]))
        ts = int(session.open.timestamp()) + 60 * np.arange(len(c), dtype=np.int64)
        bars = Bars("SPY", ts, o, np.maximum(o, c), np.minimum(o, c), c, np.full(len(c), 1000.0))
        return SimMarket(bars, self.cfg, session, self.underlying)


@dataclass
class Fault:
    """Misbehave from `start` (inclusive) to `end` (exclusive) in market time.

    Bar kinds: "drop" (no new bar), "freeze" (the last bar before the window, again and again), "nan" (the newest
    bar's close is NaN), "high_low" (the newest bar's high below its low), "non_monotonic" (a batch whose timestamps
    go backwards). Quote kinds (chain and quotes): "crossed" (bid above ask), "negative" (bid < 0), "nan_quote".
    """

    kind: str
    start: datetime
    end: datetime

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end


BAR_KINDS = ("drop", "freeze", "nan", "high_low", "non_monotonic")
QUOTE_KINDS = ("crossed", "negative", "nan_quote")


@dataclass
class FaultyMarketData:
    """engine.ports.MarketData around SimMarketData; logs every malformed answer it gave (time, what)."""

    inner: SimMarketData
    clock: SimClock
    faults: list[Fault]
    served: list[tuple[datetime, str]] = field(default_factory=list)

    def _fault(self, kinds: Sequence[str]) -> Fault | None:
        now = self.clock.now()
        return next((f for f in self.faults if f.kind in kinds and f.active(now)), None)

    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        fault = self._fault(BAR_KINDS)
        if fault is None:
            return self.inner.bars(symbol, start, end)
        if fault.kind == "drop":
            return Bars.empty(symbol)
        if fault.kind == "freeze":
            before = self.inner.bars(symbol, fault.start - timedelta(minutes=2), fault.start)
            self.served.append((self.clock.now(), "freeze"))
            return _take(before, slice(-1, None))
        real = self.inner.bars(symbol, start, end)
        if len(real) == 0:
            return real
        o, h, lo, c, ts = (a.copy() for a in (real.open, real.high, real.low, real.close, real.ts))
        if fault.kind == "nan":
            c[-1] = float("nan")
        elif fault.kind == "high_low":
            h[-1], lo[-1] = lo[-1] - 0.5, h[-1] + 0.5
        elif fault.kind == "non_monotonic":
            ts = np.concatenate((ts, ts[-1:] - 60))
            o, h, lo, c = (np.concatenate((a, a[-1:])) for a in (o, h, lo, c))
        self.served.append((self.clock.now(), fault.kind))
        return Bars(symbol, ts, o, h, lo, c, np.full(len(ts), 1000.0))

    def _spoil(self, q: OptionQuote, kind: str) -> OptionQuote:
        if kind == "crossed":
            return replace(q, bid=q.ask + 0.05)
        if kind == "negative":
            return replace(q, bid=-0.05)
        return replace(q, bid=float("nan"))

    def chain(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionQuote]:
        quotes = self.inner.chain(underlying, expiry, strike_min, strike_max)
        fault = self._fault(QUOTE_KINDS)
        if fault is None:
            return quotes
        self.served.append((self.clock.now(), f"chain:{fault.kind}"))
        return [self._spoil(q, fault.kind) for q in quotes]

    def quotes(self, symbols: Sequence[str]) -> dict[str, OptionQuote]:
        quotes = self.inner.quotes(symbols)
        fault = self._fault(QUOTE_KINDS)
        if fault is None:
            return quotes
        self.served.append((self.clock.now(), f"quotes:{fault.kind}"))
        return {s: self._spoil(q, fault.kind) for s, q in quotes.items()}


def _take(b: Bars, sl: slice) -> Bars:
    return Bars(b.symbol, b.ts[sl], b.open[sl], b.high[sl], b.low[sl], b.close[sl], b.volume[sl])


# --- one run ---------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    cfg: Config
    market: SimMarket
    data: FaultyMarketData
    records: list[dict[str, Any]]
    log: str
    code: int

    @property
    def transitions(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["kind"] == "transition"]

    def moves(self, trigger: str) -> list[dict[str, Any]]:
        return [r for r in self.transitions if r["trigger"] == trigger]

    def orders(self, event: str, purpose: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records
            if r["kind"] == "order" and r["event"] == event and (purpose is None or r.get("purpose") == purpose)
        ]


def ts(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["ts"])


SESSION_CONFIG: dict[str, dict[str, Any]] = {
    "strategy": {
        "entry_start": "09:45",
        "entry_end": "11:30",
        "min_realized_vol": 0.0,
        "max_realized_vol": 10.0,
        "min_credit": 0.05,
    },
    "risk": {
        "hard_exit": "12:00",
        "max_daily_trades": 3,
        "max_daily_loss": 2000.0,
        "max_loss_per_trade": 2000.0,
        "target_daily_profit": 5000.0,
        "profit_target_pct": 0.9,
        "spread_stop_pct": 1.0,
    },
    "data": {"min_data_points": 10, "lookback_minutes": 20, "max_staleness_s": 180.0, "outage_tolerance_s": 600.0},
}


def run_session(
    base: dict[str, Any],
    logs: Path,
    faults: list[Fault],
    closes: np.ndarray | None = None,
    **sections: dict[str, Any],
) -> Run:
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    raw["logs_dir"] = str(logs)
    raw["risk"]["kill_file"] = str(logs / "KILL-not-there")
    raw["session"] = {"date": DAY.isoformat(), "days": 1}
    for section, values in [*SESSION_CONFIG.items(), *sections.items()]:
        raw[section] = {**raw.get(section, {}), **values}
    cfg = parse_config(raw, "data-fault config")
    clock = SimClock(datetime.combine(DAY, SIM_START, tzinfo=ET))
    venue = PathVenue(cfg.sim, clock, shaped_closes() if closes is None else closes)
    data = FaultyMarketData(SimMarketData(venue), clock, faults)
    runner, code = run_engine(cfg, Adapters(clock, SimBroker(venue), data, venue))
    records, problems = read_journal(logs / f"audit-{DAY:%Y%m%d}.jsonl")
    assert not problems, problems
    market = venue.market()
    assert market is not None
    log = (logs / f"engine-{DAY:%Y%m%d}.log").read_text(encoding="utf-8")
    return Run(cfg, market, data, records, log, code)


@pytest.fixture(scope="module")
def base_raw(default_raw_config: dict[str, Any]) -> dict[str, Any]:
    return default_raw_config


@pytest.fixture
def logs() -> Iterator[Path]:
    """A fresh logs directory, on a RAM disk where there is one (the journal fsyncs every record)."""
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        yield Path(tmp) / "logs"


# --- checks shared by every scenario ---------------------------------------------------------------------------------


def assert_orders_priced_from_true_quotes(run: Run) -> None:
    """Each submitted order's mid and natural, recomputed from the simulator's own quotes at that moment."""
    for r in run.orders("submit"):
        when = ts(r)
        mid = natural = 0.0
        for leg in r["legs"]:
            side, symbol = leg.split(":", 1)
            bid, ask = run.market.bid_ask(symbol, run.market.minute(when))
            sign = 1 if side == "buy" else -1
            mid += sign * (bid + ask) / 2
            natural += ask if side == "buy" else -bid
        assert all(math.isfinite(r[k]) for k in ("limit_price", "mid", "natural")), r
        assert r["mid"] == pytest.approx(round(mid, 4), abs=1e-9), f"{r['client_order_id']} mid not from true quotes"
        assert r["natural"] == pytest.approx(round(natural, 4), abs=1e-9), f"{r['client_order_id']} natural"
        # The limit lies between the mid (rounded to the passive tick) and the natural plus the exit's extra ticks.
        tick = run.cfg.orders.tick
        extra = run.cfg.orders.exit_extra_ticks * tick if r["purpose"] == "exit" else 0.0
        assert mid - tick - 1e-9 <= r["limit_price"] <= natural + extra + tick + 1e-9, r


def assert_spots_are_real_closes(run: Run) -> None:
    """The underlying price in every snapshot is the close of a real, completed bar: never NaN, never made up."""
    session = run.market.session
    closes = {float(c) for c in run.market.bars_between(session.open, session.close, session.close).close}
    for r in run.transitions:
        spot = r["snapshot"]["underlying_price"]
        assert spot is None or spot in closes, f"{r['trigger']} at {r['ts']}: snapshot spot {spot} is no real close"


def assert_clean_day(run: Run) -> None:
    assert run.code == 0
    assert not [r for r in run.records if r["kind"] in ("refused", "error")]
    assert run.transitions[-1]["dest"] == "ShuttingDown"
    assert_orders_priced_from_true_quotes(run)
    assert_spots_are_real_closes(run)


# --- stale, outage, back ---------------------------------------------------------------------------------------------


def run_stale_scenario(base: dict[str, Any], logs: Path, fault: Fault) -> Run:
    """Calm until 09:50 (realized volatility under min_realized_vol: scanning, no entry), normal afterwards."""
    closes = shaped_closes(calm_until=at(9, 50))
    run = run_session(base, logs, [fault], closes, strategy={"min_realized_vol": 0.04})
    assert_clean_day(run)
    return run


@pytest.mark.parametrize("kind", ["drop", "freeze"])
def test_stale_bars_block_entries_then_an_outage_halts_and_data_back_resumes(base_raw, logs, kind):
    """The engine scans from 09:45 with enough bars (a calm market keeps it out: the volatility filter, which is
    checked after the data verdict). Bars stop at 09:47: from max_staleness_s on they are stale, so no entry, and
    the debug log says so; past outage_tolerance_s the engine halts with a data outage; when bars come back at 10:10
    (and the market has moved) it resumes and trades."""
    fault = Fault(kind, at(9, 47), at(10, 10))
    run = run_stale_scenario(base_raw, logs, fault)

    halt = run.moves("halt")[0]
    assert halt["source"] == "Scanning"
    assert "data outage" in halt["reason"] and "SPY bar" in halt["reason"]
    age = float(re.search(r"last SPY bar is (\d+)s old", halt["reason"])[1])
    tolerance = run.cfg.data.outage_tolerance_s
    assert tolerance < age <= tolerance + run.cfg.poll.scanning, "the halt came later than one poll past the tolerance"
    assert ts(halt) > fault.start + timedelta(seconds=tolerance - 60)

    # While stale (and then halted) nothing was signalled or sent; the log says why.
    resume = run.moves("resume")[0]
    assert resume["source"] == "Halted" and "data outage" in resume["reason"]
    assert fault.end <= ts(resume) <= fault.end + timedelta(seconds=run.cfg.poll.halted + 60)
    assert not [r for r in run.moves("signal") if ts(r) < ts(resume)]
    assert not [r for r in run.orders("submit") if ts(r) < ts(resume)]
    assert "no entry: volatility filter" in run.log, "the scenario needs the engine scanning before the fault"
    assert "no entry: stale data: last SPY bar is" in run.log

    # Trading continues: the first signal after the resume fills.
    signal = run.moves("signal")[0]
    filled = run.moves("filled")[0]
    assert ts(resume) <= ts(signal) <= ts(filled)
    if kind == "freeze":
        assert run.data.served, "the frozen bar was never served"


@pytest.mark.parametrize("exit_kind", ["stop", "target", "time"])
def test_an_open_condor_is_still_exited_from_broker_marks_while_bars_are_missing(base_raw, logs, exit_kind):
    """A condor is open when the bars stop. Past the outage tolerance the engine halts (data outage) but keeps
    managing the condor from the broker's quotes: it is still closed on its spread stop (a short condor in a rally
    the quotes show), on its profit target (a long condor in that rally) or at the hard exit (then the day ends).
    Nothing new is entered until the data is back; then it resumes and trades."""
    fault = Fault("drop", at(9, 50), at(10, 40))
    rally = shaped_closes(at(9, 55), at(10, 15), per_minute=0.0012)
    sections: dict[str, dict[str, Any]] = {}
    if exit_kind == "stop":
        closes = rally
    elif exit_kind == "target":
        closes = rally
        sections = {"strategy": {"direction": "long"}, "risk": {"profit_target_pct": 0.3}}
    else:
        closes = shaped_closes()
        sections = {"strategy": {"entry_end": "09:50"}, "risk": {"hard_exit": "10:15"}}
    run = run_session(base_raw, logs, [fault], closes, **sections)
    assert_clean_day(run)

    filled = run.moves("filled")[0]
    assert ts(filled) < fault.start, "the condor was not open when the bars stopped"
    exits = [r for r in run.orders("fill", "exit")]
    assert exits, "the condor was never closed"
    first_exit = ts(exits[0])
    assert fault.start + timedelta(seconds=run.cfg.data.max_staleness_s) < first_exit < fault.end
    halt = next(r for r in run.moves("halt") if "data outage" in r["reason"])
    # the tolerance runs from the end of the last bar served (it began before the window): up to 2 minutes earlier
    tolerance = timedelta(seconds=run.cfg.data.outage_tolerance_s)
    assert fault.start + tolerance - timedelta(minutes=2) <= ts(halt) < fault.end
    reason = {"stop": "spread stop", "target": "profit target", "time": "time exit"}[exit_kind]
    assert f"exit trade 1: {reason}" in run.log
    if exit_kind in ("stop", "target"):
        # Nothing new is tried while the bars are missing; once they are back, the engine resumes and trades.
        resume = run.moves("resume")[0]
        assert ts(resume) >= fault.end
        assert not [r for r in run.moves("signal") if ts(halt) < ts(r) < ts(resume)]
        assert [r for r in run.moves("filled") if ts(r) > ts(resume)], "no trade after the data came back"
    else:
        last = run.transitions[-1]
        assert (last["source"], last["trigger"]) == ("Halted", "session_end")
    # No price was made up for the missing minutes: the spot stayed a real close from before the gap.
    during = [r for r in run.transitions if fault.start + timedelta(minutes=1) < ts(r) < fault.end]
    spots = {r["snapshot"]["underlying_price"] for r in during}
    assert during and len(spots) == 1, spots
    assert spots.pop() in {float(c) for c in closes[: minute_of(fault.start)]}


# --- malformed bars --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nan", "high_low", "non_monotonic"])
def test_malformed_bars_are_refused_never_traded_on(base_raw, logs, kind):
    """From 09:47 to 10:10 every batch of bars carries one malformed bar. The batch is refused whole, so the window
    stops moving: stale (no signal, no order), then a data outage halt whose age shows no bad bar was taken in; no
    snapshot carries a price from a malformed bar. Good bars again: resume and trade.

    The log shows the consequence ("stale data"), not the refusal's own reason: BarWindow keeps it in `last_error`,
    which reaches no log line or journal record once the window holds bars (reported as an engine finding)."""
    fault = Fault(kind, at(9, 47), at(10, 10))
    run = run_stale_scenario(base_raw, logs, fault)
    assert run.data.served, "no malformed bar was served"

    assert not [r for r in run.moves("signal") if fault.start <= ts(r) < fault.end]
    assert not [r for r in run.orders("submit") if fault.start <= ts(r) < fault.end]
    assert "data outage" in run.moves("halt")[0]["reason"]
    assert run.moves("resume") and run.moves("filled"), "trading did not continue after the bars were good again"
    assert "no entry: stale data: last SPY bar is" in run.log


# --- malformed quotes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", QUOTE_KINDS)
def test_malformed_chain_quotes_give_no_plan_and_no_order(base_raw, logs, kind):
    """Every quote of the chain and of the legs is malformed from 09:40 to 10:10: no plan is made from them (the
    reason is logged), no order goes out; the first order after the window is priced from the true quotes."""
    fault = Fault(kind, at(9, 40), at(10, 10))
    run = run_session(base_raw, logs, [fault])
    assert_clean_day(run)
    assert any(what.startswith("chain:") for _, what in run.data.served)

    assert not [r for r in run.moves("signal") if ts(r) < fault.end]
    assert not [r for r in run.orders("submit") if ts(r) < fault.end]
    assert "no entry: malformed quote for SPY" in run.log
    first = run.orders("submit")[0]
    assert ts(first) >= fault.end


@pytest.mark.parametrize("kind", QUOTE_KINDS)
def test_malformed_quotes_while_an_entry_is_worked_send_nothing(base_raw, logs, kind):
    """The chain is fine at 09:45 (a plan is made) but the legs' quotes turn malformed just after the first send:
    no further attempt is priced or sent while they are bad, and the send failure is logged with its reason."""
    fault = Fault(kind, at(9, 45, 5), at(9, 47))
    run = run_session(base_raw, logs, [fault])
    assert_clean_day(run)
    assert any(what.startswith("quotes:") for _, what in run.data.served)

    assert run.moves("signal")[0]["ts"] == at(9, 45).isoformat()
    assert not [r for r in run.orders("submit") if fault.start <= ts(r) < fault.end]
    assert "send failed (malformed quote for SPY" in run.log
    assert [r for r in run.orders("submit") if ts(r) >= fault.end], "the entry was not worked again afterwards"


@pytest.mark.parametrize("kind", QUOTE_KINDS)
def test_malformed_marks_of_an_open_condor_halt_without_guessing_then_exit_on_good_quotes(base_raw, logs, kind):
    """With a condor open, its legs' quotes turn malformed for 10 minutes: the exit rules cannot be evaluated, so
    the engine neither exits nor marks from them; past broker_outage_tolerance_s it halts (resumable, no flatten
    at prices it cannot trust); once the quotes are good it manages the condor again from them (still Halted while
    it is open) and closes it at the hard exit."""
    fault = Fault(kind, at(9, 55), at(10, 5))
    run = run_session(base_raw, logs, [fault], risk={"hard_exit": "10:30"}, strategy={"entry_end": "10:00"})
    assert_clean_day(run)
    filled = run.moves("filled")[0]
    assert ts(filled) < fault.start

    assert not [r for r in run.orders("submit") if fault.start <= ts(r) < fault.end]
    halt = run.moves("halt")[0]
    assert halt["source"] == "Monitoring"
    assert "outage" in halt["reason"] and "malformed quote" in halt["reason"]
    tolerance = timedelta(seconds=run.cfg.risk.broker_outage_tolerance_s)
    assert fault.start + tolerance < ts(halt) < fault.end
    assert "transient failure" in run.log and "malformed quote for SPY" in run.log
    exits = run.orders("fill", "exit")
    assert exits and ts(exits[0]) >= fault.end
    assert run.transitions[-1]["trigger"] == "session_end"


@pytest.mark.parametrize(("kind", "start", "end"), [("nan", (9, 47), (10, 10)), ("nan_quote", (9, 55), (10, 5))])
def test_a_day_with_nan_in_its_data_replays_identically(base_raw, logs, kind, start, end):
    """JSON has no NaN: the recording tags it, so replay hands the engine the same malformed value it refused
    live (written as null, the value would come back as a missing field and the day would replay differently)."""
    run = run_session(base_raw, logs, [Fault(kind, at(*start), at(*end))])
    assert run.data.served, "no malformed value was served"
    assert '{"$f":"nan"}' in (logs / f"audit-{DAY:%Y%m%d}.jsonl").read_text(encoding="utf-8")
    [verdict] = verify(logs / f"audit-{DAY:%Y%m%d}.jsonl")
    assert verdict.identical, verdict.message


def test_faulty_market_data_wrapper_is_transparent_outside_its_windows(base_raw, logs):
    """The harness itself: with a fault window that never opens, the run is the plain simulated run."""
    run = run_session(base_raw, logs, [Fault("drop", at(16, 0), at(16, 1))])
    assert_clean_day(run)
    assert run.data.served == []
    assert run.moves("filled")
    assert time(9, 45) <= ts(run.moves("signal")[0]).time() < time(9, 46)
