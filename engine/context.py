"""Everything a state handler may touch: the ports, the components, the book, and the day's session.

Handlers receive one Context and return a Step; they never build components or read the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from loguru import logger

from engine.audit import Journal
from engine.book import Book, ClosedTrade, CondorPlan, Spread
from engine.codec import encode
from engine.config import Config
from engine.data import BarWindow
from engine.declines import Declines
from engine.discovery import ContractDiscovery
from engine.errors import DataError
from engine.models import Account, OptionQuote, Session
from engine.orders import OrderManager, Working
from engine.ports import Broker, Clock, IdGen, MarketData, Signals
from engine.recording import Recorder
from engine.risk import RiskGate, RiskView, daily_pnl, session_time
from engine.strategies.base import Strategy


@dataclass(frozen=True)
class Step:
    """A handler's verdict: fire `trigger` (None: stay) because of `reason`; `wait` overrides the poll interval."""

    trigger: str | None = None
    reason: str = ""
    wait: float | None = None


STAY = Step()


@dataclass
class Halt:
    reason: str
    flatten: bool
    resumable: bool


@dataclass
class Components:
    bars: BarWindow
    discovery: ContractDiscovery
    strategy: Strategy
    risk: RiskGate
    orders: OrderManager
    declines: Declines = field(default_factory=Declines)


