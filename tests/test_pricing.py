"""Black–Scholes, the normal CDF and the smile against closed-form and textbook values; the published side
(implied volatility and greeks in Alpaca's calendar-time convention) against Alpaca's own documented numbers."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from engine.models import OptionContract, OptionQuote, Right
from engine.pricing import (
    black_scholes,
    calendar_years,
    erfc,
    greeks,
    implied_vol,
    intrinsic,
    norm_cdf,
    trading_to_calendar_iv,
    years_to_expiry,
)
from engine.sim import alpaca_json

ALPACA_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "alpaca"


def test_erfc_matches_math_erfc_to_full_precision() -> None:
    x = np.linspace(-6.0, 26.0, 64_001)
    ref = np.array([math.erfc(v) for v in x])
    assert np.max(np.abs(erfc(x) - ref) / ref) < 1e-14


def test_norm_cdf_textbook_values() -> None:
    assert norm_cdf(0.0) == pytest.approx(0.5, abs=1e-16)
    assert norm_cdf(1.96) == pytest.approx(0.9750021048517795, abs=1e-15)
    assert norm_cdf(-1.0) == pytest.approx(0.15865525393145707, abs=1e-15)
    x = np.linspace(-8, 8, 161)
    assert np.allclose(norm_cdf(x) + norm_cdf(-x), 1.0, atol=1e-15)


def test_call_matches_the_textbook_value() -> None:
    price, delta = black_scholes(100.0, 100.0, 1.0, 0.2, 0.05, True)
    assert float(price) == pytest.approx(10.4506, abs=5e-5)
    # delta of a call is N(d1), d1 = (r + sigma^2/2) T / (sigma sqrt T) = 0.35
    assert float(delta) == pytest.approx(0.5 * math.erfc(-0.35 / math.sqrt(2)), abs=1e-12)


def test_put_call_parity_and_put_delta() -> None:
    S, K, T, sigma, r = 100.0, np.array([80.0, 95.0, 100.0, 110.0, 130.0]), 0.5, 0.3, 0.03
    call, call_delta = black_scholes(S, K, T, sigma, r, True)
    put, put_delta = black_scholes(S, K, T, sigma, r, False)
    assert np.allclose(call - put, S - K * math.exp(-r * T), atol=1e-10)
    assert np.allclose(call_delta - put_delta, 1.0, atol=1e-12)
    assert float(black_scholes(100.0, 100.0, 1.0, 0.2, 0.05, False)[0]) == pytest.approx(5.5735, abs=5e-5)


def test_deltas_are_bounded_and_monotone_in_spot() -> None:
    S = np.linspace(50.0, 150.0, 201)
    _, call_delta = black_scholes(S, 100.0, 0.1, 0.25, 0.02, True)
    _, put_delta = black_scholes(S, 100.0, 0.1, 0.25, 0.02, False)
    assert ((call_delta >= 0) & (call_delta <= 1)).all()
    assert ((put_delta >= -1) & (put_delta <= 0)).all()
    assert (np.diff(call_delta) >= 0).all() and (np.diff(put_delta) >= 0).all()


def test_prices_are_monotone_in_strike_and_respect_bounds() -> None:
    K = np.arange(550.0, 651.0)
    call, _ = black_scholes(600.0, K, 1 / 252, 0.16, 0.04, True)
    put, _ = black_scholes(600.0, K, 1 / 252, 0.16, 0.04, False)
    assert (np.diff(call) < 0).all() and (np.diff(put) > 0).all()
    assert (call >= intrinsic(600.0, K, True) - 1e-9).all() and (call <= 600.0).all()


def test_price_collapses_to_intrinsic_at_expiry() -> None:
    K = np.array([590.0, 600.0, 610.0])
    for is_call in (True, False):
        price, _ = black_scholes(600.0, K, years_to_expiry(0.0), 0.16, 0.04, is_call)
        assert np.allclose(price, intrinsic(600.0, K, is_call), atol=1e-4)  # a hundredth of a cent


def test_vectorized_grid_broadcasts() -> None:
    S = np.array([[599.0], [601.0]])
    K = np.array([[595.0, 600.0, 605.0]])
    price, delta = black_scholes(S, K, 0.002, 0.16, 0.04, np.array([True, False, True]))
    assert price.shape == delta.shape == (2, 3)
    single, _ = black_scholes(601.0, 600.0, 0.002, 0.16, 0.04, False)
    assert price[1, 1] == pytest.approx(float(single), rel=1e-15)


def test_years_to_expiry_uses_trading_time() -> None:
    assert float(years_to_expiry(6.5 * 3600)) == pytest.approx(1 / 252, rel=1e-15)
    assert float(years_to_expiry(0.0)) > 0 and float(years_to_expiry(-60.0)) > 0


def test_intrinsic() -> None:
    assert intrinsic(605.0, np.array([600.0, 610.0]), True).tolist() == [5.0, 0.0]
    assert intrinsic(605.0, np.array([600.0, 610.0]), False).tolist() == [0.0, 5.0]


# -- Alpaca's convention: calendar time, theta per calendar day, vega and rho per 1% ----------------------

# The contract of Alpaca's option-chain docs example, priced 3 calendar days before expiry.
DOCS_SYMBOL = "AAPL240426C00162500"
DOCS_SPOT, DOCS_STRIKE, DOCS_RATE, DOCS_SECONDS = 165.77, 162.5, 0.053, 3 * 86400


@pytest.fixture(scope="module")
def docs_snapshot() -> dict:
    path = ALPACA_FIXTURES / "option_chain_docs.json"
    if not path.is_file():
        pytest.skip(f"Alpaca's docs fixture {path} is not available (../shared/fixtures/alpaca is absent)")
    return json.loads(path.read_text(encoding="utf-8"))["snapshots"][DOCS_SYMBOL]


def test_calendar_years_is_act_365() -> None:
    assert float(calendar_years(86400.0)) == pytest.approx(1 / 365, rel=1e-15)
    assert float(calendar_years(3 * 86400.0)) == pytest.approx(3 / 365, rel=1e-15)
    assert float(calendar_years(0.0)) > 0 and float(calendar_years(-60.0)) > 0
    assert calendar_years(np.array([3600.0, 7200.0])).shape == (2,)


def test_greeks_reproduce_alpacas_documented_snapshot(docs_snapshot) -> None:
    expected = docs_snapshot["greeks"]
    g = greeks(
        DOCS_SPOT, DOCS_STRIKE, calendar_years(DOCS_SECONDS), docs_snapshot["impliedVolatility"], DOCS_RATE, True
    )
    for name in ("delta", "gamma", "vega", "theta", "rho"):
        assert float(getattr(g, name)) == pytest.approx(expected[name], rel=1e-3), name


def test_trading_time_greeks_would_not_match_alpaca(docs_snapshot) -> None:
    """Guards the convention: the same IV read over 3 trading days (theta per trading day) misses every greek."""
    expected = docs_snapshot["greeks"]
    iv = docs_snapshot["impliedVolatility"]
    g = greeks(DOCS_SPOT, DOCS_STRIKE, years_to_expiry(3 * 6.5 * 3600), iv, DOCS_RATE, True)
    trading = {"gamma": g.gamma, "vega": g.vega, "theta": g.theta * 365 / 252, "rho": g.rho}
    for name, value in trading.items():
        assert float(value) != pytest.approx(expected[name], rel=0.05), name


def test_published_snapshot_greeks_follow_alpacas_convention(docs_snapshot) -> None:
    """The simulator's /v2 snapshot greeks: calendar time to the close, so Alpaca's own quote reproduces its greeks."""
    expected = docs_snapshot["greeks"]
    ts = datetime(2024, 4, 23, 20, 0, tzinfo=UTC)
    q = OptionQuote(DOCS_SYMBOL, 4.15, 4.3, ts, docs_snapshot["impliedVolatility"], expected["delta"])
    c = OptionContract(DOCS_SYMBOL, "AAPL", date(2024, 4, 26), DOCS_STRIKE, Right.CALL)
    [g] = alpaca_json.greeks([(q, c, DOCS_SPOT)], ts + timedelta(seconds=DOCS_SECONDS), DOCS_RATE)
    assert g is not None and g.delta == expected["delta"]
    for name in ("gamma", "vega", "theta", "rho"):
        assert getattr(g, name) == pytest.approx(expected[name], rel=1e-3), name


def test_implied_vol_recovers_alpacas_iv_from_its_price(docs_snapshot) -> None:
    iv = docs_snapshot["impliedVolatility"]
    t = calendar_years(DOCS_SECONDS)
    price, _ = black_scholes(DOCS_SPOT, DOCS_STRIKE, t, iv, DOCS_RATE, True)
    assert float(implied_vol(price, DOCS_SPOT, DOCS_STRIKE, t, DOCS_RATE, True)) == pytest.approx(iv, abs=1e-6)
    # Alpaca's IV is that of the last trade (4.10), 3 calendar days out: solved here to within 1e-4
    trade = docs_snapshot["latestTrade"]["p"]
    assert float(implied_vol(trade, DOCS_SPOT, DOCS_STRIKE, t, DOCS_RATE, True)) == pytest.approx(iv, abs=1e-4)


@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_are_the_derivatives_of_the_price(is_call: bool) -> None:
    """Central differences of black_scholes in S, sigma, T and r, in Alpaca's units."""
    S, K, T, sigma, r = 600.0, np.array([585.0, 600.0, 612.0]), 2.5 / 365, 0.22, 0.045
    g = greeks(S, K, T, sigma, r, is_call)

    def price(**kw: float) -> np.ndarray:
        args = {"S": S, "T": T, "sigma": sigma, "r": r} | kw
        return black_scholes(args["S"], K, args["T"], args["sigma"], args["r"], is_call)[0]

    h = 1e-3
    assert np.allclose(g.price, price(), rtol=1e-14)
    assert np.allclose(g.delta, (price(S=S + h) - price(S=S - h)) / (2 * h), atol=1e-7)
    assert np.allclose(g.gamma, (price(S=S + 0.05) - 2 * price() + price(S=S - 0.05)) / 0.05**2, rtol=1e-4)
    assert np.allclose(g.vega, (price(sigma=sigma + 1e-5) - price(sigma=sigma - 1e-5)) / 2e-5 / 100, rtol=1e-6)
    day = 1 / 365
    theta_fd = -(price(T=T + 1e-6 * day) - price(T=T - 1e-6 * day)) / 2e-6  # per calendar day
    assert np.allclose(g.theta, theta_fd, rtol=1e-5)
    assert np.allclose(g.rho, (price(r=r + 1e-5) - price(r=r - 1e-5)) / 2e-5 / 100, rtol=1e-6)


