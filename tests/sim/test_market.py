"""The simulated 0DTE chain: listing, quotes, spot, bars and market hours."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.calendar import ExchangeCalendar
from engine.config import SimConfig
from engine.models import Bars, Right, Session
from engine.occ import parse_occ
from engine.pricing import black_scholes
from engine.sim.errors import SimDataError
from engine.sim.market import SimMarket
from engine.sim.underlying import csv_bars, random_walk_bars

ET = ZoneInfo("America/New_York")
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SPY_CSV = SHARED / "data" / "other" / "pratikdkale_rl_trade_execution" / "data" / "SPY_1min.csv"


def at(hh: int, mm: int, ss: int = 0, day: date = date(2025, 7, 1)) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ET)


@pytest.fixture
def walk(session: Session) -> Bars:
    return random_walk_bars("SPY", session, 600.3, 0.14, seed=11)


@pytest.fixture
def market(walk: Bars, cfg: SimConfig, session: Session) -> SimMarket:
    return SimMarket(walk, cfg, session, "SPY")


def _on_ticks(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x * 100 - np.round(x * 100)) < 1e-9))


def test_lists_a_0dte_chain_around_the_open(market: SimMarket, cfg: SimConfig) -> None:
    contracts = market.contracts()
    strikes = sorted({c.strike for c in contracts})
    assert strikes == [float(k) for k in range(600 - cfg.chain_width, 600 + cfg.chain_width + 1)]
    assert len(contracts) == 2 * len(strikes)
    for c in contracts:
        assert parse_occ(c.symbol) == c
        assert c.expiry == date(2025, 7, 1) and c.underlying == "SPY"
    assert {c.right for c in contracts} == {Right.CALL, Right.PUT}


def test_a_strike_is_priced_the_first_time_it_is_asked_for_and_priced_alike_either_way(
    walk: Bars, cfg: SimConfig, session: Session
) -> None:
    """Listing costs nothing; a quote prices its strike (call and put, every minute) once; a strike priced alone
    quotes exactly as when the whole chain is priced together."""
    lazy, eager = SimMarket(walk, cfg, session, "SPY"), SimMarket(walk, cfg, session, "SPY")
    assert lazy.quotes_priced == 0
    put = next(c.symbol for c in lazy.contracts() if c.strike == 597.0 and c.right is Right.PUT)
    first = lazy.quote(put, at(11, 17))
    assert lazy.quotes_priced == 390 * 2
    lazy.quote(put, at(14, 2))
    lazy.mark(put, 100)
    assert lazy.quotes_priced == 390 * 2
    everything = eager.chain(at(11, 17), 0, 10_000)
    assert eager.quotes_priced == 390 * len(eager.contracts())
    assert first == next(q for q in everything if q.symbol == put)
    around = lazy.chain(at(11, 17), 595.0, 599.0)
    assert lazy.quotes_priced == 390 * 2 * 5
    assert around == [q for q in everything if 595.0 <= parse_occ(q.symbol).strike <= 599.0]
    assert all(lazy.mark(c.symbol, m) == eager.mark(c.symbol, m) for c in lazy.contracts() for m in (0, 389))


def test_quotes_are_penny_markets_monotone_in_strike(market: SimMarket) -> None:
    for t in (at(9, 30), at(11, 17, 40), at(15, 59, 59)):
        quotes = market.chain(t, 0, 10_000)
        calls = [q for q in quotes if q.symbol[9] == "C"]
        puts = [q for q in quotes if q.symbol[9] == "P"]
        bid, ask = np.array([q.bid for q in quotes]), np.array([q.ask for q in quotes])
        assert (bid >= 0).all() and (ask >= bid + 0.01 - 1e-12).all()
        assert _on_ticks(bid) and _on_ticks(ask)
        assert (np.diff([q.ask for q in calls]) <= 0).all() and (np.diff([q.bid for q in calls]) <= 0).all()
        assert (np.diff([q.ask for q in puts]) >= 0).all() and (np.diff([q.bid for q in puts]) >= 0).all()
        assert all(0 <= q.delta <= 1 for q in calls) and all(-1 <= q.delta <= 0 for q in puts)


def test_quotes_bracket_the_documented_model_of_the_last_minute_close(
    market: SimMarket, walk: Bars, cfg: SimConfig
) -> None:
    """The model as engine/sim/model.py's docstring writes it, computed here from the config's numbers."""
    t = at(10, 0, 30)
    spot = walk.close[29]  # the 09:59 bar is the last one completed at 10:00:30
    T = (6 * 3600) / (252 * 6.5 * 3600)
    tau = cfg.late_minutes * 60 / (252 * 6.5 * 3600)
    sigma = cfg.implied_vol * math.sqrt((T + cfg.late_rise * tau * (1 - math.exp(-T / tau))) / T)
    for q in market.chain(t, 590, 610):
        c = parse_occ(q.symbol)
        z = max(-4.0, min(4.0, math.log(c.strike / (spot * math.exp(cfg.rate * T))) / (sigma * math.sqrt(T))))
        iv = sigma * (1 + cfg.smile_skew_z * z + cfg.smile_curvature_z * z * z)
        theo, delta = black_scholes(spot, c.strike, T, iv, cfg.rate, c.right is Right.CALL)
        assert q.bid <= float(theo) <= q.ask
        # Published in Alpaca's convention: the same total variance over calendar time (6 h of a 365-day year).
        calendar_iv = iv * math.sqrt(T / (6 / (365 * 24)))
        assert q.iv == pytest.approx(calendar_iv, abs=5e-5) and q.delta == pytest.approx(float(delta), abs=5e-5)
        width = min(max(cfg.spread_base + cfg.spread_per_premium * float(theo), 0.01), cfg.spread_max)
        assert q.ask - q.bid <= round(width, 2) + 0.02 + 1e-9
        assert q.ts == at(10, 0)


def test_the_smile_steepens_into_expiry(session: Session) -> None:
    """Fixed in standardized moneyness, the skew in ln(K/S) grows as expiry nears: the put wing's IV premium
    over the call wing's at the same distance is larger at 15:00 than at 10:00."""
    flat = SimConfig(smile_skew_z=-0.1, smile_curvature_z=0.0, late_rise=0.0)
    bars = random_walk_bars("SPY", session, 600.0, 1e-9, seed=1)  # a flat path: spot 600 all day
    mk = SimMarket(bars, flat, session, "SPY")

    def skew(t: datetime) -> float:
        put, call = mk.quote("SPY250701P00597000", t), mk.quote("SPY250701C00603000", t)
        return put.iv - call.iv

    assert skew(at(15, 0)) > 2 * skew(at(10, 0)) > 0