@dataclass
class Context:
    cfg: Config
    clock: Clock
    broker: Broker
    market_data: MarketData
    ids: IdGen
    signals: Signals
    parts: Components
    open_journal: Callable[[date], Journal]
    write_report: Callable[[Context], Any]
    days_left: int
    day: date
    now: datetime = field(default=None)  # type: ignore[assignment]
    session: Session | None = None
    session_loaded: bool = False
    journal: Journal | None = None
    book: Book = field(default_factory=Book)
    plan: CondorPlan | None = None
    working: Working | None = None
    halt: Halt | None = None
    account: Account | None = None
    marks: dict[str, OptionQuote] = field(default_factory=dict)
    day_closed: bool = False
    skip_day: bool = False
    recorder: Recorder = field(default_factory=Recorder)
    resume: dict[str, Any] = field(default_factory=dict)
    outage_since: datetime | None = None
    exit_code: int = 0
    finished: bool = False
    reports: list[Any] = field(default_factory=list)

    # --- the session's clock times -------------------------------------------------------------
    def _at(self, wall) -> datetime:
        assert self.session is not None
        return session_time(self.session.day, wall, self.session.close)

    @property
    def entry_start(self) -> datetime:
        return self._at(self.cfg.strategy.entry_start)

    @property
    def entry_end(self) -> datetime:
        """The configured end, pulled in on early-close days so it keeps its distance to the hard exit."""
        return min(self._at(self.cfg.strategy.entry_end), self.hard_exit - self._entry_to_exit_gap)

    @property
    def hard_exit(self) -> datetime:
        """The configured hard exit, or as long before an early close as it normally is before 16:00."""
        assert self.session is not None
        r = self.cfg.risk.hard_exit
        before_close = timedelta(hours=16) - timedelta(hours=r.hour, minutes=r.minute)
        return min(self._at(r), self.session.close - before_close)

    @property
    def _entry_to_exit_gap(self) -> timedelta:
        s, r = self.cfg.strategy.entry_end, self.cfg.risk.hard_exit
        return timedelta(hours=r.hour - s.hour, minutes=r.minute - s.minute)

    # --- the day's life cycle -----------------------------------------------------------------
    @property
    def more_sessions(self) -> bool:
        return self.days_left > 1

    def start(self) -> None:
        self.resume = self._resume_point("Initializing")
        self.journal = self.open_journal(self.day)

    def _resume_point(self, state: str) -> dict[str, Any]:
        """What replay needs to start this journal's run where the live run was when the file was opened."""
        return {
            "state": state,
            "day": self.day.isoformat(),
            "days_left": self.days_left,
            "day_closed": self.day_closed,
            "skip_day": self.skip_day,
            "session_loaded": self.session_loaded,
            "session": encode(self.session),
            "account": encode(self.account),
        }

    def load_session(self) -> Session | None:
        self.session = self.broker.session(self.day)
        self.session_loaded = True
        return self.session

    def end_day(self) -> None:
        """Close the books of the session just ended; the journal stays open for the day's last records."""
        if not self.day_closed:
            self.day_closed = True
            self.write_report(self)

    @property
    def at_day_boundary(self) -> bool:
        return self.day_closed or self.skip_day

    def next_day(self) -> None:
        """Move to the next exchange session: new journal, fresh book and data window.

        Called between ticks, after the old day's calls are written, so each file holds exactly its day's
        calls and replays on its own. A skipped non-session day does not count as one of the days.
        """
        self.resume = self._resume_point("AwaitingOpen")
        if not self.skip_day:
            self.days_left -= 1
        self.flush_inputs(last_of_file=True)
        if self.journal is not None:
            self.journal.close()
        self.day = self.broker.next_session(self.day).day
        self.book.new_day()
        self.working, self.plan = None, None
        self.parts.bars.reset()
        self.marks.clear()
        self.halt = None
        self.day_closed = self.skip_day = False
        self.journal = self.open_journal(self.day)
        self.load_session()

    def finish(self) -> None:
        """The last step of ShuttingDown: the day's report, then the journal is closed."""
        self.end_day()
        if self.journal is not None:
            self.flush_inputs(last_of_file=True)
            self.journal.close()
        self.finished = True

    def record(self, kind: str, *, sync: bool = True, **fields: Any) -> None:
        """An audit record in the chain, after the port calls it follows from."""
        if self.journal is not None:
            self.flush_inputs()
            self.journal.append(kind, self.now, sync=sync, **fields)

    def flush_inputs(self, last_of_file: bool = False) -> None:
        """The port calls made so far, as one `input` record (flushed, not fsynced: the OS keeps it on a crash)."""
        if self.journal is not None and (calls := self.recorder.take(last_of_file)):
            self.journal.append("input", self.now, sync=False, calls=calls)

    # --- risk inputs ---------------------------------------------------------------------------
    def refresh_account(self) -> Account:
        self.account = self.broker.account()
        return self.account

    @property
    def daily_pnl(self) -> float:
        return daily_pnl(self.account) if self.account else 0.0

    @property
    def unrealized_pnl(self) -> float:
        total = 0.0
        for spread in self.book.open:
            try:
                total += spread.pnl(self.marks)
            except DataError:  # a missing or malformed mark makes the figure unknown, not an error
                return float("nan")
        return total

    def risk_view(self) -> RiskView:
        account = self.account or self.refresh_account()
        return RiskView(
            now=self.now,
            entry_start=self.entry_start,
            entry_end=self.entry_end,
            daily_pnl=daily_pnl(account),
            trades_today=self.book.trades_today,
            open_spreads=len(self.book.open),
            account=account,
        )

    def kill_switch(self) -> str | None:
        return self.signals.kill()

    # --- the book ------------------------------------------------------------------------------
    def open_spread_from(self, w: Working) -> Spread:
        assert self.plan is not None
        spread = Spread(
            trade_no=w.trade_no,
            direction=self.plan.direction,
            legs=w.legs,
            strikes=self.plan.strikes,
            wing_width=self.plan.wing_width,
            qty=w.filled_qty,
            entry_price=round(w.avg_price, 4),
            entry_time=self.now,
            entry_client_order_id=w.order.client_order_id,
            multiplier=self.plan.multiplier,
        )
        self.book.open.append(spread)
        self.book.trades_today += 1
        self.plan = None
        return spread

    def close_spread(self, spread: Spread, exit_price: float, reason: str) -> ClosedTrade:
        trade = ClosedTrade(spread, round(exit_price, 4), self.now, reason)
        self.book.open.remove(spread)
        self.book.closed.append(trade)
        logger.bind(trade=True).info(
            f"closed trade {spread.trade_no} ({reason}): entry {spread.entry_price:+.2f} exit {exit_price:+.2f} "
            f"P&L {trade.pnl:+.2f}"
        )
        return trade

    def hold_working(self, w: Working) -> None:
        """Keep the order being worked before it is sent, so a failed send can still be found and cancelled."""
        self.working = w

    def spread_of(self, w: Working) -> Spread:
        return next(s for s in self.book.open if s.trade_no == w.trade_no)

    # --- the audit snapshot --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        spot = self.parts.bars.spot
        unreal = self.unrealized_pnl
        return {
            "underlying_price": spot,
            "open_spreads": [s.to_dict() for s in self.book.open],
            "working_orders": [self.working.to_dict()] if self.working else [],
            "realized_pnl": round(self.book.realized_pnl, 2),
            "unrealized_pnl": None if unreal != unreal else round(unreal, 2),
            "daily_pnl": round(self.daily_pnl, 2) if self.account else None,
            "counters": {"trades_today": self.book.trades_today, "closed_trades": len(self.book.closed)},
        }
