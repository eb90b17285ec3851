"""Vectorized Black–Scholes for the simulated option chain.

The simulator prices a whole session's quote grid (every minute x every contract) in one call, so
everything here works on numpy arrays and avoids scipy. The normal CDF comes from W. J. Cody's
rational Chebyshev approximations of erfc (netlib specfun CALERF, 1969/1990): relative error below
1e-15 wherever erfc is a normal double (checked against math.erfc in tests/test_pricing.py), far
tighter than the 1e-7 a penny-quoted option needs.

The model pricer runs in trading time (252 days of 6.5 hours), because intraday option decay follows
trading hours, not calendar hours: a 0DTE option at 09:30 has exactly 1/252 of a year left. Published
numbers follow Alpaca's convention instead: implied volatility and greeks in calendar time (ACT/365),
theta per calendar day, vega and rho per 1 point; `calendar_years`, `greeks`, `implied_vol` and
`trading_to_calendar_iv` are that side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600
CALENDAR_SECONDS_PER_YEAR = 365 * 86400
"""ACT/365, the year of Alpaca's implied volatility and greeks."""
MIN_YEARS = 1e-12
"""Floor of time to expiry (~6 us): keeps d1 finite at the bell, where prices collapse onto intrinsic value."""
MIN_IV = 0.03

_SQRT2 = np.sqrt(2.0)
_SQRT_2PI = np.sqrt(2.0 * np.pi)
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


def calendar_years(seconds_left: np.ndarray | float) -> np.ndarray:
    """Calendar years left (ACT/365), the time Alpaca's IV and greeks are quoted in; floored like years_to_expiry."""
    return np.maximum(np.asarray(seconds_left, dtype=float) / CALENDAR_SECONDS_PER_YEAR, MIN_YEARS)


def trading_to_calendar_iv(iv_trading: np.ndarray | float, seconds_left: np.ndarray | float) -> np.ndarray:
    """The calendar-time IV with the same total variance (sigma^2 T) as a trading-time IV over `seconds_left`.

    The same price, quoted in Alpaca's convention: iv_cal = iv_tr * sqrt(T_trading / T_calendar). Intraday,
    6.5 trading hours are 1/252 of a trading year but only 6.5/8760 of a calendar one, so the calendar IV
    of a 0DTE option is about 2.3 times the model's trading-time IV.
    """
    ratio = years_to_expiry(seconds_left) / calendar_years(seconds_left)
    return np.asarray(iv_trading, dtype=float) * np.sqrt(ratio)


def _terms(
    S: np.ndarray | float,
    K: np.ndarray | float,
    T: np.ndarray | float,
    sigma: np.ndarray | float,
    r: float,
    is_call: np.ndarray | bool,
) -> tuple[np.ndarray, ...]:
    """The inputs broadcast together, and what every Black–Scholes quantity is made of:
    (S, K, T, sigma, sigma sqrt T, d1, d2, K e^-rT, +1 for a call / -1 for a put)."""
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
    return S, K, T, sigma, vol_t, d1, d2, K * np.exp(-r * T), np.where(is_call, 1.0, -1.0)


def black_scholes(
    S: np.ndarray | float,
    K: np.ndarray | float,
    T: np.ndarray | float,
    sigma: np.ndarray | float,
    r: float,
    is_call: np.ndarray | bool,
) -> tuple[np.ndarray, np.ndarray]:
    """European (price, delta) without dividends; one pass shares d1/d2 between price and delta."""
    S, _, T, _, vol_t, d1, d2, disc_k, sign = _terms(S, K, T, sigma, r, is_call)
    n1 = norm_cdf(sign * d1)
    price = sign * (S * n1 - disc_k * norm_cdf(sign * d2))
    delta = sign * n1
    return np.maximum(price, 0.0), delta


def intrinsic(S: np.ndarray | float, K: np.ndarray | float, is_call: np.ndarray | bool) -> np.ndarray:
    """Value at expiry: what a cash-settled option pays against the settlement price."""
    S, K = np.asarray(S, dtype=float), np.asarray(K, dtype=float)
    return np.where(is_call, np.maximum(S - K, 0.0), np.maximum(K - S, 0.0))


