"""Alpaca's trading endpoints (account, clock, calendar, option contracts, orders, positions) over a SimVenue.

The venue knows orders as the exchange does; what Alpaca adds (an order's class and type as sent, when it
was canceled, the 422s it answers for bodies it will not carry out) is kept here, so the venue stays the
engine's simulated exchange and nothing else. Not thread-safe: the transport serializes every call.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from engine.models import Intent, Leg, Order, OrderRequest, OrderStatus, Session, Side
from engine.occ import parse_occ
from engine.sim import alpaca_json as aj
from engine.sim.api_call import Reply, Request
from engine.sim.errors import SimDataError, SimNotFound, SimOrderRejected
from engine.sim.params import NEW_YORK as ET
from engine.sim.params import SimulatedClock
from engine.sim.query import ApiError, bad, enum, number, unprocessable, whole
from engine.sim.venue import SimVenue

MAX_CLIENT_ORDER_ID = 128
_INTENT_SIDE = {
    Intent.BUY_TO_OPEN: Side.BUY,
    Intent.BUY_TO_CLOSE: Side.BUY,
    Intent.SELL_TO_OPEN: Side.SELL,
    Intent.SELL_TO_CLOSE: Side.SELL,
}
_ORDER_NOT_FOUND = (404, 40410000, "order not found")


class TradingApi:
    """The trading endpoints, each a handler from a Request to a Reply; errors are raised, the router answers them."""

    def __init__(self, venue: SimVenue, clock: SimulatedClock, live_account: bool = False) -> None:
        self.venue = venue
        self.clock = clock
        self._account_number = aj.LIVE_ACCOUNT_NUMBER if live_account else aj.PAPER_ACCOUNT_NUMBER
        self._meta: dict[str, aj.OrderMeta] = {}
        self._sessions: dict[date, Session | None] = {}
        self._auto_cid = 0

    # -- what a test or a soak reads back ----------------------------------------------------------

    def canceled_at(self, order_id: str) -> datetime | None:
        """When Alpaca would say the order was canceled (None: it was not canceled through the API)."""
        meta = self._meta.get(order_id)
        return meta.canceled_at if meta is not None else None

    def close_of(self, when: datetime) -> datetime | None:
        """The close of the session of `when`'s New York date: when a DAY order expires."""
        session = self._session(when.astimezone(ET).date())
        return session.close if session else None

    # -- account, clock, calendar, contracts ---------------------------------------------------------

    def get_account(self, req: Request) -> Reply:
        return Reply(200, aj.account_json(self.venue.account(), self.venue.positions(), self._account_number))

    def get_clock(self, req: Request) -> Reply:
        now = self.clock.now()
        day = now.astimezone(ET).date()
        return Reply(200, aj.clock_json(now, self._session(day), self.venue.next_session(day)))

    def get_calendar(self, req: Request) -> Reply:
        # The calendar's range less its edges: it refuses days before its first session, and the last session
        # needs a next one for its settlement date.
        cal = self.venue.calendar
        first, last = cal.first_day + timedelta(days=7), cal.last_day - timedelta(days=15)
        start = req.query.day("start") or first
        end = req.query.day("end") or last
        start, end = max(start, first), min(end, last)
        out = []
        day = start
        while day <= end:
            entry = self._calendar_day(day)
            if entry is not None:
                out.append(entry)
            day += timedelta(days=1)
        return Reply(200, out)

    def _session(self, day: date) -> Session | None:
        """The venue's session of a day, cached: the calendar never changes while the server runs."""
        if day not in self._sessions:
            self._sessions[day] = self.venue.session(day)
        return self._sessions[day]

    def _calendar_day(self, day: date) -> dict[str, Any] | None:
        session = self._session(day)
        if session is None:
            return None
        settlement = day + timedelta(days=1)
        while self._session(settlement) is None:
            settlement += timedelta(days=1)
        return aj.calendar_json(session, settlement)

    def _listed(self, req: Request) -> list:
        """Today's contracts matching the filters Alpaca's /v2/options/contracts takes."""
        q = req.query
        mk = self.venue.market()
        if mk is None or q.choice("status", ("active", "inactive"), "active") != "active":
            return []
        if q.choice("style", ("american", "european"), "american") != "american":
            return []
        kind = q.choice("type", ("call", "put"), None)
        day = mk.session.day
        if not q.covers_expiry(day):
            return []
        underlyings = q.items("underlying_symbols") or [self.venue.underlying]
        root = q.get("root_symbol")
        if self.venue.underlying not in underlyings or root not in (None, self.venue.underlying):
            return []
        lo = q.number("strike_price_gte")
        hi = q.number("strike_price_lte")
        listed = self.venue.contracts(
            self.venue.underlying, day, -math.inf if lo is None else lo, math.inf if hi is None else hi
        )
        if kind is not None:
            listed = [c for c in listed if (c.right.value == "C") == (kind == "call")]
        return listed

    def _instrument(self) -> tuple[int, str]:
        return self.venue.instrument.multiplier, self.venue.instrument.exercise

    def list_contracts(self, req: Request) -> Reply:
        limit = req.query.integer("limit", 100, 1, 10_000)
        page, token = req.query.page(self._listed(req), limit)
        contracts = [aj.contract_json(c, *self._instrument()) for c in page]
        return Reply(200, {"option_contracts": contracts, "next_page_token": token})

    def get_contract(self, req: Request) -> Reply:
        key = req.params["symbol_or_id"]
        mk = self.venue.market()
        for c in mk.contracts() if mk is not None else []:
            if key in (c.symbol, aj.asset_id(c.symbol)):
                return Reply(200, aj.contract_json(c, *self._instrument()))
        raise ApiError(404, 40410000, f"option contract not found: {key}")

    # -- orders ----------------------------------------------------------------------------------------

    def order_json(self, order: Order) -> dict[str, Any]:
        """An order as Alpaca's REST API shows it now: the trade stream sends the same object in its updates."""
        return aj.order_json(order, self._meta.get(order.id) or aj.OrderMeta(), self.close_of(order.submitted_at))

    def _get_order(self, order_id: str) -> Order:
        try:
            return self.venue.get_order(order_id)
        except SimNotFound:
            raise ApiError(*_ORDER_NOT_FOUND) from None

    def _new_client_order_id(self) -> str:
        """Alpaca makes one up when none is sent; a counter keeps the simulator's repeatable."""
        self._auto_cid += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"zdte-sim-client-order/{self._auto_cid}"))

    def _natural(self, legs: Sequence[Leg]) -> float:
        """Net price per unit of the combo at the current quotes (buy at the ask, sell at the bid):
        what a market order is sent at, so it fills at once like a market order."""
        symbols = [leg.symbol for leg in legs]
        try:
            quotes = self.venue.quotes(symbols)
        except SimDataError as exc:
            raise unprocessable(f"market is closed: no quotes for a market order ({exc})") from None
        total = 0.0
        for leg in legs:
            q = quotes.get(leg.symbol)
            if q is None:
                raise unprocessable(f"unknown option symbol {leg.symbol} (not listed today)")
            total += (q.ask if leg.side is Side.BUY else -q.bid) * leg.ratio_qty
        return round(total, 2)

    def submit_order(self, req: Request) -> Reply:
        request, meta = self._parse_order(req.body)
        order = self.venue.submit_order(request)
        self._meta[order.id] = meta
        return Reply(200, self.order_json(order))

    def _parse_order(self, body: Any) -> tuple[OrderRequest, aj.OrderMeta]:
        """Alpaca's order body to the exchange's OrderRequest; what Alpaca would refuse is refused here."""
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        legs_raw = body.get("legs")
        order_class = body.get("order_class") or ("mleg" if legs_raw else "simple")
        if order_class not in ("mleg", "simple"):
            raise unprocessable(f"order_class {order_class!r} is not supported for options (mleg or simple)")
        kind = body.get("type") or body.get("order_type")
        if kind not in ("limit", "market"):
            raise unprocessable(f"order type {kind!r} is not supported for options (limit or market)")
        if body.get("time_in_force") != "day":
            raise unprocessable("options orders must have time_in_force day")
        if body.get("extended_hours"):
            raise unprocessable("extended hours orders are not supported for options")
        if body.get("notional") is not None:
            raise unprocessable("notional orders are not supported for options")
        qty = whole(body.get("qty"), "qty")
        cid = body.get("client_order_id")
        if cid is None:
            cid = self._new_client_order_id()
        if not isinstance(cid, str) or not cid or len(cid) > MAX_CLIENT_ORDER_ID:
            raise unprocessable(f"client_order_id must be a string of 1 to {MAX_CLIENT_ORDER_ID} characters")
        if order_class == "mleg":
            if body.get("symbol"):
                raise unprocessable("mleg orders take their symbols in legs, not at the top level")
            if not isinstance(legs_raw, list) or not legs_raw:
                raise unprocessable("legs is required for the mleg order class")
            legs = [self._parse_leg(raw) for raw in legs_raw]
        else:
            if legs_raw:
                raise unprocessable("legs are only allowed for the mleg order class")
            legs = [self._parse_leg({**body, "ratio_qty": 1})]
        if kind == "market":
            limit = self._natural(legs)
            display = None
        else:
            limit = number(body.get("limit_price"), "limit_price")
            display = limit
            if order_class == "simple":
                if limit <= 0:
                    raise unprocessable("limit_price must be positive for a single-leg option order")
                limit = limit if legs[0].side is Side.BUY else -limit
        meta = aj.OrderMeta(order_class=order_class, type=kind, display_limit=display)
        return OrderRequest(client_order_id=cid, legs=tuple(legs), qty=qty, limit_price=limit), meta

    def _parse_leg(self, raw: Any) -> Leg:
        if not isinstance(raw, dict):
            raise unprocessable("each leg must be an object with symbol, ratio_qty, side and position_intent")
        symbol = raw.get("symbol")
        if not isinstance(symbol, str):
            raise unprocessable("symbol is required")
        try:
            parse_occ(symbol)
        except ValueError:
            raise unprocessable(f"asset {symbol} is not an option contract the simulator lists") from None
        ratio = whole(raw.get("ratio_qty", 1), "ratio_qty")
        side = enum(Side, raw.get("side"), "side")
        intent = enum(Intent, raw.get("position_intent"), "position_intent")
        if side is None and intent is None:
            raise unprocessable(f"side or position_intent is required ({symbol})")
        if side is None:
            side = _INTENT_SIDE[intent]
        if intent is None:
            held = next((p.qty for p in self.venue.positions() if p.symbol == symbol), 0)
            if side is Side.BUY:
                intent = Intent.BUY_TO_CLOSE if held < 0 else Intent.BUY_TO_OPEN
            else:
                intent = Intent.SELL_TO_CLOSE if held > 0 else Intent.SELL_TO_OPEN
        return Leg(symbol=symbol, side=side, intent=intent, ratio_qty=ratio)

    def list_orders(self, req: Request) -> Reply:
        q = req.query
        status = q.choice("status", ("open", "closed", "all"), "open")
        limit = q.integer("limit", 50, 1, 500)
        direction = q.choice("direction", ("asc", "desc"), "desc")
        after, until = q.moment("after"), q.moment("until")
        symbols = set(q.items("symbols"))
        side = q.choice("side", ("buy", "sell"), None)
        orders = self.venue.all_orders()
        if status != "all":
            orders = [o for o in orders if o.status.is_open == (status == "open")]
        if after is not None:
            orders = [o for o in orders if o.submitted_at > after]
        if until is not None:
            orders = [o for o in orders if o.submitted_at < until]
        if symbols:
            orders = [o for o in orders if symbols & {leg.symbol for leg in o.legs}]
        if side is not None:
            orders = [o for o in orders if len(o.legs) == 1 and o.legs[0].side.value == side]
        if direction == "desc":
            orders = orders[::-1]
        return Reply(200, [self.order_json(o) for o in orders[:limit]])

    def get_order(self, req: Request) -> Reply:
        return Reply(200, self.order_json(self._get_order(req.params["order_id"])))

    def order_by_client_id(self, req: Request) -> Reply:
        cid = req.query.get("client_order_id")
        if cid is None:
            raise bad("client_order_id", "required")
        order = self.venue.order_by_client_id(cid)
        if order is None:
            raise ApiError(*_ORDER_NOT_FOUND)
        return Reply(200, self.order_json(order))

    def _cancel(self, order_id: str) -> None:
        order = self._get_order(order_id)
        if not order.status.is_open and order.status is not OrderStatus.CANCELED:
            raise unprocessable(f'order is already in "{order.status.value}" state')
        self.venue.cancel_order(order_id)
        meta = self._meta.setdefault(order_id, aj.OrderMeta())
        if meta.canceled_at is None:
            meta.canceled_at = self.clock.now()

    def cancel_order(self, req: Request) -> Reply:
        self._cancel(req.params["order_id"])
        return Reply(204)

    def cancel_all(self, req: Request) -> Reply:
        out = []
        for order in self.venue.open_orders():
            try:
                self._cancel(order.id)
                out.append({"id": order.id, "status": 200})
            except (ApiError, SimOrderRejected) as exc:
                status = exc.status if isinstance(exc, SimOrderRejected) else 422
                out.append({"id": order.id, "status": status, "body": aj.error(status * 100000 + 10000, str(exc))})
        return Reply(207, out)

    # -- positions ---------------------------------------------------------------------------------------

    def _positions_with_available(self) -> list[dict[str, Any]]:
        reserved: Counter[str] = Counter()
        for order in self.venue.open_orders():
            for leg in order.legs:
                if leg.intent in (Intent.BUY_TO_CLOSE, Intent.SELL_TO_CLOSE):
                    reserved[leg.symbol] += leg.ratio_qty * (order.qty - order.filled_qty)
        out = []
        for p in self.venue.positions():
            available = max(abs(p.qty) - reserved[p.symbol], 0)
            out.append(aj.position_json(p, available if p.qty > 0 else -available, self.venue.instrument.multiplier))
        return out

    def list_positions(self, req: Request) -> Reply:
        return Reply(200, self._positions_with_available())

    def get_position(self, req: Request) -> Reply:
        symbol = req.params["symbol"]
        for p in self._positions_with_available():
            if symbol in (p["symbol"], p["asset_id"]):
                return Reply(200, p)
        raise ApiError(404, 40410000, "position does not exist")

    def close_position(self, req: Request) -> Reply:
        """One leg closed by a market order (Alpaca's DELETE /v2/positions/{symbol}). The engine never
        does this (a spread is closed as one mleg order), but a user poking at the API may."""
        symbol = req.params["symbol"]
        held = next((p.qty for p in self.venue.positions() if symbol in (p.symbol, aj.asset_id(p.symbol))), None)
        if held is None:
            raise ApiError(404, 40410000, "position does not exist")
        symbol = next(p.symbol for p in self.venue.positions() if symbol in (p.symbol, aj.asset_id(p.symbol)))
        qty_text, pct = req.query.get("qty"), req.query.number("percentage")
        if qty_text is not None:
            qty = whole(qty_text, "qty")
        elif pct is not None:
            if not 0 < pct <= 100:
                raise bad("percentage", "must be in (0, 100]")
            qty = math.floor(abs(held) * pct / 100)
        else:
            qty = abs(held)
        if not 1 <= qty <= abs(held):
            raise ApiError(
                403, 40310000, f"insufficient qty available for order (requested: {qty}, available: {abs(held)})"
            )
        side = Side.SELL if held > 0 else Side.BUY
        leg = Leg(symbol=symbol, side=side, intent=aj.closing_intent(held), ratio_qty=1)
        cid = self._new_client_order_id()
        request = OrderRequest(client_order_id=cid, legs=(leg,), qty=qty, limit_price=self._natural([leg]))
        order = self.venue.submit_order(request)
        self._meta[order.id] = aj.OrderMeta(order_class="simple", type="market")
        return Reply(200, self.order_json(order))
