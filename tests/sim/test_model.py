"""The model's parts on their own: the spread rule on the instrument's ticks, the smile, the variance curve."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.pricing import TRADING_SECONDS_PER_YEAR
from engine.sim import model
from engine.sim.model import Z_MAX, ModelParams


def model_params_with(**kw: float) -> ModelParams:
    return replace(BASE, **kw)


BASE = ModelParams(
    atm_iv=0.12,
    skew_z=-0.1,
    curvature_z=0.03,
    late_rise=1.0,
    late_minutes=20.0,
    spread_base=0.10,
    spread_per_premium=0.05,
    spread_max=0.50,
    spread_late=0.0,
    min_bid=0.05,
    tick=0.05,
    tick_above_3=0.10,
    rate=0.0,
)


def test_quotes_sit_on_the_instruments_ticks_below_and_above_three_dollars() -> None:
    theo = np.array([0.07, 1.23, 2.98, 3.40, 12.34])
    bid, ask = model.quote(BASE, theo, 300.0)
    below, above = theo < 3.0, theo >= 3.0
    assert np.allclose(np.round(bid[below] / 0.05), bid[below] / 0.05)
    assert np.allclose(np.round(ask[above] / 0.10), ask[above] / 0.10)
    assert (bid <= theo).all() and (ask >= theo).all()


def test_width_follows_premium_up_to_its_cap() -> None:
    theo = np.array([1.0, 2.0, 40.0])
    bid, ask = model.quote(BASE, theo, 300.0)
    width = ask - bid
    assert width[0] >= 0.10 + 0.05 * 1.0 - 1e-9 and width[1] >= width[0]
    assert width[2] <= 0.50 + 2 * 0.10 + 1e-9  # capped, plus a tick of rounding on each side


def test_a_bid_below_the_minimum_shows_as_no_bid() -> None:
    bid, ask = model.quote(BASE, np.array([0.08]), 300.0)
    assert bid[0] == 0.0 and ask[0] >= 0.10


def test_spreads_widen_into_the_close() -> None:
    p = model_params_with(spread_late=1.0)
    early = model.quote(p, np.array([1.0]), 300.0)
    late = model.quote(p, np.array([1.0]), 0.0)
    early_w, late_w = (early[1] - early[0])[0], (late[1] - late[0])[0]
    assert late_w > early_w and late_w >= 2 * (0.10 + 0.05 * 1.0) - 1e-9  # doubled at the close


def test_smile_is_flat_beyond_z_max_and_never_below_the_floor() -> None:
    t = np.array(1 / 252)
    sigma = np.array(0.12)
    k_far = 600.0 * math.exp(Z_MAX * 0.12 * math.sqrt(1 / 252))
    at_cap = model.smile(BASE, sigma, np.array(600.0), np.array(k_far), t)
    beyond = model.smile(BASE, sigma, np.array(600.0), np.array(k_far * 1.05), t)
    assert float(at_cap) == pytest.approx(float(beyond))
    assert float(model.smile(model_params_with(skew_z=-5.0), sigma, np.array(600.0), np.array(k_far), t)) >= 0.03


def test_total_variance_adds_each_closes_bump_once() -> None:
    minutes = 20.0
    tau = minutes * 60 / TRADING_SECONDS_PER_YEAR
    t = np.array([1e-3, 0.1])
    one = model.total_variance_years(BASE, t, [t])
    assert one == pytest.approx(t + BASE.late_rise * tau * (1 - np.exp(-t / tau)))
    two = model.total_variance_years(BASE, t, [t / 2, t])
    assert (two > one).all()
    assert model.total_variance_years(BASE, t, [np.array([-1.0, -1.0]), t]) == pytest.approx(one)
