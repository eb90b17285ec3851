"""A paper exchange that behaves like Alpaca paper for multi-leg option limit orders.

It matches working orders against the simulated NBBO minute by minute, keeps cash, positions and
realized P&L, and applies Alpaca's expiry-day rules: no new orders on expiring contracts from
15:30 ET, liquidation of expiring positions from 15:45 ET, and cash settlement at intrinsic value of
whatever is still open at the close, so the cost of not closing a 0DTE spread shows in the results.
The simulator lists only contracts expiring that session, so those rules apply to every order and
position. Every public method takes `now` and first catches the exchange up to it (`sync`): time
comes only from the caller's clock, and a clock that jumps still sees every minute it skipped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from engine.epoch import epoch
from engine.models import (
    Account,
    Intent,
    Leg,
    OptionContract,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    Right,
    Side,
)
from engine.pricing import intrinsic
from engine.sim.errors import SimNotFound, SimOrderForbidden, SimOrderRejected
from engine.sim.market import SimMarket
from engine.sim.params import SimSettings

ACCOUNT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "zdte-sim-paper-account"))
OPTIONS_LEVEL = 3
MAX_LEGS = 4
NEW_ORDER_CUTOFF_S = 30 * 60
LIQUIDATION_LEAD_S = 15 * 60
NAKED_CALL_STRESS = 10.0
"""Stress price (x the highest strike held) at which an uncovered short call shows its open-ended risk."""
_PRICE_EPS = 1e-9
_CLOSING = (Intent.BUY_TO_CLOSE, Intent.SELL_TO_CLOSE)
_INTENT_SIDE = {
    Intent.BUY_TO_OPEN: Side.BUY,
    Intent.BUY_TO_CLOSE: Side.BUY,
    Intent.SELL_TO_OPEN: Side.SELL,
    Intent.SELL_TO_CLOSE: Side.SELL,
}


@dataclass(slots=True)
class _Holding:
    qty: int
    avg: float


def _signed(leg: Leg, qty: int) -> int:
    return leg.ratio_qty * qty if leg.side is Side.BUY else -leg.ratio_qty * qty


def _reject(message: str) -> SimOrderRejected:
    return SimOrderRejected(message)


def _forbid(message: str) -> SimOrderForbidden:
    return SimOrderForbidden(message)


class SimExchange:
    """Orders, fills, positions and cash of one paper account across consecutive sessions."""

    def __init__(self, cfg: SimSettings, market: SimMarket | None = None) -> None:
        self._partial_prob = cfg.partial_fill_prob
        self._rng = np.random.default_rng([cfg.seed % 2**63, 0xF111])
        self.cash = cfg.starting_cash
        self.last_equity = cfg.starting_cash
        self.realized_pl = 0.0
        self.events: list[dict] = []
        """Liquidations and settlements, oldest first: {time, kind, symbol, qty, price} for the report."""
        self._close_equity = cfg.starting_cash
        self._holdings: dict[str, _Holding] = {}
        self._requirement: float | None = 0.0
        self._orders: dict[str, Order] = {}
        self._by_cid: dict[str, str] = {}
        self._working: list[str] = []
        self._seq = 0
        self.market: SimMarket | None = None
        self._multiplier = 100
        """Units per contract of the session's instrument (100 until a session starts)."""
        self._closed = True
        self._minute = -1
        self._liq_minute = 0
        self._cutoff_s = 0
        self._books = 0
        """Bumped by everything that moves cash, holdings or the day's opening equity: what an Account is made of."""
        self._account: tuple[tuple[int, int], Account] | None = None
        if market is not None:
            self.start_session(market)

    @property
    def _mk(self) -> SimMarket:
        """The session's market; everything that reads it runs inside a session (sync stops before, otherwise)."""
        assert self.market is not None, "the exchange has no session yet"
        return self.market

    # -- sessions and time -------------------------------------------------------------------------

    def start_session(self, market: SimMarket) -> None:
        """Move to the next session's market, first playing the previous one out to its close if nobody did."""
        if not self._closed:
            self.sync(self._mk.session.close)
        self.last_equity = self._close_equity
        self._books += 1
        self.market = market
        self._multiplier = market.multiplier
        self._closed = False
        self._minute = -1
        self._liq_minute = (market.close_s - LIQUIDATION_LEAD_S - market.open_s) // 60
        self._cutoff_s = market.close_s - NEW_ORDER_CUTOFF_S

    def sync(self, now: datetime) -> None:
        """Replay every minute since the last sync: fills, 15:45 liquidation, and the close.

        O(1) when already synced to this minute; a jump over many minutes replays each one, so an
        order resting through a quote that crossed its limit fills even if nobody looked then.
        """
        if self._closed:
            return
        mk = self._mk
        e = epoch(now)
        if e < mk.open_s:
            return
        m = int((e - mk.open_s) // 60)
        if m <= self._minute:
            return
        for k in range(self._minute + 1, min(m, mk.minutes - 1) + 1):
            if self._working:
                for oid in list(self._working):
                    self._try_fill(oid, k, mk.minute_start(k))
            if k >= self._liq_minute and self._holdings:
                self._liquidate(k)
        self._minute = min(m, mk.minutes - 1)
        if m >= mk.minutes:
            self._close_session()

    def _close_session(self) -> None:
        """Expire working orders and cash-settle every open position at intrinsic value."""
        mk = self._mk
        when = mk.session.close
        for oid in self._working:
            self._orders[oid] = replace(self._orders[oid], status=OrderStatus.EXPIRED)
        self._working.clear()
        settle = mk.settlement_price()
        for symbol, h in list(self._holdings.items()):
            c = self._contract(symbol)
            value = float(intrinsic(settle, c.strike, c.right is Right.CALL))
            qty = -h.qty
            kind = self._expiry_event(h.qty, value)
            self._trade(symbol, qty, value)
            self._log(when, kind, symbol, qty, value)
        self._close_equity = self.cash
        self._closed = True

    def _expiry_event(self, held: int, value: float) -> str:
        """Cash-settled products settle; physical ones are exercised (long) or assigned (short) when in the
        money, which the exchange books at the same intrinsic value as if the stock were sold at the close."""
        cash = self._mk.settlement == "cash"
        if cash or value <= 0:
            return "settlement" if cash else "expired worthless"
        return "exercise" if held > 0 else "assignment"

    def _liquidate(self, k: int) -> None:
        """Alpaca's expiry-day sweep: close expiring positions at the natural price of minute k.

        A long leg needs a bid to sell into; one without a bid is tried again every minute and,
        failing that, settles at the close. Working orders that were meant to close a liquidated leg
        are canceled, since filling them now would open the opposite position; other working orders
        keep working until the close.
        """
        mk = self._mk
        when = mk.minute_start(k)
        liquidated = set()
        for symbol, h in list(self._holdings.items()):
            bid, ask = mk.bid_ask(symbol, k)
            price = bid if h.qty > 0 else ask
            if price > 0:
                qty = -h.qty
                self._trade(symbol, qty, price)
                self._log(when, "liquidation", symbol, qty, price)
                liquidated.add(symbol)
        for oid in list(self._working):
            order = self._orders[oid]
            if any(leg.intent in _CLOSING and leg.symbol in liquidated for leg in order.legs):
                self._orders[oid] = replace(order, status=OrderStatus.CANCELED)
                self._working.remove(oid)

    def _log(self, when: datetime, kind: str, symbol: str, qty: int, price: float) -> None:
        self.events.append({"time": when, "kind": kind, "symbol": symbol, "qty": qty, "price": price})

    # -- orders ------------------------------------------------------------------------------------

    def submit(self, request: OrderRequest, now: datetime) -> Order:
        """Accept (status new) and immediately try to fill, or raise SimOrderRejected saying why."""
        self.sync(now)
        self._validate(request, now)
        self._seq += 1
        order = Order(
            id=str(uuid.UUID(int=self._seq)),
            client_order_id=request.client_order_id,
            status=OrderStatus.NEW,
            legs=tuple(request.legs),
            qty=request.qty,
            filled_qty=0,
            limit_price=request.limit_price,
            filled_avg_price=None,
            submitted_at=now,
        )
        self._orders[order.id] = order
        self._by_cid[order.client_order_id] = order.id
        self._working.append(order.id)
        self._try_fill(order.id, self._minute, now)
        return order

    def _validate(self, request: OrderRequest, now: datetime) -> None:
        if request.client_order_id in self._by_cid:
            raise _reject("client_order_id must be unique")
        if request.qty < 1:
            raise _reject(f"qty must be at least 1, got {request.qty}")
        legs = request.legs
        if not 1 <= len(legs) <= MAX_LEGS:
            raise _reject(f"a multi-leg order needs 1 to {MAX_LEGS} legs, got {len(legs)}")
        if len({leg.symbol for leg in legs}) != len(legs):
            raise _reject("each leg of a multi-leg order must be a different symbol")
        mk = self.market
        e = epoch(now)
        if self._closed or mk is None or not mk.open_s <= e < mk.close_s:
            raise _forbid("market is closed: option orders are accepted only during regular trading hours")
        if e >= self._cutoff_s:
            raise _forbid(
                "orders for options expiring today are not accepted from 30 minutes before the close (15:30 ET)"
            )
        for leg in legs:
            if mk.contract(leg.symbol) is None:
                raise _reject(f"unknown option symbol {leg.symbol} (not listed today)")
            if leg.ratio_qty < 1:
                raise _reject(f"ratio_qty must be at least 1 ({leg.symbol})")
            if _INTENT_SIDE[leg.intent] is not leg.side:
                raise _reject(f"position_intent {leg.intent.value} does not match side {leg.side.value} ({leg.symbol})")
            held = self._holdings[leg.symbol].qty if leg.symbol in self._holdings else 0
            need = leg.ratio_qty * request.qty
            if leg.intent is Intent.SELL_TO_CLOSE and held < need:
                raise _forbid(f"insufficient long position to sell_to_close {need} {leg.symbol} (held {held})")
            if leg.intent is Intent.BUY_TO_CLOSE and -held < need:
                raise _forbid(f"insufficient short position to buy_to_close {need} {leg.symbol} (held {held})")
        self._check_buying_power(request)

    def _check_buying_power(self, request: OrderRequest) -> None:
        """Worst case: every working order and this one fill completely at their limits."""
        qty = {s: h.qty for s, h in self._holdings.items()}
        cash = self.cash
        pending = [(o.legs, o.qty - o.filled_qty, o.limit_price) for o in (self._orders[i] for i in self._working)]
        for legs, n, limit in [*pending, (request.legs, request.qty, request.limit_price)]:
            cash -= limit * n * self._multiplier
            for leg in legs:
                qty[leg.symbol] = qty.get(leg.symbol, 0) + _signed(leg, n)
        need = self._requirement_of(qty)
        if need > cash + _PRICE_EPS:
            raise _forbid(f"insufficient options buying power: the order needs {need:.2f}, cash after it {cash:.2f}")

    def _try_fill(self, oid: str, k: int, when: datetime) -> None:
        """Fill at the natural price of minute k when the limit reaches it (Alpaca paper fills at the NBBO):
        only at prices the market shows, so a leg to buy that has no ask leaves the order working."""
        order = self._orders[oid]
        mk = self._mk
        prices = {}
        natural = 0.0
        for leg in order.legs:
            bid, ask = mk.bid_ask(leg.symbol, k)
            price = ask if leg.side is Side.BUY else bid
            if price != price:  # nobody offers this leg this minute: the combo cannot fill
                return
            prices[leg.symbol] = price
            natural += price * leg.ratio_qty if leg.side is Side.BUY else -price * leg.ratio_qty
        natural = round(natural, 2)
        if order.limit_price < natural - _PRICE_EPS:
            return
        remaining = order.qty - order.filled_qty
        fill = remaining
        if remaining > 1 and self._partial_prob > 0 and self._rng.random() < self._partial_prob:
            fill = int(self._rng.integers(1, remaining))
        for leg in order.legs:
            self._trade(leg.symbol, _signed(leg, fill), prices[leg.symbol])
        done = order.filled_qty + fill
        old = order.filled_qty
        leg_prices = {
            s: round((order.leg_fill_prices.get(s, 0.0) * old + p * fill) / done, 6) for s, p in prices.items()
        }
        avg = round(((order.filled_avg_price or 0.0) * old + natural * fill) / done, 6)
        status = OrderStatus.FILLED if done == order.qty else OrderStatus.PARTIALLY_FILLED
        when = max(when, order.submitted_at)
        self._orders[oid] = replace(
            order, status=status, filled_qty=done, filled_avg_price=avg, filled_at=when, leg_fill_prices=leg_prices
        )
        if status is OrderStatus.FILLED:
            self._working.remove(oid)

    def get_order(self, order_id: str, now: datetime) -> Order:
        self.sync(now)
        found = self._orders.get(order_id)
        if found is None:
            raise SimNotFound(f"order not found: {order_id}")
        return found

    def order_by_client_id(self, client_order_id: str, now: datetime) -> Order | None:
        self.sync(now)
        oid = self._by_cid.get(client_order_id)
        return self._orders[oid] if oid else None

    def open_orders(self, now: datetime) -> list[Order]:
        self.sync(now)
        return [self._orders[oid] for oid in self._working]

    def all_orders(self, now: datetime) -> list[Order]:
        self.sync(now)
        return list(self._orders.values())

    def cancel(self, order_id: str, now: datetime) -> None:
        """Cancel the unfilled rest of an order; a second cancel is a no-op, as on Alpaca."""
        order = self.get_order(order_id, now)
        if order.status is OrderStatus.CANCELED:
            return
        if not order.status.is_open:
            raise _reject(f"order is already {order.status.value}")
        self._orders[order_id] = replace(order, status=OrderStatus.CANCELED)
        self._working.remove(order_id)

    # -- positions and account ---------------------------------------------------------------------

    def _trade(self, symbol: str, qty: int, price: float) -> None:
        """Book a signed trade: cash, average entry price, and realized P&L on the closing part."""
        self.cash -= qty * price * self._multiplier
        self._requirement = None
        self._books += 1
        h = self._holdings.get(symbol)
        if h is None:
            self._holdings[symbol] = _Holding(qty, price)
            return
        if h.qty * qty > 0:
            h.avg = (abs(h.qty) * h.avg + abs(qty) * price) / (abs(h.qty) + abs(qty))
            h.qty += qty
            return
        closing = min(abs(qty), abs(h.qty))
        direction = 1 if h.qty > 0 else -1
        self.realized_pl += closing * (price - h.avg) * direction * self._multiplier
        h.qty += qty
        if h.qty == 0:
            del self._holdings[symbol]
        elif h.qty * direction < 0:
            h.avg = price

    def _requirement_of(self, qty_by_symbol: dict[str, int]) -> float:
        """Worst expiry loss of the legs (premium aside) over every price where the payoff can bend.

        The payoff is piecewise linear with kinks at the strikes, so its minimum over [0, inf) lies
        at 0, at a strike, or at the far right (a stress price stands in for infinity): exact for
        defined-risk spreads, and enormous for a naked short call, which is what gets it rejected.
        """
        held = [(self._contract(s), q) for s, q in qty_by_symbol.items() if q]
        if not held:
            return 0.0
        strikes = np.array([c.strike for c, _ in held])
        calls = np.array([c.right is Right.CALL for c, _ in held])
        qty = np.array([q for _, q in held], dtype=float)
        prices = np.concatenate(([0.0], strikes, [NAKED_CALL_STRESS * strikes.max()]))
        payoff = intrinsic(prices[:, None], strikes[None, :], calls[None, :]) @ qty * self._multiplier
        return max(0.0, -float(payoff.min()))

    def _current_requirement(self) -> float:
        if self._requirement is None:
            self._requirement = self._requirement_of({s: h.qty for s, h in self._holdings.items()})
        return self._requirement

    def _contract(self, symbol: str) -> OptionContract:
        """A held or ordered symbol's contract: the exchange only ever holds what today's market lists."""
        c = self._mk.contract(symbol)
        assert c is not None, f"{symbol} is not listed today"
        return c

    def _mark(self, symbol: str, now: datetime) -> float:
        """The market's mark of the minute; only called with holdings, which exist only inside a session once synced."""
        return self._mk.mark(symbol, self._mk.minute(now))

    def held(self, symbol: str) -> int:
        """The signed quantity held in a symbol as of the last sync, without syncing or marking it: what a
        trade update reports as the position after a fill the caller has just synced to."""
        h = self._holdings.get(symbol)
        return h.qty if h is not None else 0

    def positions(self, now: datetime) -> list[Position]:
        self.sync(now)
        out = []
        for symbol, h in sorted(self._holdings.items()):
            mark = self._mark(symbol, now)
            out.append(
                Position(
                    symbol=symbol,
                    qty=h.qty,
                    avg_entry_price=h.avg,
                    market_value=h.qty * mark * self._multiplier,
                    unrealized_pl=(mark - h.avg) * h.qty * self._multiplier,
                )
            )
        return out

    def account(self, now: datetime) -> Account:
        """Equity marked at mid; buying power net of the defined-risk requirement of what is held.

        The same Account object again while neither the minute (the marks) nor the books changed: a poll asks
        it twice a minute, and the journal's recorder knows an answer it has seen without encoding it again."""
        self.sync(now)
        key = (int(epoch(now) // 60), self._books)
        if self._account is not None and self._account[0] == key:
            return self._account[1]
        value = 0.0
        if self._holdings:  # marked in the minute of `now`, found once for every leg
            mk = self._mk
            m = mk.minute(now)
            value = sum(h.qty * mk.mark(s, m) for s, h in self._holdings.items()) * self._multiplier
        account = Account(
            account_id=ACCOUNT_ID,
            equity=self.cash + value,
            last_equity=self.last_equity,
            cash=self.cash,
            options_buying_power=self.cash - self._current_requirement(),
            options_level=OPTIONS_LEVEL,
            paper=True,
        )
        self._account = (key, account)
        return account
