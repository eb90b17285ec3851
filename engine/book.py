"""What the engine holds: open spreads, the plan being entered, the order being worked, the day's closed trades.

The Book is the one owner of these: handlers open, close, split and adopt through it, and a plan goes from
Scanning to Entering by being put in the Book, not through a loose field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loguru import logger

from engine.combo import net_mid, reverse
from engine.errors import DataError
from engine.journal.order_history import OrderHistory
from engine.models import CONTRACT_MULTIPLIER, Leg, OptionQuote

if TYPE_CHECKING:
    from engine.orders import Working
    from engine.reconcile import Reconciliation


@dataclass(frozen=True)
class CondorPlan:
    """An iron condor the strategy wants: legs in order long put, short put, short call, long call."""

    direction: str
    legs: tuple[Leg, ...]
    strikes: tuple[float, float, float, float]
    wing_width: float
    qty: int
    mid: float
    natural: float
    multiplier: int = CONTRACT_MULTIPLIER

    @property
    def max_loss(self) -> float:
        """Worst case at expiry if filled at mid, in dollars for the whole position."""
        per = self.wing_width + self.mid if self.direction == "short" else self.mid
        return max(per, 0.0) * self.multiplier * self.qty


@dataclass
class Spread:
    trade_no: int
    direction: str
    legs: tuple[Leg, ...]
    strikes: tuple[float, float, float, float]
    wing_width: float
    qty: int
    entry_price: float
    entry_time: datetime
    entry_client_order_id: str
    force_exit: str | None = None
    multiplier: int = CONTRACT_MULTIPLIER

    @property
    def closing_legs(self) -> tuple[Leg, ...]:
        return reverse(self.legs)

    @property
    def premium(self) -> float:
        """Credit received (short) or debit paid (long), per contract, positive."""
        return abs(self.entry_price)

    @property
    def max_profit(self) -> float:
        per = self.premium if self.direction == "short" else self.wing_width - self.premium
        return per * self.multiplier * self.qty

    def value(self, quotes: dict[str, OptionQuote]) -> float:
        """Mark of the open position per contract at mid, in net-debit terms."""
        return net_mid(self.legs, quotes)

    def pnl(self, quotes: dict[str, OptionQuote]) -> float:
        return self.pnl_at(self.value(quotes))

    def pnl_at(self, value: float) -> float:
        """The P&L if the position is worth `value` (its `value`, already marked) per contract."""
        return (value - self.entry_price) * self.multiplier * self.qty

    def to_dict(self) -> dict[str, Any]:
        return {
            "trade_no": self.trade_no,
            "direction": self.direction,
            "legs": [f"{leg.side}:{leg.symbol}" for leg in self.legs],
            "qty": self.qty,
            "entry_price": self.entry_price,
            "entry_time": self.entry_time.isoformat(),
        }


@dataclass
class ClosedTrade:
    spread: Spread
    exit_price: float
    exit_time: datetime
    exit_reason: str

    @property
    def pnl(self) -> float:
        """Closing legs are the reverse of the opening ones, so the round trip is entry + exit in debit terms."""
        return -(self.spread.entry_price + self.exit_price) * self.spread.multiplier * self.spread.qty

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.spread.to_dict(),
            "strikes": list(self.spread.strikes),
            "exit_price": self.exit_price,
            "exit_time": self.exit_time.isoformat(),
            "exit_reason": self.exit_reason,
            "pnl": round(self.pnl, 2),
        }


@dataclass
class Book:
    open: list[Spread] = field(default_factory=list)
    closed: list[ClosedTrade] = field(default_factory=list)
    trades_today: int = 0
    plan: CondorPlan | None = None
    """The entry Scanning chose, until Entering has filled or given it up."""
    working: Working | None = None
    """The entry or exit order being worked: held from before it is sent, so a failed send can be found."""
    earlier: OrderHistory = field(default_factory=OrderHistory)
    """What the day's journal said of this engine's orders before this run (a restart): for adoption."""

    @property
    def realized_pnl(self) -> float:
        return sum(t.pnl for t in self.closed)

    def unrealized_pnl(self, marks: dict[str, OptionQuote]) -> float:
        """The open spreads at mid; NaN when a mark is missing or malformed (unknown, not an error)."""
        total = 0.0
        for spread in self.open:
            try:
                total += spread.pnl(marks)
            except DataError:
                return float("nan")
        return total

    @property
    def held_symbols(self) -> list[str]:
        return [leg.symbol for s in self.open for leg in s.legs]

    def new_day(self) -> None:
        self.earlier = OrderHistory()
        self.closed.clear()
        self.trades_today = 0
        self.working, self.plan = None, None

    def hold(self, w: Working) -> None:
        self.working = w

    def adopt(self, rec: Reconciliation) -> None:
        """What reconciliation found at the broker after a restart becomes the book."""
        self.open = rec.adopted + rec.broken
        self.closed = rec.closed
        self.trades_today = rec.trades_today
        self.working, self.plan = rec.working, rec.working_plan

    def open_from(self, w: Working, now: datetime) -> Spread:
        """The plan's entry filled (wholly or in part): it becomes an open spread, and the plan is done."""
        plan = self.plan
        assert plan is not None, "an entry fills only for a plan"
        spread = Spread(
            trade_no=w.trade_no,
            direction=plan.direction,
            legs=w.legs,
            strikes=plan.strikes,
            wing_width=plan.wing_width,
            qty=w.filled_qty,
            entry_price=round(w.avg_price, 4),
            entry_time=now,
            entry_client_order_id=w.order.client_order_id,
            multiplier=plan.multiplier,
        )
        self.open.append(spread)
        self.trades_today += 1
        self.plan = None
        return spread

    def spread_of(self, w: Working) -> Spread:
        return next(s for s in self.open if s.trade_no == w.trade_no)

    def close_exit(self, w: Working, now: datetime) -> ClosedTrade | None:
        """Book what an exit filled; a partial fill splits the spread and the rest stays open."""
        if w.filled_qty == 0:
            return None
        spread = self.spread_of(w)
        if w.filled_qty < spread.qty:
            part = replace(spread, qty=w.filled_qty)
            spread.qty -= w.filled_qty
            self.open.append(part)
            spread = part
        return self.close(spread, w.avg_price, now, w.why or "exit")

    def close(self, spread: Spread, exit_price: float, now: datetime, reason: str) -> ClosedTrade:
        trade = ClosedTrade(spread, round(exit_price, 4), now, reason)
        self.open.remove(spread)
        self.closed.append(trade)
        logger.bind(trade=True).info(
            f"closed trade {spread.trade_no} ({reason}): entry {spread.entry_price:+.2f} exit {exit_price:+.2f} "
            f"P&L {trade.pnl:+.2f}"
        )
        return trade