def test_late_day_variance_raises_atm_iv_into_the_close(session: Session) -> None:
    bars = random_walk_bars("SPY", session, 600.0, 1e-9, seed=1)
    flat, late = SimConfig(late_rise=0.0), SimConfig(late_rise=2.0, late_minutes=10.0)
    atm = "SPY250701C00600000"

    def iv(c: SimConfig, t: datetime) -> float:
        q = SimMarket(bars, c, session, "SPY").quote(atm, t)
        assert q is not None and q.iv is not None
        return q.iv

    assert iv(late, at(10, 0)) == pytest.approx(iv(flat, at(10, 0)), rel=0.03)
    assert iv(late, at(15, 55)) > 1.3 * iv(flat, at(15, 55))


def test_wide_wings_quote_zero_bid(market: SimMarket) -> None:
    far_put = market.chain(at(12, 0), 560, 560)[1]
    assert (far_put.bid, far_put.ask) == (0.0, 0.01)


def test_quotes_move_from_minute_to_minute(market: SimMarket) -> None:
    sym = "SPY250701C00600000"
    seen = {market.quote(sym, at(10, m)).ask for m in range(10)}
    assert len(seen) > 3
    assert market.quote(sym, at(10, 1, 5)) == market.quote(sym, at(10, 1, 59))


def test_closed_outside_regular_hours(market: SimMarket) -> None:
    sym = "SPY250701P00600000"
    for t in (at(9, 29, 59), at(16, 0), at(20, 0)):
        with pytest.raises(SimDataError, match="market closed"):
            market.quote(sym, t)
        with pytest.raises(SimDataError, match="market closed"):
            market.chain(t, 590, 610)
    with pytest.raises(SimDataError, match="unknown option symbol"):
        market.quote("SPY250702P00600000", at(10, 0))


def test_spot_and_settlement(market: SimMarket, walk: Bars) -> None:
    assert market.spot(at(9, 30)) == walk.open[0]
    assert market.spot(at(9, 30, 59)) == walk.open[0]
    assert market.spot(at(9, 31)) == walk.close[0]
    assert market.spot(at(12, 0, 30)) == walk.close[149]
    assert market.settlement_price() == walk.close[-1]
    assert market.spot(at(17, 0)) == walk.close[-1]
    assert market.spot(at(8, 0)) == walk.open[0]


