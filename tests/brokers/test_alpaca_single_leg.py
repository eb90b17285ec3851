"""What is left of a broken condor may be one leg: it goes to Alpaca as a simple limit order (mleg needs 2-4)."""

from __future__ import annotations

from datetime import date

import pytest

from engine.models import Intent, Leg, OrderRequest, OrderStatus, Side
from engine.occ import occ_symbol

DAY = date(2025, 7, 1)


def test_a_single_leg_close_is_sent_as_a_simple_order_and_read_back_in_net_debit_terms(make_sim, adapters_for):
    server = make_sim()
    alpaca = adapters_for(server.url)
    alpaca.clock.sleep(60 * 60)  # 10:00 ET
    put = occ_symbol("SPY", DAY, "P", 590)
    opened = alpaca.broker.submit_order(
        OrderRequest("t-open", (Leg(put, Side.BUY, Intent.BUY_TO_OPEN),), qty=2, limit_price=50.0)
    )
    assert alpaca.broker.get_order(opened.id).status is OrderStatus.FILLED
    bid = alpaca.market_data.quotes([put])[put].bid
    assert bid > 0

    closing = alpaca.broker.submit_order(
        OrderRequest("t-close", (Leg(put, Side.SELL, Intent.SELL_TO_CLOSE),), qty=2, limit_price=-(bid - 0.05))
    )

    sent = [e for e in server.request_log if e["method"] == "POST" and e["client_order_id"] == "t-close"]
    assert len(sent) == 1
    done = alpaca.broker.get_order(closing.id)
    assert done.status is OrderStatus.FILLED and done.filled_qty == 2
    assert done.legs == (Leg(put, Side.SELL, Intent.SELL_TO_CLOSE),)
    assert done.limit_price == pytest.approx(-(bid - 0.05))  # a sale is a credit: negative, as for mleg orders
    assert done.filled_avg_price == pytest.approx(-bid)
    assert alpaca.broker.positions() == []
