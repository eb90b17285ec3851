"""The simulated venue: calendar, today's market and the paper exchange behind one plain interface.

Both the in-process adapters (engine.brokers.sim) and an HTTP server mimicking Alpaca's REST API sit on
this one object, so its methods take and return plain data only and read time from the clock alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
from loguru import logger

from engine.epoch import epoch
from engine.models import Account, Bars, OptionContract, OptionQuote, Order, OrderRequest, Position, Session
from engine.sim import lean
from engine.sim.errors import SimDataError
from engine.sim.exchange import SimExchange
from engine.sim.market import SimMarket
from engine.sim.params import NEW_YORK as ET
from engine.sim.params import Calendar, Clock, Instrument, InstrumentSettings, SimSettings
from engine.sim.underlying import csv_bars, random_walk_bars, realized_vol, regular_closes, vol_series_before


class Recording(Protocol):
    """A session's recorded market: its day, the bars it received, the option quotes it was shown."""

    @property
    def day(self) -> date: ...
    @property
    def bars(self) -> Bars: ...
    @property
    def quotes(self) -> list[OptionQuote]: ...


class SimVenue:
    """Builds each session's market the first time the clock is on that date, and keeps one exchange."""

    step_s = 60
    """How often its market moves: bars, quotes and marks change only when a minute starts (a resting order fills
    on the minute's quote, or as the engine reprices it)."""

    def __init__(
        self,
        cfg: SimSettings,
        underlying: str,
        clock: Clock,
        calendar: Calendar,
        instrument: InstrumentSettings | None = None,
        read_recording: Callable[[Path], Recording] | None = None,
    ) -> None:
        """`read_recording` reads a session journal named as sim.bars or sim.quotes (the engine's journal reader,
        given by whoever builds the venue: the simulator does not know the journal's format)."""
        self.cfg = cfg
        self._read_recording = read_recording
        self.underlying = underlying
        self.instrument: InstrumentSettings = instrument or Instrument()
        self.clock = clock
        self.calendar = calendar
        self.exchange = SimExchange(cfg)
        self.chain_source: dict[str, object] = {}
        """Where today's chain (and the model's ATM IV, trading time) came from: for the day's report."""
        self._market: SimMarket | None = None
        self._day_start = self._day_end = 0.0
        self._history: dict[date, np.ndarray | None] = {}
        self._recordings: dict[Path, Recording] = {}

    def check_data(self, days: Sequence[date]) -> None:
        """Load each day's inputs up front, so a missing file, a day it does not hold or a file of another
        underlying is a start-up error naming the file, never a day halted on a data outage."""
        for day in days:
            session = self.calendar.session(day)
            if session is None:
                continue
            bars, _ = self._inputs(session)
            open_s, close_s = session.open.timestamp(), session.close.timestamp()
            if not ((bars.ts >= open_s) & (bars.ts < close_s)).any():
                where = self.cfg.bars or self.cfg.quotes
                raise SimDataError(f"{where}: no {self.underlying} bars in the regular session of {day.isoformat()}")

    def market(self) -> SimMarket | None:
        """Today's (ET) market, or None on a day without a session; cheap when the date has not changed."""
        self._now()
        return self._market

    def _now(self) -> datetime:
        """The clock's time, after making sure today's market (and the exchange's session) is the current one."""
        now = self.clock.now()
        if not self._day_start <= epoch(now) < self._day_end:
            self._roll(now)
        return now

    def _roll(self, now: datetime) -> None:
        day = now.astimezone(ET).date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=ET)
        self._day_start = midnight.timestamp()
        self._day_end = (midnight + timedelta(days=1)).timestamp()
        session = self.calendar.session(day)
        self._market = self._build_market(session) if session else None
        if self._market is not None:
            self.exchange.start_session(self._market)

    def _build_market(self, session: Session) -> SimMarket:
        bars, quotes = self._inputs(session)
        if isinstance(quotes, lean.QuoteGrid):
            self.chain_source = {"chain": f"real quotes: {self.cfg.quotes}"}
            return SimMarket(bars, self.cfg, session, self.underlying, quotes, self.instrument)
        level, note = self._vol_level(session, bars)
        logger.info(f"simulated chain of {session.day}: ATM IV {level:.3f} ({note})")
        chain = "model" if quotes is None else f"recorded quotes of {self.cfg.quotes} where recorded, else the model"
        self.chain_source = {"chain": chain, "atm_iv": round(level, 4), "atm_iv_source": note}
        return SimMarket(bars, self.cfg, session, self.underlying, None, self.instrument, level, recorded=quotes or ())

    def _vol_level(self, session: Session, bars: Bars) -> tuple[float, str]:
        """The model's ATM IV (trading time) for the session, from data that exists before it opens: earlier
        sessions' minute bars, else the day's own pre-open bars, else (with a warning) the fixed level."""
        cfg = self.cfg
        if cfg.vol_source == "fixed":
            return cfg.implied_vol, "fixed: sim.implied_vol"
        if cfg.vol_source == "file":
            assert cfg.vol_file is not None
            on, value = vol_series_before(cfg.vol_file, session.day)
            return cfg.vol_premium * value / 100.0, f"{cfg.vol_premium:g} x {value:g}% ({cfg.vol_file}, {on})"
        earlier = self._earlier_sessions(session.day, cfg.vol_lookback_days)
        history = [c for e in earlier if (c := self._closes(e)) is not None]
        rv = realized_vol(history)
        if rv is not None:
            return cfg.vol_premium * rv, f"{cfg.vol_premium:g} x realized {rv:.3f} of {len(history)} earlier session(s)"
        pre_open = realized_vol([bars.close[bars.ts < session.open.timestamp()]])
        if pre_open is not None:
            return cfg.vol_premium * pre_open, f"{cfg.vol_premium:g} x realized {pre_open:.3f} of the pre-open bars"
        logger.warning(f"{session.day}: no bars before the open for realized volatility; the model uses implied_vol")
        return cfg.implied_vol, "fixed fallback: sim.implied_vol (no bars before the open)"

    def _earlier_sessions(self, day: date, n: int) -> list[Session]:
        out: list[Session] = []
        d = day
        for _ in range(10 * n):
            d -= timedelta(days=1)
            found = self.calendar.session(d)
            if found is not None:
                out.append(found)
                if len(out) == n:
                    break
        return out

    def _closes(self, session: Session) -> np.ndarray | None:
        """An earlier session's regular-hours closes, None when the source does not hold it; kept, since
        consecutive days look back over mostly the same sessions."""
        if session.day not in self._history:
            try:
                self._history[session.day] = regular_closes(self._history_bars(session), session)
            except SimDataError:
                self._history[session.day] = None
        return self._history[session.day]

    def _history_bars(self, session: Session) -> Bars:
        """An earlier session's bars from the configured source; SimDataError when the source does not hold it."""
        cfg = self.cfg
        if cfg.quotes is not None and cfg.bars is None:
            raise SimDataError("a quote file's day has no earlier sessions beside it")

        if cfg.bars is None:
            return random_walk_bars(self.underlying, session, cfg.start_price, cfg.annual_vol, cfg.seed)
        if cfg.bars.suffix in (".zip", ".jsonl"):
            raise SimDataError(f"{cfg.bars}: one day's bars")
        return csv_bars(cfg.bars, self.underlying, session.day)

    def _inputs(self, session: Session) -> tuple[Bars, lean.QuoteGrid | list[OptionQuote] | None]:
        """The session's underlying bars and, with real quotes configured, its quote grid (a LEAN file) or the
        quotes a journal recorded."""
        cfg = self.cfg
        grid: lean.QuoteGrid | list[OptionQuote] | None = None
        bars_path = cfg.bars
        if cfg.quotes is not None and cfg.quotes.suffix == ".jsonl":
            grid = self._recorded(cfg.quotes, session).quotes
            bars_path = bars_path or cfg.quotes
        elif cfg.quotes is not None:
            grid = self._quote_grid(cfg.quotes, session)
            if bars_path is None:
                bars_path = lean.underlying_bars_path(cfg.quotes, self.underlying)
                if bars_path is None:
                    raise SimDataError(
                        f"{cfg.quotes}: no {self.underlying} minute bars beside it (LEAN keeps them under "
                        f"equity/usa/minute/ or index/usa/minute/ of the same data root): set sim.bars"
                    )
        if bars_path is None:
            bars = random_walk_bars(self.underlying, session, cfg.start_price, cfg.annual_vol, cfg.seed)
        elif bars_path.suffix == ".jsonl":
            bars = self._recorded(bars_path, session).bars
        elif bars_path.suffix == ".zip":
            bars = self._lean_bars(bars_path, session)
        else:
            bars = csv_bars(bars_path, self.underlying, session.day)
        return bars, grid

    def _quote_grid(self, path: Path, session: Session) -> lean.QuoteGrid:
        """The day's chain of options expiring that session, from a file that must be of this day and root."""
        qf = lean.read_option_quotes(path)
        root = self.instrument.root or self.underlying
        if qf.root != root:
            raise SimDataError(f"{path}: holds {qf.root} options, the config trades {root} (instrument.root)")
        if qf.day != session.day:
            raise SimDataError(f"{path}: holds quotes of {qf.day.isoformat()}, not of {session.day.isoformat()}")
        open_s = int(session.open.timestamp())
        return qf.grid(open_s, (int(session.close.timestamp()) - open_s) // 60, session.day)

    def _recorded(self, path: Path, session: Session) -> Recording:
        """What a session's journal recorded of this day and underlying."""
        found = self._recordings.get(path)
        if found is None:
            if self._read_recording is None:
                raise SimDataError(f"{path}: a session journal as market data needs a journal reader")
            found = self._recordings[path] = self._read_recording(path)
        if found.day != session.day:
            raise SimDataError(f"{path}: recorded {found.day.isoformat()}, not {session.day.isoformat()}")
        if found.bars.symbol != self.underlying:
            raise SimDataError(f"{path}: recorded {found.bars.symbol} bars, the config trades {self.underlying}")
        return found

    def _lean_bars(self, path: Path, session: Session) -> Bars:
        ticker, day = lean.bars_ticker_and_day(path)
        if ticker != self.underlying:
            raise SimDataError(f"{path}: holds {ticker} bars, the config trades {self.underlying}")
        if day != session.day:
            raise SimDataError(f"{path}: holds bars of {day.isoformat()}, not of {session.day.isoformat()}")
        return lean.underlying_bars(path)

    def _today(self, underlying: str, expiry: date) -> SimMarket | None:
        """Today's market when it lists that underlying and expiry (the sim lists only 0DTE contracts)."""
        mk = self.market()
        if mk is None or underlying != self.underlying or expiry != mk.session.day:
            return None
        return mk

    # -- calendar and market data ------------------------------------------------------------------

    def session(self, day: date) -> Session | None:
        return self.calendar.session(day)

    def next_session(self, after: date) -> Session:
        return self.calendar.next_session(after)

    def contracts(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionContract]:
        mk = self._today(underlying, expiry)
        if mk is None:
            return []
        return [c for c in mk.contracts() if strike_min <= c.strike <= strike_max]

    def chain(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionQuote]:
        """Quotes of the current minute; SimDataError outside regular hours (there are no live quotes)."""
        mk = self._today(underlying, expiry)
        if mk is None:
            return []
        return mk.chain(self.clock.now(), strike_min, strike_max)

    def quotes(self, symbols: Sequence[str]) -> dict[str, OptionQuote]:
        """Quotes of the listed symbols; unlisted ones, and those nobody offers now, are left out, as Alpaca does."""
        now = self._now()
        mk = self._market
        if mk is None:
            raise SimDataError(f"market closed on {now.astimezone(ET).date().isoformat()} (no session)")
        return mk.quotes(symbols, now)

    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        """Today's completed bars in [start, end); the simulator keeps no other day's bars."""
        if symbol != self.underlying:
            raise SimDataError(f"no bars for {symbol}: the simulator trades {self.underlying} only")
        now = self._now()
        if self._market is None:
            return Bars.empty(symbol)
        return self._market.bars_between(start, end, now)

    # -- trading -----------------------------------------------------------------------------------

    def account(self) -> Account:
        return self.exchange.account(self._now())

    def positions(self) -> list[Position]:
        return self.exchange.positions(self._now())

    def submit_order(self, request: OrderRequest) -> Order:
        return self.exchange.submit(request, self._now())

    def get_order(self, order_id: str) -> Order:
        return self.exchange.get_order(order_id, self._now())

    def order_by_client_id(self, client_order_id: str) -> Order | None:
        return self.exchange.order_by_client_id(client_order_id, self._now())

    def open_orders(self) -> list[Order]:
        return self.exchange.open_orders(self._now())

    def all_orders(self) -> list[Order]:
        return self.exchange.all_orders(self._now())

    def orders_since(self, since: datetime) -> list[Order]:
        return [o for o in self.all_orders() if o.submitted_at > since]

    def cancel_order(self, order_id: str) -> None:
        self.exchange.cancel(order_id, self._now())

    def events(self) -> list[dict]:
        """The exchange's liquidations and settlements so far (synced to now)."""
        self.exchange.sync(self._now())
        return list(self.exchange.events)
