"""The simulator's plain data shaped as Alpaca's REST JSON, field for field.

Kept apart from the HTTP plumbing so the contract with alpaca-py (field names, strings where Alpaca
sends strings, "" where an mleg order has no top-level symbol) can be read and checked in one place.
The shapes follow the recorded payloads in /work/shared/fixtures/alpaca and alpaca-py 0.44's models.
Nothing here reads a clock: every time comes in as an argument.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np

from engine import pricing
from engine.models import (
    Account,
    Intent,
    OptionContract,
    OptionQuote,
    Order,
    OrderStatus,
    Position,
    Right,
    Session,
)
from engine.sim.params import NEW_YORK as ET

PAPER_ACCOUNT_NUMBER = "PA0ZDTESIM01"
"""Alpaca numbers paper accounts PA...: serve-sim answers as one, and the engine trades nothing else."""
LIVE_ACCOUNT_NUMBER = "0ZDTESIM01"
"""The number serve-sim answers with when told to pose as a live account, so a test can prove it is refused."""
ACCOUNT_CREATED_AT = "2024-01-02T14:30:00Z"
OPTIONS_EXCHANGE = "C"
"""Exchange code on simulated quotes (Cboe); Alpaca's option quotes carry one-letter codes."""
QUOTE_SIZE = 50
_NS = uuid.NAMESPACE_URL


# -- scalars -----------------------------------------------------------------------------------------


def num(x: float | int) -> str:
    """A number as Alpaca writes money and quantities: a decimal string without float noise ("-0.5", "100")."""
    text = f"{float(x):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def iso_utc(t: datetime) -> str:
    """RFC 3339 in UTC with a Z, as Alpaca stamps orders, quotes and bars."""
    text = t.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def iso_et(t: datetime) -> str:
    """RFC 3339 with the New York offset, as Alpaca's /v2/clock writes its times."""
    return t.astimezone(ET).isoformat()


def asset_id(symbol: str) -> str:
    """A stable asset id per symbol: the same contract always has the same id, across servers and runs."""
    return str(uuid.uuid5(_NS, f"zdte-sim-asset/{symbol}"))


def error(code: int, message: str) -> dict[str, Any]:
    """Alpaca's error body; alpaca-py's APIError reads `code` and `message` from it."""
    return {"code": code, "message": message}


# -- account, clock, calendar ------------------------------------------------------------------------


def account_json(account: Account, positions: list[Position], number: str = PAPER_ACCOUNT_NUMBER) -> dict[str, Any]:
    """GET /v2/account. Buying power is the exchange's options buying power (cash net of the defined-risk
    requirement); the initial margin is that requirement, so equity, cash and margin add up."""
    long_mv = sum(p.market_value for p in positions if p.market_value is not None and p.market_value > 0)
    short_mv = sum(p.market_value for p in positions if p.market_value is not None and p.market_value < 0)
    obp = num(account.options_buying_power)
    requirement = num(max(account.cash - account.options_buying_power, 0.0))
    return {
        "id": account.account_id,
        "admin_configurations": {},
        "user_configurations": None,
        "account_number": number,
        "status": account.status,
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "buying_power": obp,
        "regt_buying_power": obp,
        "daytrading_buying_power": "0",
        "effective_buying_power": obp,
        "non_marginable_buying_power": obp,
        "options_buying_power": obp,
        "bod_dtbp": "0",
        "cash": num(account.cash),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "portfolio_value": num(account.equity),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": ACCOUNT_CREATED_AT,
        "trade_suspended_by_user": False,
        "multiplier": "1",
        "shorting_enabled": False,
        "equity": num(account.equity),
        "last_equity": num(account.last_equity),
        "long_market_value": num(long_mv),
        "short_market_value": num(short_mv),
        "position_market_value": num(long_mv + short_mv),
        "initial_margin": requirement,
        "maintenance_margin": requirement,
        "last_maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
        "balance_asof": None,
        "crypto_tier": 0,
        "options_approved_level": account.options_level,
        "options_trading_level": account.options_level,
        "intraday_adjustments": "0",
        "pending_reg_taf_fees": "0",
    }