def test_greeks_broadcast_like_black_scholes() -> None:
    S = np.array([[599.0], [601.0]])
    K = np.array([[595.0, 600.0, 605.0]])
    g = greeks(S, K, 0.002, 0.3, 0.04, np.array([True, False, True]))
    assert all(getattr(g, f).shape == (2, 3) for f in ("price", "delta", "gamma", "vega", "theta", "rho"))
    price, delta = black_scholes(S, K, 0.002, 0.3, 0.04, np.array([True, False, True]))
    assert np.allclose(g.price, price, rtol=1e-14) and np.allclose(g.delta, delta, rtol=1e-14)


# -- implied volatility --------------------------------------------------------------------------------


def test_implied_vol_round_trips_from_0dte_minutes_to_a_year() -> None:
    S, r = 600.0, 0.04
    seconds = np.array([60, 300, 1800, 3600, 6.5 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400.0])
    T = calendar_years(seconds)[:, None, None, None]
    moneyness = np.array([0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.0, 1.005, 1.01, 1.02, 1.05, 1.1, 1.2, 1.5, 2.0])
    K = S * moneyness[None, :, None, None]
    sigma = np.array([0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3.0])[None, None, :, None]
    is_call = np.array([True, False])[None, None, None, :]
    price, _ = black_scholes(S, K, T, sigma, r, is_call)
    iv = implied_vol(price, S, K, T, r, is_call)
    disc_k = K * np.exp(-r * T)
    time_value = price - np.where(is_call, np.maximum(S - disc_k, 0.0), np.maximum(disc_k - S, 0.0))
    solved = np.isfinite(iv)
    # every price with any time value left in floating point is solved (the rest is intrinsic value only)
    assert (solved == (time_value > 0)).all() and solved.sum() > 0.5 * iv.size
    repriced, _ = black_scholes(S, K, T, np.where(solved, iv, 1.0), r, is_call)
    assert np.max(np.abs(repriced - price)[solved]) < 1e-6
    # where the price moves by a cent or more, the volatility itself comes back
    informative = time_value >= 0.01
    assert informative.sum() > 0.3 * iv.size
    assert np.max((np.abs(iv - sigma) / sigma)[informative]) < 1e-6


