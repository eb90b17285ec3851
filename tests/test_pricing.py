"""Black–Scholes, the normal CDF and the smile against closed-form and textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.pricing import black_scholes, erfc, intrinsic, norm_cdf, smile_iv, years_to_expiry


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


def test_smile_shape() -> None:
    S = 600.0
    K = np.array([570.0, 600.0, 630.0])
    iv = smile_iv(0.16, S, K, 1 / 252, skew=-0.8, curvature=25.0)
    k = np.log(K / S)
    assert np.allclose(iv, 0.16 - 0.8 * k + 25.0 * k * k)
    assert iv[1] == pytest.approx(0.16)
    assert iv[0] > iv[2] > iv[1]  # negative skew: the put wing is richer than the call wing
    assert float(smile_iv(0.05, 600.0, 700.0, 0.01, skew=-2.0, curvature=0.0)) == pytest.approx(0.03)


def test_intrinsic() -> None:
    assert intrinsic(605.0, np.array([600.0, 610.0]), True).tolist() == [5.0, 0.0]
    assert intrinsic(605.0, np.array([600.0, 610.0]), False).tolist() == [0.0, 5.0]