def clock_json(now: datetime, today: Session | None, following: Session) -> dict[str, Any]:
    """GET /v2/clock from the session of now's New York date (None on a holiday) and the one after it."""
    is_open = today is not None and today.open <= now < today.close
    next_open = today.open if today is not None and now < today.open else following.open
    next_close = today.close if today is not None and now < today.close else following.close
    return {
        "timestamp": iso_et(now),
        "is_open": is_open,
        "next_open": iso_et(next_open),
        "next_close": iso_et(next_close),
    }


def calendar_json(session: Session, settlement: date) -> dict[str, Any]:
    """One /v2/calendar day: regular hours as "HH:MM" New York time (alpaca-py joins them to the date),
    extended hours as "HHMM", and T+1 settlement."""
    close = session.close.astimezone(ET)
    late = time(20, 0) if close.time() >= time(16, 0) else time(17, 0)
    return {
        "date": session.day.isoformat(),
        "open": session.open.astimezone(ET).strftime("%H:%M"),
        "close": close.strftime("%H:%M"),
        "session_open": "0400",
        "session_close": late.strftime("%H%M"),
        "settlement_date": settlement.isoformat(),
    }


# -- contracts and market data -----------------------------------------------------------------------


def contract_json(c: OptionContract, multiplier: int = 100, style: str = "american") -> dict[str, Any]:
    """One /v2/options/contracts entry. Open interest is unknown in the simulator, so it is null (not 0)."""
    kind = "call" if c.right is Right.CALL else "put"
    return {
        "id": asset_id(c.symbol),
        "symbol": c.symbol,
        "name": f"{c.underlying} {c.expiry:%b %d %Y} {num(c.strike)} {kind.capitalize()}",
        "status": "active",
        "tradable": True,
        "expiration_date": c.expiry.isoformat(),
        "root_symbol": c.underlying,
        "underlying_symbol": c.underlying,
        "underlying_asset_id": asset_id(c.underlying),
        "type": kind,
        "style": style,
        "strike_price": num(c.strike),
        "multiplier": str(multiplier),
        "size": str(multiplier),
        "open_interest": None,
        "open_interest_date": None,
        "close_price": None,
        "close_price_date": None,
    }


