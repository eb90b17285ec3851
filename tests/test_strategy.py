"""IronCondor.propose: strikes by delta or distance, wings, direction, and every reason to skip."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.book import CondorPlan
from engine.config import StrategyConfig
from engine.models import Intent, OptionContract, OptionQuote, Right, Side
from engine.occ import occ_symbol
from engine.pricing import calendar_years
from engine.strategies.iron_condor import IronCondor, Skip

DAY = date(2025, 7, 1)
TS = datetime(2025, 7, 1, 11, 0, tzinfo=ZoneInfo("America/New_York"))
SPOT = 600.3
# |delta| of the out-of-the-money strikes by distance (points) from 600, calls and puts deliberately different
CALL_DELTA = {1: 0.45, 2: 0.38, 3: 0.31, 4: 0.25, 5: 0.20, 6: 0.16, 7: 0.13, 8: 0.10, 9: 0.08, 10: 0.06}
PUT_DELTA = {1: 0.46, 2: 0.40, 3: 0.33, 4: 0.27, 5: 0.22, 6: 0.18, 7: 0.155, 8: 0.12, 9: 0.09, 10: 0.07}


def sym(right: Right, k: float) -> str:
    return occ_symbol("SPY", DAY, right, k)


def _price(right: Right, k: float) -> float:
    intrinsic = max(SPOT - k, 0.0) if right is Right.CALL else max(k - SPOT, 0.0)
    return round(intrinsic + 2.0 * math.exp(-abs(k - SPOT) / 3.0), 2)


def _delta(right: Right, k: float) -> float:
    d = round(abs(k - 600))
    if right is Right.CALL:
        return CALL_DELTA.get(d, 0.03) if k > SPOT else 1.0 - CALL_DELTA.get(d, 0.03)
    return -PUT_DELTA.get(d, 0.03) if k < SPOT else -(1.0 - PUT_DELTA.get(d, 0.03))


def chain(lo: int = 580, hi: int = 620) -> tuple[dict[str, OptionContract], dict[str, OptionQuote]]:
    contracts, quotes = {}, {}
    for k in range(lo, hi + 1):
        for right in (Right.CALL, Right.PUT):
            s = sym(right, float(k))
            contracts[s] = OptionContract(s, "SPY", DAY, float(k), right)
            p = _price(right, float(k))
            quotes[s] = OptionQuote(s, max(round(p - 0.02, 2), 0.0), round(p + 0.02, 2), TS, 0.16, _delta(right, k))
    return contracts, quotes


def _cfg(**kw) -> StrategyConfig:
    return StrategyConfig(**{"min_credit": 0.05, **kw})


def _mid(q: OptionQuote) -> float:
    return (q.bid + q.ask) / 2


def test_short_condor_by_delta_picks_otm_strikes_closest_to_the_target_delta():
    contracts, quotes = chain()
    plan = IronCondor(_cfg(short_delta=0.15, wing_width=5.0, contracts=2)).propose(SPOT, contracts, quotes)
    assert isinstance(plan, CondorPlan)
    # put: |0.155 - 0.15| at 593 beats 0.18 (594) and 0.12 (592); call: 0.16 (606) beats 0.13 (607)
    assert plan.strikes == (588.0, 593.0, 606.0, 611.0)
    lp, sp, sc, lc = sym(Right.PUT, 588), sym(Right.PUT, 593), sym(Right.CALL, 606), sym(Right.CALL, 611)
    assert [(leg.symbol, leg.side, leg.intent) for leg in plan.legs] == [
        (lp, Side.BUY, Intent.BUY_TO_OPEN),
        (sp, Side.SELL, Intent.SELL_TO_OPEN),
        (sc, Side.SELL, Intent.SELL_TO_OPEN),
        (lc, Side.BUY, Intent.BUY_TO_OPEN),
    ]
    mid = _mid(quotes[lp]) - _mid(quotes[sp]) - _mid(quotes[sc]) + _mid(quotes[lc])
    nat = quotes[lp].ask - quotes[sp].bid - quotes[sc].bid + quotes[lc].ask
    assert plan.mid == pytest.approx(mid) and plan.mid < 0
    assert plan.natural == pytest.approx(nat) and plan.natural > plan.mid
    assert plan.direction == "short" and plan.qty == 2 and plan.wing_width == 5.0
    assert plan.max_loss == pytest.approx((5.0 + mid) * 100 * 2)


def test_in_the_money_contracts_are_never_short_strikes_even_with_a_matching_delta():
    contracts, quotes = chain()
    itm_call, itm_put = sym(Right.CALL, 597), sym(Right.PUT, 603)
    quotes[itm_call] = OptionQuote(itm_call, 3.0, 3.1, TS, 0.16, 0.15)
    quotes[itm_put] = OptionQuote(itm_put, 3.0, 3.1, TS, 0.16, -0.15)
    plan = IronCondor(_cfg(short_delta=0.15)).propose(SPOT, contracts, quotes)
    assert plan.strikes[1:3] == (593.0, 606.0)


def test_wider_wings_sit_wing_width_beyond_the_shorts():
    contracts, quotes = chain()
    plan = IronCondor(_cfg(short_delta=0.25, wing_width=10.0)).propose(SPOT, contracts, quotes)
    # put 0.27 (596) vs 0.22 (595): 596; call exactly 0.25 at 604
    assert plan.strikes == (586.0, 596.0, 604.0, 614.0)


def test_short_condor_by_distance_takes_the_nearest_strikes_at_least_that_far_from_spot():
    contracts, quotes = chain()
    plan = IronCondor(_cfg(short_strike_rule="distance", short_distance=5.0, wing_width=3.0)).propose(
        SPOT, contracts, quotes
    )
    # spot 600.3: puts <= 595.3 -> 595, calls >= 605.3 -> 606
    assert plan.strikes == (592.0, 595.0, 606.0, 609.0)


def test_long_condor_flips_every_side_and_pays_a_debit():
    contracts, quotes = chain()
    short = IronCondor(_cfg(direction="short")).propose(SPOT, contracts, quotes)
    long = IronCondor(_cfg(direction="long")).propose(SPOT, contracts, quotes)
    assert long.strikes == short.strikes
    assert [leg.side for leg in long.legs] == [Side.SELL, Side.BUY, Side.BUY, Side.SELL]
    assert [leg.intent for leg in long.legs] == [
        Intent.SELL_TO_OPEN,
        Intent.BUY_TO_OPEN,
        Intent.BUY_TO_OPEN,
        Intent.SELL_TO_OPEN,
    ]
    assert long.mid == pytest.approx(-short.mid) and long.mid > 0
    lp, sp, sc, lc = (leg.symbol for leg in long.legs)
    assert long.natural == pytest.approx(-quotes[lp].bid + quotes[sp].ask + quotes[sc].ask - quotes[lc].bid)
    assert long.direction == "long"
    assert long.max_loss == pytest.approx(long.mid * 100)


def test_long_condor_is_not_held_to_min_credit():
    contracts, quotes = chain()
    assert isinstance(IronCondor(_cfg(direction="long", min_credit=5.0)).propose(SPOT, contracts, quotes), CondorPlan)


# 6 points from 600.3: shorts 594 put / 607 call, wings 589 / 612
@pytest.mark.parametrize("right,strike,name", [(Right.CALL, 612, "612"), (Right.PUT, 589, "589")])
def test_missing_wing_contract_is_a_skip_naming_it_for_the_distance_rule(right, strike, name):
    contracts, quotes = chain()
    del contracts[sym(right, strike)]
    by_distance = IronCondor(_cfg(short_strike_rule="distance", short_distance=6.0))
    out = by_distance.propose(SPOT, contracts, quotes)
    assert isinstance(out, Skip)
    assert name in out.reason and str(right) in out.reason


@pytest.mark.parametrize("right,strike", [(Right.CALL, 611), (Right.PUT, 588)])
def test_by_delta_a_short_strike_is_only_chosen_where_its_wing_is_listed(right, strike):
    """The best-delta short (606 call / 593 put) loses its wing: the next-best short with a listed wing is taken."""
    contracts, quotes = chain()
    best = IronCondor(_cfg()).propose(SPOT, contracts, quotes)
    del contracts[sym(right, strike)]
    plan = IronCondor(_cfg()).propose(SPOT, contracts, quotes)
    assert isinstance(best, CondorPlan) and isinstance(plan, CondorPlan)
    assert strike in best.strikes and strike not in plan.strikes
    lp, sp, sc, lc = plan.strikes
    assert sp - lp == lc - sc == 5.0
    assert all(sym(r, k) in contracts for r, k in zip((Right.PUT,) * 2 + (Right.CALL,) * 2, plan.strikes, strict=True))


def test_wing_without_a_quote_is_not_traded_on():
    contracts, quotes = chain()
    del quotes[sym(Right.CALL, 611)]
    plan = IronCondor(_cfg()).propose(SPOT, contracts, quotes)
    assert isinstance(plan, CondorPlan) and 611 not in plan.strikes
    assert all(leg.symbol in quotes for leg in plan.legs)


def test_wings_stay_inside_the_listed_strikes():
    contracts, quotes = chain(lo=590, hi=608)
    plan = IronCondor(_cfg(short_delta_tolerance=0.5)).propose(SPOT, contracts, quotes)
    assert isinstance(plan, CondorPlan)
    assert min(plan.strikes) >= 590 and max(plan.strikes) <= 608


def test_a_short_strike_far_from_the_target_delta_is_declined_not_traded():
    """With the 0.15-delta calls' wings unlisted, the only calls with a wing are near the money: no condor."""
    contracts, quotes = chain(lo=590, hi=608)
    plan = IronCondor(_cfg()).propose(SPOT, contracts, quotes)
    assert isinstance(plan, Skip) and "within 0.1 of 0.15" in plan.reason
    otm_calls_with_wing = [
        quotes[s].delta for s, c in contracts.items() if c.right is Right.CALL and SPOT < c.strike <= 608 - 5
    ]
    assert otm_calls_with_wing and min(otm_calls_with_wing) > 0.25  # the tolerance, not the chain, is what refuses