@dataclass(frozen=True, slots=True)
class Greeks:
    """Black–Scholes price and greeks in Alpaca's units: vega and rho per 1 point (1%), theta per calendar
    day (with T in calendar years); arrays of the broadcast shape of the inputs."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray


def greeks(
    S: np.ndarray | float,
    K: np.ndarray | float,
    T: np.ndarray | float,
    sigma: np.ndarray | float,
    r: float,
    is_call: np.ndarray | bool,
) -> Greeks:
    """European price and greeks without dividends, T in calendar years (`calendar_years`) as Alpaca quotes them.

    Theta is the calendar-year theta / 365. A zero volatility or time gives inf/NaN greeks rather than
    warnings: the caller decides what a degenerate greek becomes.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        S, K, T, sigma, vol_t, d1, d2, disc_k, sign = _terms(S, K, T, sigma, r, is_call)
        sqrt_t = np.sqrt(T)
        n1 = norm_cdf(sign * d1)
        n2 = norm_cdf(sign * d2)
        pdf = np.exp(-0.5 * d1 * d1) / _SQRT_2PI
        theta_year = -S * pdf * sigma / (2.0 * sqrt_t) - sign * r * disc_k * n2
        return Greeks(
            price=np.maximum(sign * (S * n1 - disc_k * n2), 0.0),
            delta=sign * n1,
            gamma=pdf / (S * vol_t),
            vega=S * pdf * sqrt_t / 100.0,
            theta=theta_year / 365.0,
            rho=sign * disc_k * T * n2 / 100.0,
        )


_IV_MAX_ITER = 40
"""A safety net: from the guess, elements converge in one or two steps; bisection alone takes ~40."""
_IV_BRACKET_CHECK = 2
"""Step after which the few unconverged elements are checked against the [lo, hi] bracket ends."""
_IV_PRICE_TOL = 1e-7
_IV_REL_TOL = 1e-5
"""Converged once the repriced value is within the smaller of these (dollars, relative) of the target, a
checked 1e-7 dollars at most; the last Halley step from there (cubically convergent) lands on the root to
rounding."""
_IV_STALL_TOL = 1e-7
"""Price residual (dollars) accepted from an element whose steps stalled on rounding noise before converging."""


def implied_vol(
    price: np.ndarray | float,
    S: np.ndarray | float,
    K: np.ndarray | float,
    T: np.ndarray | float,
    r: float,
    is_call: np.ndarray | bool,
    lo: float = 0.005,
    hi: float = 5.0,
) -> np.ndarray:
    """The Black–Scholes volatility (no dividends) in [lo, hi] that reprices `price`; NaN where there is none.

    NaN where the price is not finite or not positive, not above the discounted intrinsic value, not
    below the no-arbitrage bound (S for a call, K e^-rT for a put), or reproduced by no sigma in
    [lo, hi]. With T in calendar years this is Alpaca's IV. Vectorized, numpy only; see `_solve_total_vol`.
    """
    price, S, K, T, is_call = np.broadcast_arrays(
        np.asarray(price, dtype=float),
        np.asarray(S, dtype=float),
        np.asarray(K, dtype=float),
        np.asarray(T, dtype=float),
        np.asarray(is_call, dtype=bool),
    )
    if not 0 < lo < hi:
        raise ValueError(f"implied_vol needs 0 < lo < hi, got lo={lo} hi={hi}")
    out = np.full(price.shape, np.nan)
    with np.errstate(all="ignore"):
        T = np.asarray(np.maximum(T, MIN_YEARS))
        disc_k = np.asarray(K * np.exp(-r * T))
        # Put-call parity: an in-the-money price less its discounted intrinsic value is the price of the
        # out-of-the-money option of the other kind, which is all time value and so well conditioned.
        otm = price - np.where(is_call, np.maximum(S - disc_k, 0.0), np.maximum(disc_k - S, 0.0))
        ok = (
            np.isfinite(price)
            & np.isfinite(S)
            & np.isfinite(K)
            & np.isfinite(T)
            & (S > 0)
            & (K > 0)
            & (otm > 0)
            & (price < np.where(is_call, S, disc_k))
        )
        idx = np.flatnonzero(ok)
        s, k, t, q = S.ravel()[idx], disc_k.ravel()[idx], T.ravel()[idx], otm.ravel()[idx]
        root = np.sqrt(s * k)
        b = q / root
        if not (b > 0).all():  # a subnormal time value underflows here: nothing left to solve for
            pos = np.flatnonzero(b > 0)
            idx, s, k, t, root, b = idx[pos], s[pos], k[pos], t[pos], root[pos], b[pos]
        if idx.size == 0:
            return out
        sqrt_t = np.sqrt(t)
        tol = np.minimum(_IV_PRICE_TOL / root, _IV_REL_TOL * b)
        total = _solve_total_vol(-np.abs(np.log(s / k)), b, lo * sqrt_t, hi * sqrt_t, tol, _IV_STALL_TOL / root)
    out.ravel()[idx] = total / sqrt_t
    return out


