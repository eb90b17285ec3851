"""What the engine holds: open spreads, the order being worked, and the day's closed trades."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.combo import net_mid, reverse
from engine.models import CONTRACT_MULTIPLIER, Leg, OptionQuote


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
        return (self.value(quotes) - self.entry_price) * self.multiplier * self.qty

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

    @property
    def realized_pnl(self) -> float:
        return sum(t.pnl for t in self.closed)

    def new_day(self) -> None:
        self.closed.clear()
        self.trades_today = 0