@pytest.mark.parametrize(
    "bid,ask",
    [(0.60, 0.50), (math.nan, 0.50), (0.40, math.inf), (-0.05, 0.50), (0.0, 0.0)],
    ids=["crossed", "nan-bid", "inf-ask", "negative-bid", "zero-ask"],
)
def test_malformed_quote_on_a_leg_is_a_skip_never_a_plan(bid, ask):
    contracts, quotes = chain()
    s = sym(Right.CALL, 606)
    quotes[s] = OptionQuote(s, bid, ask, TS, 0.16, 0.16)
    out = IronCondor(_cfg()).propose(SPOT, contracts, quotes)
    assert isinstance(out, Skip)
    assert s in out.reason


def test_min_credit_filter():
    contracts, quotes = chain()
    plan = IronCondor(_cfg(min_credit=0.0)).propose(SPOT, contracts, quotes)
    credit = -plan.mid
    assert isinstance(IronCondor(_cfg(min_credit=round(credit - 0.01, 2))).propose(SPOT, contracts, quotes), CondorPlan)
    out = IronCondor(_cfg(min_credit=round(credit + 0.01, 2))).propose(SPOT, contracts, quotes)
    assert isinstance(out, Skip) and "min_credit" in out.reason


def test_no_deltas_in_the_quotes_is_a_skip_for_the_delta_rule():
    contracts, quotes = chain()
    quotes = {s: OptionQuote(s, q.bid, q.ask, q.ts, q.iv, None) for s, q in quotes.items()}
    assert isinstance(IronCondor(_cfg()).propose(SPOT, contracts, quotes), Skip)
    by_distance = IronCondor(_cfg(short_strike_rule="distance")).propose(SPOT, contracts, quotes)
    assert isinstance(by_distance, CondorPlan)


