"""Vectorized Black–Scholes for the simulated option chain.

The simulator prices a whole session's quote grid (every minute x every contract) in one call, so
everything here works on numpy arrays and avoids scipy. The normal CDF comes from W. J. Cody's
rational Chebyshev approximations of erfc (netlib specfun CALERF, 1969/1990): relative error below
1e-15 wherever erfc is a normal double (checked against math.erfc in tests/test_pricing.py), far
tighter than the 1e-7 a penny-quoted option needs.

Time is trading time (252 days of 6.5 hours), because intraday option decay follows trading hours,
not calendar hours: a 0DTE option at 09:30 has exactly 1/252 of a year left.
"""

from __future__ import annotations

import numpy as np

TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600
MIN_YEARS = 1e-12
"""Floor of time to expiry (~6 us): keeps d1 finite at the bell, where prices collapse onto intrinsic value."""
MIN_IV = 0.03

_SQRT2 = np.sqrt(2.0)
_INV_SQRT_PI = 5.6418958354775628695e-1

# Cody's coefficients: erf on |x| <= 0.46875 (A, B), erfc on (0.46875, 4] (C, D), erfc beyond 4 (P, Q).
_A = (
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
)
_D = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
)
_Q = (
    2.56852019228982242e00,
    1.87295284992346725e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)


def _exp_neg_sq(y: np.ndarray) -> np.ndarray:
    """exp(-y*y) split as Cody does, so the rounding of y*y does not cost accuracy in the far tail."""
    ysq = np.trunc(y * 16.0) / 16.0
    return np.exp(-ysq * ysq) * np.exp(-(y - ysq) * (y + ysq))


def _erfc_nonneg(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y >= 0; each of Cody's three ranges is evaluated only on its own elements."""
    out = np.empty_like(y)
    small = y <= 0.46875
    mid = (y > 0.46875) & (y <= 4.0)
    big = y > 4.0

    x = y[small]
    xsq = x * x
    num, den = _A[4] * xsq, xsq
    for i in range(3):
        num = (num + _A[i]) * xsq
        den = (den + _B[i]) * xsq
    out[small] = 1.0 - x * (num + _A[3]) / (den + _B[3])

    x = y[mid]
    num, den = _C[8] * x, x
    for i in range(7):
        num = (num + _C[i]) * x
        den = (den + _D[i]) * x
    out[mid] = _exp_neg_sq(x) * (num + _C[7]) / (den + _D[7])

    x = y[big]
    inv = 1.0 / (x * x)
    num, den = _P[5] * inv, inv
    for i in range(4):
        num = (num + _P[i]) * inv
        den = (den + _Q[i]) * inv
    out[big] = _exp_neg_sq(x) * (_INV_SQRT_PI - inv * (num + _P[4]) / (den + _Q[4])) / x
    return out


def erfc(x: np.ndarray | float) -> np.ndarray:
    """Complementary error function, elementwise (relative error < 1e-15 down to erfc ~ 1e-300)."""
    x = np.asarray(x, dtype=float)
    pos = _erfc_nonneg(np.abs(x).ravel()).reshape(x.shape)
    return np.where(x < 0, 2.0 - pos, pos)


def norm_cdf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal CDF through erfc, which keeps full relative accuracy in both tails."""
    return 0.5 * erfc(-np.asarray(x, dtype=float) / _SQRT2)


def years_to_expiry(seconds_left: np.ndarray | float) -> np.ndarray:
    """Trading-time years left; floored so the pricer never divides by zero at the close."""
    return np.maximum(np.asarray(seconds_left, dtype=float) / TRADING_SECONDS_PER_YEAR, MIN_YEARS)


def smile_iv(
    atm_iv: float,
    S: np.ndarray | float,
    K: np.ndarray | float,
    T: np.ndarray | float,
    skew: float,
    curvature: float,
) -> np.ndarray:
    """IV as a parabola in log-moneyness k = ln(K/S): negative skew richens puts, curvature both wings.

    The shape is fixed in k (the sim lists one expiry a day), so T does not move the smile; it is
    broadcast with S and K so the result has the shape of the whole quote grid. Floored at 3% so a
    steep parameter set never produces a zero or negative volatility far out in a wing.
    """
    S, K, T = np.broadcast_arrays(np.asarray(S, dtype=float), np.asarray(K, dtype=float), np.asarray(T, dtype=float))
    k = np.log(K / S)
    return np.maximum(atm_iv + skew * k + curvature * k * k, MIN_IV)


def black_scholes(
    S: np.ndarray | float,
    K: np.ndarray | float,
    T: np.ndarray | float,
    sigma: np.ndarray | float,
    r: float,
    is_call: np.ndarray | bool,
) -> tuple[np.ndarray, np.ndarray]:
    """European (price, delta) without dividends; one pass shares d1/d2 between price and delta."""
    S, K, T, sigma, is_call = np.broadcast_arrays(
        np.asarray(S, dtype=float),
        np.asarray(K, dtype=float),
        np.asarray(T, dtype=float),
        np.asarray(sigma, dtype=float),
        np.asarray(is_call, dtype=bool),
    )
    vol_t = sigma * np.sqrt(T)
    d1 = (np.log(S / K) + (r + 0.5 * sigma * sigma) * T) / vol_t
    d2 = d1 - vol_t
    disc_k = K * np.exp(-r * T)
    sign = np.where(is_call, 1.0, -1.0)
    n1 = norm_cdf(sign * d1)
    price = sign * (S * n1 - disc_k * norm_cdf(sign * d2))
    delta = sign * n1
    return np.maximum(price, 0.0), delta


def intrinsic(S: np.ndarray | float, K: np.ndarray | float, is_call: np.ndarray | bool) -> np.ndarray:
    """Value at expiry: what a cash-settled option pays against the settlement price."""
    S, K = np.asarray(S, dtype=float), np.asarray(K, dtype=float)
    return np.where(is_call, np.maximum(S - K, 0.0), np.maximum(K - S, 0.0))
