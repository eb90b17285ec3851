"""The Broker and MarketData ports on alpaca-py, paper only, with our own timeouts and retry policy.

alpaca-py sets no request timeout, retries only 429/504 with a blocking wall-clock sleep and never
retries a dropped connection. So every client here gets a timeout, the SDK's own retry is switched
off, and `RetryPolicy` retries only what is transient, sleeping on the injected clock (so a
simulated clock's time moves, not the wall's). An order submission is never simply re-sent: before
each retry the order is looked up by its client order id, because a lost response may hide an
accepted order.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed, OptionsFeed
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models import BarSet
from alpaca.data.requests import OptionChainRequest, OptionSnapshotRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, PositionIntent, PositionSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import OptionContractsResponse
from alpaca.trading.requests import GetCalendarRequest, GetOptionContractsRequest, GetOrdersRequest, LimitOrderRequest
from alpaca.trading.requests import OptionLegRequest as AlpacaLeg
from loguru import logger
from pydantic import ValidationError

from engine.brokers.loopback_http import LoopbackSession
from engine.calendar import ET
from engine.config import AlpacaConfig
from engine.errors import AuthError, BrokerError, OrderRejected, UnsafeEndpointError
from engine.models import (
    Account,
    Bars,
    Intent,
    Leg,
    OptionContract,
    OptionQuote,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    Session,
    Side,
)
from engine.occ import parse_occ
from engine.ports import Clock

LIVE_TRADING_HOST = "api.alpaca.markets"
PAPER_ACCOUNT_PREFIX = "PA"
"""Alpaca's paper account numbers start with it (the docs' GET /v2/account example: "PALPACA_123"); the account
numbers of live accounts do not."""
LIVE_KEY_PREFIX = "AK"
"""Alpaca's live API key ids start with it, its paper ones with "PK"."""
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
T = TypeVar("T")


def refuse_live(url: str | None) -> None:
    """Paper only: the live trading host is refused whatever else is configured. The host is compared, not the
    text: host names are case-insensitive, and "paper-api" in a path or query must not make the live host pass."""
    if not url:
        return
    host = (urlsplit(url.strip()).hostname or "").rstrip(".")  # urlsplit lower-cases the host
    if host == LIVE_TRADING_HOST or (not host and LIVE_TRADING_HOST in url.lower()):
        raise UnsafeEndpointError(f"alpaca.trading_url {url} is Alpaca's LIVE trading endpoint: zdte trades paper only")