def test_no_strikes_far_enough_is_a_skip_for_the_distance_rule():
    contracts, quotes = chain(lo=596, hi=604)
    out = IronCondor(_cfg(short_strike_rule="distance", short_distance=5.0)).propose(SPOT, contracts, quotes)
    assert isinstance(out, Skip)


@pytest.mark.parametrize(
    "vol,passes",
    [(0.05, False), (0.10, True), (0.30, True), (0.60, True), (0.61, False)],
)
def test_volatility_filter_bounds_are_inclusive(vol, passes):
    strategy = IronCondor(_cfg(min_realized_vol=0.10, max_realized_vol=0.60))
    out = strategy.check_volatility(vol)
    if passes:
        assert out is None
    else:
        assert isinstance(out, Skip) and "volatility" in out.reason


def test_missing_greeks_fall_back_to_black_scholes_delta_from_the_quotes_iv():
    """Alpaca omits greeks on some snapshots: with the time left, the delta comes from the quote's own IV."""
    contracts, quotes = chain()
    quotes = {s: OptionQuote(s, q.bid, q.ask, q.ts, 0.37, None) for s, q in quotes.items()}
    years_left = float(calendar_years(5 * 3600))  # 11:00 to the close, in calendar time as Alpaca's IV is quoted
    plan = IronCondor(_cfg()).propose(SPOT, contracts, quotes, years_left)
    assert isinstance(plan, CondorPlan)
    # with sigma*sqrt(T) = 0.37*sqrt(5/8760) ~ 0.0088, a 15-delta strike lies ~1.04 sd ~ 5.5 points from spot
    lp, sp, sc, lc = plan.strikes
    assert 4 <= SPOT - sp <= 7 and 4 <= sc - SPOT <= 7
    no_iv = {s: OptionQuote(s, q.bid, q.ask, q.ts, None, None) for s, q in quotes.items()}
    assert isinstance(IronCondor(_cfg()).propose(SPOT, contracts, no_iv, years_left), Skip)


