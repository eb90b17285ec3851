"""One session's simulated option market on top of the underlying's minute bars.

The chain comes from one of two sources, both (minute x contract) grids, so a quote request during the run
is an array lookup (the engine polls thousands of times a day):
- the model (engine/sim/model.py): each strike's quotes of the whole day priced in one vectorized pass, the
  first time the strike is asked for;
- real quotes: a LEAN minute quote file, shown as the file shows them, never repaired or interpolated.

Conventions of both sources: an empty bid is a bid of 0.00 (nobody buys: a sale gets nothing, as a
quote screen shows it); a contract without an ask has no tradable quote that minute, so it is left
out of the chain and nothing buys it. Published IV and delta follow Alpaca's convention: calendar
time (ACT/365); the model keeps trading time inside and converts what it publishes.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from engine.epoch import epoch
from engine.models import Bars, OptionContract, OptionQuote, Right, Session
from engine.occ import occ_symbol, parse_occ
from engine.pricing import (
    black_scholes,
    calendar_years,
    implied_vol,
    intrinsic,
    trading_to_calendar_iv,
    years_to_expiry,
)
from engine.sim import model
from engine.sim.errors import SimDataError
from engine.sim.lean import QuoteGrid
from engine.sim.model import ModelParams
from engine.sim.params import Instrument, InstrumentSettings, SimSettings


@dataclass(frozen=True, slots=True)
class Chain:
    """A session's quotes, strike-major: column 2i is the call and 2i+1 the put of strikes[i].

    `ask` is NaN where there is no offer (and so no tradable quote); `iv` and `delta` NaN where unknown;
    `updated_s` is when each quote was set (epoch s), or None when every quote is of its own minute;
    `mark` is what positions are valued at: the last two-sided mid, else intrinsic value (never for fills).
    """

    strikes: np.ndarray
    listed: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    iv: np.ndarray
    delta: np.ndarray
    mark: np.ndarray
    updated_s: np.ndarray | None

    def ensure(self, lo: int, hi: int) -> None:
        """Every quote of a file (or of a recording over the model) is known up front."""


def model_params(cfg: SimSettings, inst: InstrumentSettings, atm_iv: float) -> ModelParams:
    return ModelParams(
        atm_iv=atm_iv,
        skew_z=cfg.smile_skew_z,
        curvature_z=cfg.smile_curvature_z,
        late_rise=cfg.late_rise,
        late_minutes=cfg.late_minutes,
        spread_base=cfg.spread_base,
        spread_per_premium=cfg.spread_per_premium,
        spread_max=cfg.spread_max,
        spread_late=cfg.spread_late,
        min_bid=cfg.min_bid,
        tick=inst.tick,
        tick_above_3=inst.tick_above_3,
        rate=cfg.rate,
    )


class ModelColumns:
    """The model's chain (engine/sim/model.py) along the underlying's path, priced a strike at a time when first
    asked for: a day asks for the strikes it scans (`data.strike_discovery_range` around spot) and its legs, a
    fraction of the listed width. Each strike's column over the day's minutes is priced in one vectorized pass;
    every quote is elementwise in its strike, so a strike priced alone is the strike priced with the others."""

    updated_s = None
    """Every model quote is of its own minute."""

    def __init__(self, p: ModelParams, strikes: np.ndarray, spot: np.ndarray, left_s: np.ndarray) -> None:
        self.strikes = strikes
        self.listed = np.ones(2 * len(strikes), dtype=bool)
        self._p, self._spot, self._left_s = p, spot, left_s
        self._t = years_to_expiry(left_s)
        shape = (len(left_s), 2 * len(strikes))
        self.bid, self.ask, self.iv, self.delta, self.mark = (np.full(shape, np.nan) for _ in range(5))
        self.priced = [False] * len(strikes)
        """Per strike; a list, asked at every quote, where a numpy call would cost more than the quote."""
        self.quotes_priced = 0

    def ensure(self, lo: int, hi: int) -> None:
        """Price the strikes lo..hi-1 (strike indices) not priced yet."""
        missing = [i for i in range(lo, hi) if not self.priced[i]]
        if not missing:
            return
        todo = np.array(missing)
        cols = np.stack([2 * todo, 2 * todo + 1], axis=1).ravel()
        t, left_s = self._t, self._left_s
        _, bid, ask, iv, delta = model.price_grid(
            self._p, self._spot, np.repeat(self.strikes[todo], 2), np.tile([True, False], len(todo)), t, [t],
            left_s / 60.0,
        )
        self.bid[:, cols], self.ask[:, cols] = bid, ask
        # Published to 4 decimals, as quote feeds (Alpaca's among them) publish greeks.
        self.iv[:, cols] = np.round(trading_to_calendar_iv(iv, left_s[:, None]), 4)
        self.delta[:, cols] = np.round(delta, 4)
        self.mark[:, cols] = (bid + ask) / 2.0
        for i in missing:
            self.priced[i] = True
        self.quotes_priced += int(bid.size)

    def whole(self) -> Chain:
        """Every strike priced, as an eager chain (to lay recorded quotes over)."""
        self.ensure(0, len(self.strikes))
        return Chain(self.strikes, self.listed, self.bid, self.ask, self.iv, self.delta, self.mark, None)


def model_strikes(first_open: float, step: float, width: int) -> np.ndarray:
    """`width` strikes `step` apart on each side of the strike nearest the open."""
    center = math.floor(first_open / step + 0.5) * step
    strikes = center + step * np.arange(-width, width + 1, dtype=float)
    return np.round(strikes[strikes > 0], 6)


def shown_sides(bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A file's sides as the market shows them: an empty bid with an ask is a 0.00 bid; no ask, no quote."""
    shown_bid = np.where(np.isnan(bid) & np.isfinite(ask), 0.0, bid)
    return shown_bid, np.where(np.isfinite(shown_bid), ask, np.nan)


