"""One session's simulated 0DTE option market on top of the underlying's minute bars.

Every quote of the day is priced up front in one vectorized Black–Scholes call (minutes x contracts),
so a quote request during the run is an array lookup: the engine polls thousands of times a day and
a simulated day has to run in a fraction of a second.

Quoting rule (SPY-like penny market): width = clip(0.01 + 0.02 * theo, 0.01, 0.15) rounded to the cent,
bid = max(0, floor_to_cent(theo - width/2)), ask = max(bid + 0.01, ceil_to_cent(theo + width/2)).
Far wings therefore show 0.00 x 0.01 like the real chain, and the spread widens with premium.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from engine.config import SimConfig
from engine.errors import DataError
from engine.models import Bars, OptionContract, OptionQuote, Right, Session
from engine.occ import occ_symbol
from engine.pricing import black_scholes, smile_iv, years_to_expiry

MAX_WIDTH_CENTS = 15
_EPS_CENTS = 1e-9
"""Keeps a theo that lands on a cent boundary up to float noise from being pushed a whole tick out."""


def quote_cents(theo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bid, ask) in integer cents for theoretical prices in dollars, by the rule in the module docstring."""
    theo_c = theo * 100.0
    width = np.round(np.clip(1.0 + 2.0 * theo, 1.0, MAX_WIDTH_CENTS))
    bid = np.maximum(np.floor(theo_c - width / 2.0 + _EPS_CENTS), 0.0)
    ask = np.maximum(bid + 1.0, np.ceil(theo_c + width / 2.0 - _EPS_CENTS))
    return bid, ask


