"""`run.py calibrate`: fit the simulator's model (engine/sim/model.py) to real option quotes.

Each part is fitted on its own, in this order, on the two-sided real quotes of the window:
1. ATM IV minute by minute: the out-of-the-money IVs (solved from mids, trading time) on each side of the
   forward, interpolated in ln(K/F) to the money; a minute whose nearest quotes are more than two of the
   day's strikes apart (a journal's minute that holds only a condor's legs) has none.
2. The level and the late-day curve: atm_iv^2 T = level^2 (T + late_rise * B(late_minutes)), linear least
   squares for (level^2, level^2 late_rise) on a grid of late_minutes; the best fit in IV wins.
3. The smile: iv / sigma_eff - 1 = skew_z z + curvature_z z^2 over out-of-the-money quotes with |z| <= Z_MAX.
4. The spread, on out-of-the-money quotes: real width = spread_base + spread_per_premium * model theo
   (least squares), spread_max the 95th percentile of their widths, spread_late from the widths of the
   last late_minutes against the rest, min_bid the lowest real bid seen.
5. The level's source: with earlier sessions' bars (--history), vol_premium = level / their realized
   volatility (vol_source realized); without, vol_source fixed at the fitted level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from engine.config import MODEL_KEYS
from engine.sim import model
from engine.sim.market import solve_mids
from engine.sim.model import Z_MAX, ModelParams
from engine.sim.realday import RealDay

MAX_BRACKET_STRIKES = 2
"""The widest bracket of the money, in the day's strikes, an ATM IV is read from."""
LATE_MINUTES_GRID = (10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0)

_UNIT = ModelParams(  # a unit level on which the late bump of each decay is measured
    atm_iv=1.0,
    skew_z=0.0,
    curvature_z=0.0,
    late_rise=0.0,
    late_minutes=30.0,
    spread_base=0.0,
    spread_per_premium=0.0,
    spread_max=1.0,
    spread_late=0.0,
    min_bid=0.0,
    tick=0.01,
    tick_above_3=0.01,
    rate=0.0,
)


@dataclass(frozen=True)
class Fit:
    params: ModelParams
    vol_source: str
    vol_premium: float | None
    residuals: dict[str, Any]


def trading_iv(day: RealDay, rate: float) -> np.ndarray:
    """IV (trading time) of each two-sided quote from its mid; NaN where none."""
    spot, strike, t = day.spot[:, None], day.col_strike[None, :], day.t_trading[:, None]
    return solve_mids(day.bid, day.ask, spot, strike, t, rate, day.is_call[None, :])[1]


def _otm(day: RealDay, forward: np.ndarray) -> np.ndarray:
    return np.where(day.is_call[None, :], day.col_strike[None, :] >= forward, day.col_strike[None, :] <= forward)


def atm_series(day: RealDay, iv: np.ndarray, rate: float) -> np.ndarray:
    """ATM IV per minute from the nearest out-of-the-money IV on each side of the forward; NaN if one is missing."""
    forward = day.spot * np.exp(rate * day.t_trading)
    k = np.log(day.col_strike[None, :] / forward[:, None])
    ok = np.isfinite(iv) & _otm(day, forward[:, None])
    out = np.full(len(day.starts), np.nan)
    position = np.searchsorted(day.strikes, day.col_strike)
    for m in range(len(day.starts)):
        below = np.flatnonzero(ok[m] & (k[m] <= 0))
        above = np.flatnonzero(ok[m] & (k[m] >= 0))
        if not len(below) or not len(above):
            continue
        b, a = below[np.argmax(k[m, below])], above[np.argmin(k[m, above])]
        if position[a] - position[b] > MAX_BRACKET_STRIKES:
            continue  # only far strikes quoted (a held condor's legs): their IVs carry the smile, not the money
        if k[m, a] - k[m, b] <= 1e-12:
            out[m] = iv[m, a]
        else:
            w = -k[m, b] / (k[m, a] - k[m, b])
            out[m] = (1 - w) * iv[m, b] + w * iv[m, a]
    return out


def fit_level(day: RealDay, atm: np.ndarray) -> tuple[float, float, float, float]:
    """(level, late_rise, late_minutes, rmse in IV) of the variance curve through the ATM series."""
    ok = np.isfinite(atm)
    if ok.sum() < 5:
        raise ValueError("fewer than 5 minutes with an ATM IV on both sides: cannot fit the level")
    t = day.t_trading[ok]
    closes = [c[ok] for c in day.closes_years]
    y = atm[ok] ** 2 * t
    best: tuple[float, float, float, float] | None = None
    for minutes in LATE_MINUTES_GRID:
        probe = replace(_UNIT, late_rise=1.0, late_minutes=minutes)
        bump = model.total_variance_years(probe, t, closes) - t
        design = np.column_stack([t, bump])
        (c1, c2), *_ = np.linalg.lstsq(design, y, rcond=None)
        c2 = max(c2, 0.0)
        if c2 == 0.0:
            c1 = float(np.dot(t, y) / np.dot(t, t))
        if c1 <= 0:
            continue
        level, rise = math.sqrt(c1), c2 / c1
        fitted = np.sqrt((c1 * t + c2 * bump) / t)
        rmse = float(np.sqrt(np.mean((fitted - atm[ok]) ** 2)))
        if best is None or rmse < best[3]:
            best = (level, rise, minutes, rmse)
    if best is None:
        raise ValueError("no positive variance level fits the ATM series")
    return best