def solve_mids(
    bid: np.ndarray,
    ask: np.ndarray,
    spot: np.ndarray,
    strike: np.ndarray,
    t: np.ndarray,
    rate: float,
    is_call: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mid, iv, delta) of each two-sided quote (a bid above 0 and an ask), NaN elsewhere, in the clock of `t`."""
    mid = np.where((bid > 0) & np.isfinite(ask), (bid + ask) / 2.0, np.nan)
    iv = implied_vol(mid, spot, strike, t, rate, is_call)
    _, delta = black_scholes(spot, strike, t, np.where(np.isfinite(iv), iv, 1.0), rate, is_call)
    return mid, iv, np.where(np.isfinite(iv), delta, np.nan)


def real_chain(grid: QuoteGrid, rate: float, spot: np.ndarray, left_s: np.ndarray) -> Chain:
    """The file's quotes as they are; IV and delta solved from each two-sided mid in calendar time."""
    bid, ask = shown_sides(grid.bid, grid.ask)
    col_strike = np.repeat(grid.strikes, 2)[None, :]
    is_call = np.tile([True, False], len(grid.strikes))[None, :]
    mid, iv, delta = solve_mids(bid, ask, spot[:, None], col_strike, calendar_years(left_s)[:, None], rate, is_call)
    return Chain(
        grid.strikes,
        grid.listed,
        bid,
        ask,
        np.round(iv, 4),
        np.round(delta, 4),
        _marks(mid, intrinsic(spot[:, None], col_strike, is_call)),
        grid.updated_s,
    )