def test_bars_between_returns_completed_bars_only(market: SimMarket, walk: Bars) -> None:
    bars = market.bars_between(at(9, 0), at(11, 0), now=at(10, 0, 30))
    assert len(bars) == 30 and bars.ts[-1] == int(at(9, 59).timestamp())
    assert np.array_equal(bars.close, walk.close[:30])
    assert len(market.bars_between(at(9, 0), at(11, 0), now=at(10, 0))) == 30
    assert len(market.bars_between(at(9, 0), at(11, 0), now=at(9, 59, 59))) == 29
    window = market.bars_between(at(9, 45), at(9, 50), now=at(12, 0))
    assert window.ts.tolist() == [int(at(9, m).timestamp()) for m in range(45, 50)]
    assert len(market.bars_between(at(9, 0), at(11, 0), now=at(9, 30, 30))) == 0
    with pytest.raises(ValueError):
        bars.close[0] = 1.0  # handed-out bars are read-only views of the market's own


def test_early_close_expires_at_one(calendar: ExchangeCalendar, cfg: SimConfig) -> None:
    day = date(2025, 11, 28)
    s = calendar.session(day)
    mk = SimMarket(random_walk_bars("SPY", s, 600.0, 0.14, 7), cfg, s, "SPY")
    assert mk.minutes == 210
    assert all(c.expiry == day for c in mk.contracts())
    assert len(mk.chain(at(12, 59, 59, day), 595, 605)) == 22
    assert mk.quotes_priced == 210 * 22
    with pytest.raises(SimDataError, match="market closed"):
        mk.chain(at(13, 0, 0, day), 595, 605)


def test_price_path_moves_the_quotes(
    flat_market: Callable[..., SimMarket], session: Session, bars_from: Callable[..., Bars], cfg: SimConfig
) -> None:
    closes = np.full(390, 600.0)
    closes[59:] = 605.0  # the 10:29 bar closes at 605
    mk = SimMarket(bars_from(session, closes, 600.0), cfg, session, "SPY")
    before, after = mk.quote("SPY250701C00600000", at(10, 29)), mk.quote("SPY250701C00600000", at(10, 30))
    # a 5-point jump moves the ATM call by more than half (delta 0.5 rising to 0.8) and less than all of it
    assert before.ask + 2.5 < after.bid < after.ask < before.bid + 5.0
    flat = flat_market()
    assert flat.quote("SPY250701C00600000", at(10, 30)).ask < after.bid


@pytest.mark.skipif(not SPY_CSV.is_file(), reason=f"shared SPY minute data not found at {SPY_CSV}")
def test_market_on_real_bars(session: Session, cfg: SimConfig) -> None:
    bars = csv_bars(SPY_CSV, "SPY", date(2025, 7, 1))
    mk = SimMarket(bars, cfg, session, "SPY")
    i930 = int(np.searchsorted(bars.ts, int(at(9, 30).timestamp())))
    center = math.floor(bars.open[i930] + 0.5)
    assert {c.strike for c in mk.contracts()} == set(map(float, range(center - 40, center + 41)))
    assert mk.spot(at(9, 30)) == bars.open[i930]
    assert mk.spot(at(10, 0, 10)) == bars.close[i930 + 29]
    pre = mk.bars_between(at(4, 0), at(9, 30), now=at(10, 0))
    assert len(pre) == i930  # extended-hours bars stay available
    assert mk.settlement_price() == bars.close[int(np.searchsorted(bars.ts, int(at(16, 0).timestamp()))) - 1]
    assert timedelta(seconds=int(bars.ts[i930]) - int(bars.ts[0])) == timedelta(hours=5, minutes=30)


def test_a_polls_quotes_leave_out_the_unlisted_and_are_each_symbols_quote(market: SimMarket) -> None:
    t = market.session.open + timedelta(minutes=45, seconds=25)
    listed = [c.symbol for c in market.contracts()[::17][:3]]
    unlisted = "SPY250702C00600000"
    got = market.quotes([listed[0], unlisted, *listed[1:]], t)
    assert list(got) == listed
    assert all(got[s] == market.quote(s, t) for s in listed)
    closed = market.session.close + timedelta(minutes=1)
    assert market.quotes([unlisted], closed) == {}
    with pytest.raises(SimDataError, match="market closed"):
        market.quotes([listed[0]], closed)