def level_for_shape(day: RealDay, atm: np.ndarray, late_rise: float, late_minutes: float) -> float:
    """The level (ATM IV, trading time) whose variance curve, with this late-day shape, carries the ATM series
    best (least squares in total variance); one parameter, so one minute with an ATM IV is enough."""
    ok = np.isfinite(atm)
    if not ok.any():
        raise ValueError("no minute with an ATM IV on both sides of the money: cannot fit the level")
    shape = replace(_UNIT, late_rise=late_rise, late_minutes=late_minutes)
    x = model.total_variance_years(shape, day.t_trading[ok], [c[ok] for c in day.closes_years])
    y = atm[ok] ** 2 * day.t_trading[ok]
    return math.sqrt(float(np.dot(x, y) / np.dot(x, x)))


def fit_smile(day: RealDay, iv: np.ndarray, p: ModelParams) -> tuple[float, float, float, int]:
    """(skew_z, curvature_z, rmse of iv/sigma - 1, n) over out-of-the-money quotes."""
    sigma = model.effective_atm_iv(p, day.t_trading, day.closes_years)[:, None]
    forward = day.spot[:, None] * np.exp(p.rate * day.t_trading[:, None])
    z = np.log(day.col_strike[None, :] / forward) / (sigma * np.sqrt(day.t_trading[:, None]))
    ok = np.isfinite(iv) & _otm(day, forward) & (np.abs(z) <= Z_MAX)
    if ok.sum() < 10:
        return 0.0, 0.0, float("nan"), int(ok.sum())
    y = (iv / sigma - 1.0)[ok]
    zz = z[ok]
    (a, b), *_ = np.linalg.lstsq(np.column_stack([zz, zz * zz]), y, rcond=None)
    if b < 0:
        b = 0.0
        a = float(np.dot(zz, y) / np.dot(zz, zz))
    rmse = float(np.sqrt(np.mean((a * zz + b * zz * zz - y) ** 2)))
    return float(a), float(b), rmse, int(ok.sum())


def fit_spread(day: RealDay, p: ModelParams) -> tuple[ModelParams, float, int]:
    """The spread parameters on the model's own theo; (params, mae of the width in dollars, n)."""
    theo, _, _, _, _ = model.price_grid(
        p, day.spot, day.col_strike, day.is_call, day.t_trading, day.closes_years, day.minutes_to_close
    )
    forward = day.spot[:, None] * np.exp(p.rate * day.t_trading[:, None])
    ok = day.two_sided & _otm(day, forward)  # the strikes a condor sells and buys; deep ITM books are another market
    width, th = (day.ask - day.bid)[ok], theo[ok]
    late = np.broadcast_to(day.minutes_to_close[:, None] <= p.late_minutes, ok.shape)[ok]
    if len(width) < 10:
        return p, float("nan"), len(width)
    early = ~late if (~late).sum() >= 10 else np.ones_like(late)
    (base, per), *_ = np.linalg.lstsq(np.column_stack([np.ones(early.sum()), th[early]]), width[early], rcond=None)
    base, per = max(float(base), 0.0), max(float(per), 0.0)
    cap = float(np.percentile(width, 95))
    plain = np.clip(base + per * th, p.tick, cap)
    spread_late = 0.0
    if late.sum() >= 10:
        ratio = np.median(width[late] / plain[late]) / np.median(width[early] / plain[early])
        spread_late = max(0.0, float(ratio) - 1.0)
    min_bid = float(day.bid[ok].min())
    fitted = replace(
        p, spread_base=base, spread_per_premium=per, spread_max=cap, spread_late=spread_late, min_bid=min_bid
    )
    _, bid, ask, _, _ = model.price_grid(
        fitted, day.spot, day.col_strike, day.is_call, day.t_trading, day.closes_years, day.minutes_to_close
    )
    mae = float(np.abs((ask - bid)[ok] - width).mean())
    return fitted, mae, len(width)


