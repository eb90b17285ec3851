"""Orders and positions through alpaca-py: mleg fills, cancel semantics, rejections, closing a leg."""

from __future__ import annotations

from datetime import datetime

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import AssetClass, OrderClass, OrderSide, OrderStatus, PositionSide, QueryOrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import ClosePositionRequest, GetOrdersRequest

from engine.calendar import ET


def test_rejected_before_the_open(make_sim) -> None:
    s = make_sim()
    s.advance(20 * 60)  # 09:20: contracts are listed, the market is not open
    legs = [("SPY250701P00590000", OrderSide.BUY), ("SPY250701P00595000", OrderSide.SELL)]
    with pytest.raises(APIError) as err:
        s.trading.submit_order(s.mleg(legs, -0.5, "early"))
    assert err.value.status_code == 403 and err.value.code == 40310000 and "market is closed" in err.value.message


def test_marketable_condor_fills_and_positions_have_signs(make_sim, fixture_keys) -> None:
    # Its own server: without ../shared the payload-shape checks skip mid-test, and a module-shared server
    # would be left holding the condor for the tests after it.
    sim = make_sim()
    sim.at_least(10, 0)
    legs = sim.condor()
    limit = sim.natural(legs)
    assert limit < 0  # a short condor is a credit
    cid = sim.cid("fill")
    sent = sim.trading.submit_order(sim.mleg(legs, limit, cid))
    assert isinstance(sent, Order) and sent.client_order_id == cid and sent.order_class is OrderClass.MLEG
    assert sent.symbol is None and sent.side is None  # "" at the top level of an mleg order
    assert float(sent.limit_price) == limit and sent.submitted_at == sim.now()
    order = sim.trading.get_order_by_id(sent.id)
    assert order.status is OrderStatus.FILLED and order.filled_qty == "1"
    assert float(order.filled_avg_price) == pytest.approx(limit)
    assert order.filled_at == sim.now()
    assert [(leg.symbol, leg.side) for leg in order.legs] == legs
    assert all(leg.ratio_qty == "1" and leg.status is OrderStatus.FILLED for leg in order.legs)
    leg_net = sum(float(leg.filled_avg_price) * (1 if leg.side is OrderSide.BUY else -1) for leg in order.legs)
    assert leg_net == pytest.approx(limit)
    assert sim.trading.get_order_by_client_id(cid).id == order.id
    raw = sim.get(f"/v2/orders/{order.id}").json()
    assert fixture_keys("trading_order_mleg_docs.json") <= set(raw)
    assert raw["symbol"] == "" and raw["legs"][0]["type"] == "" and raw["legs"][0]["asset_class"] == "us_option"

    positions = {p.symbol: p for p in sim.trading.get_all_positions()}
    assert set(positions) == {s for s, _ in legs}
    for symbol, side in legs:
        p = positions[symbol]
        assert p.asset_class is AssetClass.US_OPTION
        if side is OrderSide.BUY:
            assert p.qty == "1" and p.side is PositionSide.LONG
        else:
            assert p.qty == "-1" and p.side is PositionSide.SHORT and float(p.market_value) <= 0
        assert p.unrealized_pl is not None and p.qty_available == p.qty
    raw_pos = sim.get("/v2/positions").json()[0]
    assert fixture_keys("trading_positions.json") - {"usd"} <= set(raw_pos)
    account = sim.trading.get_account()
    assert float(account.cash) == pytest.approx(100_000 - limit * 100)
    assert float(account.options_buying_power) < float(account.cash)  # the condor's max loss is held

    closing = sim.condor(open_=False)
    close_cid = sim.cid("close")
    sim.trading.submit_order(sim.mleg(closing, sim.natural(closing), close_cid, closing=True))
    assert sim.trading.get_order_by_client_id(close_cid).status is OrderStatus.FILLED
    assert sim.trading.get_all_positions() == []