@pytest.mark.parametrize("minutes", [2, 5, 15])
def test_implied_vol_of_deep_otm_nickels_minutes_before_the_close(minutes: int) -> None:
    S, r = 600.0, 0.04
    T = calendar_years(minutes * 60.0)
    K = np.array([590.0, 595.0, 598.0, 602.0, 605.0, 610.0])
    is_call = K > S
    iv = implied_vol(0.05, S, K, T, r, is_call)
    assert np.isfinite(iv).all()
    repriced, _ = black_scholes(S, K, T, iv, r, is_call)
    assert np.allclose(repriced, 0.05, rtol=0, atol=1e-6)
    assert (np.diff(iv[K > S]) > 0).all()  # the same nickel further out needs more volatility


def test_implied_vol_is_nan_where_no_volatility_reproduces_the_price() -> None:
    S, K, T, r = 600.0, 590.0, calendar_years(3 * 3600.0), 0.04
    intrinsic_call = S - K * math.exp(-r * float(T))
    prices = np.array([math.nan, math.inf, -1.0, 0.0, intrinsic_call - 0.01, intrinsic_call, S, S + 1.0])
    assert np.isnan(implied_vol(prices, S, K, T, r, True)).all()
    # a put below its discounted intrinsic value, or at its bound K e^-rT
    put_intrinsic = 610.0 * math.exp(-r * float(T)) - S
    assert np.isnan(
        implied_vol(np.array([put_intrinsic - 0.01, 610.0 * math.exp(-r * float(T))]), S, 610.0, T, r, False)
    ).all()
    # NaN in any input
    assert np.isnan(implied_vol(1.0, math.nan, K, T, r, True)) and np.isnan(implied_vol(1.0, S, math.nan, T, r, True))
    assert np.isnan(implied_vol(1.0, S, K, math.nan, r, True))