def recorded_over(chain: Chain, shown: list[tuple[OptionQuote, OptionContract]], starts: np.ndarray) -> Chain:
    """The model's chain with each recorded quote in the minute of its own timestamp, as it was shown (a later
    one of the same minute wins); every other minute keeps the model's quote. Quote times are kept, so a
    recorded quote is as fresh in the simulator as it was to the session."""
    column = {k: i for i, k in enumerate(chain.strikes.tolist())}
    bid, ask, iv, delta = (np.array(a, dtype=float, copy=True) for a in (chain.bid, chain.ask, chain.iv, chain.delta))
    updated = np.repeat(starts[:, None], len(chain.listed), axis=1)
    open_s, minutes = int(starts[0]), len(starts)
    for q, c in sorted(shown, key=lambda qc: qc[0].ts):
        at = int(q.ts.timestamp())
        m = (at - open_s) // 60
        if not 0 <= m < minutes:
            continue
        j = 2 * column[c.strike] + (0 if c.right is Right.CALL else 1)
        bid[m, j], ask[m, j] = q.bid, q.ask if q.ask > 0 else np.nan
        iv[m, j] = np.nan if q.iv is None else q.iv
        delta[m, j] = np.nan if q.delta is None else q.delta
        updated[m, j] = at
    mark = np.where((bid > 0) & np.isfinite(ask), (bid + ask) / 2.0, chain.mark)
    return Chain(chain.strikes, chain.listed, bid, ask, iv, delta, mark, updated)


