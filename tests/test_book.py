"""Spread marks and P&L, closed-trade P&L for short and long condors, all computed by hand."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine.book import Book, ClosedTrade, CondorPlan, Spread
from engine.models import Intent, Leg, Side

NY = ZoneInfo("America/New_York")
T_IN = datetime(2025, 7, 1, 10, 5, tzinfo=NY)
T_OUT = datetime(2025, 7, 1, 13, 40, tzinfo=NY)
SYMS = ("SPY250701P00590000", "SPY250701P00595000", "SPY250701C00605000", "SPY250701C00610000")
STRIKES = (590.0, 595.0, 605.0, 610.0)


def legs(direction: str) -> tuple[Leg, ...]:
    inner = Side.SELL if direction == "short" else Side.BUY
    outer = Side.BUY if direction == "short" else Side.SELL
    out = []
    for s, side in zip(SYMS, (outer, inner, inner, outer), strict=True):
        out.append(Leg(s, side, Intent.BUY_TO_OPEN if side is Side.BUY else Intent.SELL_TO_OPEN))
    return tuple(out)


def spread(direction: str, entry: float, qty: int = 1, trade_no: int = 1) -> Spread:
    return Spread(
        trade_no, direction, legs(direction), STRIKES, 5.0, qty, entry, T_IN, f"zdte-20250701-{trade_no:02d}o-00"
    )


@pytest.fixture
def marks(quote):
    """Mids: 590P 0.05, 595P 0.30, 605C 0.25, 610C 0.05."""

    def build(lp=0.05, sp=0.30, sc=0.25, lc=0.05):
        return {
            s: quote(s, round(m - 0.01, 2), round(m + 0.01, 2)) for s, m in zip(SYMS, (lp, sp, sc, lc), strict=True)
        }

    return build


def test_short_spread_value_and_pnl_by_hand(marks):
    s = spread("short", -0.80)
    # holding the short condor is a liability of 0.30 + 0.25 - 0.05 - 0.05 = 0.45
    assert s.value(marks()) == pytest.approx(-0.45)
    assert s.pnl(marks()) == pytest.approx((0.80 - 0.45) * 100)
    assert spread("short", -0.80, qty=3).pnl(marks()) == pytest.approx(35.0 * 3)
    # the market moves against it: 595P at 1.40 -> liability 1.55, loss 0.75 per contract
    assert s.pnl(marks(sp=1.40)) == pytest.approx(-75.0)


def test_long_spread_value_and_pnl_by_hand(marks):
    s = spread("long", 1.30, qty=2)
    assert s.value(marks(sp=2.00, sc=0.90)) == pytest.approx(2.00 + 0.90 - 0.05 - 0.05)
    assert s.pnl(marks(sp=2.00, sc=0.90)) == pytest.approx((2.80 - 1.30) * 100 * 2)
    assert s.pnl(marks()) == pytest.approx((0.45 - 1.30) * 100 * 2)


def test_premium_and_max_profit():
    short, long = spread("short", -0.80, qty=2), spread("long", 1.30, qty=2)
    assert short.premium == pytest.approx(0.80) and long.premium == pytest.approx(1.30)
    assert short.max_profit == pytest.approx(0.80 * 100 * 2)
    assert long.max_profit == pytest.approx((5.0 - 1.30) * 100 * 2)


def test_closing_legs_reverse_the_opening_ones():
    closing = spread("short", -0.80).closing_legs
    assert [(leg.symbol, leg.side, leg.intent) for leg in closing] == [
        (SYMS[0], Side.SELL, Intent.SELL_TO_CLOSE),
        (SYMS[1], Side.BUY, Intent.BUY_TO_CLOSE),
        (SYMS[2], Side.BUY, Intent.BUY_TO_CLOSE),
        (SYMS[3], Side.SELL, Intent.SELL_TO_CLOSE),
    ]


@pytest.mark.parametrize(
    "direction,entry,exit_,qty,expected",
    [
        ("short", -0.80, 0.40, 1, (0.80 - 0.40) * 100),  # sold for 0.80, bought back for 0.40
        ("short", -0.80, 1.70, 2, (0.80 - 1.70) * 100 * 2),  # stopped out
        ("short", -0.71, 1.62, 1, -91.0),
        ("long", 1.30, -2.10, 1, (2.10 - 1.30) * 100),  # paid 1.30, sold for 2.10
        ("long", 1.30, -0.20, 3, (0.20 - 1.30) * 100 * 3),
    ],
)
def test_closed_trade_pnl_by_hand(direction, entry, exit_, qty, expected):
    trade = ClosedTrade(spread(direction, entry, qty), exit_, T_OUT, "test")
    assert trade.pnl == pytest.approx(expected)
    assert trade.to_dict()["pnl"] == round(expected, 2)


def test_closed_trade_record_carries_entry_exit_and_reason():
    d = ClosedTrade(spread("short", -0.80), 0.40, T_OUT, "profit target").to_dict()
    assert d["entry_price"] == -0.80 and d["exit_price"] == 0.40
    assert d["strikes"] == list(STRIKES)
    assert d["exit_reason"] == "profit target"
    assert d["entry_time"] == T_IN.isoformat() and d["exit_time"] == T_OUT.isoformat()


def test_book_realized_pnl_sums_closed_trades_and_new_day_keeps_open_spreads():
    book = Book()
    still_open = spread("short", -0.60, trade_no=3)
    book.open.append(still_open)
    book.closed += [
        ClosedTrade(spread("short", -0.80, trade_no=1), 0.40, T_OUT, "target"),
        ClosedTrade(spread("short", -0.70, trade_no=2), 1.50, T_OUT, "stop"),
    ]
    book.trades_today = 3
    assert book.realized_pnl == pytest.approx(40.0 - 80.0)
    book.new_day()
    assert book.closed == [] and book.trades_today == 0 and book.open == [still_open]


def test_plan_max_loss_short_and_long():
    short = CondorPlan("short", legs("short"), STRIKES, 5.0, 2, -0.80, -0.70)
    long = CondorPlan("long", legs("long"), STRIKES, 5.0, 2, 1.30, 1.40)
    assert short.max_loss == pytest.approx((5.0 - 0.80) * 100 * 2)
    assert long.max_loss == pytest.approx(1.30 * 100 * 2)


def _filled(book: Book, qty: int, avg: float, kind: str = "entry"):
    from engine.models import Order, OrderStatus
    from engine.orders import OrderKind, Working

    order = Order("o-1", f"zdte-20250701-01{kind[0]}-00", OrderStatus.FILLED, legs("short"), qty, qty, avg, avg, T_IN)
    w = Working(OrderKind(kind), 1, T_IN.date(), legs("short"), qty, False, T_IN, order, T_IN)
    w.filled_qty, w.fill_cost = qty, avg * qty
    return w


def test_an_entry_fill_opens_the_plan_as_a_spread_and_the_plan_is_done():
    book = Book(plan=CondorPlan("short", legs("short"), STRIKES, 5.0, 2, -0.80, -0.70))
    spread = book.open_from(_filled(book, 2, -0.78), T_IN)
    assert book.open == [spread] and book.plan is None and book.trades_today == 1
    assert (spread.qty, spread.entry_price, spread.strikes, spread.entry_time) == (2, -0.78, STRIKES, T_IN)
    assert spread.entry_client_order_id == "zdte-20250701-01e-00"


def test_a_partial_exit_splits_the_spread_and_leaves_the_rest_open():
    book = Book()
    book.open.append(spread("short", -0.80, qty=3))
    w = _filled(book, 1, 0.40, kind="exit")
    w.why = "profit target"

    trade = book.close_exit(w, T_OUT)

    assert trade is not None and trade.spread.qty == 1 and trade.exit_reason == "profit target"
    assert trade.pnl == pytest.approx((0.80 - 0.40) * 100)
    [left] = book.open
    assert left.qty == 2 and left.entry_price == -0.80
    assert book.closed == [trade]


def test_an_exit_that_filled_nothing_books_nothing():
    book = Book()
    book.open.append(spread("short", -0.80))
    w = _filled(book, 1, 0.40, kind="exit")
    w.filled_qty, w.fill_cost = 0, 0.0
    assert book.close_exit(w, T_OUT) is None
    assert len(book.open) == 1 and book.closed == []


def test_adopting_a_reconciliation_replaces_the_book_and_unrealized_pnl_is_nan_without_marks(marks):
    from engine.reconcile import Reconciliation

    kept, broken = spread("short", -0.80, trade_no=2), spread("short", -0.70, trade_no=3)
    earlier = ClosedTrade(spread("short", -0.90, trade_no=1), 0.30, T_OUT, "target")
    book = Book()
    book.adopt(Reconciliation(adopted=[kept], broken=[broken], closed=[earlier], trades_today=3))
    assert book.open == [kept, broken] and book.closed == [earlier] and book.trades_today == 3
    assert book.working is None and book.plan is None
    assert book.unrealized_pnl({}) != book.unrealized_pnl({})  # NaN: a mark is missing
    # each condor is a liability of 0.45 at these marks: (0.80 - 0.45) + (0.70 - 0.45) per contract
    assert book.unrealized_pnl(marks()) == pytest.approx(35.0 + 25.0)