class _TimeoutSession(requests.Session):
    """A requests session whose every call has a timeout (alpaca-py passes none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, **kwargs)


def _tame(client: Any, timeout: float, loopback: bool = False) -> Any:
    """Give an alpaca-py client a timeout and switch off its blocking internal retry. `loopback`: its endpoint is
    serve-sim on this machine, whose calls take engine/brokers/loopback_http.py's short way (any other URL a
    LoopbackSession is asked for still goes through requests, as with _TimeoutSession)."""
    client._session = LoopbackSession(timeout) if loopback else _TimeoutSession(timeout)
    client._retry = 0
    return client


def _status(exc: APIError) -> int | None:
    try:
        return exc.status_code
    except Exception:  # noqa: BLE001 - a broken error object still has to become a clear error
        return None


def _message(exc: APIError) -> str:
    try:
        body = json.loads(str(exc))
        return f"{body.get('message', str(exc))} (code {body.get('code')})"
    except (ValueError, AttributeError):
        return str(exc)[:300] or "no error body"


class RetryPolicy:
    """Exponential backoff with jitter on the injected clock; honours Retry-After and rate-limit resets."""

    def __init__(
        self, clock: Clock, max_retries: int, base_delay: float = 0.5, max_delay: float = 16.0, seed: int = 0
    ) -> None:
        self.clock = clock
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._rng = random.Random(seed)
        self.retries = 0

    def delay(self, attempt: int, exc: BaseException | None) -> float:
        hinted = self._hinted_delay(exc)
        if hinted is not None:
            return min(hinted, 60.0)
        backoff = min(self.max_delay, self.base_delay * 2**attempt)
        return backoff * (0.5 + self._rng.random() / 2)

    def _hinted_delay(self, exc: BaseException | None) -> float | None:
        if isinstance(exc, BrokerError) and isinstance(exc.__cause__, APIError):
            exc = exc.__cause__  # a nested call's classified error still carries the server's hint
        response = getattr(exc, "response", None) if isinstance(exc, APIError) else None
        if response is None:
            return None
        headers = response.headers
        if headers.get("Retry-After"):
            try:
                return max(float(headers["Retry-After"]), 0.0)
            except ValueError:
                return None
        if headers.get("X-RateLimit-Reset"):
            try:
                reset = datetime.fromtimestamp(float(headers["X-RateLimit-Reset"]), tz=UTC)
            except ValueError:
                return None
            return max((reset - self.clock.now()).total_seconds(), 0.0)
        return None

    def call(self, what: str, fn: Callable[[], T], before_retry: Callable[[], T | None] | None = None) -> T:
        """Run `fn`; on a transient failure wait and retry. `before_retry` may return the result instead
        (an order that did arrive), and a failure of `before_retry` itself is retried before any resend."""
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified right below
                err = classify(what, exc)
                if not err.transient or attempt >= self.max_retries:
                    raise err from exc
                last: BaseException = exc
            while True:
                wait = self.delay(attempt, last)
                attempt += 1
                self.retries += 1
                logger.warning(f"{what}: {classify(what, last)}; retry {attempt}/{self.max_retries} in {wait:.1f}s")
                self.clock.sleep(wait)
                if before_retry is None:
                    break
                try:
                    found = before_retry()
                except Exception as exc:  # noqa: BLE001 - same classification as the call itself
                    err = classify(f"{what} (look-up before retry)", exc)
                    if not err.transient or attempt >= self.max_retries:
                        raise err from exc
                    last = exc
                    continue
                if found is not None:
                    return found
                break


ORDER_CALLS = ("POST /v2/orders", "DELETE /v2/orders")
"""Calls whose 403 is Alpaca refusing the order (buying power, the 15:30 cutoff for 0DTE options, an account
restriction), not the keys: a rejection, handled as one."""


def classify(what: str, exc: BaseException) -> BrokerError:
    """One typed engine error per failure, saying what failed and whether waiting may help."""
    if isinstance(exc, BrokerError):
        return exc
    if isinstance(exc, APIError):
        status = _status(exc)
        msg = f"{what}: HTTP {status}: {_message(exc)}"
        if status == 403 and what.startswith(ORDER_CALLS):
            return OrderRejected(msg, status=status)
        if status in (401, 403):
            return AuthError(f"{msg} (check ALPACA_API_KEY / ALPACA_SECRET_KEY)", status=status)
        if status == 422 or status == 400:
            return OrderRejected(msg, status=status)
        return BrokerError(msg, transient=status in TRANSIENT_STATUS or status is None, status=status)
    if isinstance(exc, requests.Timeout):
        return BrokerError(f"{what}: timed out ({exc.__class__.__name__})", transient=True)
    if isinstance(exc, requests.ConnectionError):
        return BrokerError(f"{what}: connection failed ({exc.__class__.__name__})", transient=True)
    if isinstance(exc, ValidationError):
        problems = exc.errors()
        where = ".".join(str(p) for p in problems[0]["loc"]) if problems else ""
        message = problems[0]["msg"] if problems else str(exc)[:200]
        return BrokerError(f"{what}: malformed response: {where or exc.title}: {message}")
    if isinstance(exc, (ValueError, KeyError, TypeError)):
        line = str(exc).splitlines()[0][:200]
        return BrokerError(f"{what}: malformed response: {type(exc).__name__}: {line}")
    return BrokerError(f"{what}: {type(exc).__name__}: {exc}")


def _f(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _order_status(value: Any) -> OrderStatus:
    raw = getattr(value, "value", value)
    try:
        return OrderStatus(raw)
    except ValueError:
        raise BrokerError(f"unknown order status {raw!r} from Alpaca") from None


ORDERS_PAGE = 500  # the most orders Alpaca lists in one call


class AlpacaBroker:
    """The Broker port on Alpaca's Trading API (paper)."""

    def __init__(self, trading: TradingClient, retry: RetryPolicy) -> None:
        self._tc = trading
        self._retry = retry

    def _get(self, what: str, fetch: Callable[[], Any], convert: Callable[[Any], T]) -> T:
        """Fetch and map inside one retried call, so a malformed answer is an error that names the endpoint."""
        return self._retry.call(what, lambda: convert(fetch()))

    def account(self) -> Account:
        """Refused unless the account shows itself to be paper. The URL cannot tell: a proxy on loopback may stand
        in front of the live API, so every read of the account is judged by the account's own number."""
        account = self._get("GET /v2/account", self._tc.get_account, _account)
        if not account.paper:
            raise UnsafeEndpointError(
                f"GET /v2/account: account {account.account_id!r} is not evidently paper: its account number does "
                f"not start with {PAPER_ACCOUNT_PREFIX!r}, as Alpaca's paper account numbers do; zdte trades paper only"
            )
        return account

    def _calendar(self, start: date, end: date) -> list[Session]:
        return self._get(
            "GET /v2/calendar",
            lambda: self._tc.get_calendar(GetCalendarRequest(start=start, end=end)),
            lambda days: [
                Session(day=c.date, open=c.open.replace(tzinfo=ET), close=c.close.replace(tzinfo=ET)) for c in days
            ],
        )

    def session(self, day: date) -> Session | None:
        found = [s for s in self._calendar(day, day) if s.day == day]
        return found[0] if found else None

    def next_session(self, after: date) -> Session:
        for s in self._calendar(after + timedelta(days=1), after + timedelta(days=15)):
            if s.day > after:
                return s
        raise BrokerError(f"GET /v2/calendar: no session in the 15 days after {after}")

    def contracts(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionContract]:
        out: list[OptionContract] = []
        token: str | None = None
        while True:
            req = GetOptionContractsRequest(
                underlying_symbols=[underlying],
                expiration_date=expiry,
                strike_price_gte=f"{strike_min:.3f}",
                strike_price_lte=f"{strike_max:.3f}",
                limit=1000,
                page_token=token,
            )
            page = self._retry.call("GET /v2/options/contracts", partial(self._tc.get_option_contracts, req))
            if not isinstance(page, OptionContractsResponse):
                raise BrokerError("GET /v2/options/contracts: malformed response: not a contracts page")
            for c in page.option_contracts or []:
                try:
                    parsed = parse_occ(c.symbol)
                except ValueError as exc:
                    logger.warning(f"skipping contract with a malformed symbol: {exc}")
                    continue
                if parsed.expiry == expiry and parsed.underlying == underlying:
                    out.append(parsed)
            token = page.next_page_token
            if not token:
                return out

    def submit_order(self, request: OrderRequest) -> Order:
        alpaca_request = _single_leg(request) if len(request.legs) == 1 else LimitOrderRequest(
            qty=request.qty,
            order_class=OrderClass.MLEG,
            time_in_force=TimeInForce.DAY,
            limit_price=request.limit_price,
            client_order_id=request.client_order_id,
            legs=[
                AlpacaLeg(
                    symbol=leg.symbol,
                    ratio_qty=leg.ratio_qty,
                    side=OrderSide(leg.side.value),
                    position_intent=PositionIntent(leg.intent.value),
                )
                for leg in request.legs
            ],
        )
        cid = request.client_order_id

        def submit() -> Order:
            try:
                return _order(self._tc.submit_order(alpaca_request))
            except APIError as exc:
                if _status(exc) == 422 and "unique" in _message(exc).lower():
                    existing = self._lookup(cid)
                    if existing is not None:
                        logger.warning(f"order {cid} was already at the broker; adopted, not re-sent")
                        return existing
                raise

        # one look-up attempt per retry: the loop itself retries a failed look-up (honouring Retry-After), so a
        # retrying look-up inside it would multiply the requests of a 429 storm
        return self._retry.call(f"POST /v2/orders {cid}", submit, before_retry=lambda: self._lookup(cid))

    def get_order(self, order_id: str) -> Order:
        return self._get(f"GET /v2/orders/{order_id}", lambda: self._tc.get_order_by_id(order_id), _order)

    def _lookup(self, client_order_id: str) -> Order | None:
        """One GET /v2/orders:by_client_order_id, not retried; None when the broker has no such order."""
        try:
            return _order(self._tc.get_order_by_client_id(client_order_id))
        except APIError as exc:
            if _status(exc) == 404:
                return None
            raise

    def order_by_client_id(self, client_order_id: str) -> Order | None:
        return self._retry.call(
            f"GET /v2/orders:by_client_order_id {client_order_id}", lambda: self._lookup(client_order_id)
        )

    def open_orders(self) -> list[Order]:
        req = GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True, limit=500)
        return self._get("GET /v2/orders", lambda: self._tc.get_orders(req), _orders)

    def orders_since(self, since: datetime) -> list[Order]:
        """Every order submitted after `since`, of every status, oldest first.

        Alpaca lists at most 500 a call, and an account shared with other programs can hold more: start-up
        reconciliation must see all of this engine's orders, or it would take an open condor for a stranger's.
        The pages are walked by submission time, each one asked from just before the last order of the one
        before (so orders tied at a page's edge are not skipped), and repeats are dropped by id.
        """
        found: dict[str, Order] = {}
        after = since
        while True:
            req = GetOrdersRequest(
                status=QueryOrderStatus.ALL, after=after, nested=True, limit=ORDERS_PAGE, direction="asc"
            )
            page = self._get("GET /v2/orders?status=all", partial(self._tc.get_orders, req), _orders)
            fresh = [o for o in page if o.id not in found]
            found.update((o.id, o) for o in fresh)
            if len(page) < ORDERS_PAGE:
                return list(found.values())
            last = page[-1].submitted_at
            if not fresh or last is None:
                logger.warning(f"GET /v2/orders: over {ORDERS_PAGE} orders at {last}; the list may be incomplete")
                return list(found.values())
            after = last - timedelta(microseconds=1)

    def cancel_order(self, order_id: str) -> None:
        self._retry.call(f"DELETE /v2/orders/{order_id}", lambda: self._tc.cancel_order_by_id(order_id))

    def positions(self) -> list[Position]:
        return self._get("GET /v2/positions", self._tc.get_all_positions, lambda ps: [_position(p) for p in ps])