def bar_json(ts: int, o: float, h: float, low: float, c: float, v: float) -> dict[str, Any]:
    """One /v2/stocks/bars bar. The simulator has no trades, so the trade count and VWAP are derived
    (volume / 100 and the typical price): alpaca-py requires both keys to be present."""
    return {
        "t": iso_utc(datetime.fromtimestamp(int(ts), tz=UTC)),
        "o": round(float(o), 4),
        "h": round(float(h), 4),
        "l": round(float(low), 4),
        "c": round(float(c), 4),
        "v": int(v),
        "n": max(1, int(v) // 100),
        "vw": round((float(h) + float(low) + float(c)) / 3.0, 4),
    }


@dataclass(frozen=True, slots=True)
class Greeks:
    """The five greeks Alpaca's snapshots carry; alpaca-py requires all of them when `greeks` is present."""

    delta: float
    gamma: float
    rho: float
    theta: float
    vega: float


def _finite(x: float) -> float:
    """JSON has no Infinity or NaN; a degenerate greek at the bell becomes 0 rather than invalid JSON."""
    return x if math.isfinite(x) else 0.0


def greeks(
    rows: list[tuple[OptionQuote, OptionContract, float]], close: datetime, rate: float
) -> list[Greeks | None]:
    """Black–Scholes greeks of (quote, contract, spot) rows at each quote's IV, in Alpaca's convention:
    calendar time to the close (ACT/365), theta per calendar day, vega and rho per 1 point (1%), as the
    IV is itself quoted in calendar time. Delta is the market's own, so it is the number the in-process
    adapter sees. One vectorized pass: a chain page has hundreds of quotes. None where IV or delta is unknown."""
    known = [i for i, (q, _, spot) in enumerate(rows) if q.iv is not None and q.delta is not None and spot > 0]
    out: list[Greeks | None] = [None] * len(rows)
    if not known:
        return out
    picked = [rows[i] for i in known]
    g = pricing.greeks(
        np.array([spot for _, _, spot in picked]),
        np.array([c.strike for _, c, _ in picked]),
        pricing.calendar_years(np.array([(close - q.ts).total_seconds() for q, _, _ in picked])),
        np.array([q.iv for q, _, _ in picked]),
        rate,
        np.array([c.right is Right.CALL for _, c, _ in picked]),
    )
    deltas = [q.delta for q, _, _ in picked]
    for j, i in enumerate(known):
        out[i] = Greeks(
            delta=_finite(float(deltas[j] or 0.0)),
            gamma=_finite(float(g.gamma[j])),
            rho=_finite(float(g.rho[j])),
            theta=_finite(float(g.theta[j])),
            vega=_finite(float(g.vega[j])),
        )
    return out


def quote_fields(q: OptionQuote) -> dict[str, Any]:
    """An option quote's prices, sizes, exchanges and condition, without its time: the snapshot's latestQuote
    and the option stream's `q` message share them, so a streamed quote is the quote REST answers."""
    return {
        "ap": q.ask,
        "as": QUOTE_SIZE,
        "ax": OPTIONS_EXCHANGE,
        "bp": q.bid,
        "bs": QUOTE_SIZE if q.bid > 0 else 0,
        "bx": OPTIONS_EXCHANGE,
        "c": " ",
    }


def snapshot_json(q: OptionQuote, g: Greeks | None) -> dict[str, Any]:
    """One option snapshot: the latest quote, and IV and greeks when known. No latestTrade: the simulator
    has no trades, and Alpaca leaves the key out for contracts that have not traded."""
    out: dict[str, Any] = {"latestQuote": {**quote_fields(q), "t": iso_utc(q.ts)}}
    if q.iv is not None:
        out["impliedVolatility"] = q.iv
    if g is not None:
        out["greeks"] = {"delta": g.delta, "gamma": g.gamma, "rho": g.rho, "theta": g.theta, "vega": g.vega}
    return out


# -- orders and positions ----------------------------------------------------------------------------


@dataclass(slots=True)
class OrderMeta:
    """What the exchange's Order does not keep but Alpaca's JSON shows: how the order was sent
    (an mleg order, or a single-leg "simple" one with a positive per-contract price) and when it was
    canceled through the API."""

    order_class: str = "mleg"
    type: str = "limit"
    display_limit: float | None = None
    canceled_at: datetime | None = None


_NULL_TIMES = ("failed_at", "replaced_at", "replaced_by", "replaces")


def _order_common(order: Order, meta: OrderMeta, expires_at: datetime | None, close: datetime | None) -> dict:
    canceled_at = meta.canceled_at if order.status is OrderStatus.CANCELED else None
    expired_at = close if order.status is OrderStatus.EXPIRED else None
    updated = max(t for t in (order.submitted_at, order.filled_at, canceled_at, expired_at) if t is not None)
    out: dict[str, Any] = {
        "created_at": iso_utc(order.submitted_at),
        "updated_at": iso_utc(updated),
        "submitted_at": iso_utc(order.submitted_at),
        "filled_at": iso_utc(order.filled_at) if order.filled_at else None,
        "expired_at": iso_utc(expired_at) if expired_at else None,
        "canceled_at": iso_utc(canceled_at) if canceled_at else None,
    }
    out.update(dict.fromkeys(_NULL_TIMES))
    out.update(
        {
            "notional": None,
            "time_in_force": "day",
            "stop_price": None,
            "status": order.status.value,
            "extended_hours": False,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
            "expires_at": iso_utc(expires_at) if expires_at else None,
        }
    )
    return out


def order_json(order: Order, meta: OrderMeta, close: datetime | None) -> dict[str, Any]:
    """An order as POST/GET /v2/orders return it; `close` is the close of the order's session (DAY orders
    expire then). An mleg order has "" for its top-level symbol, side and asset, and its legs as orders;
    a simple (single-leg) order is shaped as Alpaca shapes a single option order."""
    common = _order_common(order, meta, close, close)
    filled_avg = num(order.filled_avg_price) if order.filled_avg_price is not None else None
    if meta.order_class == "simple" and len(order.legs) == 1:
        leg = order.legs[0]
        price = order.leg_fill_prices.get(leg.symbol)
        limit = meta.display_limit if meta.display_limit is not None else abs(order.limit_price)
        return {
            "id": order.id,
            "client_order_id": order.client_order_id,
            **common,
            "asset_id": asset_id(leg.symbol),
            "symbol": leg.symbol,
            "asset_class": "us_option",
            "qty": num(order.qty * leg.ratio_qty),
            "filled_qty": num(order.filled_qty * leg.ratio_qty),
            "filled_avg_price": num(price) if price is not None and order.filled_qty else None,
            "order_class": "simple",
            "order_type": meta.type,
            "type": meta.type,
            "side": leg.side.value,
            "position_intent": leg.intent.value,
            "limit_price": num(limit) if meta.type == "limit" else None,
            "legs": None,
        }
    legs = []
    for leg in order.legs:
        price = order.leg_fill_prices.get(leg.symbol)
        legs.append(
            {
                "id": str(uuid.uuid5(_NS, f"zdte-sim-leg/{order.id}/{leg.symbol}")),
                "client_order_id": str(uuid.uuid5(_NS, f"zdte-sim-leg-cid/{order.id}/{leg.symbol}")),
                **common,
                "asset_id": asset_id(leg.symbol),
                "symbol": leg.symbol,
                "asset_class": "us_option",
                "qty": num(order.qty * leg.ratio_qty),
                "filled_qty": num(order.filled_qty * leg.ratio_qty),
                "filled_avg_price": num(price) if price is not None and order.filled_qty else None,
                "order_class": "mleg",
                "order_type": "",
                "type": "",
                "side": leg.side.value,
                "position_intent": leg.intent.value,
                "limit_price": None,
                "legs": None,
                "ratio_qty": num(leg.ratio_qty),
            }
        )
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        **common,
        "asset_id": "",
        "symbol": "",
        "asset_class": "",
        "qty": num(order.qty),
        "filled_qty": num(order.filled_qty),
        "filled_avg_price": filled_avg,
        "order_class": "mleg",
        "order_type": meta.type,
        "type": meta.type,
        "side": "",
        "limit_price": num(order.limit_price) if meta.type == "limit" else None,
        "legs": legs,
    }


