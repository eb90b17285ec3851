"""The Broker and MarketData ports over the simulated venue: pure delegation, so the engine sees the
same calls whether the venue is in-process or behind the Alpaca-shaped HTTP server."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from engine.models import Account, Bars, OptionContract, OptionQuote, Order, OrderRequest, Position, Session
from engine.sim.venue import SimVenue


class SimBroker:
    """engine.ports.Broker on a SimVenue."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue

    def account(self) -> Account:
        return self.venue.account()

    def session(self, day: date) -> Session | None:
        return self.venue.session(day)

    def next_session(self, after: date) -> Session:
        return self.venue.next_session(after)

    def contracts(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionContract]:
        return self.venue.contracts(underlying, expiry, strike_min, strike_max)

    def submit_order(self, request: OrderRequest) -> Order:
        return self.venue.submit_order(request)

    def get_order(self, order_id: str) -> Order:
        return self.venue.get_order(order_id)

    def order_by_client_id(self, client_order_id: str) -> Order | None:
        return self.venue.order_by_client_id(client_order_id)

    def open_orders(self) -> list[Order]:
        return self.venue.open_orders()

    def orders_since(self, since: datetime) -> list[Order]:
        return self.venue.orders_since(since)

    def cancel_order(self, order_id: str) -> None:
        self.venue.cancel_order(order_id)

    def positions(self) -> list[Position]:
        return self.venue.positions()


class SimMarketData:
    """engine.ports.MarketData on a SimVenue."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue

    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        return self.venue.bars(symbol, start, end)

    def chain(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionQuote]:
        return self.venue.chain(underlying, expiry, strike_min, strike_max)

    def quotes(self, symbols: Sequence[str]) -> dict[str, OptionQuote]:
        return self.venue.quotes(symbols)