def _account(a: Any) -> Account:
    """Paper is what the account's number says (see PAPER_ACCOUNT_PREFIX); a missing number is not paper."""
    level = a.options_trading_level if a.options_trading_level is not None else a.options_approved_level
    number = str(a.account_number or "")
    return Account(
        account_id=number or str(a.id),
        equity=float(_need(a.equity, "account", "equity")),
        last_equity=float(_need(a.last_equity, "account", "last_equity")),
        cash=float(_need(a.cash, "account", "cash")),
        options_buying_power=_f(a.options_buying_power) or 0.0,
        options_level=int(level or 0),
        paper=number.startswith(PAPER_ACCOUNT_PREFIX),
        status=str(getattr(a.status, "value", a.status)),
    )


def _position(p: Any) -> Position:
    qty = abs(int(float(p.qty)))
    return Position(
        symbol=p.symbol,
        qty=-qty if p.side == PositionSide.SHORT else qty,
        avg_entry_price=float(p.avg_entry_price),
        market_value=_f(p.market_value),
        unrealized_pl=_f(p.unrealized_pl),
    )


def _need(value: Any, what: str, name: str) -> Any:
    """alpaca-py leaves many fields optional; the engine needs these, and a missing one is never read as zero."""
    if value is None or value == "":
        raise ValueError(f"{what} without {name}")
    return value


