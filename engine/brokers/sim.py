"""The Broker and MarketData ports over the simulated venue: delegation, so the engine sees the same calls
whether the venue is in-process or behind the Alpaca-shaped HTTP server. The simulator raises its own errors
(engine/sim/errors.py); here they become the engine's, as the Alpaca adapter turns HTTP answers into them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeVar

from engine.errors import BrokerError, DataError, OrderRejected
from engine.models import Account, Bars, OptionContract, OptionQuote, Order, OrderRequest, Position, Session
from engine.sim.errors import SimDataError, SimError, SimNotFound, SimOrderRejected
from engine.sim.venue import SimVenue

F = TypeVar("F", bound=Callable[..., Any])


def engine_error(exc: SimError) -> Exception:
    """The engine's error for one of the simulator's: a refusal, a missing order, missing data."""
    if isinstance(exc, SimOrderRejected):
        return OrderRejected(str(exc), status=exc.status)
    if isinstance(exc, SimNotFound):
        return BrokerError(str(exc), status=404)
    if isinstance(exc, SimDataError):
        return DataError(str(exc))
    return BrokerError(str(exc))


@contextmanager
def engine_errors() -> Iterator[None]:
    try:
        yield
    except SimError as exc:
        raise engine_error(exc) from None


def _translated(method: F) -> F:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except SimError as exc:
            raise engine_error(exc) from None

    return call  # type: ignore[return-value]


class SimBroker:
    """engine.ports.Broker on a SimVenue."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue

    @_translated
    def account(self) -> Account:
        return self.venue.account()

    @_translated
    def session(self, day: date) -> Session | None:
        return self.venue.session(day)

    @_translated
    def next_session(self, after: date) -> Session:
        return self.venue.next_session(after)

    @_translated
    def contracts(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionContract]:
        return self.venue.contracts(underlying, expiry, strike_min, strike_max)

    @_translated
    def submit_order(self, request: OrderRequest) -> Order:
        return self.venue.submit_order(request)

    @_translated
    def get_order(self, order_id: str) -> Order:
        return self.venue.get_order(order_id)

    @_translated
    def order_by_client_id(self, client_order_id: str) -> Order | None:
        return self.venue.order_by_client_id(client_order_id)

    @_translated
    def open_orders(self) -> list[Order]:
        return self.venue.open_orders()

    @_translated
    def orders_since(self, since: datetime) -> list[Order]:
        return self.venue.orders_since(since)

    @_translated
    def cancel_order(self, order_id: str) -> None:
        self.venue.cancel_order(order_id)

    @_translated
    def positions(self) -> list[Position]:
        return self.venue.positions()


class SimMarketData:
    """engine.ports.MarketData on a SimVenue."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue

    @_translated
    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        return self.venue.bars(symbol, start, end)

    @_translated
    def chain(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionQuote]:
        return self.venue.chain(underlying, expiry, strike_min, strike_max)

    @_translated
    def quotes(self, symbols: Sequence[str]) -> dict[str, OptionQuote]:
        return self.venue.quotes(symbols)