def position_json(p: Position, qty_available: int, multiplier: int = 100) -> dict[str, Any]:
    """One option position. Quantities and money are signed like Alpaca's: a short leg has a negative qty,
    market value and cost basis, and side "short". Unknown values stay null, never 0."""
    basis = p.qty * p.avg_entry_price * multiplier
    current = None
    plpc = None
    if p.market_value is not None and p.qty:
        current = p.market_value / (p.qty * multiplier)
    if p.unrealized_pl is not None and basis:
        plpc = p.unrealized_pl / abs(basis)
    upl = num(p.unrealized_pl) if p.unrealized_pl is not None else None
    return {
        "asset_id": asset_id(p.symbol),
        "symbol": p.symbol,
        "exchange": "",
        "asset_class": "us_option",
        "asset_marginable": False,
        "avg_entry_price": num(p.avg_entry_price),
        "qty": num(p.qty),
        "qty_available": num(qty_available),
        "side": "long" if p.qty > 0 else "short",
        "market_value": num(p.market_value) if p.market_value is not None else None,
        "cost_basis": num(basis),
        "unrealized_pl": upl,
        "unrealized_plpc": num(plpc) if plpc is not None else None,
        "unrealized_intraday_pl": upl,
        "unrealized_intraday_plpc": num(plpc) if plpc is not None else None,
        "current_price": num(current) if current is not None else None,
        "lastday_price": None,
        "change_today": None,
    }


def closing_intent(qty_held: int) -> Intent:
    """The intent that closes a position of that signed size."""
    return Intent.SELL_TO_CLOSE if qty_held > 0 else Intent.BUY_TO_CLOSE