def _orders(orders: list[Any]) -> list[Order]:
    return [_order(o) for o in orders]


def _single_leg(request: OrderRequest) -> LimitOrderRequest:
    """Alpaca's mleg orders need 2-4 legs; what is left of a broken condor may be one leg, sent as a simple
    limit order (its price positive, its side saying debit or credit)."""
    (leg,) = request.legs
    return LimitOrderRequest(
        symbol=leg.symbol,
        qty=request.qty * leg.ratio_qty,
        side=OrderSide(leg.side.value),
        position_intent=PositionIntent(leg.intent.value),
        time_in_force=TimeInForce.DAY,
        limit_price=abs(request.limit_price),
        client_order_id=request.client_order_id,
    )


def _order(o: Any) -> Order:
    if not o.legs:
        return _simple_order(_need(o.symbol and o, "order", "legs or symbol"))
    legs = tuple(
        Leg(
            symbol=leg.symbol,
            side=Side(getattr(leg.side, "value", leg.side)),
            intent=Intent(getattr(leg.position_intent, "value", leg.position_intent)),
            ratio_qty=int(float(leg.ratio_qty or 1)),
        )
        for leg in (o.legs or [])
    )
    leg_prices = {leg.symbol: float(leg.filled_avg_price) for leg in (o.legs or []) if leg.filled_avg_price}
    return Order(
        id=str(o.id),
        client_order_id=o.client_order_id,
        status=_order_status(o.status),
        legs=legs,
        qty=int(float(_need(o.qty, "order", "qty"))),
        filled_qty=int(float(_need(o.filled_qty, "order", "filled_qty"))),
        limit_price=_f(o.limit_price) or 0.0,
        filled_avg_price=_f(o.filled_avg_price),
        submitted_at=_et(o.submitted_at),
        filled_at=None if o.filled_at is None else _et(o.filled_at),
        leg_fill_prices=leg_prices,
    )


