"""The doors through which the outside world enters the engine.

Time, market data (polled, or streamed through the feed), the broker, outside signals and id generation come in
only through these interfaces. That is what lets a simulated day run in milliseconds, lets every state be tested
with fakes, and lets a recorded session be answered again from its journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from engine.feed import FeedBatch
from engine.models import Account, Bars, OptionContract, OptionQuote, Order, OrderRequest, Position, Session


class Clock(Protocol):
    def now(self) -> datetime:
        """Current market time, timezone-aware."""
        ...

    def sleep(self, seconds: float, events: bool = False) -> None:
        """Let `seconds` pass; with `events`, return as soon as a stream delivers something (a streamed run's
        wait in Monitoring, or while an order is worked: the decision is made on the event, not the next poll)."""
        ...


class MarketData(Protocol):
    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        """Completed one-minute bars whose start lies in [start, end)."""
        ...

    def chain(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionQuote]:
        """Quotes (with greeks where the source has them) of every contract in the strike range."""
        ...

    def quotes(self, symbols: Sequence[str]) -> dict[str, OptionQuote]: ...


class Broker(Protocol):
    def account(self) -> Account: ...

    def session(self, day: date) -> Session | None:
        """The exchange session on `day`, or None on a weekend or holiday."""
        ...

    def next_session(self, after: date) -> Session: ...

    def contracts(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionContract]:
        """Every listed contract of `underlying` expiring on `expiry` in the strike range (all pages)."""
        ...

    def submit_order(self, request: OrderRequest) -> Order: ...

    def get_order(self, order_id: str) -> Order: ...

    def order_by_client_id(self, client_order_id: str) -> Order | None: ...

    def open_orders(self) -> list[Order]: ...

    def orders_since(self, since: datetime) -> list[Order]:
        """Every order (any status) submitted after `since`, for reconciliation at start-up."""
        ...

    def cancel_order(self, order_id: str) -> None: ...

    def positions(self) -> list[Position]: ...


class Feed(Protocol):
    def follow(self, underlying: str, options: tuple[str, ...]) -> None:
        """Stream the underlying's minute bars, these contracts' quotes (exactly these: it replaces the last call)
        and the account's trade updates."""
        ...

    def drain(self) -> FeedBatch:
        """What the streams delivered since the last drain, and what became of the connections."""
        ...


class Signals(Protocol):
    def kill(self) -> str | None:
        """Why trading must stop at once and flatten (kill file, SIGUSR1), or None."""
        ...

    def stop(self) -> str | None:
        """Why the engine must shut down (SIGINT, SIGTERM), or None."""
        ...


class IdGen(Protocol):
    def client_order_id(self, day: date, trade_no: int, kind: str, attempt: int) -> str:
        """The id of one order attempt; the same intent always gets the same id, so a retry or restart finds it."""
        ...


PORTS: dict[str, type] = {
    "clock": Clock,
    "market_data": MarketData,
    "broker": Broker,
    "ids": IdGen,
    "signals": Signals,
    "feed": Feed,
}
"""Every port by the name the engine, the journal and replay know it by: the one list of them."""

NOT_RECORDED = {("clock", "sleep")}
"""Calls that answer nothing a decision depends on: a sleep moves time, and the next clock read records where to."""


def methods_of(port: type) -> tuple[str, ...]:
    """A port's methods in the order its Protocol declares them."""
    return tuple(name for name, value in vars(port).items() if callable(value) and not name.startswith("_"))


def recorded_methods() -> dict[str, tuple[str, ...]]:
    """What the journal records of each port: every method but those in NOT_RECORDED."""
    return {name: tuple(m for m in methods_of(p) if (name, m) not in NOT_RECORDED) for name, p in PORTS.items()}