# An Alpaca-convention (calendar-time) smile: 5 hours before the close, spot 600.3.
SECONDS_LEFT = 5 * 3600


def _calendar_iv(k: float) -> float:
    m = math.log(k / SPOT)
    return 0.35 - 0.8 * m + 25.0 * m * m


def _bs_delta(right: Right, k: float, iv: float, years: float) -> float:
    """Black–Scholes delta without rates, written out here so the test does not lean on engine.pricing."""
    d1 = (math.log(SPOT / k) + 0.5 * iv * iv * years) / (iv * math.sqrt(years))
    call = 0.5 * math.erfc(-d1 / math.sqrt(2.0))
    return call if right is Right.CALL else call - 1.0


def _smile_chain(delta_years: float | None) -> tuple[dict[str, OptionContract], dict[str, OptionQuote]]:
    """The chain quoted with the calendar smile; deltas computed over `delta_years`, or none at all."""
    contracts, quotes = chain()
    out = {}
    for s, q in quotes.items():
        c = contracts[s]
        iv = _calendar_iv(c.strike)
        delta = None if delta_years is None else _bs_delta(c.right, c.strike, iv, delta_years)
        out[s] = OptionQuote(s, q.bid, q.ask, q.ts, iv, delta)
    return contracts, out


def test_fallback_delta_reads_the_iv_in_calendar_time_like_alpacas_greeks():
    """A quote without greeks gets the short strikes it would get if it carried Alpaca's (calendar-time) delta."""
    calendar = SECONDS_LEFT / (365 * 86400)
    contracts, with_greeks = _smile_chain(calendar)
    _, without = _smile_chain(None)
    strategy = IronCondor(_cfg(short_delta=0.15))
    expected = strategy.propose(SPOT, contracts, with_greeks)
    plan = strategy.propose(SPOT, contracts, without, float(calendar_years(SECONDS_LEFT)))
    assert isinstance(expected, CondorPlan) and isinstance(plan, CondorPlan)
    assert plan.strikes == expected.strikes


def test_fallback_delta_would_pick_other_strikes_in_trading_time():
    """Read over trading time (5/1638 of a year rather than 5/8760) the same IVs put the shorts further out."""
    trading = SECONDS_LEFT / (252 * 6.5 * 3600)
    calendar = SECONDS_LEFT / (365 * 86400)
    contracts, calendar_greeks = _smile_chain(calendar)
    _, trading_greeks = _smile_chain(trading)
    _, without = _smile_chain(None)
    strategy = IronCondor(_cfg(short_delta=0.15, min_credit=0.0))  # the test chain's far wings are nearly free
    right = strategy.propose(SPOT, contracts, calendar_greeks)
    wrong = strategy.propose(SPOT, contracts, trading_greeks)
    assert isinstance(right, CondorPlan) and isinstance(wrong, CondorPlan)
    _, sp, sc, _ = right.strikes
    _, wrong_sp, wrong_sc, _ = wrong.strikes
    assert wrong_sp < sp - 3 and wrong_sc > sc + 3  # sigma sqrt(T) 2.3 times as large
    plan = strategy.propose(SPOT, contracts, without, float(calendar_years(SECONDS_LEFT)))
    assert plan.strikes == right.strikes != wrong.strikes