def _et(when: datetime) -> datetime:
    """Alpaca's times (UTC) in the engine's zone: every time a person reads, and every journaled one, is New York's."""
    return when.astimezone(ET)


def _simple_order(o: Any) -> Order:
    """A single-leg order in the engine's net-debit terms: a sale's prices become negative."""
    side = Side(getattr(o.side, "value", o.side))
    sign = 1.0 if side is Side.BUY else -1.0
    intent = Intent(getattr(o.position_intent, "value", o.position_intent)) if o.position_intent else (
        Intent.BUY_TO_CLOSE if side is Side.BUY else Intent.SELL_TO_CLOSE
    )
    fill = _f(o.filled_avg_price)
    return Order(
        id=str(o.id),
        client_order_id=o.client_order_id,
        status=_order_status(o.status),
        legs=(Leg(o.symbol, side, intent),),
        qty=int(float(o.qty or 0)),  # a notional (dollar) order of someone else's has no qty
        filled_qty=int(float(_need(o.filled_qty, "order", "filled_qty"))),
        limit_price=sign * (_f(o.limit_price) or 0.0),  # a market order has no limit
        filled_avg_price=None if fill is None else sign * fill,
        submitted_at=_et(o.submitted_at),
        filled_at=None if o.filled_at is None else _et(o.filled_at),
        leg_fill_prices={} if fill is None else {o.symbol: fill},
    )


class AlpacaMarketData:
    """The MarketData port on Alpaca's market data API (bars from the configured feed; option snapshots from the
    configured options feed)."""

    def __init__(
        self,
        stocks: StockHistoricalDataClient,
        options: OptionHistoricalDataClient,
        feed: str,
        retry: RetryPolicy,
        options_feed: str = "indicative",
    ) -> None:
        self._stocks = stocks
        self._options = options
        self._feed = DataFeed(feed)
        self._options_feed = OptionsFeed(options_feed)
        self._retry = retry

    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        req = StockBarsRequest(
            symbol_or_symbols=[symbol], timeframe=TimeFrame.Minute, start=start, end=end, feed=self._feed
        )
        barset = self._retry.call("GET /v2/stocks/bars", lambda: self._stocks.get_stock_bars(req))
        if not isinstance(barset, BarSet):
            raise BrokerError("GET /v2/stocks/bars: malformed response: not a bar set")
        end_s = end.timestamp()
        rows = [b for b in barset.data.get(symbol, []) if b.timestamp.timestamp() + 60 <= end_s]
        if not rows:
            return Bars.empty(symbol)
        return Bars(
            symbol,
            np.array([int(b.timestamp.timestamp()) for b in rows], dtype=np.int64),
            np.array([b.open for b in rows], dtype=float),
            np.array([b.high for b in rows], dtype=float),
            np.array([b.low for b in rows], dtype=float),
            np.array([b.close for b in rows], dtype=float),
            np.array([b.volume for b in rows], dtype=float),
        )

    def chain(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionQuote]:
        req = OptionChainRequest(
            underlying_symbol=underlying,
            expiration_date=expiry,
            strike_price_gte=strike_min,
            strike_price_lte=strike_max,
            feed=self._options_feed,
        )
        snaps = self._retry.call(
            f"GET /v1beta1/options/snapshots/{underlying}", lambda: self._options.get_option_chain(req)
        )
        return [q for q in (_quote(s, snap) for s, snap in snaps.items()) if q is not None]

    def quotes(self, symbols: Sequence[str]) -> dict[str, OptionQuote]:
        req = OptionSnapshotRequest(symbol_or_symbols=list(symbols), feed=self._options_feed)
        snaps = self._retry.call("GET /v1beta1/options/snapshots", lambda: self._options.get_option_snapshot(req))
        return {q.symbol: q for q in (_quote(s, snap) for s, snap in snaps.items()) if q is not None}