class SimMarket:
    """The underlying and its 0DTE chain for one session; all times in, quotes of the minute out."""

    def __init__(self, bars: Bars, cfg: SimConfig, session: Session, underlying: str) -> None:
        self.session = session
        self.underlying = underlying
        self.open_s = int(session.open.timestamp())
        self.close_s = int(session.close.timestamp())
        self.minutes = (self.close_s - self.open_s) // 60
        self._ts = _frozen(bars.ts.astype(np.int64))
        self._bars = Bars(
            underlying,
            self._ts,
            _frozen(bars.open),
            _frozen(bars.high),
            _frozen(bars.low),
            _frozen(bars.close),
            _frozen(bars.volume),
        )
        first = int(np.searchsorted(self._ts, self.open_s, "left"))
        if first >= len(self._ts) or self._ts[first] >= self.close_s:
            raise DataError(f"no {underlying} bars in the regular session of {session.day.isoformat()}")
        self._first_open = float(bars.open[first])

        center = math.floor(self._first_open + 0.5)
        strikes = np.arange(center - cfg.chain_width, center + cfg.chain_width + 1, dtype=float)
        self._strikes = strikes[strikes > 0]
        # Strike-major columns (call, put per strike) so a strike range is one contiguous slice.
        self._col_strike = np.repeat(self._strikes, 2)
        self._col_call = np.tile([True, False], len(self._strikes))
        self._contracts = [
            OptionContract(occ_symbol(underlying, session.day, right, k), underlying, session.day, float(k), right)
            for k in self._strikes
            for right in (Right.CALL, Right.PUT)
        ]
        self._symbols = [c.symbol for c in self._contracts]
        self._by_symbol = {c.symbol: (i, c) for i, c in enumerate(self._contracts)}

        starts = self.open_s + 60 * np.arange(self.minutes, dtype=np.int64)
        self._minute_dt = [session.open + timedelta(minutes=m) for m in range(self.minutes)]
        self._spot = _frozen(self._spots_at(starts))
        spot = self._spot[:, None]
        strike = self._col_strike[None, :]
        t = years_to_expiry(self.close_s - starts)[:, None]
        iv = smile_iv(cfg.implied_vol, spot, strike, t, cfg.smile_skew, cfg.smile_curvature)
        theo, delta = black_scholes(spot, strike, t, iv, cfg.rate, self._col_call[None, :])
        bid_c, ask_c = quote_cents(theo)
        self._bid = _frozen(bid_c / 100.0)
        self._ask = _frozen(ask_c / 100.0)
        # Published to 4 decimals, as quote feeds (Alpaca's among them) publish greeks.
        self._iv = _frozen(np.round(iv, 4))
        self._delta = _frozen(np.round(delta, 4))
        self.quotes_priced = int(theo.size)

    def _spots_at(self, starts: np.ndarray) -> np.ndarray:
        """Close of the last bar completed by each minute start; the first regular open at the bell."""
        idx = np.searchsorted(self._ts, starts - 60, "right") - 1
        spot = np.where(idx >= 0, self._bars.close[np.maximum(idx, 0)], self._first_open)
        spot[0] = self._first_open
        return spot

    def contracts(self) -> list[OptionContract]:
        """Every listed contract, strike-major (call then put at each strike)."""
        return list(self._contracts)

    def contract(self, symbol: str) -> OptionContract | None:
        """The listed contract of that symbol, or None when this session does not list it."""
        found = self._by_symbol.get(symbol)
        return found[1] if found else None

    def minute(self, t: datetime) -> int:
        """Index of the regular-session minute containing t; DataError outside the session."""
        m = (t.timestamp() - self.open_s) // 60
        if not 0 <= m < self.minutes:
            raise DataError(f"market closed at {t.isoformat()} (session {self.session.day.isoformat()})")
        return int(m)

    def minute_start(self, m: int) -> datetime:
        return self._minute_dt[m]

    def spot(self, t: datetime) -> float:
        """The underlying price the quotes of t were made from; outside the session, the last completed close."""
        e = t.timestamp()
        m = (e - self.open_s) // 60
        if 0 <= m < self.minutes:
            return float(self._spot[int(m)])
        idx = int(np.searchsorted(self._ts, math.floor(e) - 60, "right")) - 1
        return float(self._bars.close[idx]) if idx >= 0 else self._first_open

    def settlement_price(self) -> float:
        """Spot at the close: what cash-settled options pay against."""
        return self.spot(self.session.close)

    def bars_between(self, start: datetime, end: datetime, now: datetime) -> Bars:
        """Bars with start <= bar start < end that are complete at `now` (bar start + 60 s <= now)."""
        lo = int(np.searchsorted(self._ts, math.ceil(start.timestamp()), "left"))
        hi = min(
            int(np.searchsorted(self._ts, math.ceil(end.timestamp()), "left")),
            int(np.searchsorted(self._ts, math.floor(now.timestamp()) - 60, "right")),
        )
        b = self._bars
        if hi <= lo:
            return Bars.empty(self.underlying)
        return Bars(
            self.underlying, b.ts[lo:hi], b.open[lo:hi], b.high[lo:hi], b.low[lo:hi], b.close[lo:hi], b.volume[lo:hi]
        )

    def bid_ask(self, symbol: str, m: int) -> tuple[float, float]:
        """Raw (bid, ask) of a listed symbol at minute m: the exchange's matching path, no object built."""
        c = self._by_symbol[symbol][0]
        return float(self._bid[m, c]), float(self._ask[m, c])

    def quote(self, symbol: str, t: datetime) -> OptionQuote:
        found = self._by_symbol.get(symbol)
        if found is None:
            raise DataError(f"unknown option symbol {symbol} (not listed on {self.session.day.isoformat()})")
        m, c = self.minute(t), found[0]
        return OptionQuote(
            symbol,
            float(self._bid[m, c]),
            float(self._ask[m, c]),
            self._minute_dt[m],
            float(self._iv[m, c]),
            float(self._delta[m, c]),
        )

    def chain(self, t: datetime, strike_min: float, strike_max: float) -> list[OptionQuote]:
        """Quotes of every contract with strike_min <= strike <= strike_max, calls and puts."""
        m = self.minute(t)
        lo = 2 * int(np.searchsorted(self._strikes, strike_min, "left"))
        hi = 2 * int(np.searchsorted(self._strikes, strike_max, "right"))
        ts = self._minute_dt[m]
        return [
            OptionQuote(s, b, a, ts, v, d)
            for s, b, a, v, d in zip(
                self._symbols[lo:hi],
                self._bid[m, lo:hi].tolist(),
                self._ask[m, lo:hi].tolist(),
                self._iv[m, lo:hi].tolist(),
                self._delta[m, lo:hi].tolist(),
                strict=True,
            )
        ]


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy: bars and quotes handed out as views cannot be changed behind the market's back."""
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out
