"""Start-up reconciliation on its own: what it adopts, rebuilds, flattens and leaves alone, from orders and positions
written out here (ids in the engine's published form, zdte-YYYYMMDD-NNo-AA)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.combo import reverse
from engine.models import Intent, Leg, Order, OrderStatus, Position, Side
from engine.reconcile import reconcile

NY = ZoneInfo("America/New_York")
DAY = date(2025, 7, 2)
T = datetime(2025, 7, 2, 10, 0, tzinfo=NY)
LEGS = (
    Leg("SPY250702P00590000", Side.BUY, Intent.BUY_TO_OPEN),
    Leg("SPY250702P00595000", Side.SELL, Intent.SELL_TO_OPEN),
    Leg("SPY250702C00605000", Side.SELL, Intent.SELL_TO_OPEN),
    Leg("SPY250702C00610000", Side.BUY, Intent.BUY_TO_OPEN),
)
HELD = [Position(leg.symbol, 1 if leg.side is Side.BUY else -1, 0.3) for leg in LEGS]


def filled(cid: str, legs: tuple[Leg, ...] = LEGS, price: float = -0.70, at: datetime = T) -> Order:
    return Order(f"id-{cid}", cid, OrderStatus.FILLED, legs, 1, 1, price, price, at, at)


def test_todays_filled_entry_with_its_legs_held_is_adopted() -> None:
    rec = reconcile(DAY, "zdte", [filled("zdte-20250702-01o-03")], HELD, T)
    assert [s.trade_no for s in rec.adopted] == [1] and rec.adopted[0].entry_price == -0.70
    assert rec.trades_today == 1 and rec.foreign == [] and rec.broken == []
    assert rec.attempts[(1, "entry")] == 4  # the next attempt goes past every id already used


def test_an_earlier_days_orders_are_not_todays_trades() -> None:
    """Yesterday's ids carry yesterday's date: their legs are someone else's business now (foreign), never a
    condor of today's, and they do not count against today's trade limit."""
    yesterday = filled("zdte-20250701-01o-00", at=datetime(2025, 7, 1, 10, 0, tzinfo=NY))
    rec = reconcile(DAY, "zdte", [yesterday], HELD, T)
    assert rec.adopted == [] and rec.trades_today == 0 and rec.attempts == {}
    assert {p.symbol for p in rec.foreign} == {leg.symbol for leg in LEGS}


def test_another_prefix_is_not_ours() -> None:
    rec = reconcile(DAY, "zdte", [filled("other-20250702-01o-00")], HELD, T)
    assert rec.adopted == [] and len(rec.foreign) == 4


def test_a_condor_closed_before_the_restart_is_rebuilt_as_a_closed_trade() -> None:
    entry = filled("zdte-20250702-01o-00")
    exit_ = filled("zdte-20250702-01c-02", reverse(LEGS), 0.30, datetime(2025, 7, 2, 11, 0, tzinfo=NY))
    rec = reconcile(DAY, "zdte", [entry, exit_], [], T)
    [trade] = rec.closed
    assert trade.pnl == (0.70 - 0.30) * 100
    assert rec.adopted == [] and rec.trades_today == 1 and rec.attempts[(1, "exit")] == 3


def test_a_condor_missing_a_leg_is_flattened_not_adopted() -> None:
    rec = reconcile(DAY, "zdte", [filled("zdte-20250702-01o-00")], HELD[:3], T)
    [broken] = rec.broken
    assert rec.adopted == [] and len(broken.legs) == 3 and "1 leg(s) missing" in (broken.force_exit or "")


def test_the_instruments_multiplier_reaches_the_rebuilt_trades() -> None:
    entry = filled("zdte-20250702-01o-00")
    exit_ = filled("zdte-20250702-01c-00", reverse(LEGS), 0.30)
    rec = reconcile(DAY, "zdte", [entry, exit_], [], T, multiplier=10)
    assert rec.closed[0].pnl == (0.70 - 0.30) * 10
