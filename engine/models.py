"""Plain data that crosses the ports.

Everything a port returns is one of these frozen dataclasses (or numpy arrays inside Bars), so a
call can be written to the journal and answered again on replay without touching the outside world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

import numpy as np

CONTRACT_MULTIPLIER = 100


class Right(StrEnum):
    CALL = "C"
    PUT = "P"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Intent(StrEnum):
    BUY_TO_OPEN = "buy_to_open"
    SELL_TO_OPEN = "sell_to_open"
    BUY_TO_CLOSE = "buy_to_close"
    SELL_TO_CLOSE = "sell_to_close"


class OrderStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATUSES


_OPEN_STATUSES = {
    OrderStatus.NEW,
    OrderStatus.ACCEPTED,
    OrderStatus.PENDING_NEW,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.PENDING_CANCEL,
}


@dataclass(frozen=True, slots=True)
class Bars:
    """Minute bars of one symbol, oldest first. `ts` is the bar's start in epoch seconds (UTC)."""

    symbol: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls, symbol: str) -> Bars:
        f = np.empty(0, dtype=float)
        return cls(symbol, np.empty(0, dtype=np.int64), f, f, f, f, f)


@dataclass(frozen=True, slots=True)
class OptionContract:
    symbol: str
    underlying: str
    expiry: date
    strike: float
    right: Right


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """Best bid/ask of one contract. `iv` and `delta` are None when the source does not give them."""

    symbol: str
    bid: float
    ask: float
    ts: datetime
    iv: float | None = None
    delta: float | None = None

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0


@dataclass(frozen=True, slots=True)
class Leg:
    symbol: str
    side: Side
    intent: Intent
    ratio_qty: int = 1


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One multi-leg limit order. `limit_price` > 0 is a net debit, < 0 a net credit (Alpaca's convention)."""

    client_order_id: str
    legs: tuple[Leg, ...]
    qty: int
    limit_price: float


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    client_order_id: str
    status: OrderStatus
    legs: tuple[Leg, ...]
    qty: int
    filled_qty: int
    limit_price: float
    filled_avg_price: float | None
    submitted_at: datetime
    filled_at: datetime | None = None
    leg_fill_prices: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Position:
    """One option leg held. `qty` is signed (short legs negative); `unrealized_pl` None means unknown, not zero."""

    symbol: str
    qty: int
    avg_entry_price: float
    market_value: float | None = None
    unrealized_pl: float | None = None


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    equity: float
    last_equity: float
    cash: float
    options_buying_power: float
    options_level: int
    paper: bool = True
    status: str = "ACTIVE"


@dataclass(frozen=True, slots=True)
class Session:
    """One trading session; `open` and `close` are timezone-aware."""

    day: date
    open: datetime
    close: datetime