def test_resting_order_lists_as_open_and_cancels(sim) -> None:
    sim.at_least(10, 5)
    legs = sim.condor(distance=8)
    cid = sim.cid("rest")
    sent = sim.trading.submit_order(sim.mleg(legs, sim.natural(legs) - 1.0, cid))  # $1 more credit than the bid
    assert sent.status is OrderStatus.NEW
    open_ids = [o.id for o in sim.trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True))]
    assert sent.id in open_ids
    assert sim.trading.cancel_order_by_id(sent.id) is None
    canceled = sim.trading.get_order_by_id(sent.id)
    assert canceled.status is OrderStatus.CANCELED and canceled.canceled_at == sim.now()
    sim.trading.cancel_order_by_id(sent.id)  # a second cancel is a no-op
    closed = sim.trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert sent.id in [o.id for o in closed]
    assert sent.id not in [o.id for o in sim.trading.get_orders()]  # default status: open
    every = sim.trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, direction="asc"))
    assert every == sorted(every, key=lambda o: o.submitted_at)
    assert len(sim.trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=1))) == 1
    assert sim.get("/v2/positions").json() == []


def test_cancel_a_filled_order_is_refused(sim) -> None:
    sim.at_least(10, 10)
    legs = sim.condor()
    sent = sim.trading.submit_order(sim.mleg(legs, sim.natural(legs), sim.cid("filled")))
    with pytest.raises(APIError) as err:
        sim.trading.cancel_order_by_id(sent.id)
    assert err.value.status_code == 422 and err.value.message == 'order is already in "filled" state'
    with pytest.raises(APIError) as err:
        sim.trading.cancel_order_by_id("00000000-0000-0000-0000-0000000fffff")
    assert err.value.status_code == 404


def test_duplicate_client_order_id_is_422(sim) -> None:
    sim.at_least(10, 15)
    legs = sim.condor(distance=10)
    cid = sim.cid("dup")
    request = sim.mleg(legs, sim.natural(legs) - 2.0, cid)
    first = sim.trading.submit_order(request)
    with pytest.raises(APIError) as err:
        sim.trading.submit_order(request)
    assert err.value.status_code == 422
    assert err.value.code == 42210000 and err.value.message == "client_order_id must be unique"
    assert sim.trading.get_order_by_client_id(cid).id == first.id
    sim.trading.cancel_order_by_id(first.id)


def test_unknown_client_order_id_is_404(sim) -> None:
    with pytest.raises(APIError) as err:
        sim.trading.get_order_by_client_id("never-sent")
    assert err.value.status_code == 404 and err.value.code == 40410000 and err.value.message == "order not found"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ({"order_class": "mleg", "type": "limit", "time_in_force": "day", "qty": 1, "limit_price": -1}, 422),
        ({"order_class": "bracket", "type": "limit", "time_in_force": "day", "qty": 1}, 422),
        ({"symbol": "SPY", "side": "buy", "type": "market", "time_in_force": "day", "qty": 1}, 422),
        (
            {
                "order_class": "mleg",
                "type": "limit",
                "time_in_force": "gtc",
                "qty": 1,
                "limit_price": -1,
                "legs": [{"symbol": "SPY250701C00600000", "ratio_qty": 1, "side": "sell"}],
            },
            422,
        ),
        (
            {
                "order_class": "mleg",
                "type": "limit",
                "time_in_force": "day",
                "qty": 1.5,
                "limit_price": -1,
                "legs": [{"symbol": "SPY250701C00600000", "ratio_qty": 1, "side": "sell"}],
            },
            422,
        ),
        (
            {
                "order_class": "mleg",
                "type": "limit",
                "time_in_force": "day",
                "qty": 1,
                "limit_price": -1,
                "legs": [{"symbol": "SPY250701C00600000", "ratio_qty": 1, "side": "sideways"}],
            },
            422,
        ),
    ],
)
def test_malformed_orders_get_alpacas_error_form(sim, body, status: int) -> None:
    sim.at_least(10, 20)
    if isinstance(body, str):
        r = sim.post("/v2/orders", data=body, headers={**sim.headers, "Content-Type": "application/json"})
    else:
        r = sim.post("/v2/orders", json=body)
    assert r.status_code == status
    assert set(r.json()) == {"code", "message"} and isinstance(r.json()["code"], int)


def test_exchange_refusals_carry_alpacas_status_and_the_reason(sim) -> None:
    """Short buying power is 403 (the account may not place it now); an unknown symbol is 422 (not valid)."""
    sim.at_least(10, 20)
    naked = [("SPY250701C00600000", OrderSide.SELL)]
    with pytest.raises(APIError) as err:
        sim.trading.submit_order(sim.mleg(naked + [("SPY250701C00601000", OrderSide.SELL)], -1.0, sim.cid("naked")))
    assert err.value.status_code == 403 and err.value.code == 40310000 and "buying power" in err.value.message
    with pytest.raises(APIError) as err:
        sim.trading.submit_order(
            sim.mleg([("SPY250701C09990000", OrderSide.BUY), ("SPY250701C00600000", OrderSide.SELL)], 1.0, "unk")
        )
    assert err.value.status_code == 422 and "SPY250701C09990000" in err.value.message


