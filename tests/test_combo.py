"""Combo prices in net-debit terms (credit negative), closing legs, and tick rounding."""

from __future__ import annotations

import math

import pytest

from engine.combo import check_quote, natural, net_mid, reverse, round_to_tick
from engine.errors import DataError
from engine.models import Intent, Leg, Side

A, B, C, D = "SPY250701P00590000", "SPY250701P00595000", "SPY250701C00605000", "SPY250701C00610000"


@pytest.fixture
def quotes(quote):
    return {
        A: quote(A, 0.10, 0.14),
        B: quote(B, 0.50, 0.56),
        C: quote(C, 0.45, 0.51),
        D: quote(D, 0.08, 0.12),
    }


def short_condor() -> tuple[Leg, ...]:
    return (
        Leg(A, Side.BUY, Intent.BUY_TO_OPEN),
        Leg(B, Side.SELL, Intent.SELL_TO_OPEN),
        Leg(C, Side.SELL, Intent.SELL_TO_OPEN),
        Leg(D, Side.BUY, Intent.BUY_TO_OPEN),
    )


def test_buying_one_leg_costs_its_mid_and_selling_it_receives_it(quotes):
    assert net_mid([Leg(A, Side.BUY, Intent.BUY_TO_OPEN)], quotes) == pytest.approx(0.12)
    assert net_mid([Leg(A, Side.SELL, Intent.SELL_TO_OPEN)], quotes) == pytest.approx(-0.12)
    assert natural([Leg(A, Side.BUY, Intent.BUY_TO_OPEN)], quotes) == pytest.approx(0.14)
    assert natural([Leg(A, Side.SELL, Intent.SELL_TO_OPEN)], quotes) == pytest.approx(-0.10)


def test_short_condor_is_a_credit_and_its_natural_is_less_credit(quotes):
    mid = net_mid(short_condor(), quotes)
    nat = natural(short_condor(), quotes)
    assert mid == pytest.approx(0.12 - 0.53 - 0.48 + 0.10)
    assert nat == pytest.approx(0.14 - 0.50 - 0.45 + 0.12)
    assert mid < 0 and nat < 0 and nat > mid


def test_closing_a_short_condor_is_a_debit_and_natural_pays_more(quotes):
    closing = reverse(short_condor())
    assert net_mid(closing, quotes) == pytest.approx(-net_mid(short_condor(), quotes))
    assert natural(closing, quotes) == pytest.approx(0.56 + 0.51 - 0.10 - 0.08)
    assert natural(closing, quotes) > net_mid(closing, quotes) > 0


def test_ratio_qty_scales_a_legs_contribution(quotes):
    legs = [Leg(A, Side.BUY, Intent.BUY_TO_OPEN, ratio_qty=2), Leg(B, Side.SELL, Intent.SELL_TO_OPEN)]
    assert net_mid(legs, quotes) == pytest.approx(2 * 0.12 - 0.53)
    assert natural(legs, quotes) == pytest.approx(2 * 0.14 - 0.50)


def test_reverse_closes_every_leg_with_the_opposite_side_and_a_closing_intent():
    closing = reverse(short_condor())
    assert [(leg.symbol, leg.side, leg.intent, leg.ratio_qty) for leg in closing] == [
        (A, Side.SELL, Intent.SELL_TO_CLOSE, 1),
        (B, Side.BUY, Intent.BUY_TO_CLOSE, 1),
        (C, Side.BUY, Intent.BUY_TO_CLOSE, 1),
        (D, Side.SELL, Intent.SELL_TO_CLOSE, 1),
    ]
    assert reverse([Leg(A, Side.BUY, Intent.BUY_TO_OPEN, ratio_qty=3)])[0].ratio_qty == 3


def test_missing_quote_is_a_data_error_naming_the_symbol(quotes):
    del quotes[C]
    with pytest.raises(DataError, match=C):
        net_mid(short_condor(), quotes)
    with pytest.raises(DataError, match=C):
        natural(short_condor(), quotes)


@pytest.mark.parametrize(
    "bid,ask",
    [(0.60, 0.50), (math.nan, 0.5), (0.1, math.nan), (0.1, math.inf), (math.inf, math.inf), (-0.01, 0.5), (0.0, 0.0)],
    ids=["crossed", "nan-bid", "nan-ask", "inf-ask", "inf-both", "negative-bid", "no-ask"],
)
def test_malformed_quotes_are_refused_never_repaired(quote, quotes, bid, ask):
    bad = quote(B, bid, ask)
    with pytest.raises(DataError, match=B):
        check_quote(bad)
    quotes[B] = bad
    with pytest.raises(DataError):
        net_mid(short_condor(), quotes)


def test_a_zero_bid_far_wing_is_a_valid_quote(quote):
    check_quote(quote(A, 0.0, 0.01))
    check_quote(quote(A, 0.25, 0.25))


@pytest.mark.parametrize(
    "price,tick,up,expected",
    [
        (0.785, 0.01, True, 0.79),
        (0.785, 0.01, False, 0.78),
        (-0.785, 0.01, True, -0.78),
        (-0.785, 0.01, False, -0.79),
        (0.79, 0.01, True, 0.79),
        (0.79, 0.01, False, 0.79),
        (-0.69, 0.01, True, -0.69),
        (0.1 + 0.2, 0.01, True, 0.30),
        (1.23, 0.05, True, 1.25),
        (1.23, 0.05, False, 1.20),
        (-1.23, 0.05, True, -1.20),
        (0.0, 0.01, True, 0.0),
    ],
)
def test_round_to_tick(price, tick, up, expected):
    got = round_to_tick(price, tick, up)
    assert got == pytest.approx(expected, abs=1e-12)
    assert abs(got / tick - round(got / tick)) < 1e-9