def _marks(mid: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The last two-sided mid carried forward through the minutes without one; intrinsic before the first."""
    rows = np.arange(mid.shape[0])[:, None]
    last = np.maximum.accumulate(np.where(np.isfinite(mid), rows, -1), axis=0)
    carried = np.take_along_axis(mid, np.maximum(last, 0), axis=0)
    return np.where(last >= 0, carried, floor)


def spots_at(bars: Bars, first_open: float, starts: np.ndarray) -> np.ndarray:
    """For a session's minute starts (from the open): the close of the last bar completed by each start, and
    the first regular open at the bell. The one spot rule, so a quote is always made from (and compared
    with) the underlying price known when it was shown."""
    ts = bars.ts.astype(np.int64)
    idx = np.searchsorted(ts, starts - 60, "right") - 1
    spot = np.where(idx >= 0, bars.close[np.maximum(idx, 0)], first_open)
    spot[0] = first_open
    return spot


def first_regular_open(bars: Bars, session: Session) -> float:
    """The open of the first bar inside the regular session; SimDataError when there is none."""
    ts = bars.ts.astype(np.int64)
    first = int(np.searchsorted(ts, int(session.open.timestamp()), "left"))
    if first >= len(ts) or ts[first] >= session.close.timestamp():
        raise SimDataError(f"no {bars.symbol} bars in the regular session of {session.day.isoformat()}")
    return float(bars.open[first])


class SimMarket:
    """The underlying and its 0DTE chain for one session; all times in, quotes of the minute out."""

    def __init__(
        self,
        bars: Bars,
        cfg: SimSettings,
        session: Session,
        underlying: str,
        quotes: QuoteGrid | None = None,
        instrument: InstrumentSettings | None = None,
        atm_iv: float | None = None,
        recorded: Sequence[OptionQuote] = (),
    ) -> None:
        """`atm_iv` is the model's level for this session (the venue derives it from data); None: implied_vol.
        `recorded`: quotes a session was shown (engine/journal/answers.py), each in its own minute over the model."""
        inst: InstrumentSettings = instrument or Instrument()
        self.session = session
        self.underlying = underlying
        self.settlement = inst.settlement
        self.multiplier = inst.multiplier
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
        self._first_open = first_regular_open(self._bars, session)
        self._ts_list: list[int] = self._ts.tolist()
        """The bars' starts as Python ints, for bisect: a poll's bars are found without numpy's per-call cost."""

        starts = self.open_s + 60 * np.arange(self.minutes, dtype=np.int64)
        self._minute_dt = [session.open + timedelta(minutes=m) for m in range(self.minutes)]
        self._spot = _frozen(spots_at(self._bars, self._first_open, starts))
        left_s = (self.close_s - starts).astype(float)
        root = inst.root or underlying
        chain: Chain | ModelColumns
        if quotes is None:
            params = model_params(cfg, inst, cfg.implied_vol if atm_iv is None else atm_iv)
            strikes = model_strikes(self._first_open, inst.strike_step, cfg.chain_width)
            of_today = ((q, parse_occ(q.symbol)) for q in recorded)
            shown = [(q, c) for q, c in of_today if c.expiry == session.day and c.underlying == root]
            strikes = np.union1d(strikes, [c.strike for _, c in shown])
            chain = ModelColumns(params, strikes, self._spot, left_s)
            if shown:
                chain = recorded_over(chain.whole(), shown, starts)
        else:
            chain = real_chain(quotes, cfg.rate, self._spot, left_s)
        self._chain = chain
        self._priced = chain.priced if isinstance(chain, ModelColumns) else None
        self._strikes = _frozen(chain.strikes)
        self._contracts = [
            OptionContract(occ_symbol(root, session.day, right, k), underlying, session.day, float(k), right)
            for k in self._strikes
            for right in (Right.CALL, Right.PUT)
        ]
        self._symbols = [c.symbol for c in self._contracts]
        self._by_symbol = {c.symbol: (i, c) for i, c in enumerate(self._contracts) if chain.listed[i]}
        self._bid, self._ask, self._iv, self._delta = chain.bid, chain.ask, chain.iv, chain.delta
        self._mark = chain.mark
        self._updated = chain.updated_s
        self._model = quotes is None
        self._quoted: dict[str, tuple[int, OptionQuote | None]] = {}
        """The last quote made of each symbol, with its minute: a poll asks the held legs twice a minute."""

    @property
    def quotes_priced(self) -> int:
        """Model quotes priced so far today (none for a file's quotes)."""
        chain = self._chain
        if isinstance(chain, ModelColumns):
            return chain.quotes_priced
        return int(chain.bid.size) if self._model else 0

    def _column(self, symbol: str) -> int:
        """The symbol's column, priced."""
        c = self._by_symbol[symbol][0]
        if self._priced is not None and not self._priced[c // 2]:
            self._chain.ensure(c // 2, c // 2 + 1)
        return c

    def contracts(self) -> list[OptionContract]:
        """Every listed contract, strike-major (call then put at each strike)."""
        return [c for _, c in self._by_symbol.values()]

    def contract(self, symbol: str) -> OptionContract | None:
        """The listed contract of that symbol, or None when this session does not list it."""
        found = self._by_symbol.get(symbol)
        return found[1] if found else None

    def minute(self, t: datetime) -> int:
        """Index of the regular-session minute containing t; SimDataError outside the session."""
        m = (epoch(t) - self.open_s) // 60
        if not 0 <= m < self.minutes:
            raise SimDataError(f"market closed at {t.isoformat()} (session {self.session.day.isoformat()})")
        return int(m)

    def minute_start(self, m: int) -> datetime:
        return self._minute_dt[m]

    def spot(self, t: datetime) -> float:
        """The underlying price the quotes of t were made from; outside the session, the last completed close."""
        e = epoch(t)
        m = (e - self.open_s) // 60
        if 0 <= m < self.minutes:
            return float(self._spot[int(m)])
        idx = int(np.searchsorted(self._ts, math.floor(e) - 60, "right")) - 1
        return float(self._bars.close[idx]) if idx >= 0 else self._first_open

    def settlement_price(self) -> float:
        """Spot at the close (for SPX, the 16:00 print): what options left open are worth against."""
        return self.spot(self.session.close)

    def bars_between(self, start: datetime, end: datetime, now: datetime) -> Bars:
        """Bars with start <= bar start < end that are complete at `now` (bar start + 60 s <= now)."""
        ts = self._ts_list
        lo = bisect_left(ts, math.ceil(start.timestamp()))
        hi = min(bisect_left(ts, math.ceil(epoch(end))), bisect_right(ts, math.floor(epoch(now)) - 60))
        b = self._bars
        if hi <= lo:
            return Bars.empty(self.underlying)
        return Bars(
            self.underlying, b.ts[lo:hi], b.open[lo:hi], b.high[lo:hi], b.low[lo:hi], b.close[lo:hi], b.volume[lo:hi]
        )

    def bid_ask(self, symbol: str, m: int) -> tuple[float, float]:
        """Raw (bid, ask) of a listed symbol at minute m, ask NaN when nobody offers: the exchange's matching path."""
        c = self._column(symbol)
        return float(self._bid[m, c]), float(self._ask[m, c])

    def mark(self, symbol: str, m: int) -> float:
        """What a position in the symbol is valued at in minute m (never a fill price)."""
        return float(self._mark[m, self._column(symbol)])

    def quote(self, symbol: str, t: datetime) -> OptionQuote | None:
        """The symbol's quote at t; None when it has no ask (no tradable quote); SimDataError when it is not listed.
        Asked again in the same minute, the same (immutable) quote object."""
        found = self._by_symbol.get(symbol)
        if found is None:
            raise SimDataError(f"unknown option symbol {symbol} (not listed on {self.session.day.isoformat()})")
        return self._quote_in(symbol, self.minute(t))

    def quotes(self, symbols: Sequence[str], t: datetime) -> dict[str, OptionQuote]:
        """`quote` of each listed symbol that has one, in one pass over the minute: a poll asks its held legs'."""
        out: dict[str, OptionQuote] = {}
        by_symbol = self._by_symbol
        m = -1
        for s in symbols:
            if s not in by_symbol:
                continue
            if m < 0:
                m = self.minute(t)  # outside the session only when a listed symbol is asked, as `quote` raises
            if (q := self._quote_in(s, m)) is not None:
                out[s] = q
        return out

    def _quote_in(self, symbol: str, m: int) -> OptionQuote | None:
        """A listed symbol's quote of minute m, made once."""
        made = self._quoted.get(symbol)
        if made is not None and made[0] == m:
            return made[1]
        q = self._make_quote(m, self._column(symbol), symbol)
        self._quoted[symbol] = (m, q)
        return q

    def _make_quote(self, m: int, c: int, symbol: str) -> OptionQuote | None:
        if self._updated is None:  # the model: every quote is of its minute, two-sided, with IV and delta
            return OptionQuote(
                symbol,
                float(self._bid[m, c]),
                float(self._ask[m, c]),
                self._minute_dt[m],
                float(self._iv[m, c]),
                float(self._delta[m, c]),
            )
        ask = float(self._ask[m, c])
        if ask != ask:
            return None
        return OptionQuote(
            symbol,
            float(self._bid[m, c]),
            ask,
            self._quote_time(m, c),
            _known(float(self._iv[m, c])),
            _known(float(self._delta[m, c])),
        )

    def chain(self, t: datetime, strike_min: float, strike_max: float) -> list[OptionQuote]:
        """Quotes of every listed contract with strike_min <= strike <= strike_max that has an ask."""
        m = self.minute(t)
        lo = 2 * int(np.searchsorted(self._strikes, strike_min, "left"))
        hi = 2 * int(np.searchsorted(self._strikes, strike_max, "right"))
        self._chain.ensure(lo // 2, hi // 2)
        if self._updated is None:
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
        return [q for s in self._symbols[lo:hi] if s in self._by_symbol and (q := self.quote(s, t)) is not None]

    def _quote_time(self, m: int, c: int) -> datetime:
        if self._updated is None:
            return self._minute_dt[m]
        return datetime.fromtimestamp(int(self._updated[m, c]), tz=self.session.open.tzinfo)


def _known(x: float) -> float | None:
    return None if x != x else x


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy: bars and quotes handed out as views cannot be changed behind the market's back."""
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out
