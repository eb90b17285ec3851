"""The option model of the simulated chain: a volatility level, an intraday variance curve, a smile in
standardized moneyness, and a bid/ask rule on the instrument's ticks. Each part is fitted by `calibrate`
(engine/calibration/calibrate.py) and measured by `fidelity` (engine/calibration/fidelity.py); the defaults
say where they come from in engine/config.py.

Time inside is trading time (252 days of 6.5 hours), the time intraday variance accrues in. Published IV
is converted to Alpaca's calendar convention by the market, not here.

- Variance curve: the variance rate rises towards each session close as 1 + late_rise * exp(-u / late_minutes)
  (u = trading minutes to that close), so the total variance to expiry is
  atm_iv^2 * (T + late_rise * sum_j tau (1 - exp(-d_j / tau))) over the closes j up to the expiry's, d_j the
  trading time to close j. ATM IV therefore rises in the last hour, as real 0DTE chains show.
- Smile: iv = sigma * (1 + skew_z * z + curvature_z * z^2) with z = ln(K/F) / (sigma sqrt(T)), |z| capped at
  Z_MAX; fixed in z, its slope in ln(K/F) grows as 1/sqrt(T): the skew steepens into expiry.
- Spread: width = clip(spread_base + spread_per_premium * theo, one tick, spread_max), widened by
  (1 + spread_late * exp(-u / late_minutes)) into the close; bid rounded down and ask up to the tick
  (`tick` below 3.00, `tick_above_3` from 3.00); a bid under `min_bid` shows as no bid (0.00).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.pricing import MIN_IV, MIN_YEARS, TRADING_SECONDS_PER_YEAR, black_scholes

Z_MAX = 4.0
"""Standardized moneyness beyond which the smile is flat: a quadratic left alone explodes in the far wings."""
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class ModelParams:
    atm_iv: float
    skew_z: float
    curvature_z: float
    late_rise: float
    late_minutes: float
    spread_base: float
    spread_per_premium: float
    spread_max: float
    spread_late: float
    min_bid: float
    tick: float
    tick_above_3: float
    rate: float


def total_variance_years(p: ModelParams, t_years: np.ndarray, closes_years: list[np.ndarray]) -> np.ndarray:
    """Variance-equivalent years to expiry: T plus each close's late bump (closes_years[j] = trading years from
    now to close j, the last one the expiry's; a close already past counts nothing)."""
    tau = p.late_minutes * 60.0 / TRADING_SECONDS_PER_YEAR
    extra = np.zeros_like(t_years)
    for d in closes_years:
        extra = extra + tau * (1.0 - np.exp(-np.maximum(d, 0.0) / tau))
    return t_years + p.late_rise * extra


def effective_atm_iv(p: ModelParams, t_years: np.ndarray, closes_years: list[np.ndarray]) -> np.ndarray:
    """The flat IV over T (trading time) that carries the curve's total variance."""
    t = np.maximum(t_years, MIN_YEARS)
    return p.atm_iv * np.sqrt(total_variance_years(p, t, closes_years) / t)


def smile(p: ModelParams, sigma: np.ndarray, spot: np.ndarray, strike: np.ndarray, t_years: np.ndarray) -> np.ndarray:
    """IV of each strike on the ATM IV `sigma` (arrays broadcast)."""
    t = np.maximum(t_years, MIN_YEARS)
    forward = spot * np.exp(p.rate * t)
    z = np.clip(np.log(strike / forward) / (sigma * np.sqrt(t)), -Z_MAX, Z_MAX)
    return np.maximum(sigma * (1.0 + p.skew_z * z + p.curvature_z * z * z), MIN_IV)


def ticks(p: ModelParams, price: np.ndarray) -> np.ndarray:
    return np.where(price < 3.0 - _EPS, p.tick, p.tick_above_3)


def quote(
    p: ModelParams, theo: np.ndarray, minutes_to_close: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """(bid, ask) in dollars for theoretical prices, by the spread rule in the module docstring."""
    tick = ticks(p, theo)
    late = 1.0 + p.spread_late * np.exp(-np.maximum(minutes_to_close, 0.0) / p.late_minutes)
    width = np.clip(p.spread_base + p.spread_per_premium * theo, tick, max(p.spread_max, p.tick)) * late
    bid = np.floor((theo - width / 2.0) / tick + _EPS) * tick
    bid = np.where(bid < p.min_bid - _EPS, 0.0, np.maximum(bid, 0.0))
    ask = np.maximum(np.ceil((theo + width / 2.0) / tick - _EPS) * tick, bid + ticks(p, bid))
    return np.round(bid, 4), np.round(ask, 4)


def price_grid(
    p: ModelParams,
    spot: np.ndarray,
    strikes: np.ndarray,
    is_call: np.ndarray,
    t_years: np.ndarray,
    closes_years: list[np.ndarray],
    minutes_to_close: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(theo, bid, ask, iv, delta) for every (minute, contract): `spot`, `t_years`, `minutes_to_close` and
    each closes_years entry are per minute, `strikes` and `is_call` per contract. IV is trading-time."""
    t = t_years[:, None]
    sigma = effective_atm_iv(p, t_years, closes_years)[:, None]
    iv = smile(p, sigma, spot[:, None], strikes[None, :], t)
    theo, delta = black_scholes(spot[:, None], strikes[None, :], t, iv, p.rate, is_call[None, :])
    bid, ask = quote(p, theo, minutes_to_close[:, None])
    return theo, bid, ask, iv, delta