def _normalized_otm(x: np.ndarray, s: np.ndarray, ex: np.ndarray) -> np.ndarray:
    """Jäckel's normalized out-of-the-money price b(x, s) = e^(x/2) N(x/s + s/2) - e^(-x/2) N(x/s - s/2), x <= 0."""
    xs, h = x / s, 0.5 * s
    return ex * norm_cdf(xs + h) - norm_cdf(xs - h) / ex


_MILLS_A, _MILLS_B = 0.339, 5.510
"""Börjesson & Sundberg (1979): the Mills ratio Q(z) / n(z) ~ 1 / ((1 - a) z + a sqrt(z^2 + b)), within 0.3%
for z >= 0; cheap (no erfc), so the guess can iterate on it."""


def _mills(z: np.ndarray) -> np.ndarray:
    return 1.0 / ((1.0 - _MILLS_A) * z + _MILLS_A * np.sqrt(z * z + _MILLS_B))


def _total_vol_guess(x: np.ndarray, b: np.ndarray, ex: np.ndarray) -> np.ndarray:
    """First guess of s, mostly within a few 0.1%, so that one Halley step nearly converges.

    Near the money (|x| < s/2) Corrado–Miller. Beyond it, where that fails, b(s) with both normal tails
    written through the Mills ratio (`_mills`): b ~ v (R(-d1) - R(-d2)) with v = n(x/s) e^(-s^2/8) the
    exact vega (or e^(x/2) - v (R(d1) + R(-d2)) once d1 >= 0), solved by three Newton steps in ln s from
    the deep-out-of-the-money asymptote b ~ n(x/s) s^3 / x^2 (the Mills ratio's leading term).
    """
    sh, ch = 0.5 * (ex - 1.0 / ex), 0.5 * (ex + 1.0 / ex)
    u = b - sh
    corrado_miller = _SQRT_2PI / (2.0 * ch) * (u + np.sqrt(np.maximum(u * u - 4.0 * sh * sh / np.pi, 0.0)))
    ax = -x
    s = np.sqrt(2.0 * ax)  # the inflection point of b(s)
    scale = 1.0 / (x * x * _SQRT_2PI * b)
    log_ratio = np.zeros_like(s)
    for _ in range(3):
        log_ratio = np.log(s * s * s * scale)
        s = np.where(log_ratio > 0, ax / np.sqrt(2.0 * log_ratio), s)
    s = np.where((log_ratio > 0) & (ax > 2.5 * s), s, corrado_miller)
    log_b = np.log(b)
    for _ in range(3):
        xs, h = x / s, 0.5 * s
        d1 = xs + h
        vega = np.exp(-0.5 * (xs * xs + h * h)) / _SQRT_2PI
        r1, r2 = _mills(np.abs(d1)), _mills(h - xs)  # -d2 = h - xs > 0
        approx = np.where(d1 < 0, vega * (r1 - r2), ex - vega * (r1 + r2))
        step = np.clip((log_b - np.log(approx)) * approx / (s * vega), -1.0, 1.0)
        s = np.where(np.isfinite(step), s * np.exp(step), s)
    return np.where(ax < 0.5 * corrado_miller, corrado_miller, s)


