"""RiskGate: each pre-trade check alone, in-trade exits computed by hand, and session times on early closes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.book import CondorPlan, Spread
from engine.config import RiskConfig, StrategyConfig
from engine.models import Account, Intent, Leg, OptionQuote, Right, Side
from engine.occ import occ_symbol
from engine.risk import RiskGate, RiskView, daily_pnl, session_time, structure_problems

NY = ZoneInfo("America/New_York")
DAY = date(2025, 7, 1)
STRIKES = (590.0, 595.0, 605.0, 610.0)
RIGHTS = (Right.PUT, Right.PUT, Right.CALL, Right.CALL)
SYMS = tuple(occ_symbol("SPY", DAY, r, k) for r, k in zip(RIGHTS, STRIKES, strict=True))


def ny(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2025, 7, 1, hh, mm, ss, tzinfo=NY)


def _legs(sides) -> tuple[Leg, ...]:
    return tuple(
        Leg(s, side, Intent.BUY_TO_OPEN if side is Side.BUY else Intent.SELL_TO_OPEN)
        for s, side in zip(SYMS, sides, strict=True)
    )


SHORT_SIDES = (Side.BUY, Side.SELL, Side.SELL, Side.BUY)
LONG_SIDES = (Side.SELL, Side.BUY, Side.BUY, Side.SELL)


def short_plan(mid: float = -0.80, qty: int = 1, legs=None) -> CondorPlan:
    return CondorPlan("short", legs or _legs(SHORT_SIDES), STRIKES, 5.0, qty, mid, mid + 0.10)


ACCOUNT = Account(
    "acct", equity=100_000.0, last_equity=100_000.0, cash=100_000.0, options_buying_power=100_000.0, options_level=3
)
VIEW = RiskView(
    now=ny(11), entry_start=ny(10), entry_end=ny(14, 30), daily_pnl=0.0, trades_today=0, open_spreads=0, account=ACCOUNT
)
RISK = RiskConfig(
    max_daily_trades=3,
    max_open_spreads=1,
    max_daily_loss=500.0,
    target_daily_profit=250.0,
    max_loss_per_trade=500.0,
    profit_target_pct=0.5,
    spread_stop_pct=1.0,
)


@pytest.fixture
def gate() -> RiskGate:
    return RiskGate(RISK, StrategyConfig())


def test_condor_max_loss_by_hand():
    assert short_plan(-0.80).max_loss == pytest.approx((5.0 - 0.80) * 100)
    assert short_plan(-0.80, qty=3).max_loss == pytest.approx(420.0 * 3)
    long = CondorPlan("long", _legs(LONG_SIDES), STRIKES, 5.0, 2, 1.30, 1.40)
    assert long.max_loss == pytest.approx(1.30 * 100 * 2)


def test_baseline_passes_every_check(gate):
    assert gate.entries_allowed(VIEW) == []
    assert gate.pre_trade(short_plan(), VIEW) == []


@pytest.mark.parametrize(
    "change,words",
    [
        ({"now": ny(9, 59, 59)}, "entry window"),
        ({"now": ny(14, 30)}, "entry window"),
        ({"trades_today": 3}, "max_daily_trades"),
        ({"open_spreads": 1}, "max_open_spreads"),
        ({"daily_pnl": 250.0}, "target_daily_profit"),
        ({"daily_pnl": 300.0}, "target_daily_profit"),
    ],
)
def test_each_entry_check_fails_alone_with_its_reason(gate, change, words):
    view = replace(VIEW, **change)
    why = gate.pre_trade(short_plan(), view)
    assert len(why) == 1 and words in why[0]
    assert gate.entries_allowed(view) == why


def test_entry_window_opens_at_its_start(gate):
    assert gate.entries_allowed(replace(VIEW, now=ny(10))) == []
    assert gate.entries_allowed(replace(VIEW, now=ny(14, 29, 59))) == []


@pytest.mark.parametrize("pnl", [-500.0, -650.0])
def test_daily_loss_limit_blocks_entries(gate, pnl):
    why = gate.entries_allowed(replace(VIEW, daily_pnl=pnl))
    assert len(why) == 1 and "max_daily_loss" in why[0]
    assert gate.loss_limit_hit(pnl)


def test_a_loss_just_inside_the_limit_does_not_block_entries(gate):
    assert gate.entries_allowed(replace(VIEW, daily_pnl=-499.99)) == []
    assert not gate.loss_limit_hit(-499.99)


def test_max_loss_per_trade_fails_alone():
    gate = RiskGate(RISK.model_copy(update={"max_loss_per_trade": 400.0}), StrategyConfig())
    why = gate.pre_trade(short_plan(-0.80), VIEW)  # max loss 420
    assert len(why) == 1 and "max_loss_per_trade" in why[0] and "420.00" in why[0]


def test_remaining_daily_loss_budget_fails_alone(gate):
    # lost 100 today: 400 of the 500 budget left, the condor can lose 420
    why = gate.pre_trade(short_plan(-0.80), replace(VIEW, daily_pnl=-100.0))
    assert len(why) == 1 and "remaining loss budget" in why[0] and "400.00" in why[0]
    assert gate.pre_trade(short_plan(-0.80), replace(VIEW, daily_pnl=-80.0)) == []


def test_profit_so_far_does_not_enlarge_the_loss_budget():
    gate = RiskGate(RISK.model_copy(update={"max_daily_loss": 410.0}), StrategyConfig())
    why = gate.pre_trade(short_plan(-0.80), replace(VIEW, daily_pnl=200.0))
    assert len(why) == 1 and "remaining loss budget" in why[0]


def test_buying_power_fails_alone(gate):
    view = replace(VIEW, account=replace(ACCOUNT, options_buying_power=419.0))
    why = gate.pre_trade(short_plan(-0.80), view)
    assert len(why) == 1 and "buying power" in why[0]
    assert gate.pre_trade(short_plan(-0.80), replace(VIEW, account=replace(ACCOUNT, options_buying_power=420.0))) == []


def test_options_level_below_three_fails_alone(gate):
    why = gate.pre_trade(short_plan(), replace(VIEW, account=replace(ACCOUNT, options_level=2)))
    assert len(why) == 1 and "options level" in why[0]


@pytest.mark.parametrize(
    "sides",
    [
        (Side.SELL, Side.SELL, Side.SELL, Side.BUY),
        (Side.BUY, Side.SELL, Side.SELL, Side.SELL),
        (Side.BUY, Side.BUY, Side.SELL, Side.SELL),
    ],
    ids=["naked-put-side", "naked-call-side", "wings-swapped-sides"],
)
def test_a_short_leg_without_its_wing_fails_the_structure_check_alone(gate, sides):
    why = gate.pre_trade(short_plan(legs=_legs(sides)), VIEW)
    assert len(why) >= 1
    assert all("wing" in w for w in why)


def test_structure_checks_distinct_legs_order_and_opening_intents():
    legs = _legs(SHORT_SIDES)
    dup = (legs[0], legs[1], legs[2], legs[1])
    assert any("four distinct" in w for w in structure_problems(short_plan(legs=dup)))
    unordered = replace(short_plan(), strikes=(595.0, 590.0, 605.0, 610.0))
    assert any("order" in w for w in structure_problems(unordered))
    closing = (Leg(SYMS[0], Side.BUY, Intent.BUY_TO_CLOSE), *legs[1:])
    assert any("opening" in w for w in structure_problems(short_plan(legs=closing)))
    uneven = (Leg(SYMS[0], Side.BUY, Intent.BUY_TO_OPEN, ratio_qty=2), *legs[1:])
    assert any("wing" in w for w in structure_problems(short_plan(legs=uneven)))


def _marks(lp: float, sp: float, sc: float, lc: float) -> dict[str, OptionQuote]:
    """Quotes whose mids are the given prices (a 2-cent market around each)."""
    return {
        s: OptionQuote(s, round(m - 0.01, 2), round(m + 0.01, 2), ny(12))
        for s, m in zip(SYMS, (lp, sp, sc, lc), strict=True)
    }


def _spread(direction: str, entry: float, qty: int = 1) -> Spread:
    sides = SHORT_SIDES if direction == "short" else LONG_SIDES
    return Spread(1, direction, _legs(sides), STRIKES, 5.0, qty, entry, ny(10, 5), "zdte-20250701-01o-00")


HARD_EXIT = ny(15, 15)


def test_short_condor_profit_target_by_hand(gate):
    spread = _spread("short", -0.80)  # max profit 80, target 50% = 40
    # value = 0.05 - 0.20 - 0.20 + 0.05 = -0.30 -> P&L (0.80 - 0.30) * 100 = 50
    reason = gate.exit_reason(spread, _marks(0.05, 0.20, 0.20, 0.05), ny(12), HARD_EXIT)
    assert reason is not None and "profit target" in reason and "50.00" in reason
    # value = 0.05 - 0.30 - 0.25 + 0.05 = -0.45 -> P&L 35 < 40: keep
    assert gate.exit_reason(spread, _marks(0.05, 0.30, 0.25, 0.05), ny(12), HARD_EXIT) is None


def test_short_condor_spread_stop_by_hand(gate):
    spread = _spread("short", -0.80, qty=2)  # stop at 1.0 x credit: -0.80 * 100 * 2 = -160
    # value = 0.10 - 1.20 - 0.70 + 0.10 = -1.70 -> P&L (-1.70 + 0.80) * 100 * 2 = -180
    reason = gate.exit_reason(spread, _marks(0.10, 1.20, 0.70, 0.10), ny(12), HARD_EXIT)
    assert reason is not None and "spread stop" in reason and "-180.00" in reason and "160.00" in reason
    # value = 0.10 - 1.00 - 0.70 + 0.10 = -1.50 -> P&L -140: keep
    assert gate.exit_reason(spread, _marks(0.10, 1.00, 0.70, 0.10), ny(12), HARD_EXIT) is None


def test_long_condor_exits_by_hand():
    gate = RiskGate(RISK.model_copy(update={"spread_stop_pct": 0.5}), StrategyConfig())
    spread = _spread("long", 1.30)  # max profit (5 - 1.30) * 100 = 370, target 185; stop 0.5 * 130 = 65
    # value = -0.10 + 2.40 + 1.00 - 0.10 = 3.20 -> P&L (3.20 - 1.30) * 100 = 190
    assert "profit target" in gate.exit_reason(spread, _marks(0.10, 2.40, 1.00, 0.10), ny(12), HARD_EXIT)
    # value = -0.05 + 0.40 + 0.30 - 0.05 = 0.60 -> P&L -70
    assert "spread stop" in gate.exit_reason(spread, _marks(0.05, 0.40, 0.30, 0.05), ny(12), HARD_EXIT)
    # value = -0.05 + 0.80 + 0.60 - 0.05 = 1.30 -> P&L 0
    assert gate.exit_reason(spread, _marks(0.05, 0.80, 0.60, 0.05), ny(12), HARD_EXIT) is None


def test_time_exit_at_the_hard_exit_whatever_the_pnl(gate):
    spread = _spread("short", -0.80)
    flat = _marks(0.05, 0.45, 0.45, 0.05)  # P&L 0
    assert gate.exit_reason(spread, flat, HARD_EXIT - timedelta(seconds=1), HARD_EXIT) is None
    assert "time exit" in gate.exit_reason(spread, flat, HARD_EXIT, HARD_EXIT)
    assert "time exit" in gate.exit_reason(spread, flat, HARD_EXIT + timedelta(minutes=5), HARD_EXIT)


def test_daily_pnl_is_equity_against_the_previous_close():
    assert daily_pnl(replace(ACCOUNT, equity=99_640.0, last_equity=100_000.0)) == pytest.approx(-360.0)
    assert daily_pnl(replace(ACCOUNT, equity=100_125.5, last_equity=100_000.0)) == pytest.approx(125.5)


def test_session_time_is_the_wall_time_on_a_normal_day():
    close = datetime(2025, 7, 1, 16, 0, tzinfo=NY)
    assert session_time(DAY, time(15, 15), close) == datetime(2025, 7, 1, 15, 15, tzinfo=NY)


def test_session_time_clamps_to_an_early_close():
    early = date(2025, 11, 28)
    close_utc = datetime(2025, 11, 28, 18, 0, tzinfo=ZoneInfo("UTC"))  # 13:00 New York
    got = session_time(early, time(15, 15), close_utc)
    assert got == datetime(2025, 11, 28, 13, 0, tzinfo=NY)
    assert got.astimezone(NY).hour == 13
    assert session_time(early, time(10, 0), close_utc) == datetime(2025, 11, 28, 10, 0, tzinfo=NY)