def test_implied_vol_is_nan_outside_the_bracket_and_solved_just_inside() -> None:
    """Out-of-the-money prices (all time value, so a 0.1% change of volatility moves them) at either end."""
    S, T, r = 600.0, calendar_years(4 * 3600.0), 0.04
    K = np.array([599.0, 600.0, 600.0, 601.0])
    is_call = np.array([False, False, True, True])
    for sigma, solvable in [(0.005 * 0.999, False), (0.005 * 1.001, True), (5.0 * 0.999, True), (5.0 * 1.001, False)]:
        price, _ = black_scholes(S, K, T, sigma, r, is_call)
        iv = implied_vol(price, S, K, T, r, is_call)
        if solvable:
            assert np.allclose(iv, sigma, rtol=1e-6)
        else:
            assert np.isnan(iv).all()
    # a narrower bracket: 80% volatility is out of [0.1, 0.5]
    price, _ = black_scholes(S, K, T, 0.8, r, is_call)
    assert np.isnan(implied_vol(price, S, K, T, r, is_call, lo=0.1, hi=0.5)).all()
    assert np.allclose(implied_vol(price, S, K, T, r, is_call, lo=0.1, hi=1.0), 0.8, rtol=1e-8)


def test_implied_vol_needs_a_bracket() -> None:
    with pytest.raises(ValueError, match="lo < hi"):
        implied_vol(1.0, 600.0, 600.0, 0.01, 0.0, True, lo=0.5, hi=0.5)
    with pytest.raises(ValueError, match="lo < hi"):
        implied_vol(1.0, 600.0, 600.0, 0.01, 0.0, True, lo=0.0)


def test_implied_vol_broadcasts_and_takes_scalars() -> None:
    price, _ = black_scholes(600.0, 600.0, 0.01, 0.2, 0.0, True)
    assert implied_vol(float(price), 600.0, 600.0, 0.01, 0.0, True).shape == ()
    S = np.array([[599.0], [601.0]])
    K = np.array([[595.0, 600.0, 605.0]])
    is_call = np.array([True, False, True])
    prices, _ = black_scholes(S, K, 0.002, 0.25, 0.04, is_call)
    iv = implied_vol(prices, S, K, 0.002, 0.04, is_call)
    assert iv.shape == (2, 3) and np.allclose(iv, 0.25, rtol=1e-8)


# -- trading time to calendar time ---------------------------------------------------------------------


def test_trading_to_calendar_iv_keeps_the_price() -> None:
    S, K = 600.0, np.array([590.0, 600.0, 612.0])
    seconds = np.array([[120.0], [3600.0], [6.5 * 3600], [5 * 86400.0]])
    iv_trading = 0.16
    for is_call in (True, False):
        trading, _ = black_scholes(S, K, years_to_expiry(seconds), iv_trading, 0.0, is_call)
        calendar, _ = black_scholes(
            S, K, calendar_years(seconds), trading_to_calendar_iv(iv_trading, seconds), 0.0, is_call
        )
        assert np.allclose(calendar, trading, rtol=1e-12, atol=1e-12)
    # one trading session is 1/252 of a trading year and 6.5/8760 of a calendar one
    assert float(trading_to_calendar_iv(0.16, 3600.0)) == pytest.approx(0.16 * math.sqrt(365 * 24 / (252 * 6.5)))
    assert trading_to_calendar_iv(np.array([0.1, 0.2]), np.array([60.0, 600.0])).shape == (2,)
