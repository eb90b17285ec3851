"""The paper exchange: matching, cash and P&L, buying power, expiry-day rules, cancels, sessions.

Expected values come from the market's own quotes at the time of the fill, never from the exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.calendar import ExchangeCalendar
from engine.config import InstrumentConfig, SimConfig
from engine.models import Bars, Intent, Leg, OrderRequest, OrderStatus, Session, Side
from engine.sim.errors import SimNotFound, SimOrderRejected
from engine.sim.exchange import SimExchange
from engine.sim.market import SimMarket

ET = ZoneInfo("America/New_York")
BUY, SELL = Side.BUY, Side.SELL


def at(hh: int, mm: int, ss: int = 0, day: date = date(2025, 7, 1)) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ET)


def sym(right: str, strike: int, day: str = "250701") -> str:
    return f"SPY{day}{right}{strike * 1000:08d}"


C600, C605, C610, P600, P595, P590 = (
    sym("C", 600),
    sym("C", 605),
    sym("C", 610),
    sym("P", 600),
    sym("P", 595),
    sym("P", 590),
)


def natural(mk: SimMarket, legs: list[Leg], t: datetime) -> float:
    """Σ +ask for buys, -bid for sells: what crossing every leg costs right now."""
    total = 0.0
    for lg in legs:
        q = mk.quote(lg.symbol, t)
        total += q.ask if lg.side is BUY else -q.bid
    return round(total, 2)


def test_marketable_order_fills_at_natural(exchange: SimExchange, make_leg: Callable[..., Leg]) -> None:
    mk, t = exchange.market, at(10, 0, 15)
    legs = [make_leg(C600, BUY), make_leg(C605, SELL)]
    ask600, bid605 = mk.quote(C600, t).ask, mk.quote(C605, t).bid
    nat = round(ask600 - bid605, 2)
    order = exchange.submit(OrderRequest("a", tuple(legs), 2, nat + 0.25), t)
    assert order.status is OrderStatus.NEW and order.filled_qty == 0
    got = exchange.get_order(order.id, t)
    assert got.status is OrderStatus.FILLED and got.filled_qty == 2 and got.filled_at == t
    assert got.filled_avg_price == pytest.approx(nat)  # price improvement: natural, not the limit
    assert got.leg_fill_prices == {C600: ask600, C605: bid605}
    pos = {p.symbol: p for p in exchange.positions(t)}
    assert (pos[C600].qty, pos[C600].avg_entry_price) == (2, ask600)
    assert (pos[C605].qty, pos[C605].avg_entry_price) == (-2, bid605)
    assert exchange.cash == pytest.approx(100_000 - nat * 2 * 100)


def test_resting_order_fills_in_the_minute_the_natural_reaches_it(
    exchange: SimExchange, make_leg: Callable[..., Leg]
) -> None:
    mk = exchange.market
    legs = [make_leg(C600, BUY), make_leg(C605, SELL)]
    limit = round(natural(mk, legs, at(10, 0)) - 0.10, 2)
    order = exchange.submit(OrderRequest("rest", tuple(legs), 1, limit), at(10, 0, 20))
    assert exchange.get_order(order.id, at(10, 0, 40)).status is OrderStatus.NEW
    fill_time = next(t for t in map(mk.minute_start, range(31, 330)) if natural(mk, legs, t) <= limit)
    got = exchange.get_order(order.id, at(15, 0))  # one jump over the whole afternoon
    assert got.status is OrderStatus.FILLED
    assert got.filled_at == fill_time
    assert got.filled_avg_price == pytest.approx(natural(mk, legs, fill_time))
    assert got.filled_avg_price <= limit


def test_credit_order_rests_then_fills_at_the_natural_credit(
    exchange: SimExchange, make_leg: Callable[..., Leg]
) -> None:
    mk, t = exchange.market, at(11, 0, 5)
    legs = (make_leg(P600, SELL), make_leg(P595, BUY))
    nat = natural(mk, list(legs), t)
    assert nat < 0  # a credit
    greedy = exchange.submit(OrderRequest("greedy", legs, 1, nat - 0.01), t)
    assert exchange.get_order(greedy.id, t).status is OrderStatus.NEW
    exchange.cancel(greedy.id, t)
    ok = exchange.submit(OrderRequest("ok", legs, 1, nat + 0.05), t)
    assert exchange.get_order(ok.id, t).filled_avg_price == pytest.approx(nat)
    assert exchange.cash == pytest.approx(100_000 - nat * 100)


def test_duplicate_client_order_id_is_rejected(exchange: SimExchange, make_leg: Callable[..., Leg]) -> None:
    req = OrderRequest("same", (make_leg(C600, BUY),), 1, 0.01)
    exchange.submit(req, at(10, 0))
    with pytest.raises(SimOrderRejected, match="client_order_id must be unique") as err:
        exchange.submit(req, at(10, 1))
    assert err.value.status == 422
    assert len(exchange.all_orders(at(10, 1))) == 1


@pytest.mark.parametrize(
    ("when", "accepted"),
    [
        (at(9, 29, 59), False),
        (at(9, 30), True),
        (at(15, 29, 59), True),
        (at(15, 30), False),
        (at(15, 50), False),
        (at(16, 0), False),
    ],
)
def test_order_hours_and_expiry_day_cutoff(
    exchange: SimExchange, make_leg: Callable[..., Leg], when: datetime, accepted: bool
) -> None:
    req = OrderRequest("x", (make_leg(C600, BUY),), 1, 0.01)
    if accepted:
        assert exchange.submit(req, when).status is OrderStatus.NEW
    else:
        with pytest.raises(SimOrderRejected, match="market is closed|15:30"):
            exchange.submit(req, when)


def test_cutoff_is_half_an_hour_before_an_early_close(
    calendar: ExchangeCalendar, cfg: SimConfig, bars_from: Callable[..., Bars], make_leg: Callable[..., Leg]
) -> None:
    day = date(2025, 11, 28)
    s = calendar.session(day)
    ex = SimExchange(cfg, SimMarket(bars_from(s, np.full(210, 600.0), 600.0), cfg, s, "SPY"))
    c = sym("C", 600, "251128")
    assert ex.submit(OrderRequest("a", (make_leg(c, BUY),), 1, 0.01), at(12, 29, 59, day)).status is OrderStatus.NEW
    with pytest.raises(SimOrderRejected, match="30 minutes before the close"):
        ex.submit(OrderRequest("b", (make_leg(c, BUY),), 1, 0.01), at(12, 30, 0, day))


@pytest.mark.parametrize(
    ("legs", "qty", "message"),
    [
        ((Leg(sym("C", 600, "250702"), BUY, Intent.BUY_TO_OPEN),), 1, "unknown option symbol"),
        ((Leg(C600, BUY, Intent.BUY_TO_OPEN),), 0, "qty must be at least 1"),
        ((Leg(C600, BUY, Intent.SELL_TO_OPEN),), 1, "does not match side"),
        ((Leg(C600, SELL, Intent.SELL_TO_CLOSE),), 1, "insufficient long position"),
        ((Leg(C600, BUY, Intent.BUY_TO_OPEN), Leg(C600, SELL, Intent.SELL_TO_OPEN)), 1, "different symbol"),
        ((), 1, "1 to 4 legs"),
    ],
)
def test_invalid_orders_are_rejected(exchange: SimExchange, legs: tuple[Leg, ...], qty: int, message: str) -> None:
    with pytest.raises(SimOrderRejected, match=message):
        exchange.submit(OrderRequest("bad", legs, qty, 1.0), at(10, 0))
    assert exchange.all_orders(at(10, 0)) == []


def test_naked_short_call_is_rejected_but_a_spread_is_not(exchange: SimExchange, make_leg: Callable[..., Leg]) -> None:
    t = at(10, 0)
    with pytest.raises(SimOrderRejected, match="insufficient options buying power"):
        exchange.submit(OrderRequest("naked", (make_leg(C610, SELL),), 1, -0.01), t)
    exchange.submit(OrderRequest("spread", (make_leg(C605, SELL), make_leg(C610, BUY)), 1, -0.01), t)
    acct = exchange.account(t)
    assert len(exchange.positions(t)) == 2
    assert acct.options_buying_power == pytest.approx(acct.cash - 5 * 100)  # max loss of a 5-wide spread
    assert (acct.options_level, acct.paper) == (3, True)


def test_iron_condor_needs_the_wider_wing_only(exchange: SimExchange, make_leg: Callable[..., Leg]) -> None:
    t = at(10, 0)
    legs = (make_leg(P590, BUY), make_leg(P595, SELL), make_leg(C605, SELL), make_leg(sym("C", 612), BUY))
    exchange.submit(OrderRequest("ic", legs, 2, -0.01), t)
    acct = exchange.account(t)
    assert acct.options_buying_power == pytest.approx(acct.cash - 7 * 100 * 2)


def test_spread_too_big_for_the_account_is_rejected(
    cfg: SimConfig, flat_market: Callable[..., SimMarket], make_leg: Callable[..., Leg]
) -> None:
    small = cfg.model_copy(update={"starting_cash": 300.0})
    ex = SimExchange(small, flat_market(sim=small))
    legs = (make_leg(C605, SELL), make_leg(C610, BUY))
    with pytest.raises(SimOrderRejected, match="insufficient options buying power"):
        ex.submit(OrderRequest("big", legs, 1, -0.50), at(10, 0))  # needs 500, has 300 + 50 credit


def test_round_trip_cash_equity_and_realized(exchange: SimExchange, make_leg: Callable[..., Leg]) -> None:
    mk = exchange.market
    t_in, t_mid, t_out = at(10, 0, 5), at(10, 30, 5), at(11, 0, 5)
    a1 = mk.quote(C600, t_in).ask
    exchange.submit(OrderRequest("in", (make_leg(C600, BUY),), 3, a1 + 1.0), t_in)
    assert exchange.cash == pytest.approx(100_000 - 3 * a1 * 100)

    mid = mk.quote(C600, t_mid).mid
    [pos] = exchange.positions(t_mid)
    assert pos.market_value == pytest.approx(3 * mid * 100)
    assert pos.unrealized_pl == pytest.approx(3 * (mid - a1) * 100)
    acct = exchange.account(t_mid)
    assert acct.equity == pytest.approx(100_000 - 3 * a1 * 100 + 3 * mid * 100)
    assert acct.last_equity == 100_000

    b2 = mk.quote(C600, t_out).bid
    exchange.submit(OrderRequest("out", (make_leg(C600, SELL, opening=False),), 3, -0.01), t_out)
    assert exchange.positions(t_out) == []
    assert exchange.realized_pl == pytest.approx(3 * (b2 - a1) * 100)
    acct = exchange.account(t_out)
    assert acct.cash == acct.equity == pytest.approx(100_000 + 3 * (b2 - a1) * 100)
    assert acct.options_buying_power == pytest.approx(acct.cash)


@pytest.mark.parametrize("jump", [False, True])
def test_liquidation_at_1545_and_settlement_of_what_is_left(
    flat_market: Callable[..., SimMarket], cfg: SimConfig, make_leg: Callable[..., Leg], jump: bool
) -> None:
    mk = flat_market(600.0, last_close=585.0)  # the 15:59 bar closes at 585: the 590 put ends 5 in the money
    ex = SimExchange(cfg, mk)
    t0 = at(10, 0)
    credit = mk.quote(P600, t0).bid - mk.quote(P590, t0).ask
    ex.submit(OrderRequest("bps", (make_leg(P600, SELL), make_leg(P590, BUY)), 1, -credit + 0.05), t0)
    ask600 = mk.quote(P600, at(15, 45)).ask
    assert all(mk.quote(P590, at(15, m)).bid == 0.0 for m in range(45, 60))  # the long leg never finds a bid

    if not jump:
        assert len(ex.positions(at(15, 44, 59))) == 2 and ex.events == []
        assert [p.symbol for p in ex.positions(at(15, 45, 1))] == [P590]
        assert ex.events == [{"time": at(15, 45), "kind": "liquidation", "symbol": P600, "qty": 1, "price": ask600}]
    acct = ex.account(at(16, 0))
    assert ex.positions(at(16, 0)) == []
    # SPY options are physically settled: the long put left 5 in the money is exercised, worth its intrinsic value.
    assert ex.events[-1] == {"time": at(16, 0), "kind": "exercise", "symbol": P590, "qty": -1, "price": 5.0}
    expected = 100_000 + credit * 100 - ask600 * 100 + 5.0 * 100
    assert acct.cash == pytest.approx(expected) and acct.equity == pytest.approx(expected)
    assert ex.realized_pl == pytest.approx(expected - 100_000)


def test_working_orders_expire_at_the_close_and_closing_orders_die_with_liquidation(
    exchange: SimExchange, make_leg: Callable[..., Leg]
) -> None:
    mk = exchange.market
    exchange.submit(OrderRequest("long", (make_leg(C600, BUY),), 1, 50.0), at(10, 0))
    close_it = exchange.submit(OrderRequest("tp", (make_leg(C600, SELL, opening=False),), 1, -50.0), at(15, 0))
    never = exchange.submit(OrderRequest("cheap", (make_leg(C600, BUY),), 1, 0.01), at(15, 0))
    bid = mk.quote(C600, at(15, 45)).bid
    assert bid > 0
    exchange.sync(at(15, 45, 30))
    assert exchange.events == [{"time": at(15, 45), "kind": "liquidation", "symbol": C600, "qty": -1, "price": bid}]
    assert exchange.get_order(close_it.id, at(15, 46)).status is OrderStatus.CANCELED
    assert exchange.get_order(never.id, at(15, 59)).status is OrderStatus.NEW
    assert exchange.get_order(never.id, at(16, 0)).status is OrderStatus.EXPIRED
    assert exchange.open_orders(at(16, 0)) == []


def test_cancel_semantics(exchange: SimExchange, make_leg: Callable[..., Leg]) -> None:
    t = at(10, 0)
    resting = exchange.submit(OrderRequest("r", (make_leg(C600, BUY),), 1, 0.01), t)
    filled = exchange.submit(OrderRequest("f", (make_leg(C600, BUY),), 1, 50.0), t)
    assert [o.id for o in exchange.open_orders(t)] == [resting.id]
    exchange.cancel(resting.id, t)
    assert exchange.get_order(resting.id, t).status is OrderStatus.CANCELED
    assert exchange.open_orders(t) == []
    exchange.cancel(resting.id, at(10, 1))  # no-op
    assert exchange.get_order(resting.id, at(10, 1)).status is OrderStatus.CANCELED
    with pytest.raises(SimOrderRejected, match="order is already filled"):
        exchange.cancel(filled.id, t)
    with pytest.raises(SimNotFound, match="not found"):
        exchange.cancel("no-such-order", t)
    assert exchange.order_by_client_id("r", t).id == resting.id
    assert exchange.order_by_client_id("nope", t) is None


def test_partial_fills_are_seeded_and_add_up(
    cfg: SimConfig, flat_market: Callable[..., SimMarket], make_leg: Callable[..., Leg]
) -> None:
    partial = cfg.model_copy(update={"partial_fill_prob": 1.0})

    def run() -> list[int]:
        ex = SimExchange(partial, flat_market(sim=partial))
        mk = ex.market
        order = ex.submit(OrderRequest("p", (make_leg(C600, BUY),), 4, 50.0), at(10, 0))
        filled, cost = [], 0.0
        for m in range(10):
            t = at(10, m, 30)
            got = ex.get_order(order.id, t)
            new = got.filled_qty - (filled[-1] if filled else 0)
            cost += new * mk.quote(C600, t).ask
            filled.append(got.filled_qty)
            [pos] = ex.positions(t)
            assert pos.qty == got.filled_qty
        assert got.status is OrderStatus.FILLED and got.filled_qty == 4
        assert got.filled_avg_price == pytest.approx(cost / 4)
        assert ex.cash == pytest.approx(100_000 - cost * 100)
        return filled

    first = run()
    assert first[0] < 4 and first == sorted(first)  # the first fill was partial, then the rest came
    assert run() == first


def test_next_session_carries_cash_and_sets_last_equity(
    exchange: SimExchange,
    calendar: ExchangeCalendar,
    cfg: SimConfig,
    bars_from: Callable[..., Bars],
    make_leg: Callable[..., Leg],
) -> None:
    mk = exchange.market
    t = at(10, 0)
    ask = mk.quote(C600, t).ask
    exchange.submit(OrderRequest("held", (make_leg(C600, BUY),), 1, 50.0), t)
    bid_1545 = mk.quote(C600, at(15, 45)).bid
    s2 = calendar.next_session(date(2025, 7, 1))
    exchange.start_session(SimMarket(bars_from(s2, np.full(390, 610.0), 610.0), cfg, s2, "SPY"))
    # nobody looked at day one after 10:00, yet its 15:45 liquidation still happened
    assert [e["kind"] for e in exchange.events] == ["liquidation"]
    close_equity = 100_000 + (bid_1545 - ask) * 100
    acct = exchange.account(at(10, 0, 0, s2.day))
    assert acct.last_equity == pytest.approx(close_equity)
    assert acct.equity == acct.cash == pytest.approx(close_equity)
    with pytest.raises(SimOrderRejected, match="unknown option symbol"):
        exchange.submit(OrderRequest("stale", (make_leg(C600, BUY),), 1, 1.0), at(10, 0, 0, s2.day))


@pytest.mark.parametrize(
    ("settlement", "itm", "otm"), [("cash", "settlement", "settlement"), ("physical", "exercise", "expired worthless")]
)
def test_long_legs_left_at_the_close_settle_by_the_instrument(
    session: Session,
    bars_from: Callable[..., Bars],
    cfg: SimConfig,
    make_leg: Callable[..., Leg],
    settlement: str,
    itm: str,
    otm: str,
) -> None:
    closes = np.full(390, 600.0)
    closes[-1] = 585.0  # the 590 put ends 5 in the money, the 580 put worthless; neither finds a bid at 15:45
    mk = SimMarket(
        bars_from(session, closes, 600.0), cfg, session, "SPY", instrument=InstrumentConfig(settlement=settlement)
    )
    ex = SimExchange(cfg, mk)
    p580 = sym("P", 580)
    ex.submit(OrderRequest("two", (make_leg(P590, BUY), make_leg(p580, BUY)), 1, 5.0), at(10, 0))
    ex.account(at(16, 0))
    assert {e["symbol"]: (e["kind"], e["price"]) for e in ex.events} == {P590: (itm, 5.0), p580: (otm, 0.0)}


def test_an_account_asked_again_in_the_minute_of_a_fill_shows_the_fill(
    exchange: SimExchange, make_leg: Callable[..., Leg]
) -> None:
    """The exchange hands back the minute's Account while nothing changed; a fill within that minute changes it."""
    mk = exchange.market
    t1, t2, t3 = at(10, 0, 5), at(10, 0, 35), at(10, 1, 5)
    before = exchange.account(t1)
    assert exchange.account(t1) is before
    ask = mk.quote(C600, t1).ask
    exchange.submit(OrderRequest("in", (make_leg(C600, BUY),), 1, ask + 1.0), t2)
    after = exchange.account(t2)
    assert after.cash == pytest.approx(before.cash - ask * 100)
    assert after.equity == pytest.approx(after.cash + mk.quote(C600, t2).mid * 100)
    later = exchange.account(t3)
    assert later.equity == pytest.approx(later.cash + mk.quote(C600, t3).mid * 100)


def test_a_quote_asked_again_is_its_minutes_quote(exchange: SimExchange) -> None:
    mk = exchange.market
    first = mk.quote(C600, at(10, 0, 5))
    assert mk.quote(C600, at(10, 0, 55)) is first
    nxt = mk.quote(C600, at(10, 1, 5))
    m = mk.minute(at(10, 1, 5))
    assert nxt.ts == mk.minute_start(m) and (nxt.bid, nxt.ask) == mk.bid_ask(C600, m)
