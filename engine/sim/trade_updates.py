"""Alpaca's trade updates from the simulated exchange: what changed in each order, as the events
`new`, `fill`, `partial_fill`, `canceled`, `expired` and `rejected`.

The exchange keeps orders, not a history of them, and catches up lazily (engine/sim/exchange.py), so a clock
that jumps an hour would show an order filled at 10:07 only as "filled by now". Walking the exchange through
every minute of the jump while orders are working, and comparing each order with how it was last seen,
gives each event at the moment it happened and in the order it happened, with the order as it was then.
The same replay the exchange does anyway, so the simulated day is the same with or without a listener.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from engine.models import Order, OrderStatus
from engine.sim import stream_wire as wire
from engine.sim.exchange import SimExchange

OrderJson = Callable[[Order], dict[str, Any]]
_ENDED = {OrderStatus.CANCELED: "canceled", OrderStatus.EXPIRED: "expired", OrderStatus.REJECTED: "rejected"}


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """One event, with the simulated moment it happened at (the stream sends them in that order)."""

    at: datetime
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Seen:
    status: OrderStatus
    filled_qty: int
    avg: float
    events: int


class OrderWatch:
    """Remembers how each order of the exchange was last seen, and tells what happened to it since."""

    def __init__(self, exchange: SimExchange, order_json: OrderJson) -> None:
        self._exchange = exchange
        self._order_json = order_json
        self._seen: dict[str, _Seen] = {}

    def until(self, start: datetime, end: datetime) -> list[TradeUpdate]:
        """Everything that happened to orders in (start, end], oldest first: minute by minute (the exchange
        fills at minute starts) for as long as an order is working, then at `end` for what the current request
        did (a submit or a cancel)."""
        out: list[TradeUpdate] = []
        for t in self._steps(start, end):
            working = self._look(t, out)
            if not working:
                break
        self._look(end, out)
        return out

    def _steps(self, start: datetime, end: datetime) -> list[datetime]:
        """The minute starts, and the close, of the exchange's session in (start, end)."""
        mk = self._exchange.market
        if mk is None or end <= start:
            return []
        lo, hi = start.timestamp(), end.timestamp()
        first = max(0, int((lo - mk.open_s) // 60) + 1)
        steps = [mk.minute_start(m) for m in range(first, mk.minutes) if mk.open_s + 60 * m < hi]
        if lo < mk.close_s < hi:
            steps.append(mk.session.close)
        return steps

    def _look(self, t: datetime, out: list[TradeUpdate]) -> bool:
        """Compare every order at `t` with how it was last seen; True while some order is still working.

        One look can see several events of an order (a submit that fills at once: new, then fill); each event's
        order is shown as that event left it, so a `new` is never already filled."""
        working = False
        for order in self._exchange.all_orders(t):
            working = working or order.status.is_open
            seen = self._seen.get(order.id)
            if seen is not None and (seen.status, seen.filled_qty) == (order.status, order.filled_qty):
                continue
            events = seen.events if seen is not None else 0
            if seen is None:
                events += 1
                out.append(self._update("new", _as_new(order), order.submitted_at, events))
            if order.filled_qty > (seen.filled_qty if seen is not None else 0):
                events += 1
                done = order.filled_qty == order.qty
                kind, status = ("fill", OrderStatus.FILLED) if done else ("partial_fill", OrderStatus.PARTIALLY_FILLED)
                as_filled = replace(order, status=status)  # not yet canceled, should a cancel follow in this look
                out.append(self._update(kind, as_filled, order.filled_at or t, events, self._fill(order, seen)))
            ended = _ENDED.get(order.status)
            if ended is not None and (seen is None or seen.status is not order.status):
                events += 1
                out.append(self._update(ended, order, t, events))
            self._seen[order.id] = _Seen(order.status, order.filled_qty, _avg(order), events)
        return working

    def _update(
        self, event: str, order: Order, at: datetime, n: int, fill: tuple[float, float] | None = None
    ) -> TradeUpdate:
        """An event's message, with the order in REST's JSON as that event left it; its execution id is the same
        on every run (the order's id and the event's number)."""
        execution_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"zdte-sim-execution/{order.id}/{n}"))
        position = self._position(order) if fill is not None else None
        message = wire.trade_update(event, self._order_json(order), at, execution_id, fill, position)
        return TradeUpdate(at, message)

    @staticmethod
    def _fill(order: Order, seen: _Seen | None) -> tuple[float, float]:
        """This execution's price and quantity, out of the order's running average price as REST shows it: the
        net price of a multi-leg order, the contract's price of a single-leg one."""
        old_qty = seen.filled_qty if seen is not None else 0
        old_avg = seen.avg if seen is not None else 0.0
        qty = order.filled_qty - old_qty
        price = (_avg(order) * order.filled_qty - old_avg * old_qty) / qty
        return round(price, 4), float(qty)

    def _position(self, order: Order) -> int | None:
        """The position in a single-leg order's contract after the fill; a multi-leg order moves several, so none."""
        if len(order.legs) != 1:
            return None
        return self._exchange.held(order.legs[0].symbol)


def _as_new(order: Order) -> Order:
    """The order as it was accepted, before any fill."""
    return replace(
        order, status=OrderStatus.NEW, filled_qty=0, filled_avg_price=None, filled_at=None, leg_fill_prices={}
    )


def _avg(order: Order) -> float:
    if len(order.legs) == 1:
        return order.leg_fill_prices.get(order.legs[0].symbol, 0.0)
    return order.filled_avg_price or 0.0
