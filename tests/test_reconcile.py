"""Start-up reconciliation on its own: what it adopts, rebuilds, flattens and leaves alone, from orders and positions
written out here (ids in the engine's published form, zdte-YYYYMMDD-NNo-AA)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.combo import reverse
from engine.journal.order_history import OrderHistory
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


def _submit(cid: str, trade_no: int, purpose: str, step: int, at: datetime, why: str = "") -> dict:
    record = {"kind": "order", "event": "submit", "client_order_id": cid, "trade_no": trade_no, "purpose": purpose,
              "step": step, "ts": at.isoformat()}
    return {**record, **({"why": why} if why else {})}


def _working(cid: str, legs: tuple[Leg, ...] = LEGS, at: datetime = T) -> Order:
    return Order(f"id-{cid}", cid, OrderStatus.NEW, legs, 1, 0, -0.66, None, at)


def test_an_adopted_entry_goes_on_from_its_walk_step_and_its_first_attempts_time() -> None:
    """Without the journal the walk would start again from mid, and each crash would restart the entry timeout."""
    start = datetime(2025, 7, 2, 10, 0, 0, tzinfo=NY)
    steps = [(f"zdte-20250702-01o-0{i}", datetime(2025, 7, 2, 10, 0, 10 * i, tzinfo=NY)) for i in range(4)]
    journal = [_submit(cid, 1, "entry", i, at) for i, (cid, at) in enumerate(steps)]
    cid, placed = steps[-1]
    earlier = OrderHistory.from_dict(OrderHistory.from_records(journal).to_dict())  # as the header carries it
    w = reconcile(DAY, "zdte", [_working(cid, at=placed)], [], T, earlier=earlier).working
    assert w is not None and (w.step, w.started_at, w.attempt) == (3, start, 3)
    bare = reconcile(DAY, "zdte", [_working(cid, at=placed)], [], T).working
    assert bare is not None and (bare.step, bare.started_at) == (0, placed), "without a journal: the broker's facts"


def test_an_attempt_whose_record_a_crash_cut_off_is_the_step_after_the_last_recorded() -> None:
    at = [datetime(2025, 7, 2, 10, 0, 10 * i, tzinfo=NY) for i in range(3)]
    journal = [_submit(f"zdte-20250702-01o-0{i}", 1, "entry", i, at[i]) for i in range(2)]
    w = reconcile(DAY, "zdte", [_working("zdte-20250702-01o-02", at=at[2])], [], T,
                  earlier=OrderHistory.from_records(journal)).working
    assert w is not None and (w.step, w.started_at) == (2, at[0])


def test_a_new_chain_after_an_abandoned_entry_starts_its_own_timeout() -> None:
    at = [datetime(2025, 7, 2, 10, m, tzinfo=NY) for m in (0, 1, 5, 6)]
    journal = [_submit(f"zdte-20250702-01o-0{i}", 1, "entry", step, at[i]) for i, step in enumerate((0, 1, 0, 1))]
    w = reconcile(DAY, "zdte", [_working("zdte-20250702-01o-03", at=at[3])], [], T,
                  earlier=OrderHistory.from_records(journal)).working
    assert w is not None and (w.step, w.started_at) == (1, at[2])


def test_an_adopted_exit_keeps_its_reason_and_a_trade_closed_before_keeps_its_own() -> None:
    entry = filled("zdte-20250702-01o-00")
    exit_legs = reverse(LEGS)
    stop = "spread stop: -65.00 <= -61.00"
    journal = [_submit("zdte-20250702-01c-00", 1, "exit", 0, T, why=stop)]
    w = reconcile(DAY, "zdte", [entry, _working("zdte-20250702-01c-00", exit_legs)], HELD, T,
                  earlier=OrderHistory.from_records(journal)).working
    assert w is not None and w.why == stop
    done = filled("zdte-20250702-01c-00", exit_legs, price=1.31)
    closed = [{"kind": "closed", "trade_no": 1, "exit_reason": stop, "ts": T.isoformat()}]
    rec = reconcile(DAY, "zdte", [entry, done], [], T, earlier=OrderHistory.from_records(closed))
    assert [t.exit_reason for t in rec.closed] == [stop]
    assert [t.exit_reason for t in reconcile(DAY, "zdte", [entry, done], [], T).closed] == ["closed before a restart"]