def _quote(symbol: str, snap: Any) -> OptionQuote | None:
    """A snapshot without a quote yields nothing (never an invented price); missing greeks stay None."""
    q = snap.latest_quote
    if q is None or q.bid_price is None or q.ask_price is None:
        return None
    greeks = snap.greeks
    return OptionQuote(
        symbol=symbol,
        bid=float(q.bid_price),
        ask=float(q.ask_price),
        ts=_et(q.timestamp),
        iv=_f(snap.implied_volatility),
        delta=_f(greeks.delta) if greeks is not None else None,
    )


def paper_keys(cfg: AlpacaConfig, keys: dict[str, str]) -> tuple[str, str]:
    """The key pair, for a paper endpoint only. Every refusal here (Alpaca's live host, a missing key, a live key)
    comes before any connection: alpaca_adapters starts with them, and a caller that asks the endpoint anything
    first calls this. A live key is refused whatever the URL, since a proxy on any URL may front the live API."""
    refuse_live(cfg.trading_url)
    key, secret = keys.get("ALPACA_API_KEY"), keys.get("ALPACA_SECRET_KEY")
    if not key or not secret:
        missing = [k for k in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY") if not keys.get(k)]
        raise AuthError(f"missing {', '.join(missing)}: set them in the environment or in .env")
    refuse_live_key(key)
    return key, secret


def refuse_live_key(key: str) -> None:
    """The key id's own form says live or paper; the key itself is never echoed, only the prefix that gave it away."""
    if key.strip().startswith(LIVE_KEY_PREFIX):
        raise UnsafeEndpointError(
            f"ALPACA_API_KEY starts with {LIVE_KEY_PREFIX!r}, the form of Alpaca's LIVE key ids (paper key ids start "
            "with 'PK'): zdte trades paper only"
        )


def alpaca_adapters(
    cfg: AlpacaConfig, keys: dict[str, str], clock: Clock, seed: int = 0, loopback: bool = False
) -> tuple[AlpacaBroker, AlpacaMarketData]:
    """The Alpaca clients, tamed, retrying on `clock`: the wall's against Alpaca, whatever the caller's otherwise.

    `loopback`: the composition root found serve-sim on this machine, for trading and data. The clients then neither
    read the environment (proxies, netrc credentials and CA bundles, which requests takes from it by default, as it
    must against Alpaca: none of them is for serve-sim, and reading them cost every request more than a loopback
    answer takes) nor go through requests' machinery for their calls to it (engine/brokers/loopback_http.py says
    why and how). Against Alpaca it stays False: the clients are alpaca-py's on requests, exactly."""
    key, secret = paper_keys(cfg, keys)
    timeout = cfg.timeout_s
    trading = _tame(TradingClient(key, secret, paper=True, url_override=cfg.trading_url), timeout, loopback)
    data_url = cfg.data_url or None
    stocks = _tame(StockHistoricalDataClient(key, secret, url_override=data_url), timeout, loopback)
    options = _tame(OptionHistoricalDataClient(key, secret, url_override=data_url), timeout, loopback)
    retry = RetryPolicy(clock, cfg.max_retries, seed=seed)
    return AlpacaBroker(trading, retry), AlpacaMarketData(stocks, options, cfg.feed, retry, cfg.options_feed)