def _solve_total_vol(
    x: np.ndarray, b: np.ndarray, s_lo: np.ndarray, s_hi: np.ndarray, tol: np.ndarray, stall_tol: np.ndarray
) -> np.ndarray:
    """Total volatility s = sigma sqrt(T) with b(x, s) = b (1-D arrays, x <= 0); NaN where none in [s_lo, s_hi].

    Halley steps on ln b(s), which is close to linear in s both at the money and in the far wings, from
    `_total_vol_guess`; a bracket of evaluated points turns any step that leaves it, or an evaluation
    that underflows, into a geometric bisection, so every element converges. Converged elements leave
    the working set, so the cost is about two price evaluations per element. A converged element takes
    one last step without a new evaluation (a small Halley correction, cubically convergent), so the result
    is exact to rounding. Elements still unconverged after a few steps are checked against the bracket
    ends (no solution: NaN); one that stalls on rounding noise is kept if it reprices within `stall_tol`.
    """
    out = np.full(x.size, np.nan)
    idx = np.arange(x.size)
    ex = np.exp(0.5 * x)
    s = np.clip(_total_vol_guess(x, b, ex), s_lo, s_hi)
    s = np.where(np.isnan(s), np.sqrt(s_lo * s_hi), s)  # absurd moneyness (e^x underflows): start mid-bracket
    a, c = s_lo, s_hi
    log_b = np.log(b)
    for it in range(_IV_MAX_ITER):
        xs, h = x / s, 0.5 * s
        bv = ex * norm_cdf(xs + h) - norm_cdf(xs - h) / ex
        good = bv > 0  # False on NaN too; a price lost to underflow counts as too low
        xs2, h2 = xs * xs, h * h
        vega = np.exp(-0.5 * (xs2 + h2)) / _SQRT_2PI
        newton = (log_b - np.log(bv)) * bv / vega
        halley = newton / (1.0 + 0.5 * newton * ((xs2 - h2) / s - vega / bv))
        err = np.abs(bv - b)
        done = err <= tol
        if it == _IV_MAX_ITER - 1:
            done |= err <= stall_tol
        elif it >= 2:
            # Stalled on rounding noise (the target is itself a rounded price), the price within stall_tol:
            # the step is down to 1e-12 of s, or evaluated points on both sides bracket s that closely.
            collapsed = (a > s_lo) & (c < s_hi) & (c - a <= 1e-12 * s)
            done |= (err <= stall_tol) & ((np.abs(halley) <= 1e-12 * s) | collapsed)
        done &= good
        n_done = np.count_nonzero(done)
        if n_done:
            d = np.flatnonzero(done)
            s_d, step_d = s[d], halley[d]
            polish = np.abs(step_d) <= 1e-3 * s_d  # the last step, taken only where it is a small correction
            out[idx[d]] = np.where(polish, np.clip(s_d + step_d, s_lo[d], s_hi[d]), s_d)
            if n_done == done.size:
                break
            # Shrinking the working set costs a gather per array: worth it once a good part has converged.
            if 4 * n_done >= done.size or it >= _IV_BRACKET_CHECK:
                live = np.flatnonzero(~done)
                x, b, s, a, c, ex, log_b, tol, stall_tol, idx, s_lo, s_hi, bv, good, halley = (
                    v.take(live) for v in (x, b, s, a, c, ex, log_b, tol, stall_tol, idx, s_lo, s_hi, bv, good, halley)
                )
        low = ~good | (bv < b)
        a = np.where(low, s, a)
        c = np.where(low, c, s)
        if it == _IV_BRACKET_CHECK:
            inside = np.flatnonzero((_normalized_otm(x, s_lo, ex) <= b) & (b <= _normalized_otm(x, s_hi, ex)))
            x, b, s, a, c, ex, log_b, tol, stall_tol, idx, s_lo, s_hi, good, halley = (
                v.take(inside) for v in (x, b, s, a, c, ex, log_b, tol, stall_tol, idx, s_lo, s_hi, good, halley)
            )
            if idx.size == 0:
                break
        step = s + halley
        s = np.where(good & np.isfinite(step) & (step >= a) & (step <= c), step, np.sqrt(a * c))
    return out
