"""One real day of option quotes laid out for comparing a model with it: the quotes of one expiry minute by
minute, the underlying's path under them, and the time left to that expiry in both clocks.

`calibrate` fits the model to such a day and `fidelity` measures the model against one; both see the
quotes exactly as the simulator's real-quote market shows them (engine/sim/lean.py), and the same spot rule.
Time to an expiry after today counts the trading hours of every session up to the expiry's close, so a
1DTE chain calibrates the same model that prices 0DTE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from engine.models import Bars, Session
from engine.pricing import CALENDAR_SECONDS_PER_YEAR, TRADING_SECONDS_PER_YEAR
from engine.sim import lean
from engine.sim.errors import SimDataError
from engine.sim.market import first_regular_open, shown_sides, spots_at
from engine.sim.params import NEW_YORK as ET
from engine.sim.params import Calendar

INDEX_OF_ROOT = {"SPXW": "SPX", "NDXP": "NDX"}
"""Option roots that differ from their underlying's ticker; every other root is its underlying's."""


@dataclass(frozen=True)
class RealDay:
    source: Path
    day: date
    expiry: date
    root: str
    starts: np.ndarray
    """Epoch seconds of each minute's start (the window's minutes only)."""
    hours: np.ndarray
    spot: np.ndarray
    strikes: np.ndarray
    col_strike: np.ndarray
    is_call: np.ndarray
    listed: np.ndarray
    bid: np.ndarray
    """(minute, column); an empty bid is 0.00, as the market shows it."""
    ask: np.ndarray
    """NaN where nobody offers."""
    t_trading: np.ndarray
    t_calendar: np.ndarray
    closes_years: list[np.ndarray]
    minutes_to_close: np.ndarray

    @property
    def quoted(self) -> np.ndarray:
        """(minute, column) mask of tradable quotes: listed and offered."""
        return self.listed[None, :] & np.isfinite(self.ask)

    @property
    def two_sided(self) -> np.ndarray:
        return self.quoted & (self.bid > 0)


def load_real_day(
    source: Path,
    calendar: Calendar,
    bars_path: Path | None = None,
    expiry: date | None = None,
    start: time | None = None,
    until: time | None = None,
) -> RealDay:
    """The source's quotes of `expiry` (default: its nearest) in the window [start, until) of its day."""
    cal = calendar
    qf = lean.read_option_quotes(source)
    session = cal.session(qf.day)
    if session is None:
        raise SimDataError(f"{source}: {qf.day.isoformat()} is not a trading session")
    expiries = [e for e in qf.expiries() if e >= qf.day]
    if expiry is None:
        if not expiries:
            raise SimDataError(f"{source}: no expiry on or after {qf.day.isoformat()}")
        expiry = expiries[0]
    elif expiry not in expiries:
        raise SimDataError(f"{source}: holds no contracts expiring {expiry.isoformat()}")
    ticker = INDEX_OF_ROOT.get(qf.root, qf.root)
    if bars_path is None:
        bars_path = lean.underlying_bars_path(source, ticker)
        if bars_path is None:
            raise SimDataError(f"{source}: no {ticker} minute bars beside it; give them with --bars")
    bars = lean.underlying_bars(bars_path) if bars_path.suffix == ".zip" else _csv(bars_path, ticker, qf.day)

    open_s, close_s = int(session.open.timestamp()), int(session.close.timestamp())
    grid = qf.grid(open_s, (close_s - open_s) // 60, expiry)
    return build_real_day(
        source, session, expiry, qf.root, grid.strikes, grid.listed, grid.bid, grid.ask, bars, cal, start, until
    )


def build_real_day(
    source: Path,
    session: Session,
    expiry: date,
    root: str,
    strikes: np.ndarray,
    listed: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    bars: Bars,
    calendar: Calendar,
    start: time | None = None,
    until: time | None = None,
) -> RealDay:
    """A RealDay from a whole session's (minute, column) quotes, strike-major call/put columns; a NaN bid with
    an ask is an empty bid (0.00)."""
    cal = calendar
    open_s, close_s = int(session.open.timestamp()), int(session.close.timestamp())
    minutes = (close_s - open_s) // 60
    all_starts = open_s + 60 * np.arange(minutes, dtype=np.int64)
    spot = spots_at(bars, first_regular_open(bars, session), all_starts)
    lo = 0 if start is None else max(0, _minute_index(session, start))
    hi = minutes if until is None else min(minutes, _minute_index(session, until))
    if hi <= lo:
        raise SimDataError(f"{source}: the window {start}-{until} holds no minute of the session")
    window = slice(lo, hi)
    starts = all_starts[window]
    later = _sessions_through(cal, session, expiry)
    trading_s = (close_s - starts) + sum(int(s.close.timestamp()) - int(s.open.timestamp()) for s in later)
    expiry_close = int(later[-1].close.timestamp()) if later else close_s
    # Each later close is reached after today's remaining time plus the sessions before it, in trading time.
    cumulative = close_s - starts
    closes_years = [cumulative / TRADING_SECONDS_PER_YEAR]
    for s in later:
        cumulative = cumulative + (int(s.close.timestamp()) - int(s.open.timestamp()))
        closes_years.append(cumulative / TRADING_SECONDS_PER_YEAR)
    shown_bid, shown_ask = shown_sides(bid[window], ask[window])
    return RealDay(
        source=source,
        day=session.day,
        expiry=expiry,
        root=root,
        starts=starts,
        hours=np.array([datetime.fromtimestamp(int(s), ET).hour for s in starts]),
        spot=spot[window],
        strikes=strikes,
        col_strike=np.repeat(strikes, 2),
        is_call=np.tile([True, False], len(strikes)),
        listed=listed,
        bid=shown_bid,
        ask=shown_ask,
        t_trading=trading_s.astype(float) / TRADING_SECONDS_PER_YEAR,
        t_calendar=(expiry_close - starts).astype(float) / CALENDAR_SECONDS_PER_YEAR,
        closes_years=closes_years,
        minutes_to_close=(close_s - starts) / 60.0,
    )


def _minute_index(session: Session, t: time) -> int:
    at = datetime.combine(session.day, t, tzinfo=ET)
    return int((at - session.open).total_seconds() // 60)


def _sessions_through(cal: Calendar, session: Session, expiry: date) -> list[Session]:
    """The sessions after `session` up to and including the expiry's."""
    out: list[Session] = []
    d = session.day
    while d < expiry:
        d += timedelta(days=1)
        found = cal.session(d)
        if found is not None:
            out.append(found)
    if expiry > session.day and (not out or out[-1].day != expiry):
        raise SimDataError(f"expiry {expiry.isoformat()} is not a trading session")
    return out


def _csv(path: Path, ticker: str, day: date) -> Bars:
    from engine.sim.underlying import csv_bars

    return csv_bars(path, ticker, day)
