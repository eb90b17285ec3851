"""`run.py fidelity`: how far the simulator's model is from a real day's quotes, minute by minute.

The model is run along the real underlying path (the same spot rule as the simulator) at the real strikes
and expiry, and each real two-sided quote (a bid and an ask: a one-sided market has no mid to compare) is
compared with the model's quote of the same minute. Rows are bucketed by the real quote's |delta| (solved
from its own mid in calendar time; the model's where it cannot be solved) and by hour (ET); a contract in
the money counts as itm whatever its delta.

mae is the mean |model mid - real mid| in dollars; mae_half_spreads the same error in units of the real
half-spread (below 1: the model mid sits inside the real market on average); inside_fraction the share of
minutes whose model mid lies within the real bid-ask. The combo is the strategy's own condor, picked on the
real chain at the strategy's entry start (or the window's first minute, if later): its real and model mid
and natural through the window, over the minutes where all four legs are offered in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from engine.book import CondorPlan
from engine.calendar import ET
from engine.combo import natural, net_mid
from engine.config import Config
from engine.models import OptionContract, OptionQuote, Right
from engine.occ import occ_symbol
from engine.sim import model
from engine.sim.market import model_params, solve_mids
from engine.sim.realday import RealDay
from engine.strategies import make_strategy
from engine.strategies.base import Skip

BUCKETS = ("otm<0.05", "otm0.05-0.15", "otm0.15-0.30", "otm0.30-0.50", "itm")
_EDGES = (0.05, 0.15, 0.30, 0.50)
FIELDS = ("n", "mae", "mae_half_spreads", "inside_fraction", "real_spread", "model_spread")


@dataclass(frozen=True)
class ModelQuotes:
    bid: np.ndarray
    ask: np.ndarray
    delta: np.ndarray


def model_quotes(day: RealDay, cfg: Config, atm_iv: float) -> ModelQuotes:
    """The model's quotes at the real day's strikes, minutes and time to expiry."""
    p = model_params(cfg.sim, cfg.instrument, atm_iv)
    _, bid, ask, _, delta = model.price_grid(
        p, day.spot, day.col_strike, day.is_call, day.t_trading, day.closes_years, day.minutes_to_close
    )
    return ModelQuotes(bid, ask, delta)


def real_delta(day: RealDay, rate: float) -> np.ndarray:
    """Delta of each two-sided real quote from its own mid (calendar time); NaN where it cannot be solved."""
    spot, strike, t = day.spot[:, None], day.col_strike[None, :], day.t_calendar[:, None]
    return solve_mids(day.bid, day.ask, spot, strike, t, rate, day.is_call[None, :])[2]


def bucket_of(abs_delta: np.ndarray) -> np.ndarray:
    """Index into BUCKETS of each |delta|."""
    return np.searchsorted(np.array(_EDGES), abs_delta, side="right")


def _stats(err: np.ndarray, half: np.ndarray, inside: np.ndarray, real_w: np.ndarray, model_w: np.ndarray) -> dict:
    n = len(err)
    if n == 0:
        return {"n": 0, "mae": None, "mae_half_spreads": None, "inside_fraction": None,
                "real_spread": None, "model_spread": None}  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        in_halves = np.where(half > 0, err / half, np.nan)
    return {
        "n": int(n),
        "mae": round(float(err.mean()), 4),
        "mae_half_spreads": round(float(np.nanmean(in_halves)), 3) if np.isfinite(in_halves).any() else None,
        "inside_fraction": round(float(inside.mean()), 3),
        "real_spread": round(float(real_w.mean()), 4),
        "model_spread": round(float(model_w.mean()), 4),
    }


def measure(day: RealDay, cfg: Config, atm_iv: float) -> dict[str, Any]:
    """The fidelity figures of the model (cfg's sim and instrument at `atm_iv`) against the real day."""
    mq = model_quotes(day, cfg, atm_iv)
    rate = cfg.sim.rate
    own = real_delta(day, rate)
    delta = np.where(np.isfinite(own), own, mq.delta)
    rows = day.two_sided & np.isfinite(mq.ask)
    real_mid = (day.bid + day.ask) / 2.0
    model_mid = (mq.bid + mq.ask) / 2.0
    err = np.abs(model_mid - real_mid)
    half = (day.ask - day.bid) / 2.0
    inside = (model_mid >= day.bid - 1e-9) & (model_mid <= day.ask + 1e-9)
    real_w, model_w = day.ask - day.bid, mq.ask - mq.bid
    buckets_of = bucket_of(np.abs(delta))
    itm = (day.is_call[None, :] & (day.col_strike[None, :] < day.spot[:, None])) | (
        ~day.is_call[None, :] & (day.col_strike[None, :] > day.spot[:, None])
    )
    buckets_of = np.where(itm & (buckets_of < len(BUCKETS) - 1), len(BUCKETS) - 1, buckets_of)

    def pick(mask: np.ndarray) -> dict:
        m = mask & rows
        return _stats(err[m], half[m], inside[m], real_w[m], model_w[m])

    hours = np.broadcast_to(day.hours[:, None], rows.shape)
    return {
        "source": str(day.source),
        "day": day.day.isoformat(),
        "expiry": day.expiry.isoformat(),
        "atm_iv": round(atm_iv, 4),
        "buckets": [{"bucket": name, **pick(buckets_of == i)} for i, name in enumerate(BUCKETS)],
        "hours": {f"{h:02d}": pick(hours == h) for h in sorted(set(day.hours.tolist()))},
        "all": pick(np.ones_like(rows)),
        "combo": combo(day, cfg, mq, own),
    }


def _quotes_at(day: RealDay, m: int, bid: np.ndarray, ask: np.ndarray, delta: np.ndarray) -> dict[str, OptionQuote]:
    ts = datetime.fromtimestamp(int(day.starts[m]), UTC)
    out = {}
    for c, (k, call) in enumerate(zip(day.col_strike, day.is_call, strict=True)):
        if day.listed[c] and np.isfinite(ask[m, c]):
            d = float(delta[m, c])
            sym = occ_symbol(day.root, day.expiry, Right.CALL if call else Right.PUT, float(k))
            out[sym] = OptionQuote(sym, float(bid[m, c]), float(ask[m, c]), ts, None, d if d == d else None)
    return out


def combo(day: RealDay, cfg: Config, mq: ModelQuotes, delta: np.ndarray) -> dict[str, Any]:
    """The strategy's condor picked on the real chain (its own deltas) at the entry start; real vs model mid and
    natural."""
    contracts = {
        occ_symbol(day.root, day.expiry, r, float(k)): OptionContract(
            occ_symbol(day.root, day.expiry, r, float(k)), day.root, day.expiry, float(k), r
        )
        for k in day.strikes
        for r in (Right.CALL, Right.PUT)
    }
    entry = datetime.combine(day.day, cfg.strategy.entry_start, tzinfo=ET).timestamp()
    m = min(int(np.searchsorted(day.starts, entry, "left")), len(day.starts) - 1)
    strategy = make_strategy(cfg.strategy, cfg.instrument.multiplier)
    plan = strategy.propose(float(day.spot[m]), contracts, _quotes_at(day, m, day.bid, day.ask, delta))
    if isinstance(plan, Skip):
        return {"strikes": None, "why_none": plan.reason, "n": 0}
    return _combo_track(day, plan, mq, delta)


def _combo_track(day: RealDay, plan: CondorPlan, mq: ModelQuotes, delta: np.ndarray) -> dict[str, Any]:
    real_mid, real_nat, model_mid, model_nat = [], [], [], []
    for m in range(len(day.starts)):
        rq = _quotes_at(day, m, day.bid, day.ask, delta)
        mqq = _quotes_at(day, m, mq.bid, mq.ask, delta)
        if all(leg.symbol in rq and leg.symbol in mqq for leg in plan.legs):
            real_mid.append(net_mid(plan.legs, rq))
            real_nat.append(natural(plan.legs, rq))
            model_mid.append(net_mid(plan.legs, mqq))
            model_nat.append(natural(plan.legs, mqq))
    if not real_mid:
        return {"strikes": list(plan.strikes), "n": 0}
    rm, rn, mm, mn = (np.array(a) for a in (real_mid, real_nat, model_mid, model_nat))
    return {
        "strikes": list(plan.strikes),
        "n": len(rm),
        "real_mid": round(float(rm.mean()), 4),
        "model_mid": round(float(mm.mean()), 4),
        "mae_mid": round(float(np.abs(mm - rm).mean()), 4),
        "real_natural": round(float(rn.mean()), 4),
        "model_natural": round(float(mn.mean()), 4),
        "real_gap": round(float((rn - rm).mean()), 4),
        "model_gap": round(float((mn - mm).mean()), 4),
    }


def table(result: dict[str, Any]) -> str:
    """The figures as text: buckets, hours, the combo."""

    def fmt(v: Any) -> str:
        return "-" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.3f}")

    head = f"{'':>14} " + " ".join(f"{f:>16}" for f in FIELDS)
    lines = [
        f"fidelity of the model (ATM IV {result['atm_iv']:.3f}, trading time) against {result['source']}",
        f"day {result['day']}, expiry {result['expiry']}",
        "",
        "by |delta|",
        head,
    ]
    lines += [f"{b['bucket']:>14} " + " ".join(f"{fmt(b[f]):>16}" for f in FIELDS) for b in result["buckets"]]
    lines += [f"{'all':>14} " + " ".join(f"{fmt(result['all'][f]):>16}" for f in FIELDS), "", "by hour (ET)", head]
    lines += [f"{h:>14} " + " ".join(f"{fmt(v[f]):>16}" for f in FIELDS) for h, v in result["hours"].items()]
    c = result["combo"]
    lines.append("")
    if not c.get("n"):
        lines.append(f"combo: none ({c.get('why_none', 'no minute with all four legs quoted')})")
    else:
        lines.append(
            f"combo {'/'.join(f'{k:g}' for k in c['strikes'])} over {c['n']} minutes: mid real {c['real_mid']:+.3f} "
            f"model {c['model_mid']:+.3f} (mae {c['mae_mid']:.3f}); natural real {c['real_natural']:+.3f} "
            f"model {c['model_natural']:+.3f}; mid-to-natural gap real {c['real_gap']:.3f} model {c['model_gap']:.3f}"
        )
    return "\n".join(lines)