def calibrate(days: list[RealDay], base: ModelParams, history_rv: float | None) -> Fit:
    """Fit every part on the days pooled (one level each, averaged in variance; shape fitted on all)."""
    levels, rises, minutes, level_rmse = [], [], [], []
    ivs = []
    for d in days:
        iv = trading_iv(d, base.rate)
        ivs.append(iv)
        lv, rise, mins, rmse = fit_level(d, atm_series(d, iv, base.rate))
        levels.append(lv)
        rises.append(rise)
        minutes.append(mins)
        level_rmse.append(rmse)
    p = replace(
        base,
        atm_iv=float(np.sqrt(np.mean(np.square(levels)))),
        late_rise=float(np.mean(rises)),
        late_minutes=float(np.median(minutes)),
    )
    skews = [fit_smile(d, iv, replace(p, atm_iv=lv)) for d, iv, lv in zip(days, ivs, levels, strict=True)]
    n_smile = sum(s[3] for s in skews)
    if n_smile:
        p = replace(
            p,
            skew_z=sum(s[0] * s[3] for s in skews) / n_smile,
            curvature_z=sum(s[1] * s[3] for s in skews) / n_smile,
        )
    spread_fits = [fit_spread(d, replace(p, atm_iv=lv)) for d, lv in zip(days, levels, strict=True)]
    first = spread_fits[0][0]
    p = replace(
        p,
        spread_base=float(np.mean([f[0].spread_base for f in spread_fits])),
        spread_per_premium=float(np.mean([f[0].spread_per_premium for f in spread_fits])),
        spread_max=float(np.mean([f[0].spread_max for f in spread_fits])),
        spread_late=float(np.mean([f[0].spread_late for f in spread_fits])),
        min_bid=first.min_bid,
    )
    residuals = {
        "days": [
            {
                "source": str(d.source),
                "day": d.day.isoformat(),
                "expiry": d.expiry.isoformat(),
                "atm_iv": round(lv, 4),
                "atm_rmse": round(rm, 4),
                "smile_rmse": None if math.isnan(s[2]) else round(s[2], 4),
                "smile_n": s[3],
                "spread_mae": None if math.isnan(f[1]) else round(f[1], 4),
                "spread_n": f[2],
            }
            for d, lv, rm, s, f in zip(days, levels, level_rmse, skews, spread_fits, strict=True)
        ]
    }
    if history_rv:
        return Fit(p, "realized", p.atm_iv / history_rv, residuals | {"history_realized_vol": round(history_rv, 4)})
    return Fit(p, "fixed", None, residuals)


def model_mapping(fit: Fit) -> dict[str, Any]:
    """The `model:` keys of the file a config reads with `sim.model`."""
    p = fit.params
    out: dict[str, Any] = {"vol_source": fit.vol_source, "implied_vol": round(p.atm_iv, 4)}
    if fit.vol_premium is not None:
        out["vol_premium"] = round(fit.vol_premium, 4)
    out.update(
        smile_skew_z=round(p.skew_z, 4),
        smile_curvature_z=round(p.curvature_z, 4),
        late_rise=round(p.late_rise, 4),
        late_minutes=round(p.late_minutes, 1),
        spread_base=round(p.spread_base, 4),
        spread_per_premium=round(p.spread_per_premium, 4),
        spread_max=round(p.spread_max, 4),
        spread_late=round(p.spread_late, 4),
        min_bid=round(p.min_bid, 4),
    )
    assert set(out) <= set(MODEL_KEYS)
    return out


def write_model(path: Path, fit: Fit, sources: list[str]) -> None:
    header = f"# Written by `python run.py calibrate {' '.join(sources)}`; use it with `sim.model: {path}`.\n"
    body = yaml.safe_dump({"model": model_mapping(fit), "fit": fit.residuals}, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")


def describe(fit: Fit) -> str:
    p = fit.params
    level = f"level (ATM IV, trading time) {p.atm_iv:.4f}"
    if fit.vol_premium:
        level += f" = {fit.vol_premium:.3f} x realized {fit.residuals['history_realized_vol']:.4f}"
    lines = [
        level,
        f"late-day curve: variance rate +{p.late_rise:.2f} at the close, decaying over {p.late_minutes:g} minutes",
        f"smile: skew_z {p.skew_z:+.4f}, curvature_z {p.curvature_z:.4f} (iv = sigma (1 + skew_z z + curvature_z z^2))",
        f"spread: width {p.spread_base:.4f} + {p.spread_per_premium:.4f} x premium, max {p.spread_max:.3f}, "
        f"+{p.spread_late:.0%} into the close; min bid {p.min_bid:.2f}",
        "residuals:",
    ]
    for d in fit.residuals["days"]:
        lines.append(
            f"  {d['day']} (expiry {d['expiry']}): ATM {d['atm_iv']:.4f} rmse {d['atm_rmse']:.4f}; "
            f"smile rmse {d['smile_rmse']} over {d['smile_n']} quotes; "
            f"spread mae {d['spread_mae']} over {d['spread_n']}"
        )
    return "\n".join(lines)