def test_close_one_leg_with_delete_position(sim) -> None:
    sim.at_least(10, 25)
    legs = sim.condor(distance=6)
    sim.trading.submit_order(sim.mleg(legs, sim.natural(legs), sim.cid("leg")))
    short_put = legs[1][0]
    before = {p.symbol: p.qty for p in sim.trading.get_all_positions()}
    assert before[short_put] == "-1"
    order = sim.trading.close_position(short_put, close_options=ClosePositionRequest(qty="1"))
    assert isinstance(order, Order) and order.order_class is OrderClass.SIMPLE
    assert order.symbol == short_put and order.side is OrderSide.BUY and order.asset_class is AssetClass.US_OPTION
    assert sim.trading.get_order_by_id(order.id).status is OrderStatus.FILLED
    after = {p.symbol: p.qty for p in sim.trading.get_all_positions()}
    assert short_put not in after and len(after) == len(before) - 1
    assert sim.trading.get_open_position(legs[0][0]).qty == "1"
    with pytest.raises(APIError) as err:
        sim.trading.close_position(short_put)
    assert err.value.status_code == 404


def test_market_and_single_leg_orders(make_sim) -> None:
    sim = make_sim()  # a fresh account: the inferred intents must all be opening ones
    sim.at_least(10, 30)
    legs = sim.condor(distance=7)
    body = {
        "order_class": "mleg",
        "type": "market",
        "time_in_force": "day",
        "qty": "2",
        "client_order_id": sim.cid("mkt"),
        "legs": [{"symbol": s, "ratio_qty": "1", "side": side.value} for s, side in legs],  # intents inferred
    }
    r = sim.post("/v2/orders", json=body)
    assert r.status_code == 200, r.text
    order = sim.trading.get_order_by_id(r.json()["id"])
    assert order.status is OrderStatus.FILLED and order.filled_qty == "2" and order.limit_price is None
    intents = [leg.position_intent.value for leg in order.legs]
    assert intents == ["buy_to_open", "sell_to_open", "sell_to_open", "buy_to_open"]
    wing = legs[3][0]
    simple = {"symbol": wing, "side": "buy", "type": "limit", "limit_price": 0.01, "time_in_force": "day", "qty": 1}
    r = sim.post("/v2/orders", json=simple)
    assert r.status_code == 200, r.text
    one = Order(**r.json())
    assert one.order_class is OrderClass.SIMPLE and one.symbol == wing and one.legs is None
    assert one.limit_price == "0.01" and one.position_intent.value == "buy_to_open"


def test_resting_orders_expire_at_the_close_and_positions_settle(make_sim) -> None:
    s = make_sim()
    s.at_least(10, 0)
    legs = s.condor()
    resting = s.trading.submit_order(s.mleg(legs, s.natural(legs) - 1.5, "expire"))
    s.trading.submit_order(s.mleg(legs, s.natural(legs), "held"))
    assert len(s.trading.get_all_positions()) == 4
    s.at_least(16, 5)
    expired = s.trading.get_order_by_id(resting.id)
    close = datetime(2025, 7, 1, 16, 0, tzinfo=ET)
    assert expired.status is OrderStatus.EXPIRED and expired.expired_at == close and expired.expires_at == close
    assert s.trading.get_all_positions() == []  # liquidated from 15:45 or settled at the close
    account = s.trading.get_account()
    assert account.cash == account.equity


def test_an_order_past_the_cutoff_is_refused_403_as_alpaca_does(make_sim) -> None:
    """From 15:30 ET options expiring today are refused with 403 (a well-formed order the account may not place
    now); an invalid request stays 422."""
    s = make_sim()
    s.advance((15 * 60 + 31 - 9 * 60) * 60)  # 15:31
    legs = [("SPY250701P00590000", OrderSide.BUY), ("SPY250701P00595000", OrderSide.SELL)]
    with pytest.raises(APIError) as err:
        s.trading.submit_order(s.mleg(legs, -0.5, "late"))
    assert err.value.status_code == 403 and err.value.code == 40310000 and "15:30" in err.value.message
