"""What a state handler works with: the ports it may ask, the components, the book, and today's facts.

Handlers receive one Context and return a Step; they never build components, read the wall clock, or
move the day on. The day's life cycle and its journal belong to the runner: a handler says what it wants
(a halt, an exit code, a day without a session, the end) in the Step it returns, and the runner does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.book import Book
from engine.config import Config
from engine.data import BarWindow
from engine.days import Days
from engine.declines import Declines
from engine.discovery import ContractDiscovery
from engine.journal.sink import AuditSink
from engine.marks import Marks
from engine.models import Account, Session
from engine.orders import OrderManager
from engine.ports import Broker, MarketData, Signals
from engine.risk import RiskGate, RiskView, daily_pnl
from engine.schedule import Schedule
from engine.status import StatusLine
from engine.strategies.base import Strategy
from engine.streamed import StreamedMarket


@dataclass(frozen=True)
class Halt:
    reason: str
    flatten: bool
    resumable: bool


@dataclass(frozen=True)
class Step:
    """A handler's verdict: fire `trigger` (None: stay) because of `reason`; `wait` overrides the poll interval.

    `halt` is the halt a "halt" trigger enters (or, in Halted, the halt it has become); `exit_code` what the
    process ends with; `skip_day` says the day holds no session; `finished` that the run is over.
    """

    trigger: str | None = None
    reason: str = ""
    wait: float | None = None
    halt: Halt | None = None
    exit_code: int | None = None
    skip_day: bool = False
    finished: bool = False

    @classmethod
    def halting(cls, reason: str, *, flatten: bool, resumable: bool, say: str | None = None) -> Step:
        """Halt for `reason`; `say` is the transition's reason when it tells more than the halt's own."""
        return cls("halt", say or reason, halt=Halt(reason, flatten=flatten, resumable=resumable))


STAY = Step()


@dataclass
class Components:
    bars: BarWindow
    marks: Marks
    discovery: ContractDiscovery
    strategy: Strategy
    risk: RiskGate
    orders: OrderManager
    status: StatusLine
    declines: Declines = field(default_factory=Declines)
    live: StreamedMarket | None = None
    """A streamed run's market data (fed once a step by the runner); None when the run polls."""


@dataclass
class Context:
    cfg: Config
    broker: Broker
    market_data: MarketData
    signals: Signals
    parts: Components
    audit: AuditSink
    days: Days
    book: Book = field(default_factory=Book)
    now: datetime = field(default=None)  # type: ignore[assignment]  # set by the runner before any handler runs
    halt: Halt | None = None
    """The halt the machine is in; written only by the runner, from the Step that entered it."""
    account: Account | None = None
    account_at: datetime | None = None
    """When the account was last asked."""
    book_at_account: float = 0.0
    """The book's value (realized plus marked) when the account was last asked."""

    @property
    def session(self) -> Session | None:
        return self.days.session

    @property
    def schedule(self) -> Schedule:
        """Today's schedule; only asked for once the day's session is known to exist."""
        assert self.days.schedule is not None, "no session today"
        return self.days.schedule

    def record(self, kind: str, **fields: Any) -> None:
        self.audit.record(kind, self.now, **fields)

    # --- risk inputs ---------------------------------------------------------------------------
    def refresh_account(self, force: bool = False) -> Account:
        """The account, asked of the broker; while streaming at most every `stream.account_refresh_s` (between two
        asks `daily_pnl` moves with the streamed marks), unless `force`d."""
        pace = self.cfg.stream.account_refresh_s
        if (
            force
            or self.parts.live is None
            or self.account is None
            or self.account_at is None
            or (self.now - self.account_at).total_seconds() >= pace
        ):
            self.account = self.broker.account()
            self.account_at = self.now
            if self.parts.live is not None:  # only a streamed run moves its P&L with the marks in between
                self.book_at_account = self._book_value()
        return self.account

    @property
    def daily_pnl(self) -> float:
        """The account's P&L of the day; while streaming, plus what the book's marks moved since it was asked."""
        if not self.account:
            return 0.0
        pnl = daily_pnl(self.account)
        if self.parts.live is not None:
            moved = self._book_value() - self.book_at_account
            if moved == moved:  # NaN when a held leg has no mark: the account's figure alone
                pnl += moved
        return pnl

    def _book_value(self) -> float:
        return self.book.realized_pnl + self.book.unrealized_pnl(self.parts.marks.quotes)

    def risk_view(self) -> RiskView:
        account = self.account or self.refresh_account()
        return RiskView(
            now=self.now,
            entry_start=self.schedule.entry_start,
            entry_end=self.schedule.entry_end,
            daily_pnl=daily_pnl(account),
            trades_today=self.book.trades_today,
            open_spreads=len(self.book.open),
            account=account,
        )

    # --- the audit snapshot --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        unreal = self.book.unrealized_pnl(self.parts.marks.quotes)
        working = self.book.working
        return {
            "underlying_price": self.parts.bars.spot,
            "open_spreads": [s.to_dict() for s in self.book.open],
            "working_orders": [working.to_dict()] if working else [],
            "realized_pnl": round(self.book.realized_pnl, 2),
            "unrealized_pnl": None if unreal != unreal else round(unreal, 2),
            "daily_pnl": round(self.daily_pnl, 2) if self.account else None,
            "counters": {"trades_today": self.book.trades_today, "closed_trades": len(self.book.closed)},
        }
